// Jinja evaluator (see jinja_eval.h). Operators follow Python (Jinja compiles to Python): `+` adds
// numbers or concatenates str/list, `/` is true division, `//` and `%` floor, `and`/`or` return an
// operand, comparisons chain. Undefined renders as "" and is falsy, but any other use raises.
#include "text/jinja_eval.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/error.h"
#include "core/interrupt.h"
#include "text/jinja_builtins.h"
#include "text/jinja_pystr.h"

namespace ft::text::jinja {

Interpreter::Interpreter(std::string where, std::optional<std::time_t> now, EvalLimits limits)
    : where_(std::move(where)), now_(now), limits_(limits) {}

void Interpreter::fail(int line, const std::string& msg, const std::string& hint) const {
  throw ft::Error(where_ + " line " + std::to_string(line) + ": " + msg, hint);
}

void Interpreter::fail_undefined(int line, const Value& v) const {
  fail(line, v.str().empty() ? std::string("value is undefined") : v.str(),
       "check the variable and key names; `x is defined` tests for a missing value");
}

Interpreter::~Interpreter() {
  for (const auto& w : namespaces_)
    if (auto d = w.lock()) d->items.clear();
}

void Interpreter::track_namespace(const Value& ns) {
  if (namespaces_.size() >= prune_at_) {
    namespaces_.erase(
        std::remove_if(namespaces_.begin(), namespaces_.end(), [](const auto& w) { return w.expired(); }),
        namespaces_.end());
    prune_at_ = std::max<size_t>(1024, namespaces_.size() * 2);
  }
  namespaces_.push_back(ns.dict_ptr());
}

std::time_t Interpreter::now() const {
  return now_ ? *now_ : std::time(nullptr);
}

std::string Interpreter::render(const Body& body, const Dict& context,
                                std::vector<std::pair<size_t, size_t>>& spans) {
  output_.clear();
  out_ = &output_;
  spans_ = &spans;
  auto root = std::make_shared<Frame>();
  root->vars = context;
  // Template-level assignments live in their own frame over the render arguments.
  top_ = std::make_shared<Frame>();
  top_->parent = root;
  struct TextLimit {  // repr/tojson text obeys the output limit during this render
    size_t saved = text_limit();
    explicit TextLimit(size_t n) { set_text_limit(n); }
    ~TextLimit() { set_text_limit(saved); }
  } text_limit_guard(limits_.max_output_bytes);
  exec_body(body, top_);
  return std::move(output_);
}

void Interpreter::count_step(int line) {
  if (++steps_ > limits_.max_steps)
    fail(line, "the template ran more than " + std::to_string(limits_.max_steps) + " steps",
         "a loop in the template does far more work than rendering a chat needs");
  if ((steps_ & 0xfff) == 0) ft::check_interrupt();
}

void Interpreter::write(const std::string& s, int line) {
  if (out_->size() + s.size() > limits_.max_output_bytes)
    fail(line, "rendered output passes " + std::to_string(limits_.max_output_bytes >> 20) + " MiB",
         "the template is producing runaway output (a huge range() or repetition?)");
  out_->append(s);
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const FramePtr& frame) {
  for (const StmtPtr& s : body) {
    const Flow f = exec(*s, frame);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const FramePtr& frame) {
  count_step(s.line);
  try {
    return exec_stmt(s, frame);
  } catch (const std::length_error& e) {
    fail(s.line, e.what(), "the template builds values nested too deeply");
  }
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, const FramePtr& frame) {
  switch (s.k) {
    case Stmt::K::Text:
      write(s.text, s.line);
      return Flow::Normal;
    case Stmt::K::Output:
      write(eval(*s.expr, frame).to_string(), s.line);
      return Flow::Normal;
    case Stmt::K::If:
      for (size_t k = 0; k < s.conds.size(); ++k)
        if (eval(*s.conds[k], frame).truthy()) return exec_body(s.bodies[k], frame);
      return exec_body(s.else_body, frame);
    case Stmt::K::For:
      return exec_for(s, frame);
    case Stmt::K::Set:
      exec_set(s, frame);
      return Flow::Normal;
    case Stmt::K::SetBlock: {
      Value v = Value::string(capture(s.body, frame));
      if (s.expr) v = apply_filter_chain(*s.expr, std::move(v), frame);
      assign(s.target, v, frame, s.line);
      return Flow::Normal;
    }
    case Stmt::K::Macro:
      frame->vars.set(s.name, make_macro(s, frame));
      return Flow::Normal;
    case Stmt::K::FilterBlock: {
      const Value v = apply_filter_chain(*s.expr, Value::string(capture(s.body, frame)), frame);
      write(v.to_string(), s.line);
      return Flow::Normal;
    }
    case Stmt::K::With: {
      auto inner = std::make_shared<Frame>();
      inner->parent = frame;
      for (const auto& p : s.params) inner->vars.set(p.first, eval(*p.second, frame));
      return exec_body(s.body, inner);
    }
    case Stmt::K::Break:
      return Flow::Break;
    case Stmt::K::Continue:
      return Flow::Continue;
    case Stmt::K::Generation: {
      // transformers renders the block as a call block (its own scope) and records where its output
      // lands in the final text. Inside a captured buffer (macro, block set) the position is unknown.
      auto inner = std::make_shared<Frame>();
      inner->parent = frame;
      const bool top = out_ == &output_;
      const size_t begin = out_->size();
      const Flow f = exec_body(s.body, inner);
      if (f != Flow::Normal)
        fail(s.line, "break/continue cannot leave a {% generation %} block",
             "transformers renders the block as a separate call; move the loop control outside it");
      if (top) spans_->emplace_back(begin, out_->size());
      return Flow::Normal;
    }
  }
  return Flow::Normal;
}

Value Interpreter::apply_filter_chain(const Expr& chain, Value v, const FramePtr& frame) {
  // The chain was parsed with a null innermost subject: apply it from the inside out.
  std::vector<const Expr*> filters;
  for (const Expr* f = &chain; f; f = f->args[0].get()) filters.push_back(f);
  for (auto it = filters.rbegin(); it != filters.rend(); ++it) {
    CallArgs a;
    eval_call_args(**it, 1, frame, a);
    v = apply_filter(*this, (*it)->name, v, a, (*it)->line);
  }
  return v;
}

List iterate(Interpreter& interp, const Value& v, int line) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return v.items();
    case Value::Kind::Dict: {
      List keys;
      for (const auto& kv : v.entries().items) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Value::Kind::String: {
      List chars;
      const std::vector<size_t> starts = py::code_point_starts(v.str());
      for (size_t k = 0; k + 1 < starts.size(); ++k)
        chars.push_back(Value::string(v.str().substr(starts[k], starts[k + 1] - starts[k])));
      return chars;
    }
    default:
      interp.fail(line, "'" + v.type_name() + "' object is not iterable");
  }
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const FramePtr& frame) {
  const Value seq = eval(*s.expr, frame);
  List items = iterate(*this, seq, s.line);
  // Each iteration runs in a fresh frame over the enclosing one: as in Jinja, an assignment in the
  // body is visible for the rest of that iteration only (namespace() carries state across).
  if (s.filter) {
    List kept;
    for (const Value& item : items) {
      auto filter_frame = std::make_shared<Frame>();
      filter_frame->parent = frame;
      assign(s.target, item, filter_frame, s.line);
      if (eval(*s.filter, filter_frame).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  if (n == 0) return exec_body(s.else_body, frame);
  for (int64_t k = 0; k < n; ++k) {
    count_step(s.line);
    auto loop_frame = std::make_shared<Frame>();
    loop_frame->parent = frame;
    assign(s.target, items[k], loop_frame, s.line);
    Dict loop;
    loop.items.reserve(12);
    loop.items.emplace_back("index", Value::integer(k + 1));
    loop.items.emplace_back("index0", Value::integer(k));
    loop.items.emplace_back("revindex", Value::integer(n - k));
    loop.items.emplace_back("revindex0", Value::integer(n - k - 1));
    loop.items.emplace_back("first", Value::boolean(k == 0));
    loop.items.emplace_back("last", Value::boolean(k == n - 1));
    loop.items.emplace_back("length", Value::integer(n));
    loop.items.emplace_back("depth", Value::integer(1));
    loop.items.emplace_back("depth0", Value::integer(0));
    loop.items.emplace_back("previtem", k > 0 ? items[k - 1] : Value::undefined("there is no previous item"));
    loop.items.emplace_back("nextitem", k + 1 < n ? items[k + 1] : Value::undefined("there is no next item"));
    loop.items.emplace_back("cycle",
                            Value::function("loop.cycle", [k](Interpreter& in, CallArgs& a, int line) {
                              if (a.args.empty()) in.fail(line, "loop.cycle() needs at least one value");
                              return a.args[static_cast<size_t>(k) % a.args.size()];
                            }));
    loop_frame->vars.set("loop", Value::dict(std::move(loop)));
    const Flow f = exec_body(s.body, loop_frame);
    if (f == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::assign(const Target& t, const Value& v, const FramePtr& frame, int line) {
  if (!t.attr.empty()) {
    const Value ns = lookup(t.names[0], frame);
    if (!ns.is_namespace())
      fail(line, "cannot assign attribute '" + t.attr + "' on '" + t.names[0] + "' (" + ns.type_name() + ")",
           "only namespace() objects take attribute assignment: {% set ns = namespace(x=0) %}");
    if (v.depth() + 1 > kMaxValueDepth)
      fail(line, "value nested deeper than " + std::to_string(kMaxValueDepth) + " levels",
           "the template builds values nested too deeply");
    ns.namespace_entries().set(t.attr, v);
    return;
  }
  if (!t.tuple) {
    frame->vars.set(t.names[0], v);
    return;
  }
  List parts;
  if (v.is_list())
    parts = v.items();
  else if (v.is_string() || v.is_dict())
    parts = iterate(*this, v, line);
  else
    fail(line, "cannot unpack '" + v.type_name() + "' into " + std::to_string(t.names.size()) + " names");
  if (parts.size() != t.names.size())
    fail(line, "cannot unpack " + std::to_string(parts.size()) + " values into " +
                   std::to_string(t.names.size()) + " names");
  for (size_t k = 0; k < parts.size(); ++k) frame->vars.set(t.names[k], parts[k]);
}

void Interpreter::exec_set(const Stmt& s, const FramePtr& frame) {
  assign(s.target, eval(*s.expr, frame), frame, s.line);
}

std::string Interpreter::capture(const Body& body, const FramePtr& frame) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    const Flow f = exec_body(body, frame);
    (void)f;
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

Value Interpreter::make_macro(const Stmt& s, const FramePtr& frame) {
  const Stmt* def = &s;
  // The frame holds the macro, so the macro holds its frame weakly (no reference cycle).
  std::weak_ptr<Frame> closure = frame;
  return Value::function(s.name, [def, closure](Interpreter& in, CallArgs& a, int line) -> Value {
    if (a.args.size() > def->params.size())
      in.fail(line, "macro '" + def->name + "' takes " + std::to_string(def->params.size()) + " arguments, " +
                        std::to_string(a.args.size()) + " given");
    auto f = std::make_shared<Frame>();
    f->parent = closure.lock();
    if (!f->parent) f->parent = in.top_;
    for (size_t k = 0; k < def->params.size(); ++k) {
      const std::string& p = def->params[k].first;
      if (k < a.args.size()) {
        f->vars.set(p, a.args[k]);
        continue;
      }
      const Value* kw = nullptr;
      for (const auto& kv : a.kwargs)
        if (kv.first == p) kw = &kv.second;
      if (kw)
        f->vars.set(p, *kw);
      else if (def->params[k].second)
        f->vars.set(p, in.eval(*def->params[k].second, f));
      else
        f->vars.set(p, Value::undefined("macro '" + def->name + "' was called without '" + p + "'"));
    }
    for (const auto& kv : a.kwargs) {
      bool known = false;
      for (const auto& p : def->params) known = known || p.first == kv.first;
      if (!known) in.fail(line, "macro '" + def->name + "' has no parameter '" + kv.first + "'");
    }
    if (++in.call_depth_ > in.limits_.max_call_depth) {
      in.call_depth_ = 0;
      in.fail(line, "macro calls nest deeper than " + std::to_string(in.limits_.max_call_depth),
              "a macro that calls itself needs a condition that stops the recursion");
    }
    std::string out;
    try {
      out = in.capture(def->body, f);
    } catch (...) {
      --in.call_depth_;
      throw;
    }
    --in.call_depth_;
    return Value::string(std::move(out));
  });
}

Value Interpreter::lookup(const std::string& name, const FramePtr& frame) const {
  for (const Frame* f = frame.get(); f; f = f->parent.get())
    if (const Value* v = f->vars.find(name)) return *v;
  if (const Value* g = globals().find(name)) return *g;
  return Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::call(const Value& fn, CallArgs& args, int line) {
  if (fn.is_undefined()) fail_undefined(line, fn);
  if (!fn.is_function()) fail(line, "'" + fn.type_name() + "' object is not callable");
  return fn.fn().call(*this, args, line);
}

void Interpreter::eval_call_args(const Expr& e, size_t first, const FramePtr& frame, CallArgs& out) {
  for (size_t k = first; k < e.args.size(); ++k) out.args.push_back(eval(*e.args[k], frame));
  for (const auto& kv : e.kwargs) out.kwargs.emplace_back(kv.first, eval(*kv.second, frame));
}

namespace {

bool add_overflows(int64_t a, int64_t b, int64_t* r) {
  return __builtin_add_overflow(a, b, r);
}
bool sub_overflows(int64_t a, int64_t b, int64_t* r) {
  return __builtin_sub_overflow(a, b, r);
}
bool mul_overflows(int64_t a, int64_t b, int64_t* r) {
  return __builtin_mul_overflow(a, b, r);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t floor_mod(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

Value Interpreter::eval_binary(const std::string& op, const Value& a, const Value& b, int line) {
  if (a.is_undefined()) fail_undefined(line, a);
  if (b.is_undefined()) fail_undefined(line, b);
  auto unsupported = [&]() {
    fail(
        line, "unsupported operand types for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'",
        op == "+" && (a.is_string() || b.is_string()) ? "use ~ to join a string with a non-string, or |string"
                                                      : std::string());
  };
  const bool nums = a.is_number() && b.is_number();
  const bool ints = a.is_integral() && b.is_integral();
  int64_t r = 0;
  if (op == "+") {
    if (ints) {
      if (add_overflows(a.as_int(), b.as_int(), &r)) fail(line, "integer overflow in +");
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() + b.as_float());
    if (a.is_string() && b.is_string()) {
      if (a.str().size() + b.str().size() > limits_.max_output_bytes)
        fail(line, "string concatenation passes the output limit", "the template builds runaway text");
      return Value::string(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      if (a.items().size() + b.items().size() > limits_.max_range)
        fail(line, "list concatenation produces more than " + std::to_string(limits_.max_range) + " items");
      List items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(items), a.is_tuple());
    }
    unsupported();
  }
  if (op == "-") {
    if (ints) {
      if (sub_overflows(a.as_int(), b.as_int(), &r)) fail(line, "integer overflow in -");
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() - b.as_float());
    unsupported();
  }
  if (op == "*") {
    if (ints) {
      if (mul_overflows(a.as_int(), b.as_int(), &r)) fail(line, "integer overflow in *");
      return Value::integer(r);
    }
    if (nums) return Value::number(a.as_float() * b.as_float());
    const Value* seq = a.is_integral() ? &b : &a;
    const Value* cnt = a.is_integral() ? &a : &b;
    if (cnt->is_integral() && (seq->is_string() || seq->is_list())) {
      const int64_t times = std::max<int64_t>(0, cnt->as_int());
      const size_t unit = seq->is_string() ? seq->str().size() : seq->items().size();
      if (unit && static_cast<uint64_t>(times) > limits_.max_range / unit)
        fail(line, "repetition produces more than " + std::to_string(limits_.max_range) + " elements");
      if (seq->is_string()) {
        std::string out;
        for (int64_t k = 0; k < times; ++k) out += seq->str();
        return Value::string(std::move(out));
      }
      List items;
      for (int64_t k = 0; k < times; ++k) items.insert(items.end(), seq->items().begin(), seq->items().end());
      return Value::list(std::move(items), seq->is_tuple());
    }
    unsupported();
  }
  if (op == "/") {
    if (!nums) unsupported();
    if (b.as_float() == 0) fail(line, "division by zero");
    return Value::number(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (a.is_string() && op == "%")
      fail(line, "printf-style '%' formatting of strings is not supported",
           "build the text with ~ or |format");
    if (!nums) unsupported();
    if (ints) {
      if (b.as_int() == 0) fail(line, op == "//" ? "integer division by zero" : "integer modulo by zero");
      if (a.as_int() == INT64_MIN && b.as_int() == -1) fail(line, "integer overflow in " + op);
      return Value::integer(op == "//" ? floor_div(a.as_int(), b.as_int())
                                       : floor_mod(a.as_int(), b.as_int()));
    }
    const double x = a.as_float(), y = b.as_float();
    if (y == 0) fail(line, "float division by zero");
    if (op == "//") return Value::number(std::floor(x / y));
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return Value::number(m);
  }
  if (op == "**") {
    if (!nums) unsupported();
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), acc = 1;
      while (e > 0) {
        if (e & 1)
          if (mul_overflows(acc, base, &acc)) fail(line, "integer overflow in **");
        e >>= 1;
        if (e && mul_overflows(base, base, &base)) fail(line, "integer overflow in **");
      }
      return Value::integer(acc);
    }
    return Value::number(std::pow(a.as_float(), b.as_float()));
  }
  fail(line, "unknown operator " + op);
}

bool Interpreter::eval_compare(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in" || op == "not in") {
    bool found = false;
    if (b.is_string()) {
      if (a.is_undefined()) fail_undefined(line, a);
      if (!a.is_string())
        fail(line, "'in <string>' requires a string on the left, not '" + a.type_name() + "'");
      found = b.str().find(a.str()) != std::string::npos;
    } else if (b.is_list()) {
      for (const Value& x : b.items()) found = found || equals(a, x);
    } else if (b.is_dict() || b.is_namespace()) {
      found = a.is_string() && b.entries().find(a.str()) != nullptr;
    } else if (b.is_undefined()) {
      found = false;
    } else {
      fail(line, "argument of type '" + b.type_name() + "' is not iterable");
    }
    return op == "in" ? found : !found;
  }
  if (a.is_undefined()) fail_undefined(line, a);
  if (b.is_undefined()) fail_undefined(line, b);
  std::optional<bool> r;
  if (op == "<") r = less(a, b);
  if (op == ">") r = less(b, a);
  if (op == "<=") {
    r = less(b, a);
    if (r) r = !*r;
  }
  if (op == ">=") {
    r = less(a, b);
    if (r) r = !*r;
  }
  if (!r)
    fail(line, "'" + op + "' is not supported between '" + a.type_name() + "' and '" + b.type_name() + "'");
  return *r;
}

Value Interpreter::eval_slice(const Value& obj, const Value& start_v, const Value& stop_v,
                              const Value& step_v, int line) {
  if (obj.is_undefined()) fail_undefined(line, obj);
  if (!obj.is_string() && !obj.is_list()) fail(line, "'" + obj.type_name() + "' object cannot be sliced");
  auto bound = [&](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_integral())
      fail(line, std::string("slice ") + what + " must be an integer, not '" + v.type_name() + "'");
    return v.as_int();
  };
  const int64_t step = bound(step_v, "step").value_or(1);
  if (step == 0) fail(line, "slice step cannot be zero");
  std::vector<size_t> starts;
  int64_t len;
  if (obj.is_string()) {
    starts = py::code_point_starts(obj.str());
    len = static_cast<int64_t>(starts.size()) - 1;
  } else {
    len = static_cast<int64_t>(obj.items().size());
  }
  // Python's slice.indices().
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) x += len;
    if (step > 0) return std::min(std::max<int64_t>(x, 0), len);
    return std::min(std::max<int64_t>(x, -1), len - 1);
  };
  const int64_t start = clamp(bound(start_v, "start"), step > 0 ? 0 : len - 1);
  const int64_t stop = clamp(bound(stop_v, "stop"), step > 0 ? len : -1);
  std::vector<int64_t> idx;
  for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) idx.push_back(k);
  if (obj.is_string()) {
    if (step == 1)
      return Value::string(obj.str().substr(starts[start], start < stop ? starts[stop] - starts[start] : 0));
    std::string out;
    for (int64_t k : idx) out += obj.str().substr(starts[k], starts[k + 1] - starts[k]);
    return Value::string(std::move(out));
  }
  List items;
  for (int64_t k : idx) items.push_back(obj.items()[k]);
  return Value::list(std::move(items), obj.is_tuple());
}

Value Interpreter::eval(const Expr& e, const FramePtr& frame) {
  Value v = eval_node(e, frame);
  // Values built by operators, filters and calls stay within the output and range limits, so a
  // template that doubles a string or list in a loop stops with an error instead of exhausting memory.
  if (v.is_string() && v.str().size() > limits_.max_output_bytes)
    fail(e.line, "a string of " + std::to_string(v.str().size() >> 20) + " MiB passes the output limit",
         "the template builds runaway text");
  if (v.is_list() && v.items().size() > limits_.max_range)
    fail(e.line,
         "a list of " + std::to_string(v.items().size()) + " items passes the limit of " +
             std::to_string(limits_.max_range),
         "the template builds a runaway list");
  return v;
}

Value Interpreter::eval_node(const Expr& e, const FramePtr& frame) {
  switch (e.k) {
    case Expr::K::Const:
      return e.value;
    case Expr::K::Name:
      return lookup(e.name, frame);
    case Expr::K::Attr: {
      const Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) fail_undefined(e.line, obj);
      return get_attr(obj, e.name);
    }
    case Expr::K::Item: {
      const Value obj = eval(*e.args[0], frame);
      const Value key = eval(*e.args[1], frame);
      return get_item(obj, key, *this, e.line);
    }
    case Expr::K::Slice: {
      const Value obj = eval(*e.args[0], frame);
      const Value none;
      return eval_slice(obj, e.args[1] ? eval(*e.args[1], frame) : none,
                        e.args[2] ? eval(*e.args[2], frame) : none,
                        e.args[3] ? eval(*e.args[3], frame) : none, e.line);
    }
    case Expr::K::Call: {
      const Value fn = eval(*e.args[0], frame);
      CallArgs a;
      eval_call_args(e, 1, frame, a);
      return call(fn, a, e.line);
    }
    case Expr::K::Filter: {
      const Value subject = eval(*e.args[0], frame);
      CallArgs a;
      eval_call_args(e, 1, frame, a);
      return apply_filter(*this, e.name, subject, a, e.line);
    }
    case Expr::K::Test: {
      const Value subject = eval(*e.args[0], frame);
      CallArgs a;
      eval_call_args(e, 1, frame, a);
      const bool r = apply_test(*this, e.name, subject, a, e.line);
      return Value::boolean(e.negated ? !r : r);
    }
    case Expr::K::Neg:
    case Expr::K::Pos: {
      const Value v = eval(*e.args[0], frame);
      if (v.is_undefined()) fail_undefined(e.line, v);
      if (!v.is_number())
        fail(e.line, "bad operand type for unary " + std::string(e.k == Expr::K::Neg ? "-" : "+") + ": '" +
                         v.type_name() + "'");
      if (e.k == Expr::K::Pos) return v.is_bool() ? Value::integer(v.as_int()) : v;
      if (v.is_float()) return Value::number(-v.as_float());
      if (v.as_int() == INT64_MIN) fail(e.line, "integer overflow in unary -");
      return Value::integer(-v.as_int());
    }
    case Expr::K::Binary:
      return eval_binary(e.name, eval(*e.args[0], frame), eval(*e.args[1], frame), e.line);
    case Expr::K::Concat: {
      std::string out;
      for (const ExprPtr& a : e.args) out += eval(*a, frame).to_string();
      return Value::string(std::move(out));
    }
    case Expr::K::Compare: {
      Value left = eval(*e.args[0], frame);
      for (size_t k = 0; k < e.ops.size(); ++k) {
        Value right = eval(*e.args[k + 1], frame);
        if (!eval_compare(e.ops[k], left, right, e.line)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case Expr::K::And: {
      Value a = eval(*e.args[0], frame);
      return a.truthy() ? eval(*e.args[1], frame) : a;
    }
    case Expr::K::Or: {
      Value a = eval(*e.args[0], frame);
      return a.truthy() ? a : eval(*e.args[1], frame);
    }
    case Expr::K::Not:
      return Value::boolean(!eval(*e.args[0], frame).truthy());
    case Expr::K::Cond:
      if (eval(*e.args[1], frame).truthy()) return eval(*e.args[0], frame);
      return e.args[2] ? eval(*e.args[2], frame) : Value::undefined("the inline if has no else branch");
    case Expr::K::ListLit:
    case Expr::K::TupleLit: {
      List items;
      for (const ExprPtr& a : e.args) items.push_back(eval(*a, frame));
      return Value::list(std::move(items), e.k == Expr::K::TupleLit);
    }
    case Expr::K::DictLit: {
      Dict d;
      for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
        const Value key = eval(*e.args[k], frame);
        if (!key.is_string())
          fail(e.args[k]->line, "dict keys must be strings here, not '" + key.type_name() + "'",
               "chat-template values are JSON-like: objects have string keys");
        d.set(key.str(), eval(*e.args[k + 1], frame));
      }
      return Value::dict(std::move(d));
    }
  }
  fail(e.line, "internal: unknown expression kind");
}

}  // namespace ft::text::jinja
