--- Streamed datasets: `ft.data.jsonl(path, { stream = true })` (also csv, load) gives a Stream that reads
--- the file in chunks of rows when it is iterated, never the whole file at once. Transforms (map, filter,
--- take, skip, concat) are lazy: they apply as rows stream past, and take(n) stops reading after n rows.
--- Every iteration reads the file again from the start.
---
---   local s = ft.data.jsonl("big.jsonl", { stream = true }):filter(function(r) return #r.text > 0 end)
---   print(s:take(3):collect()[1].text, s:count())
---   ft.sft{ model = m, data = s, ... }   -- tokenized chunk by chunk: only token ids stay in memory
---
--- What holds memory: one chunk of rows as Lua tables (chunk_size rows, default 1024) and the native
--- reader's buffers (one line or CSV record plus 64 KiB); a JSON array (.json) is parsed whole when opened.
--- ft.sft keeps the tokenized examples (ids and labels, 8 bytes per token), not the rows; with several
--- ranks each one tokenizes the whole stream and its sampler takes its own slice of every global batch.
--- Shuffling needs all rows: the trainer shuffles the examples; Stream:collect() gives an in-memory Dataset.
local native = require "_ft.data"

local M = {}

M.chunk_size = 1024  -- rows per native read (and per tokenization call in ft.sft)

---@class ft.Stream
---@field skipped integer invalid rows skipped by the readers during the last complete pass (skip_invalid)
---@field bytes_read integer bytes of the file read so far by the latest pass (on the stream a file opened)
local Stream = {}
Stream.__index = Stream
Stream.__name = "Stream"

-- A stream is a function that opens a pass: it returns pull(), which gives (rows, origins) lists or nil
-- at the end, and close(), which releases the pass's readers early.
local function new(open, base)
  return setmetatable({ _open = open, _base = base }, Stream)
end

--- A stream over a file; `opts` are the native reader's (format, skip_invalid, limit, delimiter).
---@param path string
---@param opts table
---@return ft.Stream
function M.open(path, opts)
  local s
  s = new(function()
    local reader = native.open(path, opts)
    local finished = false
    local function close()
      if not finished then
        finished = true
        reader:release()
      end
    end
    local function pull()
      if finished then return nil end
      local rows, origins = reader:read(M.chunk_size)
      s.bytes_read = reader:bytes_read()
      if not rows then
        s.skipped = reader:skipped()
        close()
      end
      return rows, origins
    end
    return pull, close
  end)
  s._base = s
  s.skipped, s.bytes_read = 0, 0
  return s
end

--- Is `x` a Stream?
---@param x any
---@return boolean
function M.is_stream(x) return getmetatable(x) == Stream end

function Stream.__tostring() return "Stream" end

-- A stream whose chunks are `fn(rows, origins, state)` of this one's; fn returns new lists (maybe
-- empty) and true to end the pass early.
local function derive(self, fn)
  local parent = self
  return new(function()
    local pull, close = parent._open()
    local state = { seen = 0 }
    local done = false
    return function()
      while not done do
        local rows, origins = pull()
        if not rows then return nil end
        local r, o, stop = fn(rows, origins, state)
        if stop then
          done = true
          close()
        end
        if #r > 0 then return r, o end
      end
      return nil
    end, close
  end, self._base)
end

--- fn(row, i) for every row (fn must return a table), applied as rows stream past.
---@param fn fun(row:table, i:integer):table
---@return ft.Stream
function Stream:map(fn)
  return derive(self, function(rows, origins, st)
    local out = {}
    for k, row in ipairs(rows) do
      st.seen = st.seen + 1
      local ok, r = pcall(fn, row, st.seen)
      if not ok then error(string.format("Stream:map: %s: %s", origins[k], tostring(r)), 0) end
      if type(r) ~= "table" then
        error(string.format("Stream:map: %s: the function returned %s, expected a row table", origins[k], type(r)), 0)
      end
      out[k] = r
    end
    return out, origins
  end)
end

--- The rows for which fn(row, i) is true.
---@param fn fun(row:table, i:integer):boolean
---@return ft.Stream
function Stream:filter(fn)
  return derive(self, function(rows, origins, st)
    local r, o = {}, {}
    for k, row in ipairs(rows) do
      st.seen = st.seen + 1
      local ok, keep = pcall(fn, row, st.seen)
      if not ok then error(string.format("Stream:filter: %s: %s", origins[k], tostring(keep)), 0) end
      if keep then r[#r + 1], o[#o + 1] = row, origins[k] end
    end
    return r, o
  end)
end

--- The first n rows; reading stops once they are there.
---@param n integer
---@return ft.Stream
function Stream:take(n)
  if type(n) ~= "number" or n < 0 then error("Stream:take: n must be a number >= 0, got " .. tostring(n), 2) end
  return derive(self, function(rows, origins, st)
    local r, o = {}, {}
    for k = 1, math.min(#rows, n - st.seen) do r[k], o[k] = rows[k], origins[k] end
    st.seen = st.seen + #r
    return r, o, st.seen >= n
  end)
end

--- All but the first n rows.
---@param n integer
---@return ft.Stream
function Stream:skip(n)
  if type(n) ~= "number" or n < 0 then error("Stream:skip: n must be a number >= 0, got " .. tostring(n), 2) end
  return derive(self, function(rows, origins, st)
    local r, o = {}, {}
    for k = 1, #rows do
      st.seen = st.seen + 1
      if st.seen > n then r[#r + 1], o[#o + 1] = rows[k], origins[k] end
    end
    return r, o
  end)
end

--- This stream followed by `other` (a Stream, a Dataset or a list of rows).
---@param other ft.Stream|ft.Dataset|table[]
---@return ft.Stream
function Stream:concat(other)
  if not M.is_stream(other) then
    local ds = require("ft.data").as_dataset(other)
    other = new(function()
      local given = false
      return function()
        if given then return nil end
        given = true
        return ds.rows, ds.origins
      end, function() given = true end
    end)
  end
  local first = self
  return new(function()
    local pull, close = first._open()
    local second = false
    return function()
      local rows, origins = pull()
      if rows or second then return rows, origins end
      second = true
      pull, close = other._open()
      return pull()
    end, function() close() end
  end, self._base)
end

--- Iterates chunks: `for rows, origins in s:chunks() do ... end` (lists of up to chunk_size rows).
---@return fun():table[]|nil, string[]|nil
function Stream:chunks()
  local pull = self._open()
  return pull
end

--- Iterates rows: `for row, origin in s:rows() do ... end`.
---@return fun():table|nil, string|nil
function Stream:rows()
  local pull = self._open()
  local rows, origins, k = {}, {}, 0
  return function()
    k = k + 1
    if k > #rows then
      rows, origins = pull()
      if not rows then return nil end
      k = 1
    end
    return rows[k], origins[k]
  end
end

--- Number of rows (reads the whole stream once).
---@return integer
function Stream:count()
  local n = 0
  for rows in self:chunks() do n = n + #rows end
  return n
end

--- All rows in memory, as an ft.Dataset.
---@return ft.Dataset
function Stream:collect()
  local rows, origins = {}, {}
  for r, o in self:chunks() do
    for k = 1, #r do rows[#rows + 1], origins[#origins + 1] = r[k], o[k] end
  end
  local ds = require("ft.data")._new(rows, origins)
  ds.skipped = self._base and self._base.skipped or 0
  return ds
end

local function in_order_only(name)
  return function()
    error(string.format("Stream:%s: a stream is read in order, once per pass; call :collect() first to get an" ..
      " in-memory Dataset (ft.sft shuffles examples itself with its seed)", name), 2)
  end
end
Stream.shuffle = in_order_only("shuffle")
Stream.split = in_order_only("split")

--- Tokenizes the stream chunk by chunk into a native Examples store (what ft.sft trains on); only the
--- token ids and labels are kept. `fopts` are ft.sft's formatting options.
---@param model ft.Model
---@param fopts table
---@return userdata examples
function Stream:_tokenize(model, fopts)
  local store = native.examples()
  for rows, origins in self:chunks() do store:add(model._m, rows, origins, fopts) end
  return store
end

M.Stream = Stream
return M
