// _ft.data: thin wrappers over host/data: read JSONL / JSON-array files into Lua rows (with their
// "file:line" origins) and tokenize rows into SFT examples with label masks.
#include "wrap_data.h"

#include "data/format.h"
#include "data/rows.h"
#include "lua_json.h"
#include "lua_util.h"
#include "model/model.h"

FT_LUA_DECLARE_TYPE(ft::model::Model, "Model")

namespace ft::lua {
namespace {

// Pushes rows, origins, skipped.
int push_read(lua_State* L, const data::ReadResult& r) {
  lua_createtable(L, static_cast<int>(r.rows.size()), 0);
  lua_createtable(L, static_cast<int>(r.rows.size()), 0);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    push_json_value(L, r.rows[i].value);
    lua_rawseti(L, -3, static_cast<int>(i + 1));
    lua_pushlstring(L, r.rows[i].origin.data(), r.rows[i].origin.size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_pushinteger(L, static_cast<lua_Integer>(r.skipped));
  return 3;
}

data::ReadOptions read_opts(lua_State* L, int idx) {
  data::ReadOptions o;
  if (lua_istable(L, idx)) {
    o.skip_invalid = field_boolean(L, idx, "skip_invalid", false);
    o.limit = field_integer(L, idx, "limit", -1);
  }
  return o;
}

// read_jsonl(path, {skip_invalid, limit}) -> rows, origins, skipped
int w_read_jsonl(lua_State* L) { return push_read(L, data::read_jsonl(check_string(L, 1), read_opts(L, 2))); }
int w_read_json(lua_State* L) { return push_read(L, data::read_json_array(check_string(L, 1), read_opts(L, 2))); }

}  // namespace

// Rows (table at idx) and origins (table at idx+1, may be nil) as data rows.
std::vector<data::Row> check_rows(lua_State* L, int idx) {
  check_table(L, idx);
  const bool has_origins = lua_istable(L, idx + 1);
  std::vector<data::Row> rows;
  size_t n = lua_objlen(L, idx);
  rows.reserve(n);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, idx, static_cast<int>(i));
    data::Row r;
    std::string origin = "row " + std::to_string(i);
    if (has_origins) {
      lua_rawgeti(L, idx + 1, static_cast<int>(i));
      if (lua_isstring(L, -1)) origin = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    if (!lua_istable(L, -1)) {
      std::string t = lua_typename(L, lua_type(L, -1));
      lua_pop(L, 1);
      throw ft::Error(origin + ": expected a row table, found " + t);
    }
    r.value = to_json_value(L, lua_gettop(L), idx);
    r.origin = origin;
    lua_pop(L, 1);
    rows.push_back(std::move(r));
  }
  return rows;
}

data::FormatOptions check_format(lua_State* L, int idx) {
  data::FormatOptions f;
  if (!lua_istable(L, idx)) return f;
  f.max_len = field_integer(L, idx, "max_len", f.max_len);
  f.train_on_inputs = field_boolean(L, idx, "train_on_inputs", f.train_on_inputs);
  f.add_eos = field_boolean(L, idx, "add_eos", f.add_eos);
  f.truncate = field_boolean(L, idx, "truncation", f.truncate);
  f.skip_bad = field_boolean(L, idx, "skip_bad_rows", f.skip_bad);
  return f;
}

data::FormatResult format_for(const model::Model& m, const std::vector<data::Row>& rows,
                              const data::FormatOptions& f) {
  if (!m.tokenizer) throw ft::Error("this model has no tokenizer, so rows cannot be tokenized");
  std::unique_ptr<text::ChatTemplate> tmpl;
  if (!m.tokenizer->chat_template.empty()) tmpl = std::make_unique<text::ChatTemplate>(m.tokenizer->chat_template);
  return data::format_rows(rows, *m.tokenizer, tmpl.get(), f);
}

namespace {

// tokenize(model, rows, origins|nil, opts) -> list of {ids = {...}, labels = {...}}, skipped, truncated
int w_tokenize(lua_State* L) {
  auto& m = check_ref<model::Model>(L, 1);
  auto rows = check_rows(L, 2);
  auto r = format_for(m, rows, check_format(L, 4));
  lua_createtable(L, static_cast<int>(r.examples.size()), 0);
  for (size_t i = 0; i < r.examples.size(); ++i) {
    lua_createtable(L, 0, 2);
    for (int which = 0; which < 2; ++which) {
      const auto& v = which == 0 ? r.examples[i].ids : r.examples[i].labels;
      lua_createtable(L, static_cast<int>(v.size()), 0);
      for (size_t t = 0; t < v.size(); ++t) {
        lua_pushinteger(L, v[t]);
        lua_rawseti(L, -2, static_cast<int>(t + 1));
      }
      lua_setfield(L, -2, which == 0 ? "ids" : "labels");
    }
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_pushinteger(L, static_cast<lua_Integer>(r.skipped));
  lua_pushinteger(L, static_cast<lua_Integer>(r.truncated));
  return 3;
}

const Reg kFuncs[] = {
    {"read_jsonl", w_read_jsonl}, {"read_json", w_read_json}, {"tokenize", w_tokenize}, {nullptr, nullptr}};

int open_data(lua_State* L) {
  new_lib(L, "_ft.data", kFuncs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.data", ft::lua::open_data);
