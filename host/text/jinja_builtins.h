// Jinja's builtin filters, tests and globals, and the methods of str/dict/list that templates call
// (message.content.strip(), tool.items(), ...), with the behaviour Jinja gives them under Python.
// transformers adds raise_exception, strftime_now and a `tojson` that is json.dumps(ensure_ascii=False).
#pragma once

#include <string>
#include <vector>

#include "text/jinja_value.h"

namespace ft::text::jinja {

bool has_filter(const std::string& name);
bool has_test(const std::string& name);
std::vector<std::string> filter_names();
std::vector<std::string> test_names();

// Applies filter `name` to `subject`; throws ft::Error (via interp.fail) on bad arguments.
Value apply_filter(Interpreter& interp, const std::string& name, const Value& subject, CallArgs& args,
                   int line);
bool apply_test(Interpreter& interp, const std::string& name, const Value& subject, CallArgs& args, int line);

// Globals every template sees: range, namespace, dict, raise_exception, strftime_now.
const Dict& globals();

// obj.name as Jinja resolves it: Python attributes (bound methods of str/dict/list, namespace
// attributes) first, then items. Unknown names give an Undefined that says what was missing.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: items first, then attributes (Jinja's getitem order).
Value get_item(const Value& obj, const Value& key, Interpreter& interp, int line);

}  // namespace ft::text::jinja
