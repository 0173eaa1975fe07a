// Syntax tree of a parsed Jinja template: expressions and statements, each carrying its template line.
// Built by jinja_parser, walked by jinja_eval; nodes are immutable once parsed.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja_value.h"

namespace ft::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class K {
    Const,    // value
    Name,     // name
    Attr,     // args[0].name
    Item,     // args[0][args[1]]
    Slice,    // args[0][args[1]:args[2]:args[3]] (each bound may be null)
    Call,     // args[0](args[1..], kwargs)
    Filter,   // args[0] | name(args[1..], kwargs); args[0] is null inside {% filter %} blocks
    Test,     // args[0] is [not] name(args[1..], kwargs)
    Neg,      // -args[0]
    Pos,      // +args[0]
    Binary,   // args[0] <name> args[1] for + - * / // % **
    Concat,   // args[0] ~ args[1] ~ ...
    Compare,  // args[0] ops[0] args[1] ops[1] args[2] ...
    And,
    Or,
    Not,
    Cond,  // args[0] if args[1] else args[2] (else may be null)
    ListLit,
    TupleLit,
    DictLit,  // args alternate key, value
  };
  K k;
  int line = 0;
  int depth = 1;  // height of this subtree (the parser bounds it)
  Value value;
  std::string name;
  bool negated = false;  // Test: `is not`
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// An assignment target: a name, a tuple of names, or namespace attribute `ns.attr`.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  bool tuple = false;
  std::string attr;  // non-empty: assign names[0].attr (namespace)
};

struct Stmt {
  enum class K {
    Text,         // text
    Output,       // {{ expr }}
    If,           // conds[i] -> bodies[i], else_body
    For,          // for target in expr [if filter] body [else else_body]
    Set,          // set target = expr
    SetBlock,     // set target [| filter] body endset (filter in expr, may be null)
    Macro,        // macro name(params=defaults) body
    FilterBlock,  // filter expr(chain with null subject) body
    With,         // with targets=values body
    Break,
    Continue,
    Generation,  // generation body endgeneration (transformers' assistant tracker)
  };
  K k;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;  // For: loop filter
  Target target;
  std::vector<ExprPtr> conds;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  bool recursive = false;
  std::string name;                                     // Macro
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro params / With assignments
};

}  // namespace ft::text::jinja
