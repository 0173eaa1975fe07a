--- Datasets for training: rows (Lua tables) read from JSONL / JSON / CSV files or given in memory, with
--- transforms that return new datasets. Every row remembers where it came from ("train.jsonl:12"), so
--- errors in later stages (a missing field, an empty completion) name the file and line.
---
---   local ds = ft.data.jsonl("train.jsonl"):map(function(r) return { prompt = r.q, completion = r.a } end)
---   local train, test = ds:shuffle(1):split(0.9, { seed = 1 })
---   local big = ft.data.load("big.jsonl", { stream = true })   -- an ft.Stream: read in chunks, lazily
---
--- Row shapes the trainer understands: { text = ... }, { prompt = ..., completion = ... } (loss on the
--- completion only), { messages = { {role=..., content=...}, ... } } (loss on assistant turns only).
local native = require "_ft.data"
local options = require "ft.options"
local stream = require "ft.data_stream"

local M = {}

---@class ft.Dataset
---@field rows table[] the rows
---@field origins string[] "file:line" (or "row N") per row
---@field n integer number of rows
local Dataset = {}
Dataset.__name = "Dataset"
Dataset.__index = function(self, k)
  if type(k) == "number" then return rawget(self, "rows")[k] end
  return Dataset[k]
end

local function new(rows, origins)
  return setmetatable({ rows = rows, origins = origins, n = #rows }, Dataset)
end
M._new = new

function Dataset:__tostring()
  return string.format("Dataset(%d rows)", self.n)
end

-- Park-Miller minimal standard generator: exact in doubles, the same sequence on every platform.
local function rng(seed)
  local s = (math.floor(seed) % 2147483646) + 1
  return function(n)  -- integer in 1..n
    s = (s * 16807) % 2147483647
    return (s % n) + 1
  end
end
M._rng = rng

local read_spec = {
  skip_invalid = { type = "boolean", default = false,
    doc = "count and skip invalid lines / records (the count is in ds.skipped) instead of raising" },
  limit = { type = "integer", default = -1, doc = "read at most this many rows (-1: all)" },
  stream = { type = "boolean", default = false,
    doc = "return an ft.Stream that reads the file in chunks when iterated (for files larger than memory)" },
  format = { type = "string", one_of = { "jsonl", "json", "csv", "tsv" }, doc = "default: from the extension" },
  delimiter = { type = "string", doc = "CSV field separator (one character; default ',' or tab for .tsv)" },
}

-- Called in tail position by the public readers, so level 2 is the user's call.
local function read(fname, path, opts, format)
  local o = options.check(fname, opts, read_spec)
  if type(path) ~= "string" then error(fname .. ": path must be a string, got " .. type(path), 2) end
  o.format = o.format or format
  if o.stream then return stream.open(path, o) end
  local rows, origins, skipped = native.read(path, o)
  local ds = new(rows, origins)
  ds.skipped = skipped
  return ds
end

--- Reads a JSONL file (one JSON object per line). Invalid lines are errors naming file:line, or counted
--- skips with skip_invalid = true (the count is in ds.skipped). With stream = true: an ft.Stream.
---@param path string
---@param opts? {skip_invalid?:boolean, limit?:integer, stream?:boolean}
---@return ft.Dataset|ft.Stream
function M.jsonl(path, opts) return read("ft.data.jsonl", path, opts, "jsonl") end

--- Reads a JSON file holding one array of objects (parsed whole, even with stream = true).
---@param path string
---@param opts? {skip_invalid?:boolean, limit?:integer, stream?:boolean}
---@return ft.Dataset|ft.Stream
function M.json(path, opts) return read("ft.data.json", path, opts, "json") end

--- Reads a CSV file (RFC 4180): a header row naming the columns, then one row per record; quoted fields
--- may hold commas, line breaks and doubled quotes. Values are strings. A record whose field count
--- differs from the header's is an error naming file:line (or a counted skip with skip_invalid).
---@param path string
---@param opts? {skip_invalid?:boolean, limit?:integer, stream?:boolean, delimiter?:string}
---@return ft.Dataset|ft.Stream
function M.csv(path, opts) return read("ft.data.csv", path, opts, "csv") end

--- Reads a dataset file of the format its extension names: .jsonl / .ndjson, .json, .csv, .tsv (or
--- opts.format).
---@param path string
---@param opts? {format?:string, skip_invalid?:boolean, limit?:integer, stream?:boolean, delimiter?:string}
---@return ft.Dataset|ft.Stream
function M.load(path, opts) return read("ft.data.load", path, opts, nil) end

--- A dataset of in-memory rows (a list of tables).
---@param rows table[]
---@return ft.Dataset
function M.from_table(rows)
  if type(rows) ~= "table" then error("ft.data.from_table: expected a list of row tables, got " .. type(rows), 2) end
  local r, origins = {}, {}
  for i, row in ipairs(rows) do
    if type(row) ~= "table" then
      error(string.format("ft.data.from_table: row %d must be a table, got %s", i, type(row)), 2)
    end
    r[i], origins[i] = row, "row " .. i
  end
  return new(r, origins)
end

--- Is `x` a Dataset?
---@param x any
---@return boolean
function M.is_dataset(x) return getmetatable(x) == Dataset end

--- A dataset from a Dataset or a plain list of rows.
---@param x ft.Dataset|table[]
---@return ft.Dataset
function M.as_dataset(x)
  if M.is_dataset(x) then return x end
  if stream.is_stream(x) then
    error("expected a Dataset or a list of rows, got a Stream; call :collect() on it for an in-memory Dataset", 3)
  end
  return M.from_table(x)
end

--- Number of rows.
---@return integer
function Dataset:size() return self.n end

--- A new dataset of fn(row, i) for every row (fn must return a table).
---@param fn fun(row:table, i:integer):table
---@return ft.Dataset
function Dataset:map(fn)
  local rows, origins = {}, {}
  for i = 1, self.n do
    local ok, r = pcall(fn, self.rows[i], i)
    if not ok then error(string.format("Dataset:map: %s: %s", self.origins[i], tostring(r)), 2) end
    if type(r) ~= "table" then
      error(string.format("Dataset:map: %s: the function returned %s, expected a row table", self.origins[i], type(r)), 2)
    end
    rows[i], origins[i] = r, self.origins[i]
  end
  return new(rows, origins)
end

--- The rows for which fn(row, i) is true.
---@param fn fun(row:table, i:integer):boolean
---@return ft.Dataset
function Dataset:filter(fn)
  local rows, origins = {}, {}
  for i = 1, self.n do
    local ok, keep = pcall(fn, self.rows[i], i)
    if not ok then error(string.format("Dataset:filter: %s: %s", self.origins[i], tostring(keep)), 2) end
    if keep then
      local k = #rows + 1
      rows[k], origins[k] = self.rows[i], self.origins[i]
    end
  end
  return new(rows, origins)
end

--- The rows in a random order that depends only on `seed`.
---@param seed? integer default 0
---@return ft.Dataset
function Dataset:shuffle(seed)
  local rand = rng(seed or 0)
  local idx = {}
  for i = 1, self.n do idx[i] = i end
  for i = self.n, 2, -1 do
    local j = rand(i)
    idx[i], idx[j] = idx[j], idx[i]
  end
  local rows, origins = {}, {}
  for i, k in ipairs(idx) do rows[i], origins[i] = self.rows[k], self.origins[k] end
  return new(rows, origins)
end

--- Splits into (first, second) with `fraction` of the rows in the first; shuffled first when a seed
--- is given.
---@param fraction number in (0, 1)
---@param opts? {seed?:integer}
---@return ft.Dataset, ft.Dataset
function Dataset:split(fraction, opts)
  if type(fraction) ~= "number" or fraction <= 0 or fraction >= 1 then
    error("Dataset:split: fraction must be a number in (0, 1), got " .. tostring(fraction), 2)
  end
  local o = options.check("Dataset:split", opts, { seed = { type = "integer" } })
  local src = o.seed and self:shuffle(o.seed) or self
  local k = math.floor(src.n * fraction + 0.5)
  return src:take(k), src:skip(k)
end

--- The first n rows.
---@param n integer
---@return ft.Dataset
function Dataset:take(n)
  local rows, origins = {}, {}
  for i = 1, math.min(n, self.n) do rows[i], origins[i] = self.rows[i], self.origins[i] end
  return new(rows, origins)
end

--- All but the first n rows.
---@param n integer
---@return ft.Dataset
function Dataset:skip(n)
  local rows, origins = {}, {}
  for i = n + 1, self.n do rows[i - n], origins[i - n] = self.rows[i], self.origins[i] end
  return new(rows, origins)
end

--- This dataset followed by `other`.
---@param other ft.Dataset|table[]
---@return ft.Dataset
function Dataset:concat(other)
  other = M.as_dataset(other)
  local rows, origins = {}, {}
  for i = 1, self.n do rows[i], origins[i] = self.rows[i], self.origins[i] end
  for i = 1, other.n do rows[self.n + i], origins[self.n + i] = other.rows[i], other.origins[i] end
  return new(rows, origins)
end

--- Tokenizes the rows as ft.sft does: a list of {ids = {...}, labels = {...}} (labels -100 where no
--- loss is taken); returns also the number of skipped and truncated rows.
---@param model ft.Model
---@param opts? {max_len?:integer, train_on_inputs?:boolean, add_eos?:boolean, truncation?:boolean, skip_bad_rows?:boolean}
---@return table[] examples
---@return integer skipped
---@return integer truncated
function Dataset:tokenize(model, opts)
  local o = options.check("Dataset:tokenize", opts, {
    max_len = { type = "integer", default = 1024, min = 2, aliases = { "max_seq_length", "max_length" } },
    train_on_inputs = { type = "boolean", default = false },
    add_eos = { type = "boolean", default = true },
    truncation = { type = "boolean", default = true },
    skip_bad_rows = { type = "boolean", default = false },
  })
  return native.tokenize(model._m, self.rows, self.origins, o)
end

M.Dataset = Dataset
return M
