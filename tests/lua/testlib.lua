--- Minimal test harness for tests/lua/test_*.lua (run by fthost; ctest registers each file).
--- local T = require "testlib"; T.test("name", function() T.eq(1 + 1, 2) end); T.done()
--- T.done() prints "N passed, N failed" and exits non-zero when anything failed.
local T = {}
local passed, failed = 0, 0
local only = os.getenv("FTHOST_TEST_ONLY")

local inspect = require "ft.inspect"

local function deep_eq(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then
    return type(a) == "number" and type(b) == "number" and a ~= a and b ~= b  -- NaN == NaN here
  end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_eq(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
T.deep_eq = deep_eq

local function fail(msg, level)
  error(msg, (level or 1) + 2)
end

--- Asserts deep equality (tables compared by content).
function T.eq(actual, expected, msg)
  if not deep_eq(actual, expected) then
    fail(string.format("%sexpected %s, got %s", msg and (msg .. ": ") or "", inspect(expected), inspect(actual)))
  end
end

--- Asserts |a - b| <= tol (numbers, or tables of numbers element-wise).
function T.near(actual, expected, tol, msg)
  tol = tol or 1e-6
  local function walk(a, e, path)
    if type(e) == "table" then
      if type(a) ~= "table" or #a ~= #e then
        fail(string.format("%s%s: expected a table of %d, got %s", msg and (msg .. ": ") or "", path, #e,
          inspect(a)), 2)
      end
      for i = 1, #e do walk(a[i], e[i], path .. "[" .. i .. "]") end
    else
      if type(a) ~= "number" or math.abs(a - e) > tol then
        fail(string.format("%s%s: expected %.10g (tol %g), got %s", msg and (msg .. ": ") or "", path, e, tol,
          tostring(a)), 2)
      end
    end
  end
  walk(actual, expected, "value")
end

--- Asserts a value is truthy.
function T.ok(v, msg)
  if not v then fail(msg or "expected a true value, got " .. tostring(v)) end
  return v
end

--- Asserts that fn raises an error whose message contains `needle` (plain text). Returns the message.
function T.raises(fn, needle, msg)
  local ok, err = pcall(fn)
  if ok then fail((msg and (msg .. ": ") or "") .. "expected an error containing " .. inspect(needle)) end
  err = tostring(err)
  if needle and not err:find(needle, 1, true) then
    fail(string.format("%sexpected an error containing %s, got %s", msg and (msg .. ": ") or "", inspect(needle),
      inspect(err)))
  end
  return err
end

--- A scratch folder for this test file (removed and recreated).
function T.tmpdir(name)
  local base = os.getenv("FTHOST_TEST_TMP") or "/tmp/fthost-test"
  local dir = base .. "/" .. (name or "t") .. "-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9))
  assert(os.execute("rm -rf '" .. dir .. "' && mkdir -p '" .. dir .. "'") == 0, "cannot create " .. dir)
  return dir
end

--- Runs a named test; failures are reported and counted, the file goes on.
function T.test(name, fn)
  if only and not name:find(only, 1, true) then return end
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    passed = passed + 1
    io.write("ok   ", name, "\n")
  else
    failed = failed + 1
    io.write("FAIL ", name, "\n     ", tostring(err):gsub("\n", "\n     "), "\n")
  end
  io.flush()
end

--- Prints the summary line and exits (non-zero when any test failed or none ran).
function T.done()
  io.write(string.format("%d passed, %d failed\n", passed, failed))
  io.flush()
  os.exit((failed == 0 and passed > 0) and 0 or 1)
end

--- The tiny model the training tests use (2 layers, hidden 32, 4/2 heads, byte tokenizer); `extra`
--- fields are added to ft.new's options (e.g. init_std).
function T.tiny_model(seed, extra)
  local o = { hidden = 32, layers = 2, heads = 4, kv_heads = 2, intermediate = 64, seed = seed or 1 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return require("ft").new(o)
end

--- Writes `text` to `path` (binary).
function T.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The whole content of `path` (binary).
function T.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

return T
