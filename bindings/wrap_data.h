// Shared by wrap_data.cpp and wrap_train.cpp: Lua rows -> data rows, format options, tokenization.
#pragma once

#include <lua.hpp>

#include <vector>

#include "data/format.h"
#include "data/rows.h"
#include "lua_util.h"
#include "model/model.h"

// Tokenized examples accumulated chunk by chunk (streamed datasets), handed to the trainer whole.
FT_LUA_DECLARE_TYPE(ft::data::FormatResult, "Examples")

namespace ft::lua {

// Rows: the list at idx; origins ("file:line" per row): the list at idx + 1, or nil.
std::vector<data::Row> check_rows(lua_State* L, int idx);
// Fields max_len, train_on_inputs, add_eos, truncation, skip_bad_rows of the table at idx.
data::FormatOptions check_format(lua_State* L, int idx);
// Tokenizes with the model's tokenizer and chat template.
data::FormatResult format_for(const model::Model& m, const std::vector<data::Row>& rows,
                              const data::FormatOptions& f);

}  // namespace ft::lua
