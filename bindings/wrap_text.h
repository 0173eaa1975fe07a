// Tokenizers as Lua userdata (type "Tokenizer"), for every binding that hands one to Lua (models
// carry theirs). The Lua-facing object is built by stdlib/ft/tokenizer.lua: wrap(native).
#pragma once

#include <memory>

#include "lua_util.h"
#include "text/tokenizer.h"

FT_LUA_DECLARE_TYPE(ft::text::Tokenizer, "Tokenizer")

namespace ft::lua {
// Pushes the native Tokenizer userdata (nil for a null pointer). Lua code turns it into the user
// object with require("ft.tokenizer").wrap(native).
void push_tokenizer(lua_State* L, std::shared_ptr<text::Tokenizer> tok);
}  // namespace ft::lua
