// Jinja evaluator: walks a parsed template (jinja_ast) with Jinja's scoping (a for loop or macro call
// gets its own frame, if/else does not), loop.* variables, break/continue, macros, block set, filter
// blocks and transformers' {% generation %} spans. Errors name the template line.
#pragma once

#include <cstddef>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja_ast.h"
#include "text/jinja_value.h"

namespace ft::text::jinja {

struct EvalLimits {
  size_t max_output_bytes = size_t{256} << 20;  // a runaway template stops with an error, not OOM
  size_t max_range = 10'000'000;                // elements one range()/repetition may produce
  int max_call_depth = 100;                     // nested macro calls
  size_t max_steps = 100'000'000;               // statements executed + loop iterations
};

class Interpreter {
 public:
  Interpreter(std::string where, std::optional<std::time_t> now, EvalLimits limits);
  // Empties the namespaces this render created, so that a namespace holding itself is freed.
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body` with the variables of `context`. Generation spans (byte offsets [begin, end) into
  // the result) are appended to `spans`.
  std::string render(const Body& body, const Dict& context, std::vector<std::pair<size_t, size_t>>& spans);

  [[noreturn]] void fail(int line, const std::string& msg, const std::string& hint = {}) const;
  // Raises the error an undefined value carries when it is used ("'x' is undefined").
  [[noreturn]] void fail_undefined(int line, const Value& v) const;
  Value call(const Value& fn, CallArgs& args, int line);
  std::time_t now() const;
  void track_namespace(const Value& ns);
  const EvalLimits& limits() const { return limits_; }

 private:
  struct Frame {
    std::shared_ptr<Frame> parent;
    Dict vars;
  };
  using FramePtr = std::shared_ptr<Frame>;
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const FramePtr& frame);
  Flow exec(const Stmt& s, const FramePtr& frame);
  Flow exec_stmt(const Stmt& s, const FramePtr& frame);
  Flow exec_for(const Stmt& s, const FramePtr& frame);
  void exec_set(const Stmt& s, const FramePtr& frame);
  void assign(const Target& t, const Value& v, const FramePtr& frame, int line);
  // Renders body into a fresh buffer (macro results, block set, filter blocks).
  std::string capture(const Body& body, const FramePtr& frame);
  Value make_macro(const Stmt& s, const FramePtr& frame);

  Value eval(const Expr& e, const FramePtr& frame);
  Value eval_node(const Expr& e, const FramePtr& frame);
  Value lookup(const std::string& name, const FramePtr& frame) const;
  Value eval_binary(const std::string& op, const Value& a, const Value& b, int line);
  bool eval_compare(const std::string& op, const Value& a, const Value& b, int line);
  Value eval_slice(const Value& obj, const Value& start, const Value& stop, const Value& step, int line);
  void eval_call_args(const Expr& e, size_t first, const FramePtr& frame, CallArgs& out);
  // Applies a `{% filter %}` / `{% set x | filter %}` chain (innermost subject null) to v.
  Value apply_filter_chain(const Expr& chain, Value v, const FramePtr& frame);
  void write(const std::string& s, int line);
  void count_step(int line);  // enforces max_steps; checks for Ctrl-C now and then

  std::string where_;
  std::optional<std::time_t> now_;
  EvalLimits limits_;
  std::string output_;
  std::string* out_ = &output_;
  std::vector<std::pair<size_t, size_t>>* spans_ = nullptr;
  FramePtr top_;  // template-level frame: parent for macros whose defining frame has ended
  std::vector<std::weak_ptr<Dict>> namespaces_;
  size_t prune_at_ = 1024;
  int call_depth_ = 0;
  size_t steps_ = 0;
};

// Items a `for` loop (and list(), join...) iterates: list/tuple items, dict keys, str code points;
// undefined iterates as empty. Fails with "'int' object is not iterable" otherwise.
List iterate(Interpreter& interp, const Value& v, int line);

}  // namespace ft::text::jinja
