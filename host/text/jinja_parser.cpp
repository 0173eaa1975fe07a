// Jinja parser (see jinja_parser.h). Precedence, lowest first, as in Jinja's parser.py:
// cond-expr, or, and, not, comparisons (chained, in, not in), + -, ~, * / // %, **, unary - +,
// then primary with postfix (.attr [item] (call)) and filter/test chains (| filter, is test).
#include "text/jinja_parser.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/strings.h"
#include "text/jinja_builtins.h"

namespace ft::text::jinja {

namespace {

const std::vector<std::string>& known_tags() {
  static const std::vector<std::string> tags = {
      "if",     "elif",     "else",       "endif",         "for",       "endfor", "set",
      "endset", "macro",    "endmacro",   "filter",        "endfilter", "with",   "endwith",
      "break",  "continue", "generation", "endgeneration", "raw",       "endraw"};
  return tags;
}

class Parser {
 public:
  Parser(const std::vector<Token>& toks, const std::string& where) : t_(toks), where_(where) {}

  Body parse_template() {
    Body body = subparse({});
    if (cur().type != Tok::Eof) fail(cur().line, "unexpected " + describe(cur()));
    return body;
  }

 private:
  // ---- token stream ------------------------------------------------------------------------
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().value == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().value == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(int line, const std::string& msg, const std::string& hint = {}) const {
    throw ft::Error(where_ + " line " + std::to_string(line) + ": " + msg, hint);
  }
  void expect_op(const char* op, const char* context) {
    if (!skip_op(op))
      fail(cur().line, std::string("expected '") + op + "' " + context + ", found " + describe(cur()));
  }
  std::string expect_name(const char* context) {
    if (cur().type != Tok::Name)
      fail(cur().line, std::string("expected a name ") + context + ", found " + describe(cur()));
    return next().value;
  }
  void expect_block_end(const std::string& tag) {
    if (cur().type != Tok::BlockEnd)
      fail(cur().line, "expected '%}' to end '" + tag + "', found " + describe(cur()),
           "a tag holds one statement; close it with '%}'");
    next();
  }
  bool at_expr_end() const {
    return cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof || is_op(")");
  }

  static ExprPtr make(Expr::K k, int line) {
    auto e = std::make_unique<Expr>();
    e->k = k;
    e->line = line;
    return e;
  }
  static StmtPtr make_stmt(Stmt::K k, int line) {
    auto s = std::make_unique<Stmt>();
    s->k = k;
    s->line = line;
    return s;
  }

  // Nesting limits keep recursion (here, in the evaluator and in node destructors) far from the stack's
  // end; Python's Jinja stops similar templates with RecursionError.
  static constexpr int kMaxDepth = 200;
  void check_depth(const Expr& e) const {
    if (e.depth > kMaxDepth)
      fail(e.line, "expression nested deeper than " + std::to_string(kMaxDepth) + " levels",
           "split it with {% set %} into smaller expressions");
  }
  void adopt(Expr& parent, ExprPtr child) {
    if (child) {
      parent.depth = std::max(parent.depth, child->depth + 1);
      check_depth(parent);
    }
    parent.args.push_back(std::move(child));
  }
  struct DepthGuard {
    DepthGuard(Parser& p, int line) : p_(p) {
      if (++p_.depth_ > kMaxDepth)
        p_.fail(line, "template nested deeper than " + std::to_string(kMaxDepth) + " levels",
                "close brackets and blocks sooner, or split the expression with {% set %}");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // ---- statements --------------------------------------------------------------------------
  // Parses until a block tag whose name is in `end_tags` (left unconsumed, after its '{%').
  Body subparse(const std::set<std::string>& end_tags) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::Eof) {
        if (!end_tags.empty()) {
          std::string want;
          for (const auto& e : end_tags) want += (want.empty() ? "'" : " or '") + e + "'";
          fail(t.line, "unexpected end of template, expected " + want + " to close '" + open_.back().first +
                           "' opened on line " + std::to_string(open_.back().second));
        }
        return body;
      }
      if (t.type == Tok::Text) {
        auto s = make_stmt(Stmt::K::Text, t.line);
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == Tok::VarBegin) {
        next();
        auto s = make_stmt(Stmt::K::Output, t.line);
        if (cur().type == Tok::VarEnd) fail(cur().line, "empty expression in '{{ }}'");
        s->expr = parse_tuple(false, true, {});
        if (cur().type != Tok::VarEnd) fail(cur().line, "expected '}}', found " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        next();
        if (cur().type != Tok::Name)
          fail(cur().line, "expected a tag name after '{%', found " + describe(cur()));
        const std::string tag = cur().value;
        if (end_tags.count(tag)) return body;
        body.push_back(parse_statement());
      } else {
        fail(t.line, "unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = cur();
    const std::string tag = t.value;
    const int line = t.line;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "generation") {
      next();
      expect_block_end(tag);
      auto s = make_stmt(Stmt::K::Generation, line);
      s->body = body_until("generation", line, {"endgeneration"});
      next();
      expect_block_end("endgeneration");
      return s;
    }
    if (tag == "break" || tag == "continue") {
      next();
      if (loop_depth_ == 0)
        fail(line, "'" + tag + "' outside a for loop", "break/continue only work inside {% for %}");
      expect_block_end(tag);
      return make_stmt(tag == "break" ? Stmt::K::Break : Stmt::K::Continue, line);
    }
    const std::vector<std::string>& tags = known_tags();
    bool known = false;
    for (const auto& k : tags) known = known || k == tag;
    if (known) {
      std::string hint = "it does not close any open block";
      if (!open_.empty())
        hint = "the innermost open block is '" + open_.back().first + "' from line " +
               std::to_string(open_.back().second);
      fail(line, "unexpected '" + tag + "'", hint);
    }
    const std::string near = ft::nearest(tag, tags);
    std::string hint = "chat templates support if/for/set/macro/filter/with/break/continue/raw/generation";
    if (!near.empty()) hint = "did you mean '" + near + "'?";
    if (tag == "include" || tag == "extends" || tag == "import" || tag == "from" || tag == "block" ||
        tag == "call" || tag == "do")
      hint = "'" + tag + "' is not available to chat templates (transformers does not enable it either)";
    fail(line, "unknown tag '" + tag + "'", hint);
  }

  Body body_until(const std::string& tag, int line, const std::set<std::string>& ends) {
    DepthGuard guard(*this, line);
    open_.emplace_back(tag, line);
    Body b = subparse(ends);
    open_.pop_back();
    return b;
  }

  StmtPtr parse_if() {
    auto s = make_stmt(Stmt::K::If, cur().line);
    next();
    const int line = s->line;
    while (true) {
      s->conds.push_back(parse_tuple(false, false, {}));
      expect_block_end("if");
      s->bodies.push_back(body_until("if", line, {"elif", "else", "endif"}));
      const std::string tag = next().value;
      if (tag == "elif") continue;
      if (tag == "else") {
        expect_block_end("else");
        s->else_body = body_until("if", line, {"endif"});
        next();
      }
      expect_block_end("endif");
      return s;
    }
  }

  Target parse_target(bool allow_namespace, const char* context) {
    Target tg;
    const int line = cur().line;
    if (allow_namespace && cur().type == Tok::Name && peek().type == Tok::Op && peek().value == ".") {
      tg.names.push_back(next().value);
      next();
      tg.attr = expect_name("after '.' in an assignment target");
      return tg;
    }
    const bool paren = skip_op("(");
    while (true) {
      if (cur().type != Tok::Name)
        fail(cur().line, std::string("expected a variable name ") + context + ", found " + describe(cur()));
      const std::string n = next().value;
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        fail(line, "cannot assign to '" + n + "'");
      tg.names.push_back(n);
      if (!skip_op(",")) break;
      tg.tuple = true;
      if (paren && is_op(")")) break;
      if (!paren && (is_name("in") || is_op("="))) break;
    }
    if (paren) {
      expect_op(")", "to close the target list");
      tg.tuple = tg.tuple || tg.names.size() > 1;
    }
    return tg;
  }

  StmtPtr parse_for() {
    auto s = make_stmt(Stmt::K::For, cur().line);
    next();
    s->target = parse_target(false, "after 'for'");
    if (!skip_name("in")) fail(cur().line, "expected 'in' in for loop, found " + describe(cur()));
    s->expr = parse_tuple(false, false, {"recursive"});
    if (skip_name("if")) s->filter = parse_expression(true);
    if (skip_name("recursive"))
      fail(s->line, "recursive for loops are not supported", "use a macro that calls itself instead");
    expect_block_end("for");
    ++loop_depth_;
    s->body = body_until("for", s->line, {"endfor", "else"});
    --loop_depth_;
    if (next().value == "else") {
      expect_block_end("else");
      s->else_body = body_until("for", s->line, {"endfor"});
      next();
    }
    expect_block_end("endfor");
    return s;
  }

  StmtPtr parse_set() {
    const int line = cur().line;
    next();
    Target tg = parse_target(true, "after 'set'");
    if (skip_op("=")) {
      auto s = make_stmt(Stmt::K::Set, line);
      s->target = std::move(tg);
      s->expr = parse_tuple(false, true, {});
      expect_block_end("set");
      return s;
    }
    auto s = make_stmt(Stmt::K::SetBlock, line);
    if (tg.tuple || !tg.attr.empty())
      fail(line, "a block set ('{% set x %}...{% endset %}') takes one plain name");
    s->target = std::move(tg);
    if (is_op("|")) s->expr = parse_filter_chain(nullptr, line);
    expect_block_end("set");
    const int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = body_until("set", line, {"endset"});
    loop_depth_ = saved;
    next();
    expect_block_end("endset");
    return s;
  }

  StmtPtr parse_macro() {
    auto s = make_stmt(Stmt::K::Macro, cur().line);
    next();
    s->name = expect_name("after 'macro'");
    expect_op("(", "after the macro name");
    bool seen_default = false;
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",", "between macro parameters");
      if (is_op(")")) break;
      const std::string p = expect_name("for a macro parameter");
      ExprPtr dflt;
      if (skip_op("=")) {
        dflt = parse_expression(true);
        seen_default = true;
      } else if (seen_default) {
        fail(s->line, "macro parameter '" + p + "' without a default follows one with a default");
      }
      s->params.emplace_back(p, std::move(dflt));
    }
    next();
    expect_block_end("macro");
    const int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = body_until("macro", s->line, {"endmacro"});
    loop_depth_ = saved;
    next();
    if (cur().type == Tok::Name) next();  // {% endmacro name %}
    expect_block_end("endmacro");
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make_stmt(Stmt::K::FilterBlock, cur().line);
    next();
    s->expr = parse_filter_chain(nullptr, s->line, true);
    expect_block_end("filter");
    s->body = body_until("filter", s->line, {"endfilter"});
    next();
    expect_block_end("endfilter");
    return s;
  }

  StmtPtr parse_with() {
    auto s = make_stmt(Stmt::K::With, cur().line);
    next();
    while (cur().type != Tok::BlockEnd) {
      if (!s->params.empty()) expect_op(",", "between 'with' assignments");
      const std::string n = expect_name("in 'with'");
      expect_op("=", "in 'with' assignment");
      s->params.emplace_back(n, parse_expression(true));
    }
    expect_block_end("with");
    s->body = body_until("with", s->line, {"endwith"});
    next();
    expect_block_end("endwith");
    return s;
  }

  // ---- expressions -------------------------------------------------------------------------
  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const std::set<std::string>& extra_end,
                      bool explicit_parens = false) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",", "between tuple items");
      if (at_expr_end() || (cur().type == Tok::Name && extra_end.count(cur().value))) break;
      items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail(cur().line, "expected an expression, found " + describe(cur()));
    }
    auto e = make(Expr::K::TupleLit, line);
    for (auto& item : items) adopt(*e, std::move(item));
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    DepthGuard guard(*this, cur().line);
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const int line = next().line;
      auto c = make(Expr::K::Cond, line);
      ExprPtr cond = parse_or();
      ExprPtr other;
      if (skip_name("else")) other = parse_condexpr();
      adopt(*c, std::move(e));
      adopt(*c, std::move(cond));
      adopt(*c, std::move(other));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(Expr::K k, ExprPtr a, ExprPtr b, int line, std::string name = {}) {
    auto e = make(k, line);
    e->name = std::move(name);
    adopt(*e, std::move(a));
    adopt(*e, std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      e = binary(Expr::K::Or, std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      e = binary(Expr::K::And, std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprPtr parse_not() {
    DepthGuard guard(*this, cur().line);
    if (is_name("not")) {
      const int line = next().line;
      auto e = make(Expr::K::Not, line);
      adopt(*e, parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                    cur().value == "<=" || cur().value == ">" || cur().value == ">=")) {
        op = next().value;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && peek().type == Tok::Name && peek().value == "in") {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      ops.push_back(op);
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make(Expr::K::Compare, line);
    adopt(*e, std::move(first));
    for (auto& o : operands) adopt(*e, std::move(o));
    e->ops = std::move(ops);
    return e;
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = next();
      e = binary(Expr::K::Binary, std::move(e), parse_concat(), op.line, op.value);
    }
    return e;
  }
  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr e = parse_math2();
    if (!is_op("~")) return e;
    auto c = make(Expr::K::Concat, line);
    adopt(*c, std::move(e));
    while (skip_op("~")) adopt(*c, parse_math2());
    return c;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = next();
      e = binary(Expr::K::Binary, std::move(e), parse_pow(), op.line, op.value);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      e = binary(Expr::K::Binary, std::move(e), parse_unary(true), line, "**");
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this, cur().line);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      e = make(op.value == "-" ? Expr::K::Neg : Expr::K::Pos, op.line);
      adopt(*e, parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int line = t.line;
    switch (t.type) {
      case Tok::Name: {
        next();
        auto e = make(Expr::K::Const, line);
        if (t.value == "true" || t.value == "True") {
          e->value = Value::boolean(true);
        } else if (t.value == "false" || t.value == "False") {
          e->value = Value::boolean(false);
        } else if (t.value == "none" || t.value == "None") {
          e->value = Value::none();
        } else {
          e->k = Expr::K::Name;
          e->name = t.value;
        }
        return e;
      }
      case Tok::String: {
        std::string s;
        while (cur().type == Tok::String) s += next().value;  // adjacent literals concatenate
        auto e = make(Expr::K::Const, line);
        e->value = Value::string(std::move(s));
        return e;
      }
      case Tok::Int: {
        next();
        auto e = make(Expr::K::Const, line);
        e->value = Value::integer(t.ival);
        return e;
      }
      case Tok::Float: {
        next();
        auto e = make(Expr::K::Const, line);
        e->value = Value::number(t.fval);
        return e;
      }
      case Tok::Op:
        if (t.value == "(") {
          next();
          ExprPtr e = parse_tuple(false, true, {}, true);
          expect_op(")", "to close '('");
          return e;
        }
        if (t.value == "[") {
          next();
          auto e = make(Expr::K::ListLit, line);
          while (!is_op("]")) {
            if (!e->args.empty()) expect_op(",", "between list items");
            if (is_op("]")) break;
            adopt(*e, parse_expression(true));
          }
          next();
          return e;
        }
        if (t.value == "{") {
          next();
          auto e = make(Expr::K::DictLit, line);
          while (!is_op("}")) {
            if (!e->args.empty()) expect_op(",", "between dict items");
            if (is_op("}")) break;
            adopt(*e, parse_expression(true));
            expect_op(":", "between a dict key and its value");
            adopt(*e, parse_expression(true));
          }
          next();
          return e;
        }
        break;
      default:
        break;
    }
    fail(line, "expected an expression, found " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        const int line = next().line;
        if (cur().type == Tok::Name) {
          auto a = make(Expr::K::Attr, line);
          a->name = next().value;
          adopt(*a, std::move(e));
          e = std::move(a);
        } else if (cur().type == Tok::Int) {
          auto a = make(Expr::K::Item, line);
          auto key = make(Expr::K::Const, line);
          key->value = Value::integer(next().ival);
          adopt(*a, std::move(e));
          adopt(*a, std::move(key));
          e = std::move(a);
        } else {
          fail(line, "expected an attribute name after '.', found " + describe(cur()));
        }
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const int line = next().line;  // '['
    std::vector<ExprPtr> parts;
    bool is_tuple = false;
    ExprPtr result;
    while (true) {
      if (!parts.empty()) expect_op(",", "between subscripts");
      if (is_op("]")) break;
      // A slice: [start]:[stop][:step]
      ExprPtr start;
      if (!is_op(":")) start = parse_expression(true);
      if (is_op(":")) {
        next();
        auto sl = make(Expr::K::Slice, line);
        ExprPtr stop, step;
        if (!is_op("]") && !is_op(",") && !is_op(":")) stop = parse_expression(true);
        if (skip_op(":"))
          if (!is_op("]") && !is_op(",")) step = parse_expression(true);
        adopt(*sl, nullptr);  // object slot, filled below
        adopt(*sl, std::move(start));
        adopt(*sl, std::move(stop));
        adopt(*sl, std::move(step));
        parts.push_back(std::move(sl));
      } else {
        parts.push_back(std::move(start));
      }
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    expect_op("]", "to close the subscript");
    if (parts.empty()) fail(line, "empty subscript '[]'");
    if (is_tuple) fail(line, "tuple subscripts (a[x, y]) are not supported");
    ExprPtr part = std::move(parts[0]);
    if (part->k == Expr::K::Slice) {
      part->depth = std::max(part->depth, obj->depth + 1);
      check_depth(*part);
      part->args[0] = std::move(obj);
      return part;
    }
    auto it = make(Expr::K::Item, line);
    adopt(*it, std::move(obj));
    adopt(*it, std::move(part));
    return it;
  }

  // Fills e->args (after any existing ones) and e->kwargs from "(...)"; the '(' is current.
  void parse_call_args(Expr& e) {
    next();
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",", "between call arguments");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**"))
        fail(cur().line, "*args / **kwargs in calls are not supported", "pass the arguments one by one");
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().value == "=") {
        std::string key = next().value;
        next();
        ExprPtr value = parse_expression(true);
        e.depth = std::max(e.depth, value->depth + 1);
        e.kwargs.emplace_back(std::move(key), std::move(value));
      } else {
        if (!e.kwargs.empty()) fail(cur().line, "positional argument follows keyword argument");
        adopt(e, parse_expression(true));
      }
    }
    next();
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto c = make(Expr::K::Call, cur().line);
    adopt(*c, std::move(callee));
    parse_call_args(*c);
    return c;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e), cur().line);
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  // `| name(args) | name ...`; with start_inline the first filter has no leading '|'.
  ExprPtr parse_filter_chain(ExprPtr subject, int line, bool start_inline = false) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      const int fline = cur().line;
      const std::string name = dotted_name("after '|'");
      if (!has_filter(name)) {
        const std::string near = ft::nearest(name, filter_names());
        fail(fline, "no filter named '" + name + "'",
             near.empty() ? "see the Jinja builtin filters; chat templates get those plus tojson"
                          : "did you mean '" + near + "'?");
      }
      auto f = make(Expr::K::Filter, fline);
      f->name = name;
      adopt(*f, std::move(subject));
      if (is_op("(")) parse_call_args(*f);
      subject = std::move(f);
    }
    (void)line;
    return subject;
  }

  // A filter or test name: `name` or `name.sub` (Jinja allows dotted names).
  std::string dotted_name(const char* context) {
    std::string name = expect_name(context);
    while (skip_op(".")) name += "." + expect_name("after '.' in a filter or test name");
    return name;
  }

  ExprPtr parse_test(ExprPtr subject) {
    const int line = next().line;  // 'is'
    const bool negated = skip_name("not");
    const std::string name = dotted_name("after 'is'");
    if (!has_test(name)) {
      const std::string near = ft::nearest(name, test_names());
      fail(line, "no test named '" + name + "'",
           near.empty() ? "tests are used as 'x is defined', 'x is none', 'x is string'..."
                        : "did you mean '" + near + "'?");
    }
    auto e = make(Expr::K::Test, line);
    e->name = name;
    e->negated = negated;
    adopt(*e, std::move(subject));
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail(cur().line, "tests cannot be chained with 'is'");
      adopt(*e, parse_postfix(parse_primary()));
    }
    return e;
  }

  const std::vector<Token>& t_;
  std::string where_;
  size_t i_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
  std::vector<std::pair<std::string, int>> open_;  // open blocks, for messages
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const std::string& where) {
  return Parser(tokens, where).parse_template();
}

}  // namespace ft::text::jinja
