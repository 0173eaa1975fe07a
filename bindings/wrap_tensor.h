// Tensors as Lua userdata (type "Tensor"), shared by every binding that takes or returns tensors.
#pragma once

#include <torch/torch.h>

#include "lua_util.h"

FT_LUA_DECLARE_TYPE(at::Tensor, "Tensor")

namespace ft::lua {
// Pushes a tensor (undefined tensors push nil); reports its bytes to the GC.
void push_tensor(lua_State* L, at::Tensor t);
// The tensor at idx; throws ArgError on a wrong type or a released tensor.
const at::Tensor& check_tensor(lua_State* L, int idx);
// Accepts a Tensor, a number, or a nested table of numbers (converted with the given default dtype).
at::Tensor to_tensor(lua_State* L, int idx, c10::ScalarType default_dtype = at::kFloat);
// dtype names: "f32"/"float32"/"float", "f16"/"float16"/"half", "bf16"/"bfloat16", "f64"/"float64"/"double",
// "i64"/"int64"/"long", "i32"/"int32"/"int", "i16", "i8", "u8"/"uint8", "bool". Throws ft::Error naming the
// valid names.
c10::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(c10::ScalarType t);  // short form: "f32", "bf16", "i64"...
// "cpu", "cuda", "cuda:N"; throws ft::Error when CUDA is requested but unavailable.
c10::Device parse_device(const std::string& name);
}  // namespace ft::lua
