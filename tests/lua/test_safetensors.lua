-- ft.safetensors: save/load round trips (single file and sharded folder), header inspection, option
-- and argument errors, and load errors that name the file and tensor.
local T = require "testlib"
local ft = require "ft"
local st = ft.safetensors
local tensor = ft.tensor

local tmp = T.tmpdir("safetensors")

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

T.test("single file round trip with metadata", function()
  local a = tensor({ { 1, 2 }, { 3, 4 } })
  local b = tensor({ 1, 2, 3 }, { dtype = "i64" })
  st.save(tmp .. "/one.safetensors", { a = a, b = b }, { metadata = { note = "hi" } })
  local back = st.load(tmp .. "/one.safetensors")
  T.eq(back.a:tolist(), { { 1, 2 }, { 3, 4 } })
  T.eq(back.b.dtype, "i64")
  T.eq(back.b:tolist(), { 1, 2, 3 })
  local h = st.header(tmp .. "/one.safetensors")
  T.eq(h.metadata, { note = "hi" })
  T.eq(h.data_offset % 8, 0)
  -- widest dtype first: the i64 tensor precedes the f32 one
  T.eq(h.tensors[1], { name = "b", dtype = "I64", shape = { 3 }, offsets = { 0, 24 } })
  T.eq(h.tensors[2], { name = "a", dtype = "F32", shape = { 2, 2 }, offsets = { 24, 40 } })
end)

T.test("sharded folder round trip", function()
  local ts = {}
  for i = 1, 4 do ts["layer" .. i] = tensor.ones(16, 8) * i end  -- 512 bytes each
  st.save(tmp .. "/ckpt", ts, { shard_size = 1100, metadata = { k = "v" } })
  T.ok(exists(tmp .. "/ckpt/model.safetensors.index.json"))
  T.ok(exists(tmp .. "/ckpt/model-00002-of-00002.safetensors"))
  T.eq(st.header(tmp .. "/ckpt/model-00001-of-00002.safetensors").metadata, { format = "pt" })
  local back = st.load(tmp .. "/ckpt")
  for i = 1, 4 do T.eq(back["layer" .. i]:sum():item(), 128 * i) end
end)

T.test("option and argument errors", function()
  T.raises(function() st.save(tmp .. "/x", {}, { shard_sise = 1 }) end, "did you mean 'shard_size'")
  T.raises(function() st.save(tmp .. "/x.safetensors", {}, { shard_size = 10 }) end, "apply to folder saves")
  T.raises(function() st.save(tmp .. "/x.safetensors", { a = 1 }) end, "Tensor")
  T.raises(function() st.load(42) end, "path must be a string")
end)

T.test("load errors name the file and the tensor", function()
  local f = assert(io.open(tmp .. "/bad.safetensors", "wb"))
  local header = '{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}'
  local n = #header
  f:write(string.char(n % 256, math.floor(n / 256), 0, 0, 0, 0, 0, 0), header, "\0\0\0\0")
  f:close()
  T.raises(function() st.load(tmp .. "/bad.safetensors") end, "tensor 'w': unknown dtype 'F33'")
  T.raises(function() st.header(tmp .. "/missing.safetensors") end, "cannot open")
end)

T.done()
