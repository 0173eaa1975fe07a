// Python object semantics for the Jinja engine's values (see jinja_value.h).
#include "text/jinja_value.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "text/jinja_pystr.h"

namespace ft::text::jinja {

namespace {

// Recursive walks over values (repr, json, equality, conversion) also stop at kMaxValueDepth: a
// namespace can be made to hold itself.
thread_local int value_depth = 0;
struct ValueDepth {
  ValueDepth() {
    if (++value_depth > kMaxValueDepth) {
      value_depth = 0;
      throw std::length_error("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
    }
  }
  ~ValueDepth() {
    if (value_depth > 0) --value_depth;
  }
  ValueDepth(const ValueDepth&) = delete;
  ValueDepth& operator=(const ValueDepth&) = delete;
};

thread_local size_t max_text_bytes = SIZE_MAX;

void check_text(const std::string& out) {
  if (out.size() > max_text_bytes)
    throw std::length_error("text of more than " + std::to_string(max_text_bytes) +
                            " bytes (the output limit)");
}

}  // namespace

void set_text_limit(size_t bytes) {
  max_text_bytes = bytes;
}
size_t text_limit() {
  return max_text_bytes;
}

const Value* Dict::find(const std::string& key) const {
  for (const auto& kv : items)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

namespace {
void check_value_depth(int depth) {
  if (depth > kMaxValueDepth)
    throw std::length_error("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
}
}  // namespace

void Dict::set(const std::string& key, Value v) {
  depth = std::max(depth, v.depth() + 1);
  for (auto& kv : items)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

Value Value::undefined(std::string why) {
  Value v;
  v.s_ = std::move(why);
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.b_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.i_ = i;
  return v;
}
Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::Float;
  v.f_ = f;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.s_ = std::move(s);
  return v;
}
int Value::depth() const {
  if (kind_ == Kind::List) return list_depth_;
  if (kind_ == Kind::Dict || kind_ == Kind::Namespace) return dict_->depth;
  return 0;
}

Value Value::list(List items, bool tuple) {
  Value v;
  v.list_depth_ = 1;
  for (const Value& e : items) v.list_depth_ = std::max(v.list_depth_, e.depth() + 1);
  check_value_depth(v.list_depth_);
  v.kind_ = Kind::List;
  v.tuple_ = tuple;
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}
Value Value::mapping(Dict d, Kind kind) {
  d.depth = 1;
  for (const auto& kv : d.items) d.depth = std::max(d.depth, kv.second.depth() + 1);
  check_value_depth(d.depth);
  Value v;
  v.kind_ = kind;
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}
Value Value::dict(Dict d) {
  return mapping(std::move(d), Kind::Dict);
}
Value Value::namespace_(Dict d) {
  return mapping(std::move(d), Kind::Namespace);
}
Value Value::function(std::string name, std::function<Value(Interpreter&, CallArgs&, int)> fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.fn_ = std::make_shared<const Function>(Function{std::move(name), std::move(fn)});
  return v;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return b_;
    case Kind::Int:
      return i_ != 0;
    case Kind::Float:
      return f_ != 0;
    case Kind::String:
      return !s_.empty();
    case Kind::List:
      return !list_->empty();
    case Kind::Dict:
      return !dict_->items.empty();
    case Kind::Namespace:
    case Kind::Function:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return tuple_ ? "tuple" : "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "Namespace";
    case Kind::Function:
      return "function";
  }
  return "?";
}

std::string Value::to_string() const {
  switch (kind_) {
    case Kind::Undefined:
      return "";
    case Kind::String:
      return s_;
    default:
      return repr();
  }
}

std::string Value::repr() const {
  ValueDepth guard;
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return b_ ? "True" : "False";
    case Kind::Int:
      return std::to_string(i_);
    case Kind::Float:
      return py::float_repr(f_);
    case Kind::String:
      return py::repr(s_);
    case Kind::List: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t k = 0; k < list_->size(); ++k) {
        if (k) out += ", ";
        out += (*list_)[k].repr();
        check_text(out);
      }
      if (tuple_ && list_->size() == 1) out += ",";
      out += tuple_ ? ")" : "]";
      return out;
    }
    case Kind::Dict:
    case Kind::Namespace: {
      std::string out = kind_ == Kind::Namespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& kv : dict_->items) {
        if (!first) out += ", ";
        first = false;
        out += py::repr(kv.first) + ": " + kv.second.repr();
        check_text(out);
      }
      out += kind_ == Kind::Namespace ? "}>" : "}";
      return out;
    }
    case Kind::Function:
      return "<function " + fn_->name + ">";
  }
  return "";
}

namespace {

template <class J>
Value convert_json(const J& j) {
  ValueDepth guard;
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(convert_json(e));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      d.items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(it.key(), convert_json(it.value()));
      return Value::dict(std::move(d));
    }
    default:
      return Value::undefined("binary JSON value");
  }
}

int type_rank(const Value& v) {
  if (v.is_number()) return 1;
  if (v.is_string()) return 2;
  if (v.is_list()) return 3;
  return 0;
}

}  // namespace

Value Value::from_json(const nlohmann::ordered_json& j) {
  return convert_json(j);
}
Value Value::from_json(const nlohmann::json& j) {
  return convert_json(j);
}

bool equals(const Value& a, const Value& b) {
  ValueDepth guard;
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_float() == b.as_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined:
    case K::None:
      return true;
    case K::String:
      return a.str() == b.str();
    case K::List: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t k = 0; k < a.items().size(); ++k)
        if (!equals(a.items()[k], b.items()[k])) return false;
      return true;
    }
    case K::Dict: {
      if (a.entries().items.size() != b.entries().items.size()) return false;
      for (const auto& kv : a.entries().items) {
        const Value* other = b.entries().find(kv.first);
        if (!other || !equals(kv.second, *other)) return false;
      }
      return true;
    }
    case K::Namespace:
      return &a.entries() == &b.entries();
    case K::Function:
      return &a.fn() == &b.fn();
    default:
      return false;
  }
}

std::optional<bool> less(const Value& a, const Value& b) {
  ValueDepth guard;
  const int ra = type_rank(a), rb = type_rank(b);
  if (ra == 0 || ra != rb) return std::nullopt;
  if (ra == 1) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int();
    return a.as_float() < b.as_float();
  }
  if (ra == 2) return a.str() < b.str();  // UTF-8 byte order is code point order
  if (a.is_tuple() != b.is_tuple()) return std::nullopt;
  const List& x = a.items();
  const List& y = b.items();
  for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
    if (equals(x[k], y[k])) continue;
    return less(x[k], y[k]);
  }
  return x.size() < y.size();
}

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  size_t pos = 0, len = 0;
  char buf[16];
  while (pos < s.size()) {
    const uint32_t cp = py::decode_at(s, pos, &len);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20) {
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
          out += buf;
        } else if (ensure_ascii && cp >= 0x80) {
          if (cp >= 0x10000) {
            const uint32_t v = cp - 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xd800 | (v >> 10)),
                          static_cast<unsigned>(0xdc00 | (v & 0x3ff)));
          } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
          }
          out += buf;
        } else {
          out.append(s, pos, len);
        }
    }
    pos += len;
  }
  out += '"';
}

void json_value(std::string& out, const Value& v, const JsonStyle& st, const std::string& item_sep,
                const std::string& key_sep, const std::string* indent, int level) {
  ValueDepth guard;
  using K = Value::Kind;
  auto newline = [&](int lvl) {
    out += '\n';
    for (int k = 0; k < lvl; ++k) out += *indent;
    check_text(out);
  };
  switch (v.kind()) {
    case K::None:
      out += "null";
      return;
    case K::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case K::Int:
      out += std::to_string(v.as_int());
      return;
    case K::Float: {
      const double f = v.as_float();
      if (std::isnan(f))
        out += "NaN";
      else if (std::isinf(f))
        out += f < 0 ? "-Infinity" : "Infinity";
      else
        out += py::float_repr(f);
      return;
    }
    case K::String:
      json_string(out, v.str(), st.ensure_ascii);
      check_text(out);
      return;
    case K::List: {
      if (v.items().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const Value& e : v.items()) {
        if (!first) out += item_sep;
        first = false;
        if (indent) newline(level + 1);
        json_value(out, e, st, item_sep, key_sep, indent, level + 1);
      }
      if (indent) newline(level);
      out += ']';
      return;
    }
    case K::Dict: {
      if (v.entries().items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> order;
      for (const auto& kv : v.entries().items) order.push_back(&kv);
      if (st.sort_keys)
        std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      bool first = true;
      for (const auto* kv : order) {
        if (!first) out += item_sep;
        first = false;
        if (indent) newline(level + 1);
        json_string(out, kv->first, st.ensure_ascii);
        out += key_sep;
        json_value(out, kv->second, st, item_sep, key_sep, indent, level + 1);
      }
      if (indent) newline(level);
      out += '}';
      return;
    }
    default:
      throw std::invalid_argument("Object of type " +
                                  (v.is_undefined() ? std::string("Undefined") : v.type_name()) +
                                  " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
  std::string indent_text;
  const bool has_indent = style.indent_str.has_value() || style.indent >= 0;
  if (style.indent_str)
    indent_text = *style.indent_str;
  else if (style.indent >= 0)
    indent_text.assign(static_cast<size_t>(style.indent), ' ');
  std::string item_sep = has_indent ? "," : ", ", key_sep = ": ";
  if (style.separators) {
    item_sep = style.separators->first;
    key_sep = style.separators->second;
  }
  std::string out;
  json_value(out, v, style, item_sep, key_sep, has_indent ? &indent_text : nullptr, 0);
  return out;
}

}  // namespace ft::text::jinja
