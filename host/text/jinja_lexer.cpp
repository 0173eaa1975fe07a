// Jinja lexer with transformers' whitespace settings (see jinja_lexer.h). The rules follow Jinja's own
// lexer: tag ends are recognised only when brackets are balanced, `-` strips all whitespace (as
// str.rstrip / \s* do), lstrip_blocks removes spaces and tabs before `{%` / `{#` at the start of a line.
#include "text/jinja_lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "text/jinja_pystr.h"

namespace ft::text::jinja {

namespace {

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& where, const LexOptions& opts)
      : where_(where), opts_(opts) {
    // Jinja splits on \r\n, \r and \n, joins with \n and drops one trailing empty line.
    src_.reserve(source.size());
    for (size_t k = 0; k < source.size(); ++k) {
      if (source[k] == '\r') {
        src_ += '\n';
        if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
      } else {
        src_ += source[k];
      }
    }
    if (!opts_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      const size_t start = find_tag(pos_);
      if (start == std::string::npos) {
        emit_text(src_.substr(pos_), line_);
        advance_to(src_.size());
        break;
      }
      const char kind = src_[start + 1];
      const size_t after_open = start + 2;
      const char sign = after_open < src_.size() && (src_[after_open] == '-' || src_[after_open] == '+')
                            ? src_[after_open]
                            : 0;
      size_t raw_end_of_open = 0;
      const bool raw = kind == '%' && match_raw_open(after_open + (sign ? 1 : 0), &raw_end_of_open);

      std::string text = src_.substr(pos_, start - pos_);
      apply_left_control(text, sign, kind != '{', line_starting);
      const int text_line = line_;
      emit_text(std::move(text), text_line);
      advance_to(start);
      const int tag_line = line_;

      if (raw) {
        advance_to(raw_end_of_open);
        line_starting = lex_raw_body(tag_line);
      } else if (kind == '#') {
        line_starting = lex_comment(after_open + (sign ? 1 : 0), tag_line);
      } else {
        advance_to(after_open + (sign ? 1 : 0));
        line_starting = lex_tag(kind == '{', tag_line);
      }
    }
    Token eof{Tok::Eof, "", line_};
    toks_.push_back(eof);
    return std::move(toks_);
  }

 private:
  [[noreturn]] void fail(int line, const std::string& msg, const std::string& hint = {}) const {
    throw ft::Error(where_ + " line " + std::to_string(line) + ": " + msg, hint);
  }

  void advance_to(size_t p) {
    for (size_t k = pos_; k < p; ++k)
      if (src_[k] == '\n') ++line_;
    pos_ = p;
  }

  size_t find_tag(size_t from) const {
    for (size_t k = from; k + 1 < src_.size(); ++k)
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    return std::string::npos;
  }

  static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  }

  // Position after Python whitespace (\s*) starting at p.
  size_t skip_py_space(size_t p) const {
    size_t len = 0;
    while (p < src_.size() && py::is_space(py::decode_at(src_, p, &len))) p += len;
    return p;
  }

  // `{%[-+]? raw %}` / `raw -%}`: true when the tag at p (after the sign) is a raw opener.
  bool match_raw_open(size_t p, size_t* end) const {
    while (p < src_.size() && is_ws(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    if (p < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[p])) || src_[p] == '_'))
      return false;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    if (src_.compare(p, 3, "-%}") == 0) {
      *end = skip_py_space(p + 3);
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      *end = p + 2;
      return true;
    }
    return false;
  }

  // Whitespace control on the text before a tag: `-` strips all trailing whitespace; otherwise
  // lstrip_blocks removes spaces/tabs between the line start and a block or comment tag.
  void apply_left_control(std::string& text, char sign, bool block_or_comment, bool line_starting) const {
    if (sign == '-') {
      text = py::strip(text, std::nullopt, false, true);
    } else if (sign != '+' && opts_.lstrip_blocks && block_or_comment) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        bool only_blank = true;
        for (size_t k = l_pos; k < text.size(); ++k)
          if (text[k] != ' ' && text[k] != '\t') only_blank = false;
        if (only_blank) text.resize(l_pos);
      }
    }
  }

  void emit_text(std::string text, int line) {
    if (text.empty()) return;
    toks_.push_back(Token{Tok::Text, std::move(text), line});
  }

  // After a block or comment end: `-` strips whitespace, `+` keeps, else trim_blocks drops one \n.
  // Returns whether the consumed end ended with a newline (Jinja's line_starting).
  bool consume_block_suffix(size_t after_end, char sign) {
    size_t p = after_end;
    if (sign == '-')
      p = skip_py_space(p);
    else if (sign != '+' && opts_.trim_blocks && p < src_.size() && src_[p] == '\n')
      ++p;
    const bool ends_nl = p > after_end && src_[p - 1] == '\n';
    advance_to(p);
    return ends_nl;
  }

  bool lex_comment(size_t body, int open_line) {
    const size_t close = src_.find("#}", body);
    if (close == std::string::npos)
      fail(open_line, "comment '{#' is never closed", "end the comment with '#}'");
    char sign = 0;
    if (close > body && (src_[close - 1] == '-' || src_[close - 1] == '+')) sign = src_[close - 1];
    return consume_block_suffix(close + 2, sign);
  }

  bool lex_raw_body(int open_line) {
    // Find `{%[-+]? endraw [-+]?%}`.
    size_t p = pos_;
    while (true) {
      const size_t open = src_.find("{%", p);
      if (open == std::string::npos) fail(open_line, "'{% raw %}' is never closed", "add '{% endraw %}'");
      size_t q = open + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      while (q < src_.size() && is_ws(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) {
        p = open + 2;
        continue;
      }
      q += 6;
      while (q < src_.size() && is_ws(src_[q])) ++q;
      char end_sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) end_sign = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) {
        p = open + 2;
        continue;
      }
      std::string text = src_.substr(pos_, open - pos_);
      apply_left_control(text, sign, true, false);
      emit_text(std::move(text), line_);
      advance_to(q);
      return consume_block_suffix(q + 2, end_sign);
    }
  }

  // Tokens inside {{ }} or {% %}. Returns line_starting for the text that follows.
  bool lex_tag(bool is_var, int open_line) {
    toks_.push_back(Token{is_var ? Tok::VarBegin : Tok::BlockBegin, is_var ? "{{" : "{%", open_line});
    int depth = 0;
    std::vector<std::pair<char, int>> brackets;
    while (true) {
      if (pos_ >= src_.size())
        fail(open_line, std::string("'") + (is_var ? "{{" : "{%") + "' is never closed",
             std::string("close it with '") + (is_var ? "}}" : "%}") + "'");
      if (depth == 0) {
        // Tag end, tried before operators as Jinja does when brackets are balanced.
        if (is_var) {
          if (src_.compare(pos_, 3, "-}}") == 0) {
            toks_.push_back(Token{Tok::VarEnd, "}}", line_});
            const size_t p = skip_py_space(pos_ + 3);
            const bool nl = p > pos_ + 3 && src_[p - 1] == '\n';
            advance_to(p);
            return nl;
          }
          if (src_.compare(pos_, 2, "}}") == 0) {
            toks_.push_back(Token{Tok::VarEnd, "}}", line_});
            advance_to(pos_ + 2);
            return false;
          }
        } else {
          char sign = 0;
          size_t end = std::string::npos;
          if (src_.compare(pos_, 3, "-%}") == 0 || src_.compare(pos_, 3, "+%}") == 0) {
            sign = src_[pos_];
            end = pos_ + 3;
          } else if (src_.compare(pos_, 2, "%}") == 0) {
            end = pos_ + 2;
          }
          if (end != std::string::npos) {
            toks_.push_back(Token{Tok::BlockEnd, "%}", line_});
            return consume_block_suffix(end, sign);
          }
        }
      }
      const char c = src_[pos_];
      if (is_ws(c)) {
        advance_to(pos_ + 1);
        continue;
      }
      const int line = line_;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos_ + 1;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
        toks_.push_back(Token{Tok::Name, src_.substr(pos_, e - pos_), line});
        advance_to(e);
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number(line);
        continue;
      }
      if (c == '\'' || c == '"') {
        lex_string(c, line);
        continue;
      }
      static const char* const ops2[] = {"//", "**", "==", "!=", ">=", "<="};
      bool matched = false;
      for (const char* op : ops2)
        if (src_.compare(pos_, 2, op) == 0) {
          toks_.push_back(Token{Tok::Op, op, line});
          advance_to(pos_ + 2);
          matched = true;
          break;
        }
      if (matched) continue;
      if (std::strchr("+-/*%~[](){}><=.:|,;", c) == nullptr || c == 0) {
        std::string shown(1, c);
        size_t len = 1;
        const uint32_t cp = py::decode_at(src_, pos_, &len);
        if (len > 1) shown = src_.substr(pos_, len);
        (void)cp;
        fail(
            line, "unexpected character '" + shown + "' inside '" + (is_var ? "{{" : "{%") + "'",
            "expressions use names, numbers, quoted strings and operators; put literal text outside the tag");
      }
      if (c == '(' || c == '[' || c == '{') {
        brackets.emplace_back(c, line);
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        const char want = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (brackets.empty())
          fail(line, std::string("unexpected '") + c + "'", "remove it or add the opening bracket");
        if (brackets.back().first != want)
          fail(line, std::string("unexpected '") + c + "', '" + brackets.back().first + "' opened on line " +
                         std::to_string(brackets.back().second) + " is still open");
        brackets.pop_back();
        --depth;
      }
      toks_.push_back(Token{Tok::Op, std::string(1, c), line});
      advance_to(pos_ + 1);
    }
  }

  void lex_number(int line) {
    size_t e = pos_;
    auto digits = [&] {
      const size_t s = e;
      while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) ||
                                 (src_[e] == '_' && e > s && e + 1 < src_.size() &&
                                  std::isdigit(static_cast<unsigned char>(src_[e + 1])))))
        ++e;
    };
    if (src_[e] == '0' && e + 1 < src_.size() && (src_[e + 1] == 'x' || src_[e + 1] == 'X')) {
      e += 2;
      const size_t s = e;
      while (e < src_.size() && (std::isxdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
      std::string hex;
      for (size_t k = s; k < e; ++k)
        if (src_[k] != '_') hex += src_[k];
      if (hex.empty()) fail(line, "hexadecimal literal without digits");
      Token t{Tok::Int, src_.substr(pos_, e - pos_), line};
      t.ival = static_cast<int64_t>(std::strtoull(hex.c_str(), nullptr, 16));
      toks_.push_back(t);
      advance_to(e);
      return;
    }
    digits();
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      is_float = true;
      ++e;
      digits();
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t q = e + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
        is_float = true;
        e = q;
        digits();
      }
    }
    std::string text;
    for (size_t k = pos_; k < e; ++k)
      if (src_[k] != '_') text += src_[k];
    Token t{is_float ? Tok::Float : Tok::Int, src_.substr(pos_, e - pos_), line};
    if (is_float) {
      t.fval = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      t.ival = static_cast<int64_t>(std::strtoll(text.c_str(), nullptr, 10));
      if (errno == ERANGE) fail(line, "integer literal " + text + " does not fit in 64 bits");
    }
    toks_.push_back(t);
    advance_to(e);
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // A quoted string, decoded as Python's "unicode-escape" codec does (Jinja's string literal rule).
  void lex_string(char quote, int line) {
    size_t p = pos_ + 1;
    std::string out;
    while (true) {
      if (p >= src_.size())
        fail(line, std::string("string literal starting with ") + quote + " is never closed",
             std::string("add the closing ") + quote);
      const char c = src_[p];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) fail(line, "string literal ends with a lone backslash");
      const char e = src_[p + 1];
      p += 2;
      switch (e) {
        case '\n':
          break;  // line continuation
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < n; ++k) {
            const int h = p + k < src_.size() ? hex_value(src_[p + k]) : -1;
            if (h < 0)
              fail(line, std::string("truncated \\") + e + " escape in string literal",
                   std::string("\\") + e + " takes exactly " + std::to_string(n) + " hex digits");
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          if (cp > 0x10ffff) fail(line, "\\U escape beyond U+10FFFF in string literal");
          p += n;
          py::append_utf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k, ++p)
              cp = cp * 8 + static_cast<uint32_t>(src_[p] - '0');
            py::append_utf8(out, cp);
          } else if (e == 'N') {
            fail(line, "\\N{...} escapes are not supported in string literals", "write the character itself");
          } else {
            out += '\\';  // unknown escapes keep their backslash, as in Python
            out += e;
          }
      }
    }
    toks_.push_back(Token{Tok::String, std::move(out), line});
    advance_to(p + 1);
  }

  std::string where_;
  LexOptions opts_;
  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> toks_;
};

}  // namespace

std::vector<Token> lex(const std::string& source, const std::string& where, const LexOptions& opts) {
  return Lexer(source, where, opts).run();
}

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Text:
      return "template text";
    case Tok::VarBegin:
      return "'{{'";
    case Tok::VarEnd:
      return "'}}'";
    case Tok::BlockBegin:
      return "'{%'";
    case Tok::BlockEnd:
      return "'%}'";
    case Tok::Name:
      return "name '" + t.value + "'";
    case Tok::String:
      return "string literal";
    case Tok::Int:
    case Tok::Float:
      return "number " + t.value;
    case Tok::Op:
      return "'" + t.value + "'";
    case Tok::Eof:
      return "end of template";
  }
  return "?";
}

}  // namespace ft::text::jinja
