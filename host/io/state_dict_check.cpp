// check_state_dict: compares the tensors a model expects with what a checkpoint holds and reports
// every missing, unexpected and mis-shaped name in one error, with "did you mean" hints.
#include <torch/torch.h>

#include "core/error.h"
#include "core/strings.h"
#include "io/safetensors.h"

namespace ft::io {
namespace {

constexpr size_t kListed = 5;  // names shown per category; the rest are counted

std::string shape_string(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string listing(const std::vector<std::string>& items) {
  std::vector<std::string> shown(items.begin(), items.begin() + std::min(items.size(), kListed));
  std::string s = join(shown, ", ");
  if (items.size() > kListed) s += ", ... (" + std::to_string(items.size() - kListed) + " more)";
  return s;
}

}  // namespace

void check_state_dict(const std::map<std::string, std::vector<int64_t>>& expected,
                      const std::map<std::string, at::Tensor>& loaded, const std::string& source) {
  std::vector<std::string> missing, unexpected, misshaped, missing_names, unexpected_names;
  for (const auto& [name, shape] : expected) {
    auto it = loaded.find(name);
    if (it == loaded.end()) {
      missing.push_back("'" + name + "'");
      missing_names.push_back(name);
    } else if (it->second.sizes() != at::IntArrayRef(shape)) {
      misshaped.push_back("'" + name + "' expected " + shape_string(shape) + ", found " +
                          shape_string(it->second.sizes()));
    }
  }
  for (const auto& [name, t] : loaded)
    if (!expected.count(name)) {
      unexpected.push_back("'" + name + "'");
      unexpected_names.push_back(name);
    }
  if (missing.empty() && unexpected.empty() && misshaped.empty()) return;

  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back(std::to_string(missing.size()) + " missing: " + listing(missing));
  if (!unexpected.empty())
    parts.push_back(std::to_string(unexpected.size()) + " unexpected: " + listing(unexpected));
  if (!misshaped.empty())
    parts.push_back(std::to_string(misshaped.size()) + " with the wrong shape: " + listing(misshaped));

  std::string hint;
  if (!missing_names.empty() && !unexpected_names.empty()) {
    std::string near = nearest(missing_names.front(), unexpected_names);
    if (!near.empty())
      hint = "the checkpoint has '" + near + "' where '" + missing_names.front() + "' was expected; ";
  }
  if (!misshaped.empty())
    hint += "the config does not match the weights (hidden size, heads, layers or vocab): check config.json";
  else
    hint +=
        "the checkpoint was made for a different architecture or naming; check config.json and the model "
        "type";
  throw Error(source + ": weights do not match the model: " + join(parts, "; "), hint);
}

}  // namespace ft::io
