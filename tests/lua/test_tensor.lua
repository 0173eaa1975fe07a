-- ft.tensor against known values: construction, dtypes, arithmetic, matmul, reductions, softmax, 1-based
-- indexing/slicing/assignment, error messages, PyTorch-identical printing, seeding, release and GC pressure.
-- Expected strings in the printing tests are what PyTorch 1.13 prints for the same tensors.
local T = require "testlib"
local ft = require "ft"
local tensor = ft.tensor

local function shape(t) return t.shape end

-- construction ------------------------------------------------------------------------------------
T.test("construct from nested table", function()
  local t = tensor({ { 1, 2 }, { 3, 4 } })
  T.eq(t.shape, { 2, 2 })
  T.eq(t.dtype, "f32")
  T.eq(t.device, "cpu")
  T.eq(t:numel(), 4)
  T.eq(t:dim(), 2)
  T.eq(t:size(), { 2, 2 })
  T.eq(t:size(2), 2)
  T.eq(t:tolist(), { { 1, 2 }, { 3, 4 } })
  T.eq(tensor.from_table({ 1.5, -2 }):tolist(), { 1.5, -2 })
  T.eq(tensor(3.5):dim(), 0)
  T.eq(tensor(3.5):item(), 3.5)
  T.eq(tensor({}).shape, { 0 })
  T.eq(tensor({ {}, {} }).shape, { 2, 0 })
  T.eq(tensor({ { { 1 }, { 2 } } }).shape, { 1, 2, 1 })
end)

T.test("shape is a fresh table", function()
  local t = tensor.zeros(2, 3)
  local s = t.shape
  s[1] = 99
  T.eq(t.shape, { 2, 3 })
end)

T.test("dtype and device options", function()
  local t = tensor({ { 1, 2 }, { 3, 4 } }, { dtype = "f32", device = "cpu" })
  T.eq(t.dtype, "f32")
  T.eq(tensor({ 1, 2, 3 }, { dtype = "i64" }):tolist(), { 1, 2, 3 })
  T.eq(tensor({ 1, 2, 3 }, { dtype = "int64" }).dtype, "i64")
  T.eq(tensor({ 1.5 }, { dtype = "bfloat16" }).dtype, "bf16")
  T.eq(tensor({ 1.5 }, { dtype = "double" }).dtype, "f64")
  T.eq(tensor({ true, false }).dtype, "bool")
  T.eq(tensor({ true, false }):tolist(), { true, false })
  T.eq(tensor({ 0, 2 }, { dtype = "bool" }):tolist(), { false, true })
  T.eq(tensor({ 2.7, -2.7 }, { dtype = "i32" }):tolist(), { 2, -2 }, "truncates toward zero like PyTorch")
  local src = tensor({ 1, 2 })
  local copy = tensor(src, { dtype = "f64" })
  T.eq(copy.dtype, "f64")
  src[1] = 5
  T.eq(copy:tolist(), { 1, 2 }, "ft.tensor(t) copies")
end)

T.test("zeros ones full eye", function()
  T.eq(tensor.zeros(2, 3):tolist(), { { 0, 0, 0 }, { 0, 0, 0 } })
  T.eq(tensor.zeros({ 2, 3 }, { dtype = "bf16" }).dtype, "bf16")
  T.eq(tensor.zeros({ 2, 3 }, { dtype = "bf16" }).shape, { 2, 3 })
  T.eq(tensor.zeros({}).shape, {})
  T.eq(tensor.ones(3):tolist(), { 1, 1, 1 })
  T.eq(tensor.ones(2, 2, { dtype = "i64" }).dtype, "i64")
  T.eq(tensor.full({ 2, 2 }, 7):tolist(), { { 7, 7 }, { 7, 7 } })
  T.eq(tensor.full({ 2, 2 }, 7).dtype, "f32")
  T.eq(tensor.full(3, true).dtype, "bool")
  T.eq(tensor.full({ 1 }, 2.5, { dtype = "f64" }):tolist(), { 2.5 })
  T.eq(tensor.eye(2):tolist(), { { 1, 0 }, { 0, 1 } })
  T.eq(tensor.eye(2, 3).shape, { 2, 3 })
  T.eq(tensor.eye(2, { dtype = "i64" }).dtype, "i64")
  local z = tensor.zeros_like(tensor({ { 1, 2 } }, { dtype = "f64" }))
  T.eq(z.shape, { 1, 2 })
  T.eq(z.dtype, "f64")
  T.eq(tensor.ones_like(z, { dtype = "i32" }):tolist(), { { 1, 1 } })
end)

T.test("arange is half-open like PyTorch", function()
  T.eq(tensor.arange(5):tolist(), { 0, 1, 2, 3, 4 })
  T.eq(tensor.arange(5).dtype, "i64")
  T.eq(tensor.arange(1, 4):tolist(), { 1, 2, 3 })
  T.eq(tensor.arange(10, 0, -3):tolist(), { 10, 7, 4, 1 })
  local f = tensor.arange(0, 1, 0.25)
  T.eq(f.dtype, "f32")
  T.eq(f:tolist(), { 0, 0.25, 0.5, 0.75 })
  T.eq(tensor.arange(0, 3, { dtype = "f64" }).dtype, "f64")
end)

-- arithmetic ---------------------------------------------------------------------------------------
T.test("arithmetic with tensors and numbers", function()
  local a = tensor({ 1, 2, 3 })
  local b = tensor({ 4, 5, 6 })
  T.eq((a + b):tolist(), { 5, 7, 9 })
  T.eq((b - a):tolist(), { 3, 3, 3 })
  T.eq((a * b):tolist(), { 4, 10, 18 })
  T.eq((b / a):tolist(), { 4, 2.5, 2 })
  T.eq((a + 1):tolist(), { 2, 3, 4 })
  T.eq((2 * a):tolist(), { 2, 4, 6 })
  T.eq((10 - a):tolist(), { 9, 8, 7 })
  T.eq((6 / a):tolist(), { 6, 3, 2 })
  T.eq((a ^ 2):tolist(), { 1, 4, 9 })
  T.eq((2 ^ a):tolist(), { 2, 4, 8 })
  T.eq((-a):tolist(), { -1, -2, -3 })
  T.eq((tensor({ -7, 7 }) % 3):tolist(), { 2, 1 }, "% takes the sign of the divisor, as in Lua")
  T.eq(a:add(1):mul(2):sub(1):div(2):tolist(), { 1.5, 2.5, 3.5 })
  local m = tensor({ { 1 }, { 2 } }) + tensor({ 10, 20 })
  T.eq(m:tolist(), { { 11, 21 }, { 12, 22 } }, "broadcasting")
end)

T.test("number promotion follows PyTorch", function()
  local i = tensor({ 1, 2, 3 }, { dtype = "i64" })
  T.eq((i * 2).dtype, "i64")
  T.eq((i * 2.5).dtype, "f32")
  T.eq((i / 2).dtype, "f32", "true division")
  T.eq((i / 2):tolist(), { 0.5, 1, 1.5 })
  T.eq((tensor({ 1 }, { dtype = "bf16" }) * 3).dtype, "bf16")
  T.eq((tensor({ 1 }, { dtype = "i32" }) + tensor({ 1 }, { dtype = "i64" })).dtype, "i64")
end)

T.test("elementwise functions", function()
  T.near(tensor({ 0, 1 }):exp():tolist(), { 1, 2.7182817 }, 1e-6)
  T.near(tensor({ 1, math.exp(2) }):log():tolist(), { 0, 2 }, 1e-6)
  T.eq(tensor({ 4, 9 }):sqrt():tolist(), { 2, 3 })
  T.eq(tensor({ -1, 2 }):abs():tolist(), { 1, 2 })
  T.near(tensor({ 0, 1 }):tanh():tolist(), { 0, 0.7615942 }, 1e-6)
  T.near(tensor({ 0, 2 }):sigmoid():tolist(), { 0.5, 0.8807971 }, 1e-6)
  T.eq(tensor({ -1, 2 }):relu():tolist(), { 0, 2 })
  T.eq(tensor({ -5, 0.5, 5 }):clamp(-1, 1):tolist(), { -1, 0.5, 1 })
  T.eq(tensor({ -5, 5 }):clamp(nil, 1):tolist(), { -5, 1 })
  T.eq(tensor({ 2, 3 }):pow(3):tolist(), { 8, 27 })
  T.eq(tensor({ 2, -3 }):neg():tolist(), { -2, 3 })
  T.near(tensor({ 1 }):silu():tolist(), { 0.7310586 }, 1e-6)
  T.near(tensor({ 1 }):gelu():tolist(), { 0.8413447 }, 1e-6)
  T.eq(tensor({ 1, 2, 3 }):masked_fill(tensor({ true, false, true }), 0):tolist(), { 0, 2, 0 })
end)

T.test("matmul against hand-computed products", function()
  local a = tensor({ { 1, 2 }, { 3, 4 } })
  local b = tensor({ { 5, 6 }, { 7, 8 } })
  T.eq(a:matmul(b):tolist(), { { 19, 22 }, { 43, 50 } })
  T.eq(a:mm(b):tolist(), { { 19, 22 }, { 43, 50 } })
  T.eq(tensor.matmul(b, a):tolist(), { { 23, 34 }, { 31, 46 } })
  T.eq(a:matmul(tensor({ 1, 1 })):tolist(), { 3, 7 }, "matrix x vector")
  local x = tensor({ { 1, 2, 3 } })
  T.eq(x:matmul(x:t()):tolist(), { { 14 } })
  local batch = tensor.stack({ a, b })
  T.eq(batch:matmul(tensor.eye(2)):tolist(), { { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7, 8 } } }, "batched")
  T.raises(function() a:matmul(tensor({ 1, 2, 3 })) end, "size mismatch")
end)

-- reductions -----------------------------------------------------------------------------------------
T.test("reductions", function()
  local t = tensor({ { 1, 2 }, { 3, 4 } })
  T.eq(t:sum():item(), 10)
  T.eq(t:sum(1):tolist(), { 4, 6 })
  T.eq(t:sum(2):tolist(), { 3, 7 })
  T.eq(t:sum(-1, true).shape, { 2, 1 })
  T.eq(t:sum({ 1, 2 }):item(), 10)
  T.eq(t:mean():item(), 2.5)
  T.eq(t:mean(2):tolist(), { 1.5, 3.5 })
  T.eq(t:prod():item(), 24)
  T.eq(t:prod(1):tolist(), { 3, 8 })
  T.near(t:std():item(), 1.2909944, 1e-6)
  T.near(t:var():item(), 1.6666666, 1e-6)
  T.near(t:std(2):tolist(), { 0.7071068, 0.7071068 }, 1e-6)
  T.near(t:norm():item(), math.sqrt(30), 1e-5)
  T.eq(t:norm(1):item(), 10)
  T.near(t:logsumexp():item(), 4.4401897, 1e-6)
  T.eq(t:max():item(), 4)
  T.eq(t:min():item(), 1)
  local v, i = tensor({ { 1, 5 }, { 7, 0 } }):max(2)
  T.eq(v:tolist(), { 5, 7 })
  T.eq(i:tolist(), { 2, 1 }, "max(dim) indices are 1-based")
  v, i = tensor({ { 1, 5 }, { 7, 0 } }):min(1)
  T.eq(v:tolist(), { 1, 0 })
  T.eq(i:tolist(), { 1, 2 })
  T.eq(t:max(tensor({ { 2, 2 }, { 2, 2 } })):tolist(), { { 2, 2 }, { 3, 4 } }, "max(other) is elementwise")
  T.eq(tensor({ true, false }):all():item(), false)
  T.eq(tensor({ true, false }):any():item(), true)
  T.eq(tensor({ { true, false }, { true, true } }):all(2):tolist(), { false, true })
  T.eq(tensor({ 1, 2, 3 }):cumsum(1):tolist(), { 1, 3, 6 })
  T.eq(tensor({ 1, 2 }, { dtype = "i64" }):sum().dtype, "i64")
end)

T.test("argmax and argmin are 1-based", function()
  T.eq(tensor({ 3, 9, 2 }):argmax():item(), 2)
  T.eq(tensor({ 3, 9, 2 }):argmin():item(), 3)
  local m = tensor({ { 1, 5 }, { 7, 0 } })
  T.eq(m:argmax(2):tolist(), { 2, 1 })
  T.eq(m:argmax(1):tolist(), { 2, 1 })
  T.eq(m:argmax():item(), 3, "flat position in row-major order")
  T.eq(m:argmin(-1, true).shape, { 2, 1 })
  local vals, idx = tensor({ 5, 1, 9, 3 }):topk(2)
  T.eq(vals:tolist(), { 9, 5 })
  T.eq(idx:tolist(), { 3, 1 })
  vals, idx = tensor({ 5, 1, 9 }):sort()
  T.eq(vals:tolist(), { 1, 5, 9 })
  T.eq(idx:tolist(), { 2, 1, 3 })
end)

T.test("softmax values", function()
  local s = tensor({ 1, 2, 3 }):softmax(1)
  T.near(s:tolist(), { 0.09003057, 0.24472847, 0.66524096 }, 1e-7)
  T.near(tensor({ 1, 2, 3 }):log_softmax(-1):tolist(), { -2.4076059, -1.4076059, -0.4076059 }, 1e-6)
  local m = tensor({ { 1, 1 }, { 0, math.log(3) } }):softmax(2)
  T.near(m:tolist(), { { 0.5, 0.5 }, { 0.25, 0.75 } }, 1e-7)
  local c = tensor({ { 0, 0 }, { 0, math.log(3) } }):softmax(1)
  T.near(c:tolist(), { { 0.5, 0.25 }, { 0.5, 0.75 } }, 1e-7)
end)

T.test("comparisons return bool tensors", function()
  local a = tensor({ 1, 2, 3 })
  T.eq(a:eq(2):tolist(), { false, true, false })
  T.eq(a:ne(2):tolist(), { true, false, true })
  T.eq(a:lt(2):tolist(), { true, false, false })
  T.eq(a:le(2):tolist(), { true, true, false })
  T.eq(a:gt(tensor({ 0, 2, 4 })):tolist(), { true, false, false })
  T.eq(a:ge(tensor({ 0, 2, 4 })):tolist(), { true, true, false })
  T.eq(a:gt(1).dtype, "bool")
  T.ok(a == tensor({ 1, 2, 3 }), "== compares shape and values")
  T.ok(a ~= tensor({ 1, 2, 4 }))
  T.ok(a ~= tensor({ { 1, 2, 3 } }), "different shapes are not equal")
  T.ok(a:equal(tensor({ 1, 2, 3 })))
  T.ok(a:allclose(tensor({ 1, 2, 3.000001 })))
  T.ok(tensor(1) < tensor(2))
  T.ok(tensor({ 2 }) <= tensor(2))
  T.ok(tensor(3) >= tensor(2))
  T.raises(function() return a < a end, "use a:lt(b)")
  T.eq(tensor.where(a:gt(1), a, 0):tolist(), { 0, 2, 3 })
end)

-- indexing -------------------------------------------------------------------------------------------
T.test("indexing is 1-based", function()
  local t = tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
  T.eq(#t, 2)
  T.eq(t[1]:tolist(), { 1, 2, 3 })
  T.eq(t[2]:tolist(), { 4, 5, 6 })
  T.eq(t[-1]:tolist(), { 4, 5, 6 })
  T.eq(t[1][3]:item(), 3)
  T.eq(t[1][3]:dim(), 0, "selecting from a 1-D tensor gives a 0-dim tensor")
  T.eq(t[{ 2, 3 }]:item(), 6)
  T.eq(t[{ -1, -3 }]:item(), 4)
  T.eq(t[{ {}, 2 }]:tolist(), { 2, 5 })
  T.eq(t[{ 2 }]:tolist(), { 4, 5, 6 })
  T.eq(t[{ { 1, 2 }, { 2, 3 } }]:tolist(), { { 2, 3 }, { 5, 6 } })
  T.eq(t[{ { 1, 2 }, 3 }]:tolist(), { 3, 6 })
  T.eq(t[{ { 2 }, {} }]:tolist(), { { 4, 5, 6 } }, "{a} keeps the dim")
  T.eq(t[{ {}, { 1, -1, 2 } }]:tolist(), { { 1, 3 }, { 4, 6 } }, "{a, b, step}")
  T.eq(t[{ {}, { 3, 2 } }].shape, { 2, 0 }, "{a, a-1} is empty")
  T.eq(t[t:gt(3)]:tolist(), { 4, 5, 6 }, "bool mask")
  T.eq(t[{}]:tolist(), t:tolist(), "{} is the whole tensor")
  T.eq(tensor(2)[{}]:item(), 2)
  T.eq(t:slice(2, 2, 3):tolist(), { { 2, 3 }, { 5, 6 } })
  T.eq(t:slice(2, 1, -1, 2):tolist(), { { 1, 3 }, { 4, 6 } })
  T.eq(t:narrow(2, 2, 2):tolist(), { { 2, 3 }, { 5, 6 } })
  T.eq(t:index_select(2, { 3, 1 }):tolist(), { { 3, 1 }, { 6, 4 } })
  T.eq(t:index_select(1, tensor({ 2 }, { dtype = "i64" })):tolist(), { { 4, 5, 6 } })
end)

T.test("indexing returns views", function()
  local t = tensor({ { 1, 2 }, { 3, 4 } })
  t[1]:fill_(0)
  T.eq(t:tolist(), { { 0, 0 }, { 3, 4 } })
  t[{ {}, 2 }]:add_(10)
  T.eq(t:tolist(), { { 0, 10 }, { 3, 14 } })
end)

T.test("assignment", function()
  local t = tensor.zeros(2, 3)
  t[1] = 1
  T.eq(t:tolist(), { { 1, 1, 1 }, { 0, 0, 0 } })
  t[{ 2, 3 }] = 9
  T.eq(t[{ 2, 3 }]:item(), 9)
  t[{ {}, 1 }] = tensor({ 7, 8 })
  T.eq(t:tolist(), { { 7, 1, 1 }, { 8, 0, 9 } })
  t[-1] = { 4, 5, 6 }
  T.eq(t[2]:tolist(), { 4, 5, 6 })
  t[{ { 1, 2 }, { 2, 3 } }] = tensor({ -1, -2 })
  T.eq(t:tolist(), { { 7, -1, -2 }, { 4, -1, -2 } }, "broadcast over rows")
  t[t:lt(0)] = 0
  T.eq(t:tolist(), { { 7, 0, 0 }, { 4, 0, 0 } })
  t[{}] = 3
  T.eq(t:tolist(), { { 3, 3, 3 }, { 3, 3, 3 } })
  local i = tensor({ 1, 2, 3 }, { dtype = "i64" })
  i[2] = 2.9
  T.eq(i:tolist(), { 1, 2, 3 }, "assigning into an integer tensor truncates")
end)

T.test("index errors name the index, dim and size", function()
  local t = tensor({ 1, 2, 3 })
  T.raises(function() return t[5] end, "index 5 out of range for dimension 1 of size 3")
  T.raises(function() return t[-4] end, "index -4 out of range for dimension 1 of size 3")
  local e = T.raises(function() return t[0] end, "index 0 out of range for dimension 1 of size 3")
  T.ok(e:find("indices are 1-based", 1, true), e)
  local m = tensor.zeros(2, 3)
  T.raises(function() return m[{ 1, 4 }] end, "index 4 out of range for dimension 2 of size 3")
  T.raises(function() return m[{ 1, 1, 1 }] end, "too many indices: 3 given for a tensor with 2 dimension(s)")
  T.raises(function() return m[{ {}, { 2, 5 } }] end, "range stop 5 out of range for dimension 2 of size 3")
  T.raises(function() return m[{ {}, { 3, 1 } }] end, "ends before it starts")
  T.raises(function() return m[1.5] end, "index 1.5 is not an integer")
  T.raises(function() m[3] = 1 end, "index 3 out of range for dimension 1 of size 2")
  T.raises(function() return tensor(1)[1] end, "cannot index a 0-dim tensor")
  T.raises(function() return m[tensor({ 1 }, { dtype = "i64" })] end, "must be a bool mask")
  T.raises(function() return m:narrow(2, 2, 3) end, "runs past dimension 2 of size 3")
  T.raises(function() return m:sum(3) end, "dim 3 out of range for a tensor with 2 dimension(s)")
  T.raises(function() return m:softmax(0) end, "dims are 1-based")
end)

T.test("unknown fields are errors with a suggestion", function()
  local t = tensor({ 1 })
  T.raises(function() return t.shap end, "Tensor has no field or method 'shap' (did you mean 'shape'?)")
  T.raises(function() return t:sizes() end, "did you mean 'size'?")
  T.raises(function() t.shape = { 2 } end, "cannot set field 'shape' of a Tensor")
end)

-- shapes ---------------------------------------------------------------------------------------------
T.test("shape operations use 1-based dims", function()
  local t = tensor.arange(6):reshape(2, 3)
  T.eq(t:tolist(), { { 0, 1, 2 }, { 3, 4, 5 } })
  T.eq(t:reshape({ 3, -1 }).shape, { 3, 2 })
  T.eq(t:view(-1):tolist(), { 0, 1, 2, 3, 4, 5 })
  T.eq(t:t():tolist(), { { 0, 3 }, { 1, 4 }, { 2, 5 } })
  T.eq(t:transpose(1, 2).shape, { 3, 2 })
  local c = tensor.zeros(2, 3, 4)
  T.eq(c:permute(3, 1, 2).shape, { 4, 2, 3 })
  T.eq(c:permute({ 2, 3, 1 }).shape, { 3, 4, 2 })
  T.eq(c:unsqueeze(1).shape, { 1, 2, 3, 4 })
  T.eq(c:unsqueeze(-1).shape, { 2, 3, 4, 1 })
  T.eq(c:unsqueeze(4).shape, { 2, 3, 4, 1 })
  T.eq(tensor.zeros(1, 3, 1):squeeze().shape, { 3 })
  T.eq(tensor.zeros(1, 3, 1):squeeze(3).shape, { 1, 3 })
  T.eq(c:flatten(2).shape, { 2, 12 })
  T.eq(tensor.zeros(3, 1):expand(3, 4).shape, { 3, 4 })
  T.ok(not t:t():is_contiguous())
  T.ok(t:t():contiguous():is_contiguous())
  T.eq(tensor.cat({ tensor({ 1, 2 }), tensor({ 3 }) }):tolist(), { 1, 2, 3 })
  T.eq(tensor.cat({ t, t }, 2).shape, { 2, 6 })
  T.eq(tensor.stack({ tensor({ 1, 2 }), tensor({ 3, 4 }) }, 2):tolist(), { { 1, 3 }, { 2, 4 } })
  T.eq(shape(tensor.stack({ t, t })), { 2, 2, 3 })
end)

T.test("conversions, item and tolist", function()
  local t = tensor({ 1.5, -2.5 })
  T.eq(t:to("f64").dtype, "f64")
  T.eq(t:to({ dtype = "i32" }):tolist(), { 1, -2 })
  T.eq(t:to("cpu").device, "cpu")
  T.eq(t:to(tensor({ 1 }, { dtype = "bf16" })).dtype, "bf16")
  T.eq(t:long().dtype, "i64")
  T.eq(t:long():float().dtype, "f32")
  T.eq(t:double().dtype, "f64")
  T.eq(t:half().dtype, "f16")
  T.eq(t:bfloat16().dtype, "bf16")
  T.eq(t:bool():tolist(), { true, true })
  T.eq(tensor({ 7 }, { dtype = "i64" }):item(), 7)
  T.eq(tensor({ true }):item(), true)
  T.eq(tensor({ { 0.5 } }):item(), 0.5)
  T.eq(tensor({ 3 }, { dtype = "i64" }):tolist()[1] % 1, 0)
  T.eq(tensor(2.5):tolist(), 2.5, "0-dim tolist gives the number")
  T.raises(function() t:item() end, "item() needs a tensor with exactly one element, got shape [2] (2 elements)")
  local c = t:clone()
  c[1] = 0
  T.eq(t:tolist(), { 1.5, -2.5 }, "clone has its own memory")
  local d = t:detach()
  d[1] = 0
  T.eq(t[1]:item(), 0, "detach shares memory")
  local z = tensor.zeros(2)
  z:copy_(tensor({ 3, 4 }))
  T.eq(z:tolist(), { 3, 4 })
  T.eq(z:zero_():tolist(), { 0, 0 })
  T.ok(rawequal(z:fill_(2), z), "in-place methods return self")
  T.eq(z:tolist(), { 2, 2 })
end)

T.test("autograd basics", function()
  local w = tensor({ 1, 2, 3 }, { requires_grad = true })
  T.ok(w.requires_grad)
  local loss = (w * w):sum()
  loss:backward()
  T.eq(w.grad:tolist(), { 2, 4, 6 })
  T.ok(not w:detach().requires_grad)
end)

-- errors ---------------------------------------------------------------------------------------------
T.test("bad dtype names list the valid ones", function()
  local e = T.raises(function() tensor.zeros(2, { dtype = "f33" }) end, 'unknown dtype "f33" (did you mean "f32"?)')
  T.ok(e:find("valid dtypes: f32/float32/float, bf16/bfloat16, f16/float16/half, f64/float64/double, " ..
    "i64/int64/long, i32/int32/int, i16/int16, i8/int8, u8/uint8, bool", 1, true), e)
  T.raises(function() tensor.ones(1):to("flaot") end, 'unknown dtype "flaot" (did you mean "float"?)')
  T.raises(function() tensor.zeros(2, { device = "gpu" }) end, 'unknown device "gpu"')
end)

T.test("ragged tables name the row", function()
  T.raises(function() tensor({ { 1, 2 }, { 3, 4, 5 } }) end,
    "bad argument #1 to 'ft.tensor' (ragged table: row 2 has 3 elements, expected 2)")
  T.raises(function() tensor({ { { 1, 2 }, { 3, 4 } }, { { 1, 2 }, { 3 } } }) end,
    "ragged table: row [2][2] has 1 elements, expected 2")
  T.raises(function() tensor({ { 1, 2 }, 3 }) end, "ragged table: row 2 is a number, expected a table of 2 elements")
  T.raises(function() tensor({ 1, "x" }) end, "element [2] is a string, expected a number")
  T.raises(function() tensor({ 1, true }) end, "element [2] mixes booleans and numbers")
  T.raises(function() tensor({ dtype = "f32" }) end, "got a table with key 'dtype'")
  T.raises(function() tensor({ tensor.ones(2) }) end, "use ft.tensor.stack or ft.tensor.cat")
  local deep = 1
  for _ = 1, 70 do deep = { deep } end
  T.raises(function() tensor(deep) end, "tables nested more than 64 deep")
end)

T.test("argument errors name the function and argument", function()
  T.raises(function() tensor.zeros("a") end,
    "bad argument #1 to 'ft.tensor.zeros' (sizes expected (integers or a table of integers), got string)")
  T.raises(function() tensor.zeros(2, -1) end, "bad argument #2 to 'ft.tensor.zeros' (size -1 is negative)")
  T.raises(function() tensor.ones({ 2, "x" }) end,
    "bad argument #1 to 'ft.tensor.ones' (sizes must be integers, element 2 is a string)")
  T.raises(function() tensor.zeros(2, { dtyp = "f32" }) end,
    "ft.tensor.zeros: unknown option 'dtyp' (did you mean 'dtype'?)")
  T.raises(function() tensor({ 1 }, { dtype = 32 }) end, "ft.tensor: option 'dtype' must be string, got integer")
  T.raises(function() return tensor({ 1 }) + "x" end,
    "bad argument #2 to 'Tensor.__add' (Tensor or number expected, got string)")
  T.raises(function() tensor({ 1 }):sum("x") end, "bad argument #2 to 'Tensor.sum'")
  T.raises(function() tensor.cat({ tensor({ 1 }), 2 }) end, "element 2 is a number, expected a Tensor")
  T.raises(function() tensor.arange(0, 1, 0) end, "step must not be 0")
  T.raises(function() tensor({ 1, 2 }, { dtype = "i64" }):mean() end, "mean(): could not infer output dtype")
end)

T.test("release frees now and makes use an error", function()
  local core = require "_ft.core"
  collectgarbage("collect")
  local before = core.gc_live_bytes()
  local t = tensor.zeros(1024, 1024)  -- 4 MiB
  T.eq(core.gc_live_bytes() - before, 4 * 1024 * 1024)
  t:release()
  T.eq(core.gc_live_bytes(), before)
  T.raises(function() return t:sum() end,
    "bad argument #1 to 'Tensor.sum' (Tensor was released (obj:release() was called on it))")
  T.raises(function() return t.shape end, "Tensor was released")
  T.raises(function() return t + 1 end, "Tensor was released")
  T.eq(tostring(t), "tensor(<released>)")
  t:release()  -- releasing twice is harmless
end)

-- printing -------------------------------------------------------------------------------------------
-- Every expected string below is PyTorch 1.13's repr() of the same tensor.
T.test("tostring matches PyTorch", function()
  local cases = {
    { tensor({ { 1, 2 }, { 3, 4 } }), "tensor([[1., 2.],\n        [3., 4.]])" },
    { tensor({ 0.12345, -1.5, 2.0 }), "tensor([ 0.1235, -1.5000,  2.0000])" },
    { tensor({ 1e-5, 1.0 }), "tensor([1.0000e-05, 1.0000e+00])" },
    { tensor({ 1e9, 1.0 }), "tensor([1.0000e+09, 1.0000e+00])" },
    { tensor({ 1.0, 2000.0 }), "tensor([1.0000e+00, 2.0000e+03])" },
    { tensor({ 1, 2, 3 }, { dtype = "i64" }), "tensor([1, 2, 3])" },
    { tensor({ { 1, -20 }, { 300, 4 } }, { dtype = "i64" }), "tensor([[  1, -20],\n        [300,   4]])" },
    { tensor({ true, false }), "tensor([ True, False])" },
    { tensor({ { true }, { false } }), "tensor([[ True],\n        [False]])" },
    { tensor({ 1.5, 2.25 }, { dtype = "f64" }), "tensor([1.5000, 2.2500], dtype=torch.float64)" },
    { tensor({ 1.5, 2.25 }, { dtype = "bf16" }), "tensor([1.5000, 2.2500], dtype=torch.bfloat16)" },
    { tensor({ 1, 2 }, { dtype = "f16" }), "tensor([1., 2.], dtype=torch.float16)" },
    { tensor({ 1, 2 }, { dtype = "i32" }), "tensor([1, 2], dtype=torch.int32)" },
    { tensor({ 1, 255 }, { dtype = "u8" }), "tensor([  1, 255], dtype=torch.uint8)" },
    { tensor(3.5), "tensor(3.5000)" },
    { tensor(7, { dtype = "i64" }), "tensor(7)" },
    { tensor({}), "tensor([])" },
    { tensor.zeros(0, { dtype = "i64" }), "tensor([], dtype=torch.int64)" },
    { tensor.zeros(2, 0), "tensor([], size=(2, 0))" },
    { tensor({ 0 / 0, math.huge, -math.huge, 1.5 }), "tensor([   nan,    inf,   -inf, 1.5000])" },
    { tensor({ 0 / 0, 2.0 }), "tensor([nan, 2.])" },
    { tensor.zeros(2, 3), "tensor([[0., 0., 0.],\n        [0., 0., 0.]])" },
    { tensor({ -0.0, 1.0 }), "tensor([-0., 1.])" },
    { tensor({ { 1e-8, 2.5 }, { 3.0, 1e3 } }),
      "tensor([[1.0000e-08, 2.5000e+00],\n        [3.0000e+00, 1.0000e+03]])" },
    { tensor.ones(2, { requires_grad = true }), "tensor([1., 1.], requires_grad=True)" },
    { tensor.ones(2, { requires_grad = true }) * 2, "tensor([2., 2.], grad_fn=<MulBackward0>)" },
  }
  for i, c in ipairs(cases) do T.eq(tostring(c[1]), c[2], "case " .. i) end
end)

T.test("tostring wraps at 80 columns and aligns columns", function()
  T.eq(tostring(tensor.arange(30):float()),
    "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n" ..
    "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n" ..
    "        28., 29.])")
  T.eq(tostring(tensor.arange(20, { dtype = "f64" }) / 3),
    "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n" ..
    "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n" ..
    "        6.0000, 6.3333], dtype=torch.float64)")
  T.eq(tostring(tensor.arange(24):reshape(2, 3, 4)),
    "tensor([[[ 0,  1,  2,  3],\n         [ 4,  5,  6,  7],\n         [ 8,  9, 10, 11]],\n\n" ..
    "        [[12, 13, 14, 15],\n         [16, 17, 18, 19],\n         [20, 21, 22, 23]]])")
end)

T.test("tostring summarises over 1000 elements", function()
  T.eq(tostring(tensor.arange(2000)), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])")
  T.eq(tostring(tensor.arange(1500):float():reshape(30, 50) / 7),
    "tensor([[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 6.7143e+00, 6.8571e+00,\n" ..
    "         7.0000e+00],\n" ..
    "        [7.1429e+00, 7.2857e+00, 7.4286e+00,  ..., 1.3857e+01, 1.4000e+01,\n" ..
    "         1.4143e+01],\n" ..
    "        [1.4286e+01, 1.4429e+01, 1.4571e+01,  ..., 2.1000e+01, 2.1143e+01,\n" ..
    "         2.1286e+01],\n" ..
    "        ...,\n" ..
    "        [1.9286e+02, 1.9300e+02, 1.9314e+02,  ..., 1.9957e+02, 1.9971e+02,\n" ..
    "         1.9986e+02],\n" ..
    "        [2.0000e+02, 2.0014e+02, 2.0029e+02,  ..., 2.0671e+02, 2.0686e+02,\n" ..
    "         2.0700e+02],\n" ..
    "        [2.0714e+02, 2.0729e+02, 2.0743e+02,  ..., 2.1386e+02, 2.1400e+02,\n" ..
    "         2.1414e+02]])")
end)

T.test("set_printoptions", function()
  local old = tensor.set_printoptions()
  T.eq(old, { precision = 4, threshold = 1000, edgeitems = 3, linewidth = 80 })
  tensor.set_printoptions({ precision = 2, threshold = 5, edgeitems = 2 })
  local ok, s = pcall(tostring, tensor({ 1.125, 2, 3, 4, 5, 6.5 }))
  tensor.set_printoptions(old)
  T.ok(ok, s)
  T.eq(s, "tensor([1.12, 2.00,  ..., 5.00, 6.50])")
  T.raises(function() tensor.set_printoptions({ precison = 2 }) end, "did you mean 'precision'?")
end)

T.test("devices", function()
  if tensor.cuda_available() then
    local g = tensor({ 1, 2 }):to("cuda")
    T.eq(g.device, "cuda:0")
    T.eq(tostring(g), "tensor([1., 2.], device='cuda:0')")
    T.eq((g * 2):cpu():tolist(), { 2, 4 })
    T.eq(tensor.zeros(2, { device = "cuda:0", dtype = "bf16" }).device, "cuda:0")
  else
    T.raises(function() tensor.zeros(2, { device = "cuda" }) end,
      'ft.tensor.zeros: device "cuda" requested but CUDA is not available')
    T.raises(function() tensor({ 1 }):to("cuda:1") end, "CUDA is not available")
    T.raises(function() tensor({ 1 }):cuda() end, "CUDA is not available")
  end
  T.raises(function() tensor({ 1 }):to("cuda:x") end, 'unknown device "cuda:x"')
end)

-- randomness -----------------------------------------------------------------------------------------
T.test("ft.seed makes random tensors repeat", function()
  ft.seed(1234)
  local a = tensor.randn(4, 4)
  local u = tensor.rand(3)
  local r = tensor.randint(0, 10, { 5 })
  ft.seed(1234)
  local b = tensor.randn(4, 4)
  T.ok(a == b, "same seed, same randn")
  T.ok(u == tensor.rand(3), "same seed, same rand")
  T.ok(r == tensor.randint(0, 10, { 5 }), "same seed, same randint")
  ft.seed(4321)
  T.ok(a ~= tensor.randn(4, 4), "another seed, other values")
  -- PyTorch's CPU generator: torch.manual_seed(0); torch.randn(3)
  ft.seed(0)
  T.near(tensor.randn(3):tolist(), { 1.5409961, -0.2934289, -2.1787894 }, 1e-6)
  local big = tensor.rand(10000)
  T.ok(big:min():item() >= 0 and big:max():item() < 1)
  T.near(big:mean():item(), 0.5, 0.02)
  local ri = tensor.randint(3, 5, 1000)
  T.ok(ri:min():item() == 3 and ri:max():item() == 4, "randint is half-open")
  T.near(tensor.randn(100000):std():item(), 1, 0.02)
end)

-- memory ---------------------------------------------------------------------------------------------
local function rss_bytes()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  local kb = s:match("VmRSS:%s*(%d+) kB")
  return kb and tonumber(kb) * 1024
end

T.test("GC pressure keeps garbage tensors bounded", function()
  local core = require "_ft.core"
  collectgarbage("collect")
  local base_live = core.gc_live_bytes()
  local base_rss = rss_bytes()
  local max_live, max_rss = 0, 0
  for _ = 1, 200 do
    tensor.ones(5 * 1024 * 1024)  -- 20 MiB each, 4000 MiB in all, none kept
    max_live = math.max(max_live, core.gc_live_bytes() - base_live)
    local rss = rss_bytes()
    if rss then max_rss = math.max(max_rss, rss - base_rss) end
  end
  io.write(string.format("     200 x 20 MiB: peak live tensor bytes %.0f MiB, peak RSS growth %.0f MiB\n",
    max_live / 2 ^ 20, max_rss / 2 ^ 20))
  -- The collector runs when live tensor bytes pass 256 MiB (or twice what survived the last collection).
  T.ok(max_live <= 300 * 1024 * 1024, string.format("live tensor bytes peaked at %.0f MiB", max_live / 2 ^ 20))
  T.ok(max_live >= 200 * 1024 * 1024, "the loop did allocate")
  T.ok(max_rss < 600 * 1024 * 1024, string.format("RSS grew by %.0f MiB", max_rss / 2 ^ 20))
  collectgarbage("collect")
  T.eq(core.gc_live_bytes(), base_live, "all collected")
end)

T.done()
