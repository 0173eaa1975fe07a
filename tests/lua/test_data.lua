-- ft.data files and streams from Lua: CSV (RFC 4180) and ft.data.load by extension, file:line errors and
-- counted skips, lazy streams whose take(n) stops reading, a ~200 MB JSONL streamed (and tokenized by
-- ft.sft) with a peak RSS far below its size, ft.sft on a stream (same losses as on the collected rows),
-- group_by_length, and the bad-data paths of ft.sft (error naming file:line, or a counted skip).
local T = require "testlib"
local data = require "ft.data"
local sft = require "ft.sft"

local tiny = T.tiny_model

local write = T.write

-- kB from /proc/self/status ("VmRSS", "VmHWM").
local function status_kb(key)
  local f = assert(io.open("/proc/self/status", "r"))
  local s = f:read("*a")
  f:close()
  return tonumber(s:match(key .. ":%s*(%d+)"))
end

T.test("csv: header, quoted commas / line breaks / doubled quotes, CRLF; ft.data.load by extension", function()
  local dir = T.tmpdir("data-csv")
  write(dir .. "/pc.csv", 'prompt,completion\r\n"1+1=",2\r\n"say ""hi"", twice","hi\r\nhi"\r\n3+3=,6')
  local ds = data.csv(dir .. "/pc.csv")
  T.eq(ds.n, 3)
  T.eq(ds[1], { prompt = "1+1=", completion = "2" })
  T.eq(ds[2], { prompt = 'say "hi", twice', completion = "hi\r\nhi" })
  T.eq(ds.origins, { dir .. "/pc.csv:2", dir .. "/pc.csv:3", dir .. "/pc.csv:5" })
  T.eq(data.load(dir .. "/pc.csv").rows, ds.rows)
  write(dir .. "/d.jsonl", '{"text":"a"}\n{"text":"b"}\n')
  write(dir .. "/d.json", '[{"text":"a"},{"text":"b"}]')
  write(dir .. "/d.tsv", 'text\tn\na\t1\nb\t2\n')
  write(dir .. "/d.txt", 'text;n\na;1\n')
  T.eq(data.load(dir .. "/d.jsonl")[2], { text = "b" })
  T.eq(data.load(dir .. "/d.json")[2], { text = "b" })
  T.eq(data.load(dir .. "/d.tsv")[2], { text = "b", n = "2" })
  T.eq(data.load(dir .. "/d.txt", { format = "csv", delimiter = ";" })[1], { text = "a", n = "1" })
  T.raises(function() data.load(dir .. "/d.txt") end, "cannot tell the format of")
  T.raises(function() data.load(dir .. "/d.txt", { format = "xml" }) end, "must be one of")
  T.raises(function() data.csv(dir .. "/pc.csv", { delimter = ";" }) end, "did you mean 'delimiter'?")
end)

T.test("csv: a record with the wrong field count names file:line, or is a counted skip", function()
  local dir = T.tmpdir("data-csv-bad")
  write(dir .. "/bad.csv", "prompt,completion\n1+1=,2\n2+2=,4,extra\n3+3=,6\n")
  local err = T.raises(function() data.csv(dir .. "/bad.csv") end,
    dir .. "/bad.csv:3: row has 3 fields, the header (line 1) has 2")
  T.ok(err:find("hint: quote fields that contain the delimiter", 1, true), err)
  local ds = data.csv(dir .. "/bad.csv", { skip_invalid = true })
  T.eq(ds.n, 2)
  T.eq(ds.skipped, 1)
  write(dir .. "/open.csv", 'a,b\n1,"unclosed\n2,3\n')
  T.raises(function() data.csv(dir .. "/open.csv") end, dir .. "/open.csv:2: a quoted field is not closed")
end)

T.test("streams: lazy map/filter/take/skip/concat; take(n) stops before a bad line further on", function()
  local dir = T.tmpdir("data-stream")
  local lines = {}
  for i = 1, 3000 do lines[i] = string.format('{"q":"%d","a":"%d"}', i, 2 * i) end
  lines[#lines + 1] = "{broken"
  write(dir .. "/s.jsonl", table.concat(lines, "\n") .. "\n")
  local s = data.jsonl(dir .. "/s.jsonl", { stream = true })
  T.eq(tostring(s), "Stream")
  local pc = s:map(function(r) return { prompt = r.q, completion = r.a } end)
  local first = pc:take(3):collect()
  T.eq(first.n, 3)
  T.eq(first[3], { prompt = "3", completion = "6" })
  T.eq(first.origins[3], dir .. "/s.jsonl:3")
  -- Reading on reaches the broken last line: an error naming it. take(3) above never got there.
  T.raises(function() pc:count() end, dir .. "/s.jsonl:3001: invalid JSON")
  local ok = data.jsonl(dir .. "/s.jsonl", { stream = true, skip_invalid = true })
  T.eq(ok:count(), 3000)
  T.eq(ok.skipped, 1)
  local even = ok:filter(function(r) return tonumber(r.q) % 2 == 0 end):skip(1000):take(5):collect()
  T.eq(even.n, 5)
  T.eq(even[1].q, "2002")
  local n, last = 0, nil
  for row, origin in ok:take(1500):rows() do n, last = n + 1, { row.q, origin } end
  T.eq({ n, last }, { 1500, { "1500", dir .. "/s.jsonl:1500" } })
  local both = ok:take(2):concat(data.from_table{ { q = "x" } }):collect()
  T.eq({ both.n, both[3].q, both.origins[3] }, { 3, "x", "row 1" })
  T.raises(function() ok:shuffle(1) end, "call :collect() first")
  T.raises(function() data.from_table{}:concat(ok) end, "got a Stream; call :collect()")
  T.raises(function() ok:map(function() return 1 end):take(1):collect() end,
    "Stream:map: " .. dir .. "/s.jsonl:1: the function returned number")
end)

T.test("streams: a ~200 MB JSONL is read with a peak RSS far below its size", function()
  local dir = T.tmpdir("data-big")
  local path = dir .. "/big.jsonl"
  local f = assert(io.open(path, "wb"))
  local pad = string.rep("x", 2000)
  local rows = 100000
  for i = 1, rows do f:write('{"i":', i, ',"text":"', pad, '"}\n') end
  f:close()
  local size = io.open(path, "rb"):seek("end")
  T.ok(size > 200e6, "file size " .. size)
  collectgarbage()
  collectgarbage()
  -- Reset the peak RSS (VmHWM) to the current RSS, then stream the whole file.
  assert(io.open("/proc/self/clear_refs", "w")):write("5")
  local base = status_kb("VmRSS")
  local t0 = os.clock()
  local s = data.jsonl(path, { stream = true })
  local n = s:count()
  local secs = os.clock() - t0
  local peak = status_kb("VmHWM") - base
  T.eq(n, rows)
  print(string.format("     streamed %.0f MB, %d rows in %.2f s CPU (%.0f MB/s); peak RSS growth %.1f MB",
    size / 1e6, n, secs, size / 1e6 / secs, peak / 1024))
  T.ok(peak * 1024 < size / 8, string.format("peak RSS grew by %d kB for a %d byte file", peak, size))
  T.eq(s.bytes_read, size)
  -- take(n) reads only what it needs: one chunk of rows, not the file.
  local few = s:take(10):collect()
  T.eq({ few.n, few[10].i }, { 10, 10 })
  T.ok(s.bytes_read < size / 50, string.format("take(10) read %d of %d bytes", s.bytes_read, size))
  -- ft.sft tokenizes the stream chunk by chunk: memory holds the (truncated) token ids, not the rows.
  local m = tiny()
  collectgarbage()
  assert(io.open("/proc/self/clear_refs", "w")):write("5")
  base = status_kb("VmRSS")
  local run = sft{ model = m, data = s:take(50000), max_len = 32, max_steps = 1, batch_size = 4, log = false }
  peak = status_kb("VmHWM") - base
  T.eq({ run.examples, run.truncated }, { 50000, 50000 })
  print(string.format("     ft.sft on 50000 streamed rows (~100 MB) at max_len 32: peak RSS growth %.1f MB", peak / 1024))
  T.ok(peak * 1024 < size / 4, string.format("peak RSS grew by %d kB", peak))
  os.remove(path)
end)

T.test("ft.sft on a stream: tokenized chunk by chunk, same losses as on the collected rows", function()
  local dir = T.tmpdir("data-sft-stream")
  local lines = {}
  for i = 1, 40 do lines[i] = string.format('{"prompt":"%d+%d=","completion":"%d"}', i, i, 2 * i) end
  write(dir .. "/t.jsonl", table.concat(lines, "\n"))
  local s = data.jsonl(dir .. "/t.jsonl", { stream = true })
  local function run(d)
    local r = sft{ model = tiny(2), data = d, max_steps = 3, batch_size = 4, lr = 1e-2, seed = 9, log = false }
    local losses = {}
    for i = 1, 3 do losses[i] = r:step(1) end
    return losses, r
  end
  local a, ra = run(s)
  local b = run(s:collect())
  T.eq(a, b)
  T.eq(ra.examples, 40)
  -- eval_data may be a stream too.
  local r = sft{ model = tiny(2), data = s, eval_data = s:take(8), max_steps = 1, batch_size = 4, log = false }
  T.ok(r:evaluate().label_tokens > 0)
end)

T.test("ft.sft: group_by_length pads less (padded_tokens per step), same examples per epoch", function()
  local rows = {}
  for i = 1, 256 do
    rows[i] = { prompt = string.rep("p", (i * 37) % 61), completion = string.rep("c", 1 + (i * 11) % 7) }
  end
  local function epoch(group)
    local pad, tokens = 0, 0
    local r = sft{ model = tiny(3), data = rows, batch_size = 8, lr = 1e-3, group_by_length = group, log = false,
      on_step = function(_, s) pad, tokens = pad + s.padded_tokens - s.tokens, tokens + s.tokens end }
    r:train()
    T.eq(r.global_step, 32)
    return pad, tokens
  end
  local pad_plain, tokens_plain = epoch(false)
  local pad_grouped, tokens_grouped = epoch(true)
  print(string.format("     padding per epoch: %d tokens plain, %d grouped", pad_plain, pad_grouped))
  T.eq(tokens_grouped, tokens_plain)  -- every example once per epoch either way
  T.ok(pad_grouped * 4 < pad_plain, string.format("grouped %d vs plain %d padding tokens", pad_grouped, pad_plain))
  T.raises(function() sft{ model = tiny(3), data = rows, group_by_lenght = true } end, "did you mean 'group_by_length'?")
end)

T.test("ft.sft bad data: invalid JSON, missing field, empty completion, over-long: error with file:line or counted skip",
  function()
    local dir = T.tmpdir("data-bad")
    local p = dir .. "/bad.jsonl"
    write(p, table.concat({
      '{"prompt":"a","completion":"1"}',
      '{"prompt":"b","completion":"2"}',
      '{"prompt": oops}',                                   -- 3: invalid JSON
      '{"prompt":"c"}',                                      -- 4: missing completion
      '{"prompt":"d","completion":""}',                      -- 5: empty completion
      '{"prompt":"e","completion":"' .. string.rep("z", 40) .. '"}', -- 6: over-long for max_len 16
      '{"prompt":"f","completion":"3"}',
    }, "\n"))
    local m = tiny()
    local base = { model = m, batch_size = 1, max_len = 16, truncation = false, log = false }
    local function with(t)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(t) do o[k] = v end
      return o
    end
    T.raises(function() data.jsonl(p) end, p .. ":3: invalid JSON")
    local valid = data.jsonl(p, { skip_invalid = true })
    T.raises(function() sft(with{ data = valid }) end, p .. ":4: row has 'prompt' but no 'completion' field")
    T.raises(function() sft(with{ data = valid:filter(function(r) return r.prompt ~= "c" end) }) end,
      p .. ":5: empty completion")
    T.raises(function() sft(with{ data = valid:filter(function(r) return r.prompt > "d" end) }) end,
      p .. ":6: sample has 43 tokens, more than max_len 16")
    local run = sft(with{ data = valid, skip_bad_rows = true })
    T.eq({ run.skipped, run.skipped_invalid, run.examples }, { 3, 1, 3 })
    -- The same through a stream.
    local srun = sft(with{ data = data.jsonl(p, { stream = true, skip_invalid = true }), skip_bad_rows = true })
    T.eq({ srun.skipped, srun.skipped_invalid, srun.examples }, { 3, 1, 3 })
  end)

T.done()
