// Checked access to tokenizer JSON files: every failure names the file, the JSON path of the field
// ("normalizer.normalizers[1].type"), what was expected and what was found.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/error.h"

namespace ft::text {

using nlohmann::json;

// Where a JSON value sits: "<file>: <path>".
struct JsonAt {
  std::string file;
  std::string path;

  JsonAt field(const std::string& key) const { return {file, path.empty() ? key : path + "." + key}; }
  JsonAt index(size_t i) const { return {file, path + "[" + std::to_string(i) + "]"}; }
  std::string where() const { return file + ": " + (path.empty() ? "(top level)" : path); }
  [[noreturn]] void fail(const std::string& what, const std::string& hint = {}) const {
    throw Error(where() + ": " + what, hint);
  }
};

inline const char* json_kind(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::number_float:
      return "a float";
    default:
      return "an integer";
  }
}

// The object member `key`, which must exist (null counts as missing when !allow_null).
inline const json& json_require(const json& obj, const char* key, const JsonAt& at, bool allow_null = false) {
  if (!obj.is_object()) at.fail(std::string("expected an object, found ") + json_kind(obj));
  auto it = obj.find(key);
  if (it == obj.end() || (!allow_null && it->is_null()))
    at.field(key).fail("missing required field", "compare with a tokenizer.json written by HF tokenizers");
  return *it;
}

inline std::string json_string(const json& v, const JsonAt& at) {
  if (!v.is_string()) at.fail(std::string("expected a string, found ") + json_kind(v));
  return v.get<std::string>();
}

inline std::string json_opt_string(const json& obj, const char* key, const JsonAt& at,
                                   const std::string& dflt) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return dflt;
  return json_string(*it, at.field(key));
}

inline bool json_opt_bool(const json& obj, const char* key, const JsonAt& at, bool dflt) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) at.field(key).fail(std::string("expected true or false, found ") + json_kind(*it));
  return it->get<bool>();
}

inline int64_t json_int(const json& v, const JsonAt& at) {
  if (!v.is_number_integer()) at.fail(std::string("expected an integer, found ") + json_kind(v));
  return v.get<int64_t>();
}

inline const json& json_array(const json& v, const JsonAt& at) {
  if (!v.is_array()) at.fail(std::string("expected an array, found ") + json_kind(v));
  return v;
}

// The "type" of a component object ("NFC", "Split", ...).
inline std::string json_type(const json& v, const JsonAt& at) {
  return json_string(json_require(v, "type", at), at.field("type"));
}

}  // namespace ft::text
