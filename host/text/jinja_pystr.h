// Python `str` semantics over UTF-8 bytes, as Jinja (which runs on Python) applies them: whitespace as
// str.isspace() sees it, strip/split, code-point length/indexing, case mapping, and the repr()/str()
// spellings of strings and floats. Invalid UTF-8 bytes count as one code point each and pass through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ft::text::jinja::py {

// True for the code points str.isspace() accepts (ASCII whitespace, \x1c-\x1f, \x85, \xa0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
bool is_space(uint32_t cp);

// Byte offsets where each code point starts, plus s.size() at the end (so size() - 1 code points).
std::vector<size_t> code_point_starts(std::string_view s);
size_t length(std::string_view s);  // number of code points
// Decodes the code point at byte `pos` (invalid bytes decode as themselves); `len` gets its byte length.
uint32_t decode_at(std::string_view s, size_t pos, size_t* len);
void append_utf8(std::string& out, uint32_t cp);

// str.strip / lstrip / rstrip: `chars` empty optional = whitespace; otherwise the set of code points.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep=None, maxsplit=-1).
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);   // first code point title-cased, the rest lowered
std::string str_title(std::string_view s);    // str.title(): title-case after uncased characters
std::string jinja_title(std::string_view s);  // Jinja's `title` filter (words split on [-\s({\[<])

// repr() of a str: single quotes unless the text holds ' and no ", with Python's escapes.
std::string repr(std::string_view s);
// repr()/str() of a float: shortest round-trip digits; fixed notation for exponents in [-4, 16).
std::string float_repr(double d);

}  // namespace ft::text::jinja::py
