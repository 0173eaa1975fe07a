// The Lua standard library (stdlib/**/*.lua) compiled into the binary by scripts/cmake/embed_stdlib.cmake.
#pragma once

#include <cstddef>

namespace ft::runtime {

struct EmbeddedModule {
  const char* module;  // "ft.data"
  const char* path;    // "ft/data.lua"
  const char* source;
  size_t size;
};
// Terminated by an entry whose module is nullptr.
extern const EmbeddedModule kEmbeddedModules[];

}  // namespace ft::runtime
