// Jinja lexer: splits template source into text and tag tokens, applying whitespace control the way
// Jinja does with trim_blocks=True and lstrip_blocks=True (transformers' chat-template environment):
// `{%-`/`-%}` strip, `{%+`/`+%}` keep, newlines normalised and one trailing newline dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ft::text::jinja {

enum class Tok : uint8_t {
  Text,        // literal template text (after whitespace control)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // value holds the decoded string
  Int,
  Float,
  Op,  // value holds the operator spelling: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { } ;
  Eof,
};

struct Token {
  Tok type;
  std::string value;
  int line = 1;
  int64_t ival = 0;
  double fval = 0;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Throws ft::Error "<where> line N: ..." (where = e.g. "chat template") on unterminated tags, strings
// and characters that cannot start a token.
std::vector<Token> lex(const std::string& source, const std::string& where, const LexOptions& opts = {});

// Spelling of a token for messages ("'}}'", "name 'foo'", "end of template").
std::string describe(const Token& t);

}  // namespace ft::text::jinja
