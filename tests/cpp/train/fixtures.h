// Shared by the train tests: the tiny model they train (2 layers, hidden 32, byte tokenizer) and a set of
// prompt/completion sums ("3+8=" -> "11") formatted with completion-only labels.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "data/format.h"
#include "model/model.h"

namespace ft::test {

// qwen2-shaped (q/k/v biases), hidden 32, 4 heads / 2 kv heads of 8, intermediate 64.
inline std::shared_ptr<model::Model> tiny_lm(uint64_t seed = 3, double init_std = 0.02, int64_t layers = 2) {
  model::NewModelOptions o;
  o.hidden = 32;
  o.layers = layers;
  o.init_std = init_std;
  o.heads = 4;
  o.kv_heads = 2;
  o.intermediate = 64;
  o.seed = seed;
  return model::Model::create(o);
}

inline std::vector<data::Example> sum_examples(int n) {
  auto tok = text::make_byte_tokenizer();
  std::vector<data::Row> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back({nlohmann::json{{"prompt", std::to_string(i) + "+" + std::to_string(i * 7 % 13) + "="},
                                   {"completion", std::to_string(i + i * 7 % 13)}},
                    "row " + std::to_string(i)});
  return data::format_rows(rows, *tok, nullptr, {}).examples;
}

}  // namespace ft::test
