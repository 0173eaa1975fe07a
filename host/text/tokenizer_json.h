// Loading a Tokenizer from the text of a tokenizer.json (the HF tokenizers serialization) and,
// optionally, its tokenizer_config.json. Split out of load_tokenizer() so tests and the fuzz target
// can feed bytes without files.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "text/tokenizer.h"

namespace ft::text {

// `file` names the source in error messages. `config_text` may be empty (no tokenizer_config.json).
// special_tokens_map.json (older repos), when given, supplies bos/eos/pad names the config lacks.
std::shared_ptr<Tokenizer> parse_tokenizer_json(
    std::string_view json_text, const std::string& file, std::string_view config_text = {},
    const std::string& config_file = "tokenizer_config.json", std::string_view special_map_text = {},
    const std::string& special_map_file = "special_tokens_map.json");

}  // namespace ft::text
