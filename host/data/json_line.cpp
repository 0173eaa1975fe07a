// The JSONL fast path (see json_line.h): a recursive-descent parser that copies ASCII runs of strings
// in one go and validates UTF-8 as RFC 3629 (and nlohmann) does.
#include "data/json_line.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace ft::data {

namespace {

constexpr int kMaxDepth = 64;          // deeper input goes to nlohmann
constexpr int kMaxIntegerDigits = 18;  // always fits in int64 / uint64

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the valid UTF-8 sequence of 2-4 bytes at p, or 0 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF).
int utf8_sequence(const unsigned char* p, const unsigned char* end) {
  auto in = [&](int i, unsigned lo, unsigned hi) { return p + i < end && p[i] >= lo && p[i] <= hi; };
  const unsigned c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

class Parser {
 public:
  Parser(const char* p, const char* end)
      : p_(reinterpret_cast<const unsigned char*>(p)), end_(reinterpret_cast<const unsigned char*>(end)) {}

  bool document(nlohmann::json& out) {
    if (!value(out)) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool hex4(uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(static_cast<char>(p_[i]));
      if (d < 0) return false;
      v = v * 16 + static_cast<uint32_t>(d);
    }
    p_ += 4;
    return true;
  }

  // After the opening quote; leaves p_ after the closing one.
  bool string(std::string& s) {
    for (;;) {
      const unsigned char* run = p_;
      while (p_ < end_ && *p_ >= 0x20 && *p_ < 0x80 && *p_ != '"' && *p_ != '\\') ++p_;
      s.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p_ - run));
      if (p_ == end_) return false;
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c >= 0x80) {
        const int n = utf8_sequence(p_, end_);
        if (n == 0) return false;
        s.append(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
        p_ += n;
        continue;
      }
      // A backslash.
      if (++p_ == end_) return false;
      switch (*p_++) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case '/':
          s += '/';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate first
          if (cp >= 0xD800 && cp <= 0xDBFF) {              // must pair with a low surrogate
            uint32_t lo;
            if (!literal("\\u", 2) || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(s, cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  bool number(nlohmann::json& out) {
    const bool neg = *p_ == '-';
    if (neg) ++p_;
    const unsigned char* digits = p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (p_ < end_ && *p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return false;
    }
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;  // floats: nlohmann's parse
    if (p_ - digits > kMaxIntegerDigits) return false;
    uint64_t v = 0;
    for (const unsigned char* d = digits; d < p_; ++d) v = v * 10 + (*d - '0');
    if (neg)
      out = -static_cast<int64_t>(v);
    else
      out = v;
    return true;
  }

  bool value(nlohmann::json& out) {
    skip_ws();
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': {
        if (++depth_ > kMaxDepth) return false;
        ++p_;
        out = nlohmann::json::object();
        skip_ws();
        if (p_ < end_ && *p_ == '}') {
          ++p_;
          --depth_;
          return true;
        }
        for (;;) {
          skip_ws();
          if (p_ == end_ || *p_ != '"') return false;
          ++p_;
          std::string key;
          if (!string(key)) return false;
          skip_ws();
          if (p_ == end_ || *p_ != ':') return false;
          ++p_;
          nlohmann::json v;
          if (!value(v)) return false;
          out[key] = std::move(v);  // a repeated key: the last one wins, as in nlohmann
          skip_ws();
          if (p_ == end_) return false;
          if (*p_ == ',') {
            ++p_;
            continue;
          }
          if (*p_ != '}') return false;
          ++p_;
          --depth_;
          return true;
        }
      }
      case '[': {
        if (++depth_ > kMaxDepth) return false;
        ++p_;
        out = nlohmann::json::array();
        skip_ws();
        if (p_ < end_ && *p_ == ']') {
          ++p_;
          --depth_;
          return true;
        }
        for (;;) {
          nlohmann::json v;
          if (!value(v)) return false;
          out.push_back(std::move(v));
          skip_ws();
          if (p_ == end_) return false;
          if (*p_ == ',') {
            ++p_;
            continue;
          }
          if (*p_ != ']') return false;
          ++p_;
          --depth_;
          return true;
        }
      }
      case '"': {
        ++p_;
        std::string s;
        if (!string(s)) return false;
        out = std::move(s);
        return true;
      }
      case 't':
        out = true;
        return literal("true", 4);
      case 'f':
        out = false;
        return literal("false", 5);
      case 'n':
        out = nullptr;
        return literal("null", 4);
      default:
        return number(out);
    }
  }

  const unsigned char* p_;
  const unsigned char* end_;
  int depth_ = 0;
};

}  // namespace

bool parse_json_fast(std::string_view text, nlohmann::json& out) {
  return Parser(text.data(), text.data() + text.size()).document(out);
}

}  // namespace ft::data
