// Jinja builtin filters, tests, globals and Python methods for the chat-template engine
// (see jinja_builtins.h). Each follows Jinja 3's filters.py/tests.py under Python semantics;
// `tojson` is transformers' json.dumps(ensure_ascii=False) override.
#include "text/jinja_builtins.h"

#include <utf8proc.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>

#include "core/error.h"
#include "text/jinja_eval.h"
#include "text/jinja_pystr.h"

namespace ft::text::jinja {

namespace {

// ---- argument binding ----------------------------------------------------------------------
// Binds positional and keyword arguments to `names` as Python would; absent ones are nullopt.
using Bound = std::vector<std::optional<Value>>;
Bound bind(Interpreter& in, const std::string& what, const CallArgs& a, const std::vector<const char*>& names,
           size_t required, int line) {
  if (a.args.size() > names.size())
    in.fail(line, what + " takes at most " + std::to_string(names.size()) + " argument(s), " +
                      std::to_string(a.args.size()) + " given");
  Bound out(names.size());
  for (size_t k = 0; k < a.args.size(); ++k) out[k] = a.args[k];
  for (const auto& kv : a.kwargs) {
    size_t k = 0;
    while (k < names.size() && kv.first != names[k]) ++k;
    if (k == names.size()) in.fail(line, what + " got an unexpected keyword argument '" + kv.first + "'");
    if (out[k]) in.fail(line, what + " got multiple values for argument '" + kv.first + "'");
    out[k] = kv.second;
  }
  for (size_t k = 0; k < required; ++k)
    if (!out[k]) in.fail(line, what + " is missing the argument '" + std::string(names[k]) + "'");
  return out;
}

std::string need_str(Interpreter& in, const Value& v, const std::string& what, int line) {
  if (v.is_undefined()) in.fail_undefined(line, v);
  if (!v.is_string()) in.fail(line, what + " must be a string, not '" + v.type_name() + "'");
  return v.str();
}
int64_t need_int(Interpreter& in, const Value& v, const std::string& what, int line) {
  if (v.is_undefined()) in.fail_undefined(line, v);
  if (!v.is_integral()) in.fail(line, what + " must be an integer, not '" + v.type_name() + "'");
  return v.as_int();
}
// Text a filter is about to build must stay within the render's output limit.
void check_size(Interpreter& in, size_t bytes, const char* what, int line) {
  if (bytes > in.limits().max_output_bytes)
    in.fail(line,
            std::string(what) + " would build " + std::to_string(bytes >> 20) + " MiB, past the output limit",
            "the template builds runaway text");
}

// py::replace with the result size checked first.
std::string checked_replace(Interpreter& in, const std::string& s, const std::string& old,
                            const std::string& repl, int64_t count, int line) {
  size_t n = 0;
  if (old.empty()) {
    n = py::length(s) + 1;
  } else {
    for (size_t p = s.find(old); p != std::string::npos; p = s.find(old, p + old.size())) ++n;
  }
  if (count >= 0) n = std::min(n, static_cast<size_t>(count));
  if (repl.size() > old.size()) check_size(in, s.size() + n * (repl.size() - old.size()), "replace()", line);
  return py::replace(s, old, repl, count);
}

std::optional<std::string> opt_chars(Interpreter& in, const std::optional<Value>& v, const std::string& what,
                                     int line) {
  if (!v || v->is_none()) return std::nullopt;
  return need_str(in, *v, what, line);
}

// Jinja's object_type_repr for "has no attribute" messages.
std::string object_repr(const Value& v) {
  if (v.is_none()) return "None";
  return v.type_name() + " object";
}

Value undefined_attr(const Value& obj, const std::string& name) {
  return Value::undefined("'" + object_repr(obj) + "' has no attribute '" + name + "'");
}

Value unsafe_attr(const Value& obj, const std::string& name) {
  return Value::undefined(
      "access to attribute '" + name + "' of '" + obj.type_name() +
      "' object is unsafe (chat templates render in an immutable sandbox, as in transformers)");
}

Value method(const std::string& name, std::function<Value(Interpreter&, CallArgs&, int)> fn) {
  return Value::function(name, std::move(fn));
}

bool all_code_points(const std::string& s, bool (*pred)(utf8proc_category_t)) {
  if (s.empty()) return false;
  size_t pos = 0, len = 0;
  while (pos < s.size()) {
    const uint32_t cp = py::decode_at(s, pos, &len);
    if (!pred(utf8proc_category(static_cast<utf8proc_int32_t>(cp)))) return false;
    pos += len;
  }
  return true;
}
bool cat_digit(utf8proc_category_t c) {
  return c == UTF8PROC_CATEGORY_ND;
}
bool cat_alpha(utf8proc_category_t c) {
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}
bool cat_alnum(utf8proc_category_t c) {
  return cat_alpha(c) || (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

// ---- methods of str, dict and list -------------------------------------------------------------
Value str_method(const Value& self, const std::string& name) {
  const std::string s = self.str();
  const std::string q = "str." + name + "()";
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return method(q, [s, name, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"chars"}, 0, line);
      return Value::string(
          py::strip(s, opt_chars(in, b[0], "chars", line), name != "rstrip", name != "lstrip"));
    });
  }
  if (name == "split") {
    return method(q, [s, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"sep", "maxsplit"}, 0, line);
      const auto sep = opt_chars(in, b[0], "sep", line);
      if (sep && sep->empty()) in.fail(line, "str.split(): empty separator");
      const int64_t maxsplit = b[1] ? need_int(in, *b[1], "maxsplit", line) : -1;
      List parts;
      for (auto& p : py::split(s, sep, maxsplit)) parts.push_back(Value::string(std::move(p)));
      return Value::list(std::move(parts));
    });
  }
  if (name == "splitlines") {
    return method(q, [s, q](Interpreter& in, CallArgs& a, int line) {
      bind(in, q, a, {}, 0, line);
      List parts;
      size_t start = 0;
      for (size_t k = 0; k < s.size(); ++k) {
        if (s[k] == '\n' || s[k] == '\r') {
          parts.push_back(Value::string(s.substr(start, k - start)));
          if (s[k] == '\r' && k + 1 < s.size() && s[k + 1] == '\n') ++k;
          start = k + 1;
        }
      }
      if (start < s.size()) parts.push_back(Value::string(s.substr(start)));
      return Value::list(std::move(parts));
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool starts = name == "startswith";
    return method(q, [s, starts, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"prefix"}, 1, line);
      List options = b[0]->is_list() ? b[0]->items() : List{*b[0]};
      for (const Value& o : options) {
        const std::string p = need_str(in, o, "the prefix", line);
        if (p.size() <= s.size() &&
            (starts ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0))
          return Value::boolean(true);
      }
      return Value::boolean(false);
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    return method(q, [s, name, q](Interpreter& in, CallArgs& a, int line) {
      bind(in, q, a, {}, 0, line);
      if (name == "upper") return Value::string(py::upper(s));
      if (name == "lower") return Value::string(py::lower(s));
      if (name == "title") return Value::string(py::str_title(s));
      return Value::string(py::capitalize(s));
    });
  }
  if (name == "replace") {
    return method(q, [s, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"old", "new", "count"}, 2, line);
      return Value::string(checked_replace(in, s, need_str(in, *b[0], "old", line),
                                           need_str(in, *b[1], "new", line),
                                           b[2] ? need_int(in, *b[2], "count", line) : -1, line));
    });
  }
  if (name == "find" || name == "rfind" || name == "count") {
    return method(q, [s, name, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"sub"}, 1, line);
      const std::string sub = need_str(in, *b[0], "sub", line);
      if (name == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(py::length(s)) + 1);
        int64_t n = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
        return Value::integer(n);
      }
      const size_t p = name == "find" ? s.find(sub) : s.rfind(sub);
      return Value::integer(p == std::string::npos ? -1 : static_cast<int64_t>(py::length(s.substr(0, p))));
    });
  }
  if (name == "join") {
    return method(q, [s, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"iterable"}, 1, line);
      std::string out;
      bool first = true;
      for (const Value& v : iterate(in, *b[0], line)) {
        if (!first) out += s;
        first = false;
        out += need_str(in, v, "each joined item", line);
        check_size(in, out.size(), "str.join()", line);
      }
      return Value::string(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace") {
    return method(q, [s, name, q](Interpreter& in, CallArgs& a, int line) {
      bind(in, q, a, {}, 0, line);
      if (name == "isspace") {
        if (s.empty()) return Value::boolean(false);
        size_t pos = 0, len = 0;
        while (pos < s.size()) {
          if (!py::is_space(py::decode_at(s, pos, &len))) return Value::boolean(false);
          pos += len;
        }
        return Value::boolean(true);
      }
      return Value::boolean(all_code_points(s, name == "isdigit"   ? cat_digit
                                               : name == "isalpha" ? cat_alpha
                                                                   : cat_alnum));
    });
  }
  return undefined_attr(self, name);
}

List dict_items(const Value& d) {
  List out;
  for (const auto& kv : d.entries().items)
    out.push_back(Value::list({Value::string(kv.first), kv.second}, true));
  return out;
}

Value dict_method(const Value& self, const std::string& name) {
  const std::string q = "dict." + name + "()";
  if (name == "items" || name == "keys" || name == "values") {
    return method(q, [self, name, q](Interpreter& in, CallArgs& a, int line) {
      bind(in, q, a, {}, 0, line);
      if (name == "items") return Value::list(dict_items(self));
      List out;
      for (const auto& kv : self.entries().items)
        out.push_back(name == "keys" ? Value::string(kv.first) : kv.second);
      return Value::list(std::move(out));
    });
  }
  if (name == "get") {
    return method(q, [self, q](Interpreter& in, CallArgs& a, int line) {
      Bound b = bind(in, q, a, {"key", "default"}, 1, line);
      const Value* v = b[0]->is_string() ? self.entries().find(b[0]->str()) : nullptr;
      if (v) return *v;
      return b[1] ? *b[1] : Value::none();
    });
  }
  if (name == "pop" || name == "popitem" || name == "update" || name == "setdefault" || name == "clear")
    return unsafe_attr(self, name);
  return Value();
}

// ---- helpers shared by filters ----------------------------------------------------------------
// Jinja's make_attrgetter: "a.b.0" looked up item-first on each step.
Value attr_path(Interpreter& in, const Value& obj, const std::string& path, int line) {
  Value cur = obj;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    // Jinja turns all-digit parts into integer indexes ("messages.0.role").
    const bool numeric = !part.empty() && part.size() <= 18 &&
                         std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = get_item(cur, numeric ? Value::integer(std::strtoll(part.c_str(), nullptr, 10)) : Value::string(part), in,
                   line);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

int64_t py_len(Interpreter& in, const Value& v, int line) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return 0;
    case Value::Kind::String:
      return static_cast<int64_t>(py::length(v.str()));
    case Value::Kind::List:
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::Dict:
      return static_cast<int64_t>(v.entries().items.size());
    default:
      in.fail(line, "object of type '" + v.type_name() + "' has no len()");
  }
}

// Sort key comparison for sort/unique/min/max/dictsort: strings compare lowercased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(py::lower(v.str()));
  return v;
}
bool key_less(Interpreter& in, const Value& a, const Value& b, int line) {
  auto r = less(a, b);
  if (!r) in.fail(line, "cannot order '" + a.type_name() + "' and '" + b.type_name() + "' values");
  return *r;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// select/reject/selectattr/rejectattr: args are [attr,] [test, test args...].
Value select_filter(Interpreter& in, const Value& seq, CallArgs& a, int line, bool attr, bool keep) {
  const std::string fname = std::string(keep ? "select" : "reject") + (attr ? "attr" : "");
  if (!a.kwargs.empty()) in.fail(line, "filter '" + fname + "' takes no keyword arguments");
  size_t k = 0;
  std::string attribute;
  if (attr) {
    if (a.args.empty()) in.fail(line, "filter '" + fname + "' needs the attribute name");
    attribute = need_str(in, a.args[k++], "the attribute", line);
  }
  std::string test;
  if (k < a.args.size()) test = need_str(in, a.args[k++], "the test name", line);
  if (!test.empty() && !has_test(test)) in.fail(line, "filter '" + fname + "': no test named '" + test + "'");
  CallArgs targs;
  targs.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(k), a.args.end());
  List out;
  for (const Value& item : iterate(in, seq, line)) {
    const Value subject = attr ? attr_path(in, item, attribute, line) : item;
    CallArgs copy = targs;
    const bool ok = test.empty() ? subject.truthy() : apply_test(in, test, subject, copy, line);
    if (ok == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map_filter(Interpreter& in, const Value& seq, CallArgs& a, int line) {
  const List items = iterate(in, seq, line);
  List out;
  if (a.args.empty()) {
    const Value* attribute = nullptr;
    const Value* dflt = nullptr;
    for (const auto& kv : a.kwargs) {
      if (kv.first == "attribute")
        attribute = &kv.second;
      else if (kv.first == "default")
        dflt = &kv.second;
      else
        in.fail(line, "filter 'map' got an unexpected keyword argument '" + kv.first + "'");
    }
    if (!attribute) in.fail(line, "filter 'map' needs a filter name or attribute=");
    const std::string path = need_str(in, *attribute, "map attribute", line);
    for (const Value& item : items) {
      Value v = attr_path(in, item, path, line);
      if (v.is_undefined() && dflt) v = *dflt;
      out.push_back(v);
    }
    return Value::list(std::move(out));
  }
  const std::string filter = need_str(in, a.args[0], "the filter name", line);
  if (!has_filter(filter)) in.fail(line, "filter 'map': no filter named '" + filter + "'");
  CallArgs fargs;
  fargs.args.assign(a.args.begin() + 1, a.args.end());
  fargs.kwargs = a.kwargs;
  for (const Value& item : items) {
    CallArgs copy = fargs;
    out.push_back(apply_filter(in, filter, item, copy, line));
  }
  return Value::list(std::move(out));
}

std::string strftime_text(Interpreter& in, const std::string& fmt, int line) {
  const std::time_t t = in.now();
  std::tm tm{};
  localtime_r(&t, &tm);
  if (fmt.empty()) return "";
  for (size_t cap = 64; cap <= (size_t{1} << 20); cap *= 4) {
    std::string buf(cap, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) return buf.substr(0, n);
  }
  in.fail(line, "strftime_now(): the format produced no text or too much", "check the % codes in the format");
}

// ---- filters -------------------------------------------------------------------------------------
using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&, int);

Value f_trim(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'trim'", a, {"chars"}, 0, line);
  return Value::string(py::strip(v.to_string(), opt_chars(in, b[0], "chars", line), true, true));
}

Value f_tojson(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'tojson'", a, {"ensure_ascii", "indent", "separators", "sort_keys"}, 0, line);
  JsonStyle st;
  if (b[0]) st.ensure_ascii = b[0]->truthy();
  if (b[1] && !b[1]->is_none()) {
    if (b[1]->is_string())
      st.indent_str = b[1]->str();
    else
      st.indent = static_cast<int>(std::max<int64_t>(0, need_int(in, *b[1], "tojson indent", line)));
  }
  if (b[2] && !b[2]->is_none()) {
    if (!b[2]->is_list() || b[2]->items().size() != 2)
      in.fail(line, "tojson separators must be a pair like (', ', ': ')");
    st.separators = std::make_pair(need_str(in, b[2]->items()[0], "item separator", line),
                                   need_str(in, b[2]->items()[1], "key separator", line));
  }
  if (b[3]) st.sort_keys = b[3]->truthy();
  try {
    return Value::string(to_json(v, st));
  } catch (const std::invalid_argument& e) {
    if (v.is_undefined()) in.fail_undefined(line, v);
    in.fail(line, std::string("tojson: ") + e.what());
  }
}

Value f_length(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'length'", a, {}, 0, line);
  return Value::integer(py_len(in, v, line));
}

Value f_items(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'items'", a, {}, 0, line);
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) in.fail(line, "filter 'items' needs a mapping, not '" + v.type_name() + "'");
  return Value::list(dict_items(v));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'join'", a, {"d", "attribute"}, 0, line);
  const std::string sep = b[0] ? b[0]->to_string() : "";
  std::string out;
  bool first = true;
  for (const Value& item : iterate(in, v, line)) {
    if (!first) out += sep;
    first = false;
    out += (b[1] ? attr_path(in, item, b[1]->to_string(), line) : item).to_string();
    check_size(in, out.size(), "join", line);
  }
  return Value::string(std::move(out));
}

Value f_default(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'default'", a, {"default_value", "boolean"}, 0, line);
  const bool boolean = b[1] && b[1]->truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return b[0] ? *b[0] : Value::string("");
  return v;
}

Value f_first(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'first'", a, {}, 0, line);
  const List items = iterate(in, v, line);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value f_last(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'last'", a, {}, 0, line);
  const List items = iterate(in, v, line);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value f_list(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'list'", a, {}, 0, line);
  return Value::list(iterate(in, v, line));
}
Value f_lower(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'lower'", a, {}, 0, line);
  return Value::string(py::lower(v.to_string()));
}
Value f_upper(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'upper'", a, {}, 0, line);
  return Value::string(py::upper(v.to_string()));
}
Value f_capitalize(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'capitalize'", a, {}, 0, line);
  return Value::string(py::capitalize(v.to_string()));
}
Value f_title(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'title'", a, {}, 0, line);
  return Value::string(py::jinja_title(v.to_string()));
}
Value f_replace(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'replace'", a, {"old", "new", "count"}, 2, line);
  const int64_t count = b[2] && !b[2]->is_none() ? need_int(in, *b[2], "count", line) : -1;
  return Value::string(checked_replace(in, v.to_string(), b[0]->to_string(), b[1]->to_string(), count, line));
}
Value f_string(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'string'", a, {}, 0, line);
  return Value::string(v.to_string());
}
Value f_safe(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'safe'", a, {}, 0, line);
  return v;
}
Value f_escape(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'escape'", a, {}, 0, line);
  return Value::string(html_escape(v.to_string()));
}

Value f_int(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'int'", a, {"default", "base"}, 0, line);
  const Value dflt = b[0] ? *b[0] : Value::integer(0);
  const int base = b[1] ? static_cast<int>(need_int(in, *b[1], "base", line)) : 10;
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) > 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    std::string s = py::strip(v.str(), std::nullopt, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return dflt;
    char* end = nullptr;
    errno = 0;
    const long long r = std::strtoll(s.c_str(), &end, base);
    if (end && *end == '\0' && errno == 0) return Value::integer(r);
    // Jinja falls back to int(float(value)).
    end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18)
      return Value::integer(static_cast<int64_t>(d));
  }
  return dflt;
}
Value f_float(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'float'", a, {"default"}, 0, line);
  const Value dflt = b[0] ? *b[0] : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) {
    const std::string s = py::strip(v.str(), std::nullopt, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::number(d);
  }
  return dflt;
}
Value f_abs(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'abs'", a, {}, 0, line);
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) in.fail(line, "integer overflow in abs");
    return Value::integer(std::llabs(v.as_int()));
  }
  in.fail(line, "bad operand type for abs(): '" + v.type_name() + "'");
}
Value f_round(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'round'", a, {"precision", "method"}, 0, line);
  const int64_t precision = b[0] ? need_int(in, *b[0], "precision", line) : 0;
  const std::string m = b[1] ? need_str(in, *b[1], "method", line) : "common";
  if (!v.is_number()) in.fail(line, "filter 'round' needs a number, not '" + v.type_name() + "'");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_float() * scale;
  double r;
  if (m == "common") {
    // Python's round(): correctly rounded decimal digits, ties to even (glibc printf does the same).
    if (precision >= 0 && precision <= 300) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), v.as_float());
      return Value::number(std::strtod(buf, nullptr));
    }
    r = std::nearbyint(x);
  } else if (m == "ceil")
    r = std::ceil(x);
  else if (m == "floor")
    r = std::floor(x);
  else
    in.fail(line, "filter 'round': method must be 'common', 'ceil' or 'floor', not '" + m + "'");
  return Value::number(r / scale);
}
Value f_reverse(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'reverse'", a, {}, 0, line);
  List items = iterate(in, v, line);
  std::reverse(items.begin(), items.end());
  if (v.is_string()) {
    std::string out;
    for (const Value& c : items) out += c.str();
    return Value::string(std::move(out));
  }
  return Value::list(std::move(items));
}
Value f_sort(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'sort'", a, {"reverse", "case_sensitive", "attribute"}, 0, line);
  const bool rev = b[0] && b[0]->truthy();
  const bool cs = b[1] && b[1]->truthy();
  List items = iterate(in, v, line);
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items)
    keyed.emplace_back(sort_key(b[2] ? attr_path(in, item, b[2]->to_string(), line) : item, cs), item);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return rev ? key_less(in, y.first, x.first, line) : key_less(in, x.first, y.first, line);
  });
  List out;
  for (auto& kv : keyed) out.push_back(kv.second);
  return Value::list(std::move(out));
}
Value f_unique(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'unique'", a, {"case_sensitive", "attribute"}, 0, line);
  const bool cs = b[0] && b[0]->truthy();
  List out, seen;
  for (const Value& item : iterate(in, v, line)) {
    const Value key = sort_key(b[1] ? attr_path(in, item, b[1]->to_string(), line) : item, cs);
    bool dup = false;
    for (const Value& s : seen) dup = dup || equals(s, key);
    if (!dup) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out));
}
Value f_dictsort(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'dictsort'", a, {"case_sensitive", "by", "reverse"}, 0, line);
  if (!v.is_dict()) in.fail(line, "filter 'dictsort' needs a mapping, not '" + v.type_name() + "'");
  const bool cs = b[0] && b[0]->truthy();
  const std::string by = b[1] ? need_str(in, *b[1], "by", line) : "key";
  if (by != "key" && by != "value") in.fail(line, "filter 'dictsort': by must be 'key' or 'value'");
  const bool rev = b[2] && b[2]->truthy();
  List items = dict_items(v);
  const size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(x.items()[pos], cs), ky = sort_key(y.items()[pos], cs);
    return rev ? key_less(in, ky, kx, line) : key_less(in, kx, ky, line);
  });
  return Value::list(std::move(items));
}
Value f_indent(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'indent'", a, {"width", "first", "blank"}, 0, line);
  std::string ind(4, ' ');
  if (b[0])
    ind =
        b[0]->is_string()
            ? b[0]->str()
            : std::string(static_cast<size_t>(std::max<int64_t>(0, need_int(in, *b[0], "width", line))), ' ');
  const bool first = b[1] && b[1]->truthy();
  const bool blank = b[2] && b[2]->truthy();
  const std::string s = v.to_string() + "\n";
  check_size(in, s.size() + static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) * ind.size(), "indent",
             line);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t k = 0; k < s.size(); ++k)
    if (s[k] == '\n') {
      lines.push_back(s.substr(start, k - start));
      start = k + 1;
    }
  std::string rv;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind + lines[k]);
  }
  if (first) rv = ind + rv;
  return Value::string(std::move(rv));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return select_filter(in, v, a, line, false, true);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return select_filter(in, v, a, line, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return select_filter(in, v, a, line, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return select_filter(in, v, a, line, true, false);
}
Value f_map(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return map_filter(in, v, a, line);
}
Value f_sum(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'sum'", a, {"attribute", "start"}, 0, line);
  Value total = b[1] ? *b[1] : Value::integer(0);
  for (const Value& item : iterate(in, v, line)) {
    const Value x = b[0] ? attr_path(in, item, b[0]->to_string(), line) : item;
    if (!x.is_number() || !total.is_number())
      in.fail(line, "filter 'sum' adds numbers, found '" + x.type_name() + "'");
    total = total.is_integral() && x.is_integral() ? Value::integer(total.as_int() + x.as_int())
                                                   : Value::number(total.as_float() + x.as_float());
  }
  return total;
}
Value min_max(Interpreter& in, const Value& v, CallArgs& a, int line, bool want_max) {
  Bound b = bind(in, want_max ? "filter 'max'" : "filter 'min'", a, {"case_sensitive", "attribute"}, 0, line);
  const bool cs = b[0] && b[0]->truthy();
  const List items = iterate(in, v, line);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const Value* best = &items[0];
  Value best_key = sort_key(b[1] ? attr_path(in, items[0], b[1]->to_string(), line) : items[0], cs);
  for (const Value& item : items) {
    const Value k = sort_key(b[1] ? attr_path(in, item, b[1]->to_string(), line) : item, cs);
    if (want_max ? key_less(in, best_key, k, line) : key_less(in, k, best_key, line)) {
      best = &item;
      best_key = k;
    }
  }
  return *best;
}
Value f_min(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return min_max(in, v, a, line, false);
}
Value f_max(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return min_max(in, v, a, line, true);
}
Value f_batch(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'batch'", a, {"linecount", "fill_with"}, 1, line);
  const int64_t n = need_int(in, *b[0], "linecount", line);
  if (n <= 0) in.fail(line, "filter 'batch' needs a positive linecount");
  List out, cur;
  for (const Value& item : iterate(in, v, line)) {
    cur.push_back(item);
    if (static_cast<int64_t>(cur.size()) == n) {
      out.push_back(Value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (b[1])
      while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*b[1]);
    out.push_back(Value::list(std::move(cur)));
  }
  return Value::list(std::move(out));
}
Value f_center(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'center'", a, {"width"}, 0, line);
  const int64_t width = b[0] ? need_int(in, *b[0], "width", line) : 80;
  const std::string s = v.to_string();
  const int64_t len = static_cast<int64_t>(py::length(s));
  if (width <= len) return Value::string(s);
  if (width > static_cast<int64_t>(in.limits().max_range)) in.fail(line, "filter 'center': width too large");
  // Python's str.center puts the extra space on the right when the margin is odd and len is even.
  const int64_t marg = width - len;
  const int64_t left = marg / 2 + (marg & width & 1);
  return Value::string(std::string(static_cast<size_t>(left), ' ') + s +
                       std::string(static_cast<size_t>(marg - left), ' '));
}
Value f_wordcount(Interpreter& in, const Value& v, CallArgs& a, int line) {
  bind(in, "filter 'wordcount'", a, {}, 0, line);
  // Jinja counts \w+ runs.
  const std::string s = v.to_string();
  int64_t n = 0;
  bool in_word = false;
  size_t pos = 0, len = 0;
  while (pos < s.size()) {
    const uint32_t cp = py::decode_at(s, pos, &len);
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    const bool w = cp == '_' || cat_alnum(cat);
    if (w && !in_word) ++n;
    in_word = w;
    pos += len;
  }
  return Value::integer(n);
}
Value f_attr(Interpreter& in, const Value& v, CallArgs& a, int line) {
  Bound b = bind(in, "filter 'attr'", a, {"name"}, 1, line);
  if (v.is_undefined()) in.fail_undefined(line, v);
  return get_attr(v, need_str(in, *b[0], "attribute name", line));
}

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> m = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", f_batch},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"sort", f_sort},
      {"string", f_string},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"unique", f_unique},
      {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return m;
}

// ---- tests ---------------------------------------------------------------------------------------
using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&, int);

const Value& one_arg(Interpreter& in, const char* name, CallArgs& a, int line) {
  if (a.args.size() != 1 || !a.kwargs.empty())
    in.fail(line, std::string("test '") + name + "' takes exactly one argument");
  return a.args[0];
}
void no_args(Interpreter& in, const char* name, CallArgs& a, int line) {
  if (!a.args.empty() || !a.kwargs.empty())
    in.fail(line, std::string("test '") + name + "' takes no arguments");
}

#define FT_JINJA_TEST0(fn, name, expr)                              \
  bool fn(Interpreter& in, const Value& v, CallArgs& a, int line) { \
    no_args(in, name, a, line);                                     \
    (void)v;                                                        \
    return (expr);                                                  \
  }
FT_JINJA_TEST0(t_defined, "defined", !v.is_undefined())
FT_JINJA_TEST0(t_undefined, "undefined", v.is_undefined())
FT_JINJA_TEST0(t_none, "none", v.is_none())
FT_JINJA_TEST0(t_boolean, "boolean", v.is_bool())
FT_JINJA_TEST0(t_true, "true", v.is_bool() && v.as_bool())
FT_JINJA_TEST0(t_false, "false", v.is_bool() && !v.as_bool())
FT_JINJA_TEST0(t_integer, "integer", v.is_int())
FT_JINJA_TEST0(t_float, "float", v.is_float())
FT_JINJA_TEST0(t_number, "number", v.is_number())
FT_JINJA_TEST0(t_string, "string", v.is_string())
FT_JINJA_TEST0(t_mapping, "mapping", v.is_dict())
FT_JINJA_TEST0(t_iterable, "iterable", v.is_undefined() || v.is_string() || v.is_list() || v.is_dict())
FT_JINJA_TEST0(t_sequence, "sequence", v.is_undefined() || v.is_string() || v.is_list() || v.is_dict())
FT_JINJA_TEST0(t_callable, "callable", v.is_function())
FT_JINJA_TEST0(t_escaped, "escaped", false)
FT_JINJA_TEST0(t_lower, "lower",
               v.is_string() && py::lower(v.str()) == v.str() && py::upper(v.str()) != v.str())
FT_JINJA_TEST0(t_upper, "upper",
               v.is_string() && py::upper(v.str()) == v.str() && py::lower(v.str()) != v.str())
#undef FT_JINJA_TEST0

bool t_odd(Interpreter& in, const Value& v, CallArgs& a, int line) {
  no_args(in, "odd", a, line);
  return need_int(in, v, "the value tested with 'odd'", line) % 2 != 0;
}
bool t_even(Interpreter& in, const Value& v, CallArgs& a, int line) {
  no_args(in, "even", a, line);
  return need_int(in, v, "the value tested with 'even'", line) % 2 == 0;
}
bool t_divisibleby(Interpreter& in, const Value& v, CallArgs& a, int line) {
  const int64_t d = need_int(in, one_arg(in, "divisibleby", a, line), "the divisor", line);
  if (d == 0) in.fail(line, "test 'divisibleby': division by zero");
  return need_int(in, v, "the value tested with 'divisibleby'", line) % d == 0;
}
bool t_eq(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return equals(v, one_arg(in, "eq", a, line));
}
bool t_ne(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return !equals(v, one_arg(in, "ne", a, line));
}
bool order(Interpreter& in, const Value& x, const Value& y, int line) {
  if (x.is_undefined()) in.fail_undefined(line, x);
  if (y.is_undefined()) in.fail_undefined(line, y);
  return key_less(in, x, y, line);
}
bool t_lt(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return order(in, v, one_arg(in, "lt", a, line), line);
}
bool t_gt(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return order(in, one_arg(in, "gt", a, line), v, line);
}
bool t_le(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return !order(in, one_arg(in, "le", a, line), v, line);
}
bool t_ge(Interpreter& in, const Value& v, CallArgs& a, int line) {
  return !order(in, v, one_arg(in, "ge", a, line), line);
}
bool t_in(Interpreter& in, const Value& v, CallArgs& a, int line) {
  const Value& seq = one_arg(in, "in", a, line);
  if (seq.is_string()) return v.is_string() && seq.str().find(v.str()) != std::string::npos;
  if (seq.is_dict()) return v.is_string() && seq.entries().find(v.str());
  for (const Value& x : iterate(in, seq, line))
    if (equals(x, v)) return true;
  return false;
}
bool t_sameas(Interpreter& in, const Value& v, CallArgs& a, int line) {
  const Value& o = one_arg(in, "sameas", a, line);
  if (v.kind() != o.kind()) return false;
  if (v.is_none() || v.is_undefined()) return true;
  if (v.is_bool()) return v.as_bool() == o.as_bool();
  if (v.is_list()) return &v.items() == &o.items();
  if (v.is_dict() || v.is_namespace()) return &v.entries() == &o.entries();
  return equals(v, o);
}
bool t_filter(Interpreter& in, const Value& v, CallArgs& a, int line) {
  no_args(in, "filter", a, line);
  return v.is_string() && has_filter(v.str());
}
bool t_test(Interpreter& in, const Value& v, CallArgs& a, int line) {
  no_args(in, "test", a, line);
  return v.is_string() && has_test(v.str());
}

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> m = {
      {"boolean", t_boolean},
      {"callable", t_callable},
      {"defined", t_defined},
      {"divisibleby", t_divisibleby},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"escaped", t_escaped},
      {"even", t_even},
      {"false", t_false},
      {"filter", t_filter},
      {"float", t_float},
      {"ge", t_ge},
      {">=", t_ge},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"in", t_in},
      {"integer", t_integer},
      {"iterable", t_iterable},
      {"le", t_le},
      {"<=", t_le},
      {"lower", t_lower},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"mapping", t_mapping},
      {"ne", t_ne},
      {"!=", t_ne},
      {"none", t_none},
      {"number", t_number},
      {"odd", t_odd},
      {"sameas", t_sameas},
      {"sequence", t_sequence},
      {"string", t_string},
      {"test", t_test},
      {"true", t_true},
      {"undefined", t_undefined},
      {"upper", t_upper},
  };
  return m;
}

// ---- globals -------------------------------------------------------------------------------------
Value g_range(Interpreter& in, CallArgs& a, int line) {
  if (!a.kwargs.empty()) in.fail(line, "range() takes no keyword arguments");
  if (a.args.empty() || a.args.size() > 3) in.fail(line, "range() takes 1 to 3 integer arguments");
  int64_t start = 0, stop, step = 1;
  if (a.args.size() == 1) {
    stop = need_int(in, a.args[0], "range() stop", line);
  } else {
    start = need_int(in, a.args[0], "range() start", line);
    stop = need_int(in, a.args[1], "range() stop", line);
    if (a.args.size() == 3) step = need_int(in, a.args[2], "range() step", line);
  }
  if (step == 0) in.fail(line, "range() step must not be zero");
  const long double count = step > 0 ? (static_cast<long double>(stop) - start) / step
                                     : (static_cast<long double>(start) - stop) / -step;
  if (count > static_cast<long double>(in.limits().max_range))
    in.fail(line, "range() would produce more than " + std::to_string(in.limits().max_range) + " numbers");
  List out;
  for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) out.push_back(Value::integer(k));
  return Value::list(std::move(out));
}

Dict kwargs_dict(Interpreter& in, CallArgs& a, int line, const char* fname) {
  Dict d;
  if (a.args.size() > 1) in.fail(line, std::string(fname) + "() takes at most one positional argument");
  if (a.args.size() == 1) {
    if (!a.args[0].is_dict() && !a.args[0].is_namespace())
      in.fail(line, std::string(fname) + "() positional argument must be a mapping");
    d = a.args[0].entries();
  }
  for (const auto& kv : a.kwargs) d.set(kv.first, kv.second);
  return d;
}

Value g_namespace(Interpreter& in, CallArgs& a, int line) {
  Value ns = Value::namespace_(kwargs_dict(in, a, line, "namespace"));
  in.track_namespace(ns);
  return ns;
}
Value g_dict(Interpreter& in, CallArgs& a, int line) {
  return Value::dict(kwargs_dict(in, a, line, "dict"));
}
Value g_raise_exception(Interpreter& in, CallArgs& a, int line) {
  const std::string msg = a.args.empty() ? std::string("raise_exception() called") : a.args[0].to_string();
  in.fail(line, msg, "the chat template rejected these messages (raise_exception)");
}
Value g_strftime_now(Interpreter& in, CallArgs& a, int line) {
  Bound b = bind(in, "strftime_now()", a, {"format"}, 1, line);
  return Value::string(strftime_text(in, need_str(in, *b[0], "the strftime format", line), line));
}

}  // namespace

bool has_filter(const std::string& name) {
  return filters().count(name) != 0;
}
bool has_test(const std::string& name) {
  return tests().count(name) != 0;
}
std::vector<std::string> filter_names() {
  std::vector<std::string> out;
  for (const auto& kv : filters()) out.push_back(kv.first);
  return out;
}
std::vector<std::string> test_names() {
  std::vector<std::string> out;
  for (const auto& kv : tests()) out.push_back(kv.first);
  return out;
}

Value apply_filter(Interpreter& interp, const std::string& name, const Value& subject, CallArgs& args,
                   int line) {
  const auto it = filters().find(name);
  if (it == filters().end()) interp.fail(line, "no filter named '" + name + "'");
  return it->second(interp, subject, args, line);
}

bool apply_test(Interpreter& interp, const std::string& name, const Value& subject, CallArgs& args,
                int line) {
  const auto it = tests().find(name);
  if (it == tests().end()) interp.fail(line, "no test named '" + name + "'");
  return it->second(interp, subject, args, line);
}

const Dict& globals() {
  static const Dict g = [] {
    Dict d;
    d.set("range", Value::function("range", g_range));
    d.set("namespace", Value::function("namespace", g_namespace));
    d.set("dict", Value::function("dict", g_dict));
    d.set("raise_exception", Value::function("raise_exception", g_raise_exception));
    d.set("strftime_now", Value::function("strftime_now", g_strftime_now));
    return d;
  }();
  return g;
}

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::String:
      return str_method(obj, name);
    case Value::Kind::Dict: {
      Value m = dict_method(obj, name);
      if (!m.is_undefined() || !m.str().empty()) return m;
      if (const Value* v = obj.entries().find(name)) return *v;
      return undefined_attr(obj, name);
    }
    case Value::Kind::Namespace: {
      if (const Value* v = obj.entries().find(name)) return *v;
      return undefined_attr(obj, name);
    }
    case Value::Kind::List:
      if (name == "append" || name == "extend" || name == "pop" || name == "insert" || name == "remove" ||
          name == "sort" || name == "reverse" || name == "clear")
        return unsafe_attr(obj, name);
      return undefined_attr(obj, name);
    default:
      return undefined_attr(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key, Interpreter& interp, int line) {
  if (obj.is_undefined()) interp.fail_undefined(line, obj);
  if (obj.is_dict() || obj.is_namespace()) {
    if (key.is_string()) {
      if (const Value* v = obj.entries().find(key.str())) return *v;
      return obj.is_dict() ? get_attr(obj, key.str()) : undefined_attr(obj, key.str());
    }
    return Value::undefined("'" + object_repr(obj) + "' has no element " + key.repr());
  }
  if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    int64_t k = key.as_int();
    if (obj.is_list()) {
      const int64_t n = static_cast<int64_t>(obj.items().size());
      if (k < 0) k += n;
      if (k < 0 || k >= n) return Value::undefined("'" + object_repr(obj) + "' has no element " + key.repr());
      return obj.items()[static_cast<size_t>(k)];
    }
    const std::vector<size_t> starts = py::code_point_starts(obj.str());
    const int64_t n = static_cast<int64_t>(starts.size()) - 1;
    if (k < 0) k += n;
    if (k < 0 || k >= n) return Value::undefined("'" + object_repr(obj) + "' has no element " + key.repr());
    return Value::string(obj.str().substr(starts[k], starts[k + 1] - starts[k]));
  }
  if (key.is_string()) return get_attr(obj, key.str());
  if (key.is_undefined()) interp.fail_undefined(line, key);
  return Value::undefined("'" + object_repr(obj) + "' has no element " + key.repr());
}

}  // namespace ft::text::jinja
