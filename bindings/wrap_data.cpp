// _ft.data: thin wrappers over host/data: read JSONL / JSON-array / CSV files into Lua rows (with their
// "file:line" origins) whole or in chunks through a RowReader, and tokenize rows into SFT examples with
// label masks (into a list, or appended to an Examples store for streamed data).
#include "wrap_data.h"

#include "data/format.h"
#include "data/rows.h"
#include "lua_json.h"
#include "lua_util.h"
#include "model/model.h"

FT_LUA_DECLARE_TYPE(ft::model::Model, "Model")
FT_LUA_DECLARE_TYPE(ft::data::RowReader, "RowReader")

namespace ft::lua {
namespace {

// Pushes two lists: rows and their origins.
void push_rows(lua_State* L, const std::vector<data::Row>& rows) {
  lua_createtable(L, static_cast<int>(rows.size()), 0);
  lua_createtable(L, static_cast<int>(rows.size()), 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    push_json_value(L, rows[i].value);
    lua_rawseti(L, -3, static_cast<int>(i + 1));
    lua_pushlstring(L, rows[i].origin.data(), rows[i].origin.size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

data::ReadOptions read_opts(lua_State* L, int idx) {
  data::ReadOptions o;
  if (lua_istable(L, idx)) {
    o.skip_invalid = field_boolean(L, idx, "skip_invalid", false);
    o.limit = field_integer(L, idx, "limit", -1);
    o.format = field_string(L, idx, "format", "");
    std::string d = field_string(L, idx, "delimiter", "");
    if (d.size() > 1) throw ArgError(idx, "field 'delimiter': one character expected, got '" + d + "'");
    o.delimiter = d.empty() ? 0 : d[0];
  }
  return o;
}

// read(path, {format, skip_invalid, limit, delimiter}) -> rows, origins, skipped
int w_read(lua_State* L) {
  auto r = data::read_rows(check_string(L, 1), read_opts(L, 2));
  push_rows(L, r.rows);
  lua_pushinteger(L, static_cast<lua_Integer>(r.skipped));
  return 3;
}

// open(path, {format, skip_invalid, limit, delimiter}) -> RowReader
int w_open(lua_State* L) {
  std::shared_ptr<data::RowReader> r = data::open_rows(check_string(L, 1), read_opts(L, 2));
  push_object(L, std::move(r));
  return 1;
}

// reader:read(n) -> rows, origins (up to n rows), or nil at the end
int r_read(lua_State* L) {
  auto& r = check_ref<data::RowReader>(L, 1);
  const int64_t n = check_integer(L, 2);
  if (n < 1) throw ArgError(2, "a row count >= 1 expected");
  std::vector<data::Row> rows;
  data::Row row;
  while (static_cast<int64_t>(rows.size()) < n && r.next(row)) rows.push_back(std::move(row));
  if (rows.empty()) {
    lua_pushnil(L);
    return 1;
  }
  push_rows(L, rows);
  return 2;
}
int r_skipped(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(check_ref<data::RowReader>(L, 1).skipped()));
  return 1;
}
int r_bytes_read(lua_State* L) {
  lua_pushnumber(L, static_cast<lua_Number>(check_ref<data::RowReader>(L, 1).bytes_read()));
  return 1;
}

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
  if (!m.tokenizer->chat_template.empty())
    tmpl = std::make_unique<text::ChatTemplate>(m.tokenizer->chat_template);
  return data::format_rows(rows, *m.tokenizer, tmpl.get(), f);
}

namespace {

// examples() -> an empty Examples store
int w_examples(lua_State* L) {
  push_object(L, std::make_shared<data::FormatResult>());
  return 1;
}

// store:add(model, rows, origins|nil, opts) -> examples in the store (tokenizes and appends)
int e_add(lua_State* L) {
  auto& store = check_ref<data::FormatResult>(L, 1);
  auto& m = check_ref<model::Model>(L, 2);
  auto rows = check_rows(L, 3);
  store.append(format_for(m, rows, check_format(L, 5)));
  lua_pushinteger(L, static_cast<lua_Integer>(store.examples.size()));
  return 1;
}

// store:info() -> {examples, tokens, skipped, truncated, first_skip}
int e_info(lua_State* L) {
  auto& store = check_ref<data::FormatResult>(L, 1);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, static_cast<lua_Integer>(store.examples.size()));
  lua_setfield(L, -2, "examples");
  lua_pushnumber(L, static_cast<lua_Number>(store.tokens()));
  lua_setfield(L, -2, "tokens");
  lua_pushinteger(L, static_cast<lua_Integer>(store.skipped));
  lua_setfield(L, -2, "skipped");
  lua_pushinteger(L, static_cast<lua_Integer>(store.truncated));
  lua_setfield(L, -2, "truncated");
  if (!store.first_skip.empty()) {
    lua_pushlstring(L, store.first_skip.data(), store.first_skip.size());
    lua_setfield(L, -2, "first_skip");
  }
  return 1;
}

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

const Reg kReaderMethods[] = {
    {"read", r_read}, {"skipped", r_skipped}, {"bytes_read", r_bytes_read}, {nullptr, nullptr}};
const Reg kExamplesMethods[] = {{"add", e_add}, {"info", e_info}, {nullptr, nullptr}};
const Reg kFuncs[] = {{"read", w_read},
                      {"open", w_open},
                      {"examples", w_examples},
                      {"tokenize", w_tokenize},
                      {nullptr, nullptr}};

int open_data(lua_State* L) {
  define_type<data::RowReader>(L, kReaderMethods);
  lua_pop(L, 1);
  define_type<data::FormatResult>(L, kExamplesMethods);
  lua_pop(L, 1);
  new_lib(L, "_ft.data", kFuncs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.data", ft::lua::open_data);
