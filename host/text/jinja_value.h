// The value type of the Jinja engine: Python's objects as chat templates see them (undefined, None,
// bool, int, float, str, list/tuple, dict with insertion order, namespace, callables), with Python's
// truthiness, equality, ordering, str()/repr() spellings and json.dumps as transformers' `tojson` calls it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ft::text::jinja {

class Value;
class Interpreter;
using List = std::vector<Value>;

// A dict: string keys in insertion order (Python dicts keep it, and tojson must too).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  int depth = 1;  // 1 + the deepest value held (set() keeps it current; only grows)
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);  // replaces in place or appends
};

// Values nest at most this deep: building a deeper list/dict throws std::length_error (reported at
// the template line), so no walk over a value, nor its destruction, can exhaust the stack.
constexpr int kMaxValueDepth = 1000;

// Arguments of a call as written: positional then keyword.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

// Builtin functions, bound methods and macros. `line` is the calling template line (for errors).
struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&, int line)> call;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

  Value() = default;  // undefined
  static Value undefined(std::string why = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value list(List items, bool tuple = false);
  static Value dict(Dict d);
  static Value namespace_(Dict d);
  static Value function(std::string name, std::function<Value(Interpreter&, CallArgs&, int)> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }  // bool is not int here; see is_integral()
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::List && tuple_; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Bool ? (b_ ? 1 : 0) : i_; }
  double as_float() const { return kind_ == Kind::Float ? f_ : static_cast<double>(as_int()); }
  const std::string& str() const { return s_; }       // String, or why an Undefined is undefined
  const List& items() const { return *list_; }        // List
  const Dict& entries() const { return *dict_; }      // Dict / Namespace
  Dict& namespace_entries() const { return *dict_; }  // Namespace (the one mutable kind)
  const std::shared_ptr<Dict>& dict_ptr() const { return dict_; }
  const Function& fn() const { return *fn_; }
  int depth() const;  // 0 for scalars, 1 + deepest element for containers

  // Python bool(x).
  bool truthy() const;
  // Python type name for messages: "str", "int", "list", "dict", "NoneType", "undefined"...
  std::string type_name() const;

  // str(x) as Jinja prints `{{ x }}` (undefined prints as "").
  std::string to_string() const;
  // repr(x).
  std::string repr() const;

  // Converts JSON (keys keep the order of `j`; ordered_json preserves the source order).
  static Value from_json(const nlohmann::ordered_json& j);
  static Value from_json(const nlohmann::json& j);

 private:
  static Value mapping(Dict d, Kind kind);  // Dict or Namespace, depth checked

  Kind kind_ = Kind::Undefined;
  bool tuple_ = false;
  bool b_ = false;
  int list_depth_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Function> fn_;
};

// repr()/to_string()/to_json() throw std::length_error once the text they build passes this many
// bytes (the evaluator sets it to its output limit for the duration of a render; default unlimited).
void set_text_limit(size_t bytes);
size_t text_limit();

// Python ==. Undefined equals only undefined; 1 == 1.0 == True; dicts compare regardless of order.
bool equals(const Value& a, const Value& b);
// Python <, returning nullopt when the types cannot be ordered (TypeError in Python).
std::optional<bool> less(const Value& a, const Value& b);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) exactly as Python writes it.
// `indent` < 0 means None. Throws std::invalid_argument naming the type that is not serializable.
struct JsonStyle {
  bool ensure_ascii = false;
  int indent = -1;
  std::optional<std::string> indent_str;  // indent given as a string
  std::optional<std::pair<std::string, std::string>> separators;
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);

}  // namespace ft::text::jinja
