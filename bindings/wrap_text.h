// Tokenizers as Lua userdata (type "Tokenizer"), for every binding that hands one to Lua (models
// carry theirs). The Lua-facing object is built by stdlib/ft/tokenizer.lua: wrap(native).
#pragma once

#include <memory>
#include <vector>

#include "lua_util.h"
#include "text/tokenizer.h"

FT_LUA_DECLARE_TYPE(ft::text::Tokenizer, "Tokenizer")

namespace ft::lua {
// Pushes the native Tokenizer userdata (nil for a null pointer). Lua code turns it into the user
// object with require("ft.tokenizer").wrap(native).
void push_tokenizer(lua_State* L, std::shared_ptr<text::Tokenizer> tok);
// Token ids cross as a Lua list of integers.
void push_ids(lua_State* L, const std::vector<text::TokenId>& ids);
// The list at stack index idx; errors name argument `arg` (0: idx).
std::vector<text::TokenId> check_ids(lua_State* L, int idx, int arg = 0);
}  // namespace ft::lua
