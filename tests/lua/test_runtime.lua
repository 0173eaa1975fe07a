-- The Lua runtime: option validation, argument parsing, pretty printing, error crossing between C++
-- and Lua in both directions, lazily loaded stdlib modules.
local T = require "testlib"
local core = require "_ft.core"

-- A public-style function validating its options, so error levels point at the caller's line.
local SPEC = {
  lr = { type = "number", default = 2e-4, min = 0, aliases = { "learning_rate" } },
  epochs = { type = "integer", default = 1 },
  loss = { type = "string", default = "dapo", one_of = { "grpo", "bnpo", "dr_grpo", "dapo" } },
  output = { type = "string", required = true },
  max_len = { type = "integer", default = 1024 },
  packing = { type = "boolean", default = false },
}
local function sft(opts)
  local o = ft.options.check("ft.sft", opts, SPEC)  -- not a tail call: keeps sft's frame for the level
  return o
end

T.test("options: defaults are filled in and values kept", function()
  local o = sft { output = "runs/x", epochs = 3 }
  T.eq(o.lr, 2e-4)
  T.eq(o.epochs, 3)
  T.eq(o.loss, "dapo")
  T.eq(o.packing, false)
end)

T.test("options: unknown key names the nearest valid key", function()
  T.raises(function() sft { output = "x", learning_rate = 1e-3 } end,
    "ft.sft: unknown option 'learning_rate' (did you mean 'lr'?)")
  T.raises(function() sft { output = "x", epoch = 2 } end, "unknown option 'epoch' (did you mean 'epochs'?)")
  T.raises(function() sft { output = "x", max_length = 2 } end, "(did you mean 'max_len'?)")
  local err = T.raises(function() sft { output = "x", zzzzzzzzzz = 1 } end, "valid options: epochs, loss, lr")
  -- The error is raised at the caller's line (this file), not inside the stdlib.
  T.ok(err:find("test_runtime.lua:%d+: ft.sft"), err)
end)

T.test("options: wrong types, enums, ranges, required", function()
  T.raises(function() sft { output = "x", lr = "fast" } end, "ft.sft: option 'lr' must be number, got string")
  T.raises(function() sft { output = "x", epochs = 1.5 } end, "option 'epochs' must be integer, got number")
  T.raises(function() sft { output = "x", loss = "ppo" } end,
    "option 'loss' must be one of \"grpo\", \"bnpo\", \"dr_grpo\", \"dapo\", got \"ppo\"")
  T.raises(function() sft { output = "x", lr = -1 } end, "option 'lr' must be >= 0, got -1")
  T.raises(function() sft {} end, "ft.sft: option 'output' is required")
  T.raises(function() sft(42) end, "ft.sft: options must be a table, got integer")
end)

T.test("args: --key=value typed, flags, positionals", function()
  local a = require("ft.args").parse { "a", "--lr=3e-4", "--epochs=2", "--fast", "--no-shuffle", "--name=run1",
    "b", "--ratio=0.5", "--flag=false", "--max-len=7", "--empty=" }
  T.eq(a[1], "a")
  T.eq(a[2], "b")
  T.eq(a.lr, 3e-4)
  T.eq(a.epochs, 2)
  T.eq(a.fast, true)
  T.eq(a.shuffle, false)
  T.eq(a.name, "run1")
  T.eq(a.ratio, 0.5)
  T.eq(a.flag, false)
  T.eq(a.max_len, 7)
  T.eq(a.empty, "")
end)

T.test("inspect: nested tables, sorted keys, cycles, strings", function()
  T.eq(ft.inspect { 1, 2, x = "a" }, '{ 1, 2, x = "a" }')
  local t = { b = 1, a = { c = true } }
  T.eq(ft.inspect(t), "{ a = { c = true }, b = 1 }")
  t.self = t
  T.ok(ft.inspect(t):find("<cycle>", 1, true))
  T.eq(ft.inspect(0.5), "0.5")
  T.eq(ft.inspect { ["with space"] = 1 }, '{ ["with space"] = 1 }')
end)

T.test("C++ exception becomes a catchable Lua error at the caller's line with the hint", function()
  local ok, err = pcall(core.test_throw, "no config.json in 'x'", "pass a model folder")
  T.eq(ok, false)
  T.ok(err:find("ft.test_throw: no config.json in 'x'", 1, true), err)
  T.ok(err:find("\nhint: pass a model folder", 1, true), err)
  local _, err2 = pcall(function() core.test_throw("boom") end)
  T.ok(err2:match("test_runtime%.lua:%d+: ft%.test_throw: boom$"), err2)
end)

T.test("argument errors name the argument and the function", function()
  T.raises(function() core.seed("x") end, "bad argument #1 to 'ft.seed' (number expected, got string)")
  T.raises(function() core.seed(1.5) end, "bad argument #1 to 'ft.seed' (integer expected")
  T.raises(function() core.threads(0) end, "bad argument #1 to 'ft.threads' (a thread count >= 1 expected, got 0)")
end)

T.test("Lua error inside a callback called from C++ carries the Lua traceback", function()
  local function inner() error("reward exploded") end
  local ok, err = pcall(core.test_call, function() inner() end)
  T.eq(ok, false)
  T.ok(err:find("reward exploded", 1, true), err)
  T.ok(err:find("stack traceback:", 1, true), err)
  T.ok(err:find("in function 'inner'", 1, true) or err:find("inner", 1, true), err)
  T.ok(err:find("[C++] ft.test_call", 1, true), err)
  -- values pass through when nothing fails
  T.eq({ core.test_call(function(a, b) return a + b, "x" end, 2, 3) }, { 5, "x" })
end)

T.test("1000 crossings each way leave the VM healthy", function()
  for i = 1, 1000 do
    local ok = pcall(core.test_throw, "e" .. i)
    assert(not ok)
    local ok2 = pcall(core.test_call, function() error("x" .. i) end)
    assert(not ok2)
    -- nested: C++ -> Lua -> C++ exception -> back through C++ -> Lua
    local ok3, e3 = pcall(core.test_call, function() core.test_throw("deep") end)
    assert(not ok3 and e3:find("deep", 1, true))
  end
  collectgarbage()
  T.eq(core.test_call(function() return 7 end), 7)
end)

T.test("stdlib modules load lazily and unknown ones are nil", function()
  T.eq(type(ft.options.check), "function")
  T.eq(ft.no_such_module, nil)
  T.eq(ft.inspect, require "ft.inspect")
end)

T.test("ft.seed and ft.threads", function()
  ft.seed(7)
  local a = math.random()
  ft.seed(7)
  T.eq(math.random(), a)
  local n = ft.threads()
  T.ok(n >= 1)
  T.eq(ft.threads(1), 1)
  ft.threads(n)
end)

T.done()
