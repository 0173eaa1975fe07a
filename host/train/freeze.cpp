// Freezing and unfreezing base parameters by dotted-name pattern (m:freeze / m:unfreeze).
#include "train/freeze.h"

#include <set>

#include "core/error.h"

namespace ft::train {

namespace {

std::vector<std::string> parts(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = s.find('.', start)) != std::string::npos; start = dot + 1)
    out.push_back(s.substr(start, dot - start));
  out.push_back(s.substr(start));
  return out;
}

// Names of the parameters that belong to a LinearAdapter (LoRA): these are not base parameters.
std::set<std::string> adapter_params(model::Model& m) {
  std::set<std::string> out;
  for (const auto& item : m.lm->named_modules())
    if (dynamic_cast<model::LinearAdapter*>(item.value().get()))
      for (const auto& p : item.value()->named_parameters()) out.insert(item.key() + "." + p.key());
  return out;
}

// Base parameters matching a pattern (every one when `patterns` is empty and `all_when_empty`) become
// trainable; the others become `others` (or keep their state when `others` is null).
int64_t set_trainable(model::Model& m, const std::vector<std::string>& patterns, bool all_when_empty,
                      const bool* others, const char* fn) {
  const std::set<std::string> adapters = adapter_params(m);
  std::vector<std::string> base;
  std::set<std::string> used;
  for (auto& p : m.lm->named_parameters()) {
    if (adapters.count(p.key())) continue;
    base.push_back(p.key());
    bool hit = patterns.empty() && all_when_empty;
    for (const auto& pat : patterns)
      if (param_pattern_match(p.key(), pat)) {
        hit = true;
        used.insert(pat);
      }
    if (hit)
      p.value().set_requires_grad(true);
    else if (others)
      p.value().set_requires_grad(*others);
  }
  for (const auto& pat : patterns)
    if (!used.count(pat)) {
      std::string examples;
      for (size_t i = 0; i < base.size() && i < 3; ++i) examples += (i ? ", " : "") + base[i];
      throw Error(std::string(fn) + ": pattern '" + pat + "' matches no parameter",
                  "patterns are dot-separated parts of parameter names, e.g. \"embed_tokens\", \"layers.1\", "
                  "\"mlp.down_proj\"; names look like " +
                      examples + " (m:parameters() lists them)");
    }
  int64_t n = 0;
  for (auto& p : m.lm->parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace

bool param_pattern_match(const std::string& name, const std::string& pattern) {
  if (pattern.empty()) return false;
  const auto n = parts(name), p = parts(pattern);
  for (size_t i = 0; i + p.size() <= n.size(); ++i) {
    size_t k = 0;
    while (k < p.size() && n[i + k] == p[k]) ++k;
    if (k == p.size()) return true;
  }
  return false;
}

int64_t freeze_except(model::Model& m, const std::vector<std::string>& except) {
  const bool frozen = false;
  return set_trainable(m, except, false, &frozen, "m:freeze");
}

int64_t unfreeze(model::Model& m, const std::vector<std::string>& only) {
  return set_trainable(m, only, true, nullptr, "m:unfreeze");
}

}  // namespace ft::train
