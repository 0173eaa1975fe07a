// Partial fine-tuning without LoRA: choosing which base parameters train (requires_grad), by name
// pattern. The trainer then optimises exactly the parameters that require grad.
#pragma once

#include <string>
#include <vector>

#include "model/model.h"

namespace ft::train {

// A pattern matches a parameter name when the pattern's dot-separated parts appear as a contiguous run
// of the name's parts: "embed_tokens", "layers.1" (layer 1, not 10), "mlp.down_proj", "norm" (the final
// model.norm, not input_layernorm), "model.layers.0.self_attn.q_proj.weight" (one tensor).
bool param_pattern_match(const std::string& name, const std::string& pattern);

// Freezes every base parameter except those matching one of `except`, which become trainable. LoRA
// adapter parameters keep their state. Throws, naming the pattern, when one matches no parameter.
// Returns the number of trainable parameter elements afterwards (adapters included).
int64_t freeze_except(model::Model& m, const std::vector<std::string>& except);
// Makes the base parameters matching `only` trainable (every base parameter when empty); the others keep
// their state. Same errors and result as freeze_except.
int64_t unfreeze(model::Model& m, const std::vector<std::string>& only);

}  // namespace ft::train
