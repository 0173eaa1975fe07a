// LoRA adapters on model::Linear: PEFT target matching (suffix list, regex, all-linear, layers,
// exclude, rank/alpha patterns), bias modes, merge/unmerge. PEFT files: lora_peft.cpp.
#include "train/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "core/error.h"
#include "model/activation_checkpoint.h"

namespace ft::train {

bool module_suffix_match(const std::string& key, const std::string& t) {
  return key == t || (key.size() > t.size() && key.compare(key.size() - t.size(), t.size(), t) == 0 &&
                      key[key.size() - t.size() - 1] == '.');
}

namespace {

constexpr const char* kAdapterName = "lora";

std::regex compile(const std::string& pattern, const char* what) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(std::string("m:lora: ") + what + " '" + pattern + "' is not a valid regex (" + e.what() + ")",
                "a single string is matched as a regex against the whole module name, e.g. "
                "\"model\\.layers\\.[01]\\..*(q_proj|v_proj)\"");
  }
}

// PEFT: the layer index is the number after "<pattern>." ("layers.3." in "model.layers.3.mlp.up_proj");
// with no pattern, the number after any name ("re.match(r'.*\\.[^.]*\\.(\\d+)\\.')").
bool layer_selected(const LoraConfig& c, const std::string& key) {
  if (c.layers.empty()) return true;
  std::vector<std::string> patterns = c.layers_pattern;
  if (patterns.empty()) patterns.push_back("[^.]*");
  for (const auto& p : patterns) {
    std::smatch mt;
    if (std::regex_search(key, mt, compile("^.*\\." + p + "\\.(\\d+)\\.", "layers_pattern"))) {
      int64_t index = std::stoll(mt[1].str());
      return std::find(c.layers.begin(), c.layers.end(), index) != c.layers.end();
    }
  }
  return false;
}

bool excluded(const LoraConfig& c, const std::string& key) {
  if (!c.exclude_regex.empty() && std::regex_match(key, compile(c.exclude_regex, "exclude regex")))
    return true;
  for (const auto& e : c.exclude)
    if (module_suffix_match(key, e)) return true;
  for (const auto& s : c.modules_to_save)  // trained in full: never wrapped (PEFT does the same)
    if (module_suffix_match(key, s)) return true;
  return false;
}

// Every model::Linear of the model with its HF module name.
std::vector<std::pair<std::string, model::LinearImpl*>> linears(model::Model& m) {
  std::vector<std::pair<std::string, model::LinearImpl*>> out;
  for (const auto& item : m.lm->named_modules()) {
    if (auto* lin = dynamic_cast<model::LinearImpl*>(item.value().get())) out.emplace_back(item.key(), lin);
  }
  return out;
}

template <class T>
T pattern_value(const std::vector<std::pair<std::string, T>>& patterns, const std::string& key, T dflt) {
  for (const auto& [p, v] : patterns)
    if (std::regex_match(key, compile("(.*\\.)?(" + p + ")", "rank/alpha pattern"))) return v;
  return dflt;
}

}  // namespace

void check_lora_config(const LoraConfig& c) {
  if (c.r < 1) throw Error("m:lora: r must be >= 1, got " + std::to_string(c.r));
  for (const auto& [p, r] : c.rank_pattern)
    if (r < 1) throw Error("m:lora: rank_pattern['" + p + "'] must be >= 1, got " + std::to_string(r));
  if (c.bias != "none" && c.bias != "all" && c.bias != "lora_only")
    throw Error("m:lora: bias must be \"none\", \"all\" or \"lora_only\", got \"" + c.bias + "\"");
  if (!c.target_regex.empty() && !c.layers.empty())
    throw Error("m:lora: layers (layers_to_transform) cannot be used with a regex target",
                "give targets as a list of module names, or put the layer numbers into the regex");
  if (!c.layers_pattern.empty() && c.layers.empty())
    throw Error("m:lora: layers_pattern needs layers (layers_to_transform) too");
  for (int64_t l : c.layers)
    if (l < 0) throw Error("m:lora: layers must be layer indices >= 0, got " + std::to_string(l));
  if (!c.target_regex.empty()) compile(c.target_regex, "targets regex");
  if (!c.exclude_regex.empty()) compile(c.exclude_regex, "exclude regex");
  for (const auto& p : c.layers_pattern) compile(p, "layers_pattern");
}

bool lora_targets_module(const LoraConfig& c, const std::string& key) {
  if (excluded(c, key)) return false;
  if (!c.target_regex.empty()) return std::regex_match(key, compile(c.target_regex, "targets regex"));
  if (c.all_linear) return key != "lm_head" && layer_selected(c, key);
  // PEFT: a list entry equal to the whole name is taken as is; a suffix match is filtered by layer.
  for (const auto& t : c.targets)
    if (key == t) return true;
  for (const auto& t : c.targets)
    if (module_suffix_match(key, t)) return layer_selected(c, key);
  return false;
}

LoraAdapter::LoraAdapter(int64_t in, int64_t out, int64_t r_, double alpha_, const LoraConfig& c,
                         torch::Generator* gen)
    : r(r_), alpha(alpha_), dropout_p(c.dropout), rslora(c.rslora) {
  if (r < 1) throw Error("lora: r must be >= 1, got " + std::to_string(r));
  scale_ = c.rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
  // kaiming_uniform_(a = sqrt 5) on [r, in]: gain sqrt(2 / 6), bound gain * sqrt(3 / in) = 1 / sqrt(in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  at::Tensor a = at::empty({r, in}, at::kFloat);
  if (gen)
    a.uniform_(-bound, bound, *gen);
  else
    a.uniform_(-bound, bound);
  lora_A = register_parameter("lora_A", a);
  lora_B = register_parameter("lora_B", at::zeros({out, r}, at::kFloat));
}

at::Tensor LoraAdapter::forward(const at::Tensor& x) {
  at::Tensor h = x;
  // Dropout only when training with gradients, or in a checkpointed block's first (graph-less) run, whose
  // recomputation in backward has gradients and so drops out too.
  if (dropout_p > 0 && is_training() && (at::GradMode::is_enabled() || model::in_checkpoint_forward()))
    h = at::dropout(h, dropout_p, true);
  // The scale goes on the rank-r intermediate (r columns) rather than on the [.., out] result.
  return model::linear_forward(
             model::linear_forward(h.to(lora_A.scalar_type()), lora_A, at::Tensor()).mul_(scale_), lora_B,
             at::Tensor())
      .to(x.scalar_type());
}

at::Tensor LoraAdapter::delta_weight() const {
  return at::matmul(lora_B, lora_A).mul(scale_);
}

std::vector<LoraTarget> lora_targets(model::Model& m) {
  std::vector<LoraTarget> out;
  for (auto& [name, lin] : linears(m))
    for (auto& a : lin->adapters)
      if (a.first == kAdapterName)
        out.push_back({name, lin, std::dynamic_pointer_cast<LoraAdapter>(a.second)});
  return out;
}

std::vector<LoraTarget> apply_lora(model::Model& m, const LoraConfig& c) {
  if (!lora_targets(m).empty())
    throw Error("m:lora: this model already has LoRA adapters",
                "merge them (m:merge()) or load a fresh model");
  check_lora_config(c);
  const std::set<std::string> exact(c.exact_modules.begin(), c.exact_modules.end());
  auto is_target = [&](const std::string& key) {
    return exact.empty() ? lora_targets_module(c, key) : exact.count(key) > 0;
  };
  // A target that names an embedding or a norm is a mistake worth stopping for (PEFT raises too).
  for (const auto& item : m.lm->named_modules()) {
    if (dynamic_cast<model::LinearImpl*>(item.value().get()) || item.key().empty()) continue;
    if (c.all_linear || item.value()->named_parameters(false).is_empty() || !is_target(item.key())) continue;
    const std::string leaf = item.key().substr(item.key().rfind('.') + 1);
    throw Error("m:lora: target '" + item.key() + "' is not a linear module (only those take adapters)",
                "train it in full with modules_to_save = { \"" + leaf + "\" }, or narrow the targets");
  }
  for (const auto& s : c.modules_to_save) {
    bool hit = false;
    for (const auto& item : m.lm->named_modules())
      hit = hit || (!item.key().empty() && module_suffix_match(item.key(), s));
    if (!hit) throw Error("m:lora: modules_to_save entry '" + s + "' matches no module");
  }
  auto all = linears(m);
  at::Generator gen = at::detail::createCPUGenerator(c.seed);
  auto shared = std::make_shared<const LoraConfig>(c);
  std::vector<LoraTarget> out;
  for (auto& [name, lin] : all) {
    if (!is_target(name)) continue;
    const int64_t r = pattern_value(c.rank_pattern, name, c.r);
    const double alpha = pattern_value(c.alpha_pattern, name, c.alpha);
    auto a = std::make_shared<LoraAdapter>(lin->in_features, lin->out_features, r, alpha, c, &gen);
    a->config = shared;
    a->to(lin->weight.device());
    lin->add_adapter(kAdapterName, a);
    out.push_back({name, lin, a});
  }
  if (out.empty()) {
    std::set<std::string> kinds;
    for (auto& l : all) kinds.insert(l.first.substr(l.first.rfind('.') + 1));
    std::string list;
    for (auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    std::string hint = "the model's linear modules are: " + list;
    if (!c.target_regex.empty())
      hint +=
          " (a single string is a regex that must match the whole name, e.g. "
          "\"model.layers.0.self_attn.q_proj\"; give a list { \"q_proj\" } to match by suffix)";
    if (!c.layers.empty()) hint += "; check layers / layers_pattern";
    throw Error("m:lora: no linear module matches the targets", hint);
  }
  // Freeze the base; keep adapters, modules_to_save and the bias mode's biases trainable.
  std::set<std::string> adapted;
  for (auto& t : out) adapted.insert(t.module);
  for (auto& p : m.lm->named_parameters()) {
    const std::string& key = p.key();
    const std::string mod = key.substr(0, key.rfind('.'));
    bool train = key.find(".lora.lora_") != std::string::npos;
    for (const auto& s : c.modules_to_save) train = train || module_suffix_match(mod, s);
    const bool is_bias = key.size() > 5 && key.compare(key.size() - 5, 5, ".bias") == 0;
    if (is_bias && (c.bias == "all" || (c.bias == "lora_only" && adapted.count(mod)))) train = true;
    p.value().set_requires_grad(train);
  }
  return out;
}

LoraConfig lora_config(model::Model& m) {
  auto t = lora_targets(m);
  if (t.empty())
    throw Error("this model has no LoRA adapters", "call m:lora{...} or m:load_adapter(dir) first");
  return *t[0].adapter->config;
}

void merge_lora(model::Model& m) {
  auto t = lora_targets(m);
  if (t.empty()) throw Error("m:merge: this model has no LoRA adapters to merge");
  torch::NoGradGuard ng;
  for (auto& x : t) {
    if (x.adapter->merged) continue;
    x.linear->weight.add_(x.adapter->delta_weight().to(x.linear->weight.scalar_type()));
    x.adapter->merged = true;
    x.adapter->enabled = false;
  }
}

void unmerge_lora(model::Model& m) {
  torch::NoGradGuard ng;
  for (auto& x : lora_targets(m)) {
    if (!x.adapter->merged) continue;
    x.linear->weight.sub_(x.adapter->delta_weight().to(x.linear->weight.scalar_type()));
    x.adapter->merged = false;
    x.adapter->enabled = true;
  }
}

void set_lora_enabled(model::Model& m, bool enabled) {
  for (auto& x : lora_targets(m))
    if (!x.adapter->merged) x.adapter->enabled = enabled;
}

std::vector<std::pair<std::string, at::Tensor>> trainable_parameters(model::Model& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& p : m.lm->named_parameters())
    if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
  return out;
}

}  // namespace ft::train
