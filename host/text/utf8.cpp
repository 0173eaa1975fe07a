// UTF-8 decoding by the Unicode "well-formed byte sequences" table (Unicode 15, table 3-7); invalid
// input is replaced per the "maximal subpart" practice that TextDecoder and from_utf8_lossy follow.
#include "text/utf8.h"

namespace ft::text::utf8 {
namespace {

// Expected sequence length for a lead byte, 0 for bytes that cannot start a sequence.
inline size_t lead_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  if (b < 0xF5) return 4;
  return 0;
}

// Valid range of the second byte, which is narrower than 80..BF after E0, ED, F0 and F4.
inline bool second_ok(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0:
      return b >= 0xA0 && b <= 0xBF;
    case 0xED:
      return b >= 0x80 && b <= 0x9F;
    case 0xF0:
      return b >= 0x90 && b <= 0xBF;
    case 0xF4:
      return b >= 0x80 && b <= 0x8F;
    default:
      return b >= 0x80 && b <= 0xBF;
  }
}

// Number of bytes starting at i that form a valid prefix (lead + continuation bytes).
inline size_t valid_prefix(std::string_view s, size_t i, size_t need) {
  auto lead = static_cast<unsigned char>(s[i]);
  size_t k = 1;
  for (; k < need && i + k < s.size(); ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    bool ok = k == 1 ? second_ok(lead, b) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
  }
  return k;
}

}  // namespace

size_t decode(std::string_view s, size_t i, char32_t* cp) {
  auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) {
    *cp = lead;
    return 1;
  }
  size_t need = lead_length(lead);
  if (need == 0 || valid_prefix(s, i, need) != need) return 0;
  char32_t c = lead & (0xFF >> (need + 1));
  for (size_t k = 1; k < need; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *cp = c;
  return need;
}

size_t invalid_length(std::string_view s, size_t i) {
  size_t need = lead_length(static_cast<unsigned char>(s[i]));
  if (need == 0) return 1;
  return valid_prefix(s, i, need);
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_valid(std::string_view s) {
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = decode(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string repair(std::string_view s, std::vector<std::pair<uint32_t, uint32_t>>* spans) {
  std::string out;
  out.reserve(s.size() + 8);
  if (spans) spans->clear();
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = decode(s, i, &cp);
    if (n) {
      out.append(s.data() + i, n);
    } else {
      n = invalid_length(s, i);
      out += "\xEF\xBF\xBD";
    }
    if (spans) {
      size_t produced = out.size() - spans->size();
      for (size_t k = 0; k < produced; ++k) spans->emplace_back(i, i + n);
    }
    i += n;
  }
  return out;
}

}  // namespace ft::text::utf8
