--- ft.tensor: LibTorch tensors from Lua. `ft.tensor(data, opts)` builds one from a nested table; the
--- namespace holds the other constructors (zeros, ones, full, arange, randn, rand, randint, eye, cat, stack).
---
---   local t = ft.tensor({ { 1, 2 }, { 3, 4 } })          -- f32 on the CPU
---   local z = ft.tensor.zeros({ 2, 3 }, { dtype = "bf16" })
---   print(t:matmul(t), (t * 2 + 1):sum(), t[{ 2, 1 }]:item())
---
--- Lua is 1-based, and so is every index and dim here:
--- * `t[i]` selects row i along dim 1 (a view; a 1-D tensor gives a 0-dim tensor, `t[i]:item()` its number).
---   Negative i counts from the end: -1 is the last. Out of range is an error
---   ("index 5 out of range for dimension 1 of size 3").
--- * `t[{i, j}]` selects in several dims; an entry may be a range `{a, b}` (inclusive, torch7 style),
---   `{a, b, step}`, `{a}` (just a, keeping the dim) or `{}` (the whole dim): `t[{ {1, 2}, 3 }]`.
--- * `t[mask]` with a bool tensor selects the elements where mask is true.
--- * `t[i] = v`, `t[{...}] = v`, `t[mask] = v` assign a number or a tensor (broadcast).
--- * Methods take 1-based dims, negative from the end: `t:sum(1)`, `t:softmax(-1)`, `t:size(2)`.
--- * Positions that LibTorch returns come back 1-based: `argmax`, `argmin`, the indices of `max(dim)`,
---   `min(dim)`, `topk`, `sort`; `index_select` takes 1-based positions.
---
--- Lua has a single number type, so tables of numbers become f32 unless `dtype` says otherwise (tables of
--- booleans become bool). In arithmetic, a number with an integral value acts like a Python int (an i64
--- tensor times 2 stays i64) and other numbers like a Python float.
local C = require "_ft.tensor"
local options = require "ft.options"

---@class ft.TensorOptions
---@field dtype? string "f32" (default), "bf16", "f16", "f64", "i64", "i32", "i16", "i8", "u8", "bool" ("float32"...)
---@field device? string "cpu" (default), "cuda" (the current GPU) or "cuda:N"
---@field requires_grad? boolean track gradients through operations (floating dtypes only)

--- A LibTorch tensor. Arithmetic operators work between tensors and numbers (`2 * t`, `t + 1`, `t ^ 2`,
--- `-t`, `a % b`); `#t` is the size of dim 1; `tostring(t)` prints it exactly as PyTorch does.
--- `a == b` is true when both have the same shape and equal elements (torch.equal); elementwise comparisons
--- are methods returning bool tensors: `t:eq(x) t:ne(x) t:lt(x) t:le(x) t:gt(x) t:ge(x)`. `a < b` and
--- `a <= b` work for one-element tensors only (Lua turns the result into a boolean).
--- `t:release()` frees the memory now; using a released tensor is an error.
---@class Tensor
---@field shape integer[] sizes of every dim (a fresh table)
---@field dtype string short dtype name: "f32", "bf16", "i64"...
---@field device string "cpu" or "cuda:0"...
---@field requires_grad boolean
---@field grad Tensor|nil the gradient accumulated by backward()
---@field size fun(self: Tensor, dim?: integer): integer|integer[] size of one dim, or the shape
---@field numel fun(self: Tensor): integer number of elements
---@field dim fun(self: Tensor): integer number of dims
---@field nbytes fun(self: Tensor): integer bytes of the elements (numel * element size)
---@field is_contiguous fun(self: Tensor): boolean
---@field item fun(self: Tensor): number|boolean the value of a one-element tensor (error otherwise)
---@field tolist fun(self: Tensor): any nested tables (bool -> booleans; a 0-dim tensor gives its number)
--- `t:to(x)`: x is a dtype name, a device name, a tensor whose dtype and device to match, or {dtype=, device=}.
---@field to fun(self: Tensor, to: string|Tensor|{dtype?: string, device?: string}): Tensor
---@field float fun(self: Tensor): Tensor as f32
---@field double fun(self: Tensor): Tensor as f64
---@field half fun(self: Tensor): Tensor as f16
---@field bfloat16 fun(self: Tensor): Tensor as bf16
---@field long fun(self: Tensor): Tensor as i64
---@field int fun(self: Tensor): Tensor as i32
---@field bool fun(self: Tensor): Tensor as bool
---@field cpu fun(self: Tensor): Tensor
---@field cuda fun(self: Tensor, device?: string): Tensor to "cuda" or the given "cuda:N"
---@field clone fun(self: Tensor): Tensor a copy with its own memory
---@field detach fun(self: Tensor): Tensor the same memory, cut from the autograd graph
---@field contiguous fun(self: Tensor): Tensor
---@field exp fun(self: Tensor): Tensor
---@field log fun(self: Tensor): Tensor
---@field log1p fun(self: Tensor): Tensor
---@field sqrt fun(self: Tensor): Tensor
---@field rsqrt fun(self: Tensor): Tensor
---@field abs fun(self: Tensor): Tensor
---@field neg fun(self: Tensor): Tensor
---@field sign fun(self: Tensor): Tensor
---@field floor fun(self: Tensor): Tensor
---@field ceil fun(self: Tensor): Tensor
---@field round fun(self: Tensor): Tensor
---@field sin fun(self: Tensor): Tensor
---@field cos fun(self: Tensor): Tensor
---@field tanh fun(self: Tensor): Tensor
---@field sigmoid fun(self: Tensor): Tensor
---@field relu fun(self: Tensor): Tensor
---@field silu fun(self: Tensor): Tensor
---@field gelu fun(self: Tensor): Tensor exact (erf) GELU
---@field isnan fun(self: Tensor): Tensor bool
---@field logical_not fun(self: Tensor): Tensor
---@field clamp fun(self: Tensor, min?: number, max?: number): Tensor either bound may be nil
---@field masked_fill fun(self: Tensor, mask: Tensor, value: number|boolean): Tensor
---@field add fun(self: Tensor, x: Tensor|number): Tensor
---@field sub fun(self: Tensor, x: Tensor|number): Tensor
---@field mul fun(self: Tensor, x: Tensor|number): Tensor
---@field div fun(self: Tensor, x: Tensor|number): Tensor true division (integers give floats)
---@field pow fun(self: Tensor, x: Tensor|number): Tensor
---@field remainder fun(self: Tensor, x: Tensor|number): Tensor sign of the divisor, like Lua's %
---@field maximum fun(self: Tensor, x: Tensor|number): Tensor
---@field minimum fun(self: Tensor, x: Tensor|number): Tensor
---@field eq fun(self: Tensor, x: Tensor|number): Tensor bool
---@field ne fun(self: Tensor, x: Tensor|number): Tensor bool
---@field lt fun(self: Tensor, x: Tensor|number): Tensor bool
---@field le fun(self: Tensor, x: Tensor|number): Tensor bool
---@field gt fun(self: Tensor, x: Tensor|number): Tensor bool
---@field ge fun(self: Tensor, x: Tensor|number): Tensor bool
---@field logical_and fun(self: Tensor, x: Tensor|boolean): Tensor
---@field logical_or fun(self: Tensor, x: Tensor|boolean): Tensor
---@field equal fun(self: Tensor, other: Tensor): boolean same shape and equal elements
--- `a:allclose(b, rtol, atol)`: every |a - b| <= atol + rtol * |b| (defaults 1e-5, 1e-8).
---@field allclose fun(self: Tensor, other: Tensor|table|number, rtol?: number, atol?: number): boolean
---@field matmul fun(self: Tensor, other: Tensor): Tensor matrix product with broadcasting (torch.matmul)
---@field mm fun(self: Tensor, other: Tensor): Tensor 2-D matrix product
---@field add_ fun(self: Tensor, x: Tensor|number): Tensor in place; returns self
---@field sub_ fun(self: Tensor, x: Tensor|number): Tensor in place; returns self
---@field mul_ fun(self: Tensor, x: Tensor|number): Tensor in place; returns self
---@field div_ fun(self: Tensor, x: Tensor|number): Tensor in place; returns self
---@field copy_ fun(self: Tensor, src: Tensor|number): Tensor copies src (broadcast) into self; returns self
---@field fill_ fun(self: Tensor, value: number|boolean): Tensor in place; returns self
---@field zero_ fun(self: Tensor): Tensor in place; returns self
---@field sum fun(self: Tensor, dim?: integer|integer[], keepdim?: boolean): Tensor all elements, or over dim(s)
---@field mean fun(self: Tensor, dim?: integer|integer[], keepdim?: boolean): Tensor floating dtypes
---@field std fun(self: Tensor, dim?: integer|integer[], keepdim?: boolean): Tensor unbiased (n - 1), as PyTorch
---@field var fun(self: Tensor, dim?: integer|integer[], keepdim?: boolean): Tensor unbiased (divides by n - 1)
---@field logsumexp fun(self: Tensor, dim?: integer|integer[], keepdim?: boolean): Tensor
---@field prod fun(self: Tensor, dim?: integer, keepdim?: boolean): Tensor
---@field all fun(self: Tensor, dim?: integer, keepdim?: boolean): Tensor
---@field any fun(self: Tensor, dim?: integer, keepdim?: boolean): Tensor
--- `argmax`/`argmin` return 1-BASED positions (i64): LibTorch's index + 1. Without a dim, the position in the
--- flattened (row-major) tensor.
---@field argmax fun(self: Tensor, dim?: integer, keepdim?: boolean): Tensor
---@field argmin fun(self: Tensor, dim?: integer, keepdim?: boolean): Tensor
--- `max()`: the largest element; `max(dim[, keepdim])`: values and 1-based indices; `max(t2)`: elementwise.
---@field max fun(self: Tensor, dim?: integer|Tensor, keepdim?: boolean): Tensor, Tensor?
---@field min fun(self: Tensor, dim?: integer|Tensor, keepdim?: boolean): Tensor, Tensor? like max
---@field norm fun(self: Tensor, p?: number, dim?: integer|integer[], keepdim?: boolean): Tensor p-norm (default 2)
---@field cumsum fun(self: Tensor, dim: integer): Tensor
---@field softmax fun(self: Tensor, dim: integer): Tensor
---@field log_softmax fun(self: Tensor, dim: integer): Tensor
--- `topk` and `sort` return values and 1-based indices; dim defaults to the last.
---@field topk fun(self: Tensor, k: integer, dim?: integer, largest?: boolean): Tensor, Tensor
---@field sort fun(self: Tensor, dim?: integer, descending?: boolean): Tensor, Tensor
---@field t fun(self: Tensor): Tensor transpose of a 2-D tensor
---@field transpose fun(self: Tensor, dim1: integer, dim2: integer): Tensor
---@field reshape fun(self: Tensor, ...: integer|integer[]): Tensor sizes as numbers or a table; -1 infers one size
---@field view fun(self: Tensor, ...: integer|integer[]): Tensor like reshape, never copies (else an error)
---@field expand fun(self: Tensor, ...: integer|integer[]): Tensor broadcast view; -1 keeps a size
---@field permute fun(self: Tensor, ...: integer|integer[]): Tensor reorders dims: t:permute(2, 1, 3)
---@field squeeze fun(self: Tensor, dim?: integer): Tensor drops size-1 dims (all, or the given one)
---@field unsqueeze fun(self: Tensor, dim: integer): Tensor inserts a size-1 dim at position dim (1..dim()+1; -1 = last)
---@field flatten fun(self: Tensor, start_dim?: integer, end_dim?: integer): Tensor
--- `t:slice(dim, start, stop[, step])`: a view of start..stop, 1-based with stop INCLUSIVE (negative from the end).
---@field slice fun(self: Tensor, dim: integer, start: integer, stop: integer, step?: integer): Tensor
---@field narrow fun(self: Tensor, dim: integer, start: integer, length: integer): Tensor view from 1-based start
---@field index_select fun(self: Tensor, dim: integer, idx: Tensor|integer[]): Tensor 1-based positions idx
---@field requires_grad_ fun(self: Tensor, on?: boolean): Tensor turns gradient tracking on (or off); returns self
---@field backward fun(self: Tensor) gradients of this one-element tensor into the .grad of its leaves
---@field release fun(self: Tensor) frees the tensor now instead of at garbage collection

local M = {}

-- Creation options; defaults (f32, cpu) live in the native constructors.
local create_spec = {
  dtype = { type = "string", doc = "f32, bf16, f16, f64, i64, i32, i16, i8, u8 or bool" },
  device = { type = "string", doc = "cpu, cuda or cuda:N" },
  requires_grad = { type = "boolean", doc = "track gradients" },
}

-- Validates an options table given at a fixed position (nil means none).
local function check_opts(fname, opts)
  if opts ~= nil then options.check(fname, opts, create_spec, 4) end
end

-- For (sizes..., opts) calls: the options are the last argument when it is a table after the first
-- (a table in first place holds the sizes).
local function check_trailing(fname, ...)
  local n = select("#", ...)
  if n >= 2 then
    local last = select(n, ...)
    if type(last) == "table" then options.check(fname, last, create_spec, 4) end
  end
end

--- Builds a tensor from a nested table of numbers (or booleans), a number, a boolean, or a tensor (copied).
--- Rows must be rectangular: a ragged table is an error naming the row ("row 2 has 3 elements, expected 2").
--- Numbers become f32 unless `opts.dtype` says otherwise; booleans become bool. Also `ft.tensor(data, opts)`.
---@param data table|number|boolean|Tensor
---@param opts? ft.TensorOptions
---@return Tensor
function M.from_table(data, opts)
  check_opts("ft.tensor", opts)
  return C.tensor(data, opts)
end

--- A tensor of zeros. Sizes are numbers or one table: `zeros(2, 3)`, `zeros({2, 3}, {dtype = "bf16"})`;
--- `zeros({})` is a 0-dim tensor.
---@param ... integer|integer[]|ft.TensorOptions sizes, then optional options
---@return Tensor
function M.zeros(...)
  check_trailing("ft.tensor.zeros", ...)
  return C.zeros(...)
end

--- A tensor of ones; sizes as in `zeros`.
---@param ... integer|integer[]|ft.TensorOptions sizes, then optional options
---@return Tensor
function M.ones(...)
  check_trailing("ft.tensor.ones", ...)
  return C.ones(...)
end

--- A tensor filled with `value`: `full({2, 2}, 7)`. f32 for numbers, bool for booleans, unless `opts.dtype`.
---@param shape integer|integer[]
---@param value number|boolean
---@param opts? ft.TensorOptions
---@return Tensor
function M.full(shape, value, opts)
  check_opts("ft.tensor.full", opts)
  return C.full(shape, value, opts)
end

--- Evenly spaced values in the HALF-OPEN interval [start, stop), exactly like PyTorch's torch.arange:
--- `arange(5)` is 0, 1, 2, 3, 4 (it starts at 0 and never includes stop); `arange(1, 4)` is 1, 2, 3;
--- `arange(0, 1, 0.25)` is 0, 0.25, 0.5, 0.75. The dtype is i64 when start, stop and step are all
--- integers, f32 otherwise (unless `opts.dtype`).
--- Call forms: `arange(stop)`, `arange(start, stop)`, `arange(start, stop, step)`, each optionally
--- followed by an options table.
---@param ... number|ft.TensorOptions start, stop, step (stop not included), then optional options
---@return Tensor
function M.arange(...)
  check_trailing("ft.tensor.arange", ...)
  return C.arange(...)
end

--- Samples from the standard normal distribution (mean 0, std 1); sizes as in `zeros`. `ft.seed(n)` makes
--- the values repeat run to run.
---@param ... integer|integer[]|ft.TensorOptions sizes, then optional options
---@return Tensor
function M.randn(...)
  check_trailing("ft.tensor.randn", ...)
  return C.randn(...)
end

--- Samples uniformly from [0, 1); sizes as in `zeros`.
---@param ... integer|integer[]|ft.TensorOptions sizes, then optional options
---@return Tensor
function M.rand(...)
  check_trailing("ft.tensor.rand", ...)
  return C.rand(...)
end

--- Random integers in the half-open interval [low, high) (i64 unless `opts.dtype`).
---@param low integer
---@param high integer not included
---@param shape integer|integer[]
---@param opts? ft.TensorOptions
---@return Tensor
function M.randint(low, high, shape, opts)
  check_opts("ft.tensor.randint", opts)
  return C.randint(low, high, shape, opts)
end

--- The n x m identity matrix (m defaults to n).
---@param n integer
---@param m? integer
---@param opts? ft.TensorOptions
---@return Tensor
function M.eye(n, m, opts)
  if type(m) == "table" then m, opts = nil, m end
  check_opts("ft.tensor.eye", opts)
  if m == nil then return C.eye(n, opts) end
  return C.eye(n, m, opts)
end

--- Zeros with the shape, dtype and device of `t` (opts may change dtype/device).
---@param t Tensor
---@param opts? ft.TensorOptions
---@return Tensor
function M.zeros_like(t, opts)
  check_opts("ft.tensor.zeros_like", opts)
  return C.zeros_like(t, opts)
end

--- Ones with the shape, dtype and device of `t`.
---@param t Tensor
---@param opts? ft.TensorOptions
---@return Tensor
function M.ones_like(t, opts)
  check_opts("ft.tensor.ones_like", opts)
  return C.ones_like(t, opts)
end

--- Standard normal samples with the shape, dtype and device of `t`.
---@param t Tensor
---@param opts? ft.TensorOptions
---@return Tensor
function M.randn_like(t, opts)
  check_opts("ft.tensor.randn_like", opts)
  return C.randn_like(t, opts)
end

--- Joins tensors along an existing dim (default 1): `cat({a, b}, 2)`.
---@param list Tensor[]
---@param dim? integer 1-based, negative from the end
---@return Tensor
function M.cat(list, dim) return C.cat(list, dim) end

--- Stacks same-shaped tensors along a new dim (default 1): `stack({a, b})` has shape {2, ...}.
---@param list Tensor[]
---@param dim? integer 1-based position of the new dim
---@return Tensor
function M.stack(list, dim) return C.stack(list, dim) end

--- Matrix product with broadcasting, as torch.matmul (same as `a:matmul(b)`).
---@param a Tensor
---@param b Tensor
---@return Tensor
function M.matmul(a, b) return C.matmul(a, b) end

--- Elements of `a` where `cond` is true, of `b` elsewhere (a and b are tensors or numbers, broadcast).
---@param cond Tensor bool
---@param a Tensor|number
---@param b Tensor|number
---@return Tensor
function M.where(cond, a, b) return C.where(cond, a, b) end

--- True when `x` is a Tensor.
---@param x any
---@return boolean
function M.is_tensor(x) return C.is_tensor(x) end

--- True when this fthost's LibTorch has CUDA and a GPU is visible (device = "cuda" works).
---@return boolean
function M.cuda_available() return C.cuda_available() end

--- Sets how tensors print (PyTorch's torch.set_printoptions): `precision` (digits, default 4),
--- `threshold` (elements before "..." summaries, 1000), `edgeitems` (items at each end, 3), `linewidth`
--- (80). Returns the options now in force; call without arguments to read them.
---@param opts? {precision?: integer, threshold?: integer, edgeitems?: integer, linewidth?: integer}
---@return {precision: integer, threshold: integer, edgeitems: integer, linewidth: integer}
function M.set_printoptions(opts)
  if opts ~= nil then
    options.check("ft.tensor.set_printoptions", opts, {
      precision = { type = "integer", min = 0, max = 30 },
      threshold = { type = "integer", min = 0 },
      edgeitems = { type = "integer", min = 1 },
      linewidth = { type = "integer", min = 1 },
    }, 3)
  end
  return C.set_printoptions(opts)
end

-- ft.tensor(data, opts) is ft.tensor.from_table(data, opts).
return setmetatable(M, {
  __call = function(_, data, opts)
    check_opts("ft.tensor", opts)
    return C.tensor(data, opts)
  end,
})
