// A tokenizer.json pattern, {"String": literal} or {"Regex": oniguruma source}, as Split, Replace and
// the Replace decoder use it: find every non-overlapping occurrence, left to right.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/json_fields.h"
#include "text/regex.h"

namespace ft::text {

class Pattern {
 public:
  // Parses {"String": ...} or {"Regex": ...}; throws ft::Error naming `at` otherwise.
  Pattern(const json& spec, const JsonAt& at);
  explicit Pattern(std::unique_ptr<Regex> regex) : regex_(std::move(regex)) {}
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

}  // namespace ft::text
