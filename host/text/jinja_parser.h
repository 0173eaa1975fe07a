// Jinja parser: tokens (jinja_lexer) to a syntax tree (jinja_ast), with Jinja's operator precedence
// and statement set (if/for/set/macro/filter/with/break/continue/raw/generation). Unknown filters,
// tests and tags are rejected at parse time, naming the line and the nearest known name.
#pragma once

#include <string>
#include <vector>

#include "text/jinja_ast.h"
#include "text/jinja_lexer.h"

namespace ft::text::jinja {

// Throws ft::Error "<where> line N: ..." on syntax errors.
Body parse(const std::vector<Token>& tokens, const std::string& where);

}  // namespace ft::text::jinja
