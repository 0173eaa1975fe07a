// UTF-8 helpers the tokenizers share: decoding one code point, appending one, and repairing invalid
// input the way WHATWG TextDecoder and Rust's from_utf8_lossy do (each maximal invalid subpart becomes
// U+FFFD), so ill-formed bytes tokenize exactly as the Python/JS tokenizers see them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ft::text::utf8 {

// Decodes the code point at s[i]. Returns its byte length, or 0 when the bytes there are not
// well-formed (then *cp is untouched). Never reads past s.size().
size_t decode(std::string_view s, size_t i, char32_t* cp);
// Length of the maximal ill-formed subpart starting at s[i] (>= 1), for a position where decode() == 0.
size_t invalid_length(std::string_view s, size_t i);
void append(std::string& out, char32_t cp);
bool is_valid(std::string_view s);
// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s test).
bool is_white_space(char32_t cp);
// Replaces invalid subparts with U+FFFD. When `spans` is given it receives, for every output byte, the
// [begin, end) byte range of the input it came from.
std::string repair(std::string_view s, std::vector<std::pair<uint32_t, uint32_t>>* spans = nullptr);

}  // namespace ft::text::utf8
