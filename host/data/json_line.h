// A fast path for parsing one JSONL line into nlohmann::json. It handles the usual shape of dataset
// rows (objects, arrays, strings with any escape, integers, true/false/null) and gives up - returns
// false - on everything else: numbers with a fraction or exponent, integers of more than 18 digits,
// nesting deeper than 64, a BOM, any syntax error. The caller then parses with nlohmann::json::parse,
// which decides and words the error, so results and errors are nlohmann's either way (a differential
// fuzz target, tests/fuzz/fuzz_json_line.cpp, holds the fast path to that).
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace ft::data {

// True with `out` set when `text` is one JSON value (plus whitespace) the fast path handles.
bool parse_json_fast(std::string_view text, nlohmann::json& out);

}  // namespace ft::data
