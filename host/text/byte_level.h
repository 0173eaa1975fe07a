// GPT-2's ByteLevel alphabet (HF pre_tokenizers/byte_level.rs bytes_char): every byte is shown as one
// printable character; bytes ! .. ~, ¡ .. ¬ and ® .. ÿ stand for themselves, the other 68 map, in
// ascending order, to U+0100 + n.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ft::text::byte_level {

// The character (as a code point) standing for byte b.
char32_t char_of(uint8_t b);
// Reverse mapping: the byte a code point stands for, or -1 when it is not in the alphabet.
int byte_of(char32_t cp);
// Converts a token written in the alphabet back to raw bytes; false if a character is outside it.
bool to_bytes(std::string_view token, std::string& out);
// Writes raw bytes in the alphabet.
std::string to_chars(std::string_view bytes);

}  // namespace ft::text::byte_level
