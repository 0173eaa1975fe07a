// Python `str` semantics over UTF-8 bytes for the Jinja engine (see jinja_pystr.h).
#include "text/jinja_pystr.h"

#include <utf8proc.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ft::text::jinja::py {

bool is_space(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

uint32_t decode_at(std::string_view s, size_t pos, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  size_t n = 0;
  uint32_t cp = 0;
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    n = 2, cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    n = 3, cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    n = 4, cp = b0 & 0x07;
  } else {
    *len = 1;
    return b0;
  }
  if (pos + n > s.size()) {
    *len = 1;
    return b0;
  }
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xc0) != 0x80) {
      *len = 1;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  // Overlong forms and surrogates are not valid UTF-8: treat the lead byte as a unit of its own.
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    *len = 1;
    return b0;
  }
  *len = n;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::vector<size_t> code_point_starts(std::string_view s) {
  std::vector<size_t> starts;
  starts.reserve(s.size() + 1);
  size_t pos = 0;
  while (pos < s.size()) {
    starts.push_back(pos);
    size_t len = 1;
    decode_at(s, pos, &len);
    pos += len;
  }
  starts.push_back(s.size());
  return starts;
}

size_t length(std::string_view s) {
  size_t n = 0, pos = 0;
  while (pos < s.size()) {
    size_t len = 1;
    decode_at(s, pos, &len);
    pos += len;
    ++n;
  }
  return n;
}

namespace {

std::vector<uint32_t> decode_all(std::string_view s) {
  std::vector<uint32_t> cps;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len = 1;
    cps.push_back(decode_at(s, pos, &len));
    pos += len;
  }
  return cps;
}

// Unicode SpecialCasing.txt unconditional mappings that expand to several code points (Python's
// str.upper()/title() apply them; utf8proc only has the one-to-one mappings). Greek letters with
// ypogegrammeni are not listed: they keep utf8proc's simple mapping.
struct SpecialCase {
  uint32_t cp;
  uint32_t upper[3];
  uint32_t title[3];
};
constexpr SpecialCase kSpecialCases[] = {
    {0xdf, {0x53, 0x53}, {0x53, 0x73}},
    {0x149, {0x2bc, 0x4e}, {0x2bc, 0x4e}},
    {0x1f0, {0x4a, 0x30c}, {0x4a, 0x30c}},
    {0x390, {0x399, 0x308, 0x301}, {0x399, 0x308, 0x301}},
    {0x3b0, {0x3a5, 0x308, 0x301}, {0x3a5, 0x308, 0x301}},
    {0x587, {0x535, 0x552}, {0x535, 0x582}},
    {0x1e96, {0x48, 0x331}, {0x48, 0x331}},
    {0x1e97, {0x54, 0x308}, {0x54, 0x308}},
    {0x1e98, {0x57, 0x30a}, {0x57, 0x30a}},
    {0x1e99, {0x59, 0x30a}, {0x59, 0x30a}},
    {0x1e9a, {0x41, 0x2be}, {0x41, 0x2be}},
    {0xfb00, {0x46, 0x46}, {0x46, 0x66}},
    {0xfb01, {0x46, 0x49}, {0x46, 0x69}},
    {0xfb02, {0x46, 0x4c}, {0x46, 0x6c}},
    {0xfb03, {0x46, 0x46, 0x49}, {0x46, 0x66, 0x69}},
    {0xfb04, {0x46, 0x46, 0x4c}, {0x46, 0x66, 0x6c}},
    {0xfb05, {0x53, 0x54}, {0x53, 0x74}},
    {0xfb06, {0x53, 0x54}, {0x53, 0x74}},
    {0xfb13, {0x544, 0x546}, {0x544, 0x576}},
    {0xfb14, {0x544, 0x535}, {0x544, 0x565}},
    {0xfb15, {0x544, 0x53b}, {0x544, 0x56b}},
    {0xfb16, {0x54e, 0x546}, {0x54e, 0x576}},
    {0xfb17, {0x544, 0x53d}, {0x544, 0x56d}},
};

const SpecialCase* special_case(uint32_t cp) {
  for (const SpecialCase& s : kSpecialCases)
    if (s.cp == cp) return &s;
  return nullptr;
}

// Appends the full case mapping of cp: mode 'U'pper, 'L'ower or 'T'itle.
void append_mapped(std::string& out, uint32_t cp, char mode) {
  const auto c = static_cast<utf8proc_int32_t>(cp);
  if (mode != 'L') {
    if (const SpecialCase* s = special_case(cp)) {
      for (uint32_t m : mode == 'U' ? s->upper : s->title)
        if (m) append_utf8(out, m);
      return;
    }
  } else if (cp == 0x130) {  // İ lowers to i + combining dot above
    append_utf8(out, 0x69);
    append_utf8(out, 0x307);
    return;
  }
  const utf8proc_int32_t m = mode == 'U'   ? utf8proc_toupper(c)
                             : mode == 'L' ? utf8proc_tolower(c)
                                           : utf8proc_totitle(c);
  append_utf8(out, static_cast<uint32_t>(m));
}

// Case mapping keeps bytes that are not valid UTF-8 as they were; `mode(cp)` picks 'U', 'L' or 'T'.
template <class Mode>
std::string map_code_points(std::string_view s, Mode mode) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len = 1;
    const uint32_t cp = decode_at(s, pos, &len);
    if (len == 1 && cp >= 0x80)
      out += s[pos];
    else
      append_mapped(out, cp, mode(cp));
    pos += len;
  }
  return out;
}

}  // namespace

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) set = decode_all(*chars);
  auto stripped = [&](uint32_t cp) {
    if (!chars) return is_space(cp);
    for (uint32_t c : set)
      if (c == cp) return true;
    return false;
  };
  const std::vector<size_t> starts = code_point_starts(s);
  size_t b = 0, e = starts.size() - 1;  // code point indices [b, e)
  size_t len = 0;
  if (left)
    while (b < e && stripped(decode_at(s, starts[b], &len))) ++b;
  if (right)
    while (e > b && stripped(decode_at(s, starts[e - 1], &len))) --e;
  return std::string(s.substr(starts[b], starts[e] - starts[b]));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    parts.emplace_back(s.substr(pos));
    return parts;
  }
  // Whitespace split: runs of whitespace separate, leading/trailing whitespace yields nothing.
  size_t pos = 0, len = 0;
  auto skip_space = [&] {
    while (pos < s.size() && is_space(decode_at(s, pos, &len))) pos += len;
  };
  skip_space();
  while (pos < s.size()) {
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      // The remainder keeps its inner whitespace but loses trailing whitespace.
      parts.push_back(strip(s.substr(pos), std::nullopt, false, true));
      return parts;
    }
    const size_t start = pos;
    while (pos < s.size() && !is_space(decode_at(s, pos, &len))) pos += len;
    parts.emplace_back(s.substr(start, pos - start));
    skip_space();
  }
  return parts;
}

std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `repl` between code points and at both ends.
    const std::vector<size_t> starts = code_point_starts(s);
    const size_t n = starts.size() - 1;
    int64_t done = 0;
    for (size_t k = 0; k <= n; ++k) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (k < n) out += s.substr(starts[k], starts[k + 1] - starts[k]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out += s.substr(pos, hit - pos);
    out += repl;
    pos = hit + old.size();
    ++done;
  }
  out += s.substr(pos);
  return out;
}

std::string upper(std::string_view s) {
  return map_code_points(s, [](uint32_t) { return 'U'; });
}
std::string lower(std::string_view s) {
  return map_code_points(s, [](uint32_t) { return 'L'; });
}

std::string capitalize(std::string_view s) {
  bool first = true;
  return map_code_points(s, [&](uint32_t) {
    const char m = first ? 'T' : 'L';
    first = false;
    return m;
  });
}

std::string str_title(std::string_view s) {
  // A cased character after a cased one is lowered, any other cased character is title-cased.
  std::string out;
  size_t pos = 0, len = 0;
  bool prev_cased = false;
  while (pos < s.size()) {
    const uint32_t cp = decode_at(s, pos, &len);
    if (len == 1 && cp >= 0x80) {
      out += s[pos];
      prev_cased = false;
    } else {
      const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
      const bool cased =
          cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
      if (cased)
        append_mapped(out, cp, prev_cased ? 'L' : 'T');
      else
        out.append(s.substr(pos, len));
      prev_cased = cased;
    }
    pos += len;
  }
  return out;
}

std::string jinja_title(std::string_view s) {
  // Jinja: "".join(item[0].upper() + item[1:].lower() for item in re.split(r"([-\s({\[<]+)", s) if item)
  auto is_sep = [](uint32_t cp) {
    return is_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
  };
  std::string out;
  size_t pos = 0, len = 0;
  bool word_start = true;
  while (pos < s.size()) {
    const uint32_t cp = decode_at(s, pos, &len);
    const bool raw = len == 1 && cp >= 0x80;
    if (is_sep(cp)) {
      out.append(s.substr(pos, len));
      word_start = true;
    } else if (raw) {
      out += s[pos];
      word_start = false;
    } else {
      append_mapped(out, cp, word_start ? 'U' : 'L');
      word_start = false;
    }
    pos += len;
  }
  return out;
}

std::string repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  size_t pos = 0, len = 0;
  char buf[16];
  while (pos < s.size()) {
    const uint32_t cp = decode_at(s, pos, &len);
    if (len == 1 && cp >= 0x80) {
      // Python cannot hold invalid UTF-8 in a str; show the byte as a surrogate escape would.
      std::snprintf(buf, sizeof buf, "\\udc%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xad) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x200b && cp <= 0x200f) || cp == 0xfeff) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(pos, len));
    }
    pos += len;
  }
  out += quote;
  return out;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest precision that round-trips, as Python's repr does.
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf is "[-]D.DDDDe[+-]XX": collect the digits and the exponent.
  std::string digits;
  const char* p = buf;
  const bool neg = *p == '-';
  if (neg) ++p;
  for (; *p && *p != 'e'; ++p)
    if (*p != '.') digits += *p;
  const int exp = std::atoi(p + 1);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  const int n = static_cast<int>(digits.size());
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      if (n > exp + 1) {
        out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
      } else {
        out += digits + std::string(exp + 1 - n, '0') + ".0";
      }
    } else {
      out += "0." + std::string(-exp - 1, '0') + digits;
    }
  } else {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += buf;
  }
  return out;
}

}  // namespace ft::text::jinja::py
