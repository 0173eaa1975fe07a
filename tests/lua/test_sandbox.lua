-- ft.sandbox: allow-listed globals, escape attempts fail, budgets stop infinite loops whether the code
-- was JIT-compiled or not, and a kill cannot be swallowed by pcall inside the sandbox.
local T = require "testlib"

local function now() return os.clock() end  -- CPU time: the loops below are CPU-bound
local wall = function()
  local f = io.popen("date +%s%N")
  local ns = tonumber(f:read("*l"))
  f:close()
  return ns / 1e9
end

T.test("sandboxed code computes and returns values", function()
  local run = ft.sandbox("local a, b = ... return a + b, string.upper('x'), math.max(1, 5)")
  T.eq({ run(2, 3) }, { 5, "X", 5 })
end)

T.test("escape attempts fail", function()
  local attempts = {
    { "return io.open('/etc/passwd')", "undefined global 'io'" },
    { "return os.execute('true')", "attempt to call field 'execute'" },
    { "return require('ffi')", "undefined global 'require'" },
    { "return package.loaded", "undefined global 'package'" },
    { "return load('return 1')", "undefined global 'load'" },
    { "return loadstring('return 1')", "undefined global 'loadstring'" },
    { "return dofile('/etc/passwd')", "undefined global 'dofile'" },
    { "return getfenv(0)", "undefined global 'getfenv'" },
    { "return setfenv(1, {})", "undefined global 'setfenv'" },
    { "return debug.getregistry()", "undefined global 'debug'" },
    { "return jit.on()", "undefined global 'jit'" },
    { "return collectgarbage('count')", "undefined global 'collectgarbage'" },
    { "return string.dump(function() end)", "attempt to call field 'dump'" },
    { "return getmetatable('').__index", "attempt to index a nil value" },
    { "return _G.io.open", "undefined global 'io'" },
    { "return rawget(_G, 'io').open", "attempt to index a nil value" },
    { "return ft.load", "undefined global 'ft'" },
    { "\27LJ\2", "precompiled bytecode is not accepted" },
  }
  for _, a in ipairs(attempts) do
    T.raises(function()
      local run = ft.sandbox(a[1], { name = "escape" })
      run()
    end, a[2], a[1])
  end
  -- Modifying the sandbox's library copies does not touch the host's.
  ft.sandbox("string.upper = nil; math.pi = 3")()
  T.eq(string.upper("a"), "A")
  T.ok(math.pi > 3.14)
end)

T.test("errors inside sandboxed code propagate with their message", function()
  local run = ft.sandbox("error('bad reward')", { name = "reward 'r1'" })
  T.raises(run, "reward 'r1':1: bad reward")
end)

local function assert_stopped(run, limit_ms, label)
  local t0 = wall()
  local err = T.raises(run, "exceeded its time limit of " .. limit_ms .. " ms", label)
  local took = (wall() - t0) * 1000
  T.ok(took >= limit_ms * 0.9, string.format("%s: stopped too early (%.0f ms)", label, took))
  T.ok(took < limit_ms + 1000, string.format("%s: stopped after %.0f ms, limit %d ms", label, took, limit_ms))
  return err
end

T.test("an infinite loop in source code is stopped at its time limit", function()
  local run = ft.sandbox("while true do end", { timeout_ms = 200, name = "spin" })
  local err = assert_stopped(run, 200, "while true")
  T.ok(err:find("sandbox: spin exceeded its time limit", 1, true), err)
end)

T.test("a function already JIT-compiled is still stopped", function()
  local function sum(n)
    local x = 0
    for i = 1, n do x = x + i % 7 end
    return x
  end
  -- Warm it up so LuaJIT compiles the loop into a trace (hooks never fire inside traces).
  for _ = 1, 50 do sum(1e5) end
  local run = ft.sandbox(sum, { timeout_ms = 200, name = "hot" })
  assert_stopped(function() return run(1e15) end, 200, "jit-compiled loop")
  -- After the sandbox, the same function still works normally.
  T.eq(sum(10), 1 + 2 + 3 + 4 + 5 + 6 + 0 + 1 + 2 + 3)
end)

T.test("with the JIT globally off the loop is stopped too", function()
  jit.off()
  local run = ft.sandbox("local x = 0 while true do x = x + 1 end", { timeout_ms = 150 })
  assert_stopped(run, 150, "jit off")
  jit.on()
end)

T.test("pcall inside the sandbox cannot swallow the kill", function()
  local code = [[
    local n = 0
    while true do
      pcall(function() while true do end end)
      n = n + 1
    end
  ]]
  local run = ft.sandbox(code, { timeout_ms = 200, name = "swallower" })
  assert_stopped(run, 200, "pcall loop")
  local code2 = [[
    while true do
      xpcall(function() while true do end end, function(e) return e end)
    end
  ]]
  assert_stopped(ft.sandbox(code2, { timeout_ms = 150 }), 150, "xpcall loop")
end)

T.test("instruction budget", function()
  local run = ft.sandbox("local x = 0 for i = 1, 1e9 do x = x + i end return x",
    { timeout_ms = 60000, instructions = 1e5, name = "counted" })
  T.raises(run, "sandbox: counted exceeded its budget of 100000 instructions")
  local ok = ft.sandbox("local x = 0 for i = 1, 100 do x = x + i end return x", { instructions = 1e5 })
  T.eq(ok(), 5050)
end)

T.test("the host is fine after kills and budgets reset per call", function()
  local run = ft.sandbox("local n = ... local x = 0 for i = 1, n do x = x + 1 end return x", { timeout_ms = 300 })
  T.raises(function() run(1e13) end, "time limit")
  T.eq(run(1000), 1000)
  local t0 = now()
  local x = 0
  for i = 1, 1e6 do x = x + i end
  T.ok(now() - t0 < 5)
end)

T.test("load_file runs a script and returns its functions", function()
  local dir = T.tmpdir("sandbox")
  local f = assert(io.open(dir .. "/rewards.lua", "w"))
  f:write("local M = {}\nfunction M.len(s) return #s end\nfunction M.bad() return io end\nreturn M\n")
  f:close()
  local m = ft.sandbox.load_file(dir .. "/rewards.lua", { timeout_ms = 100 })
  T.eq(m.len("abcd"), 4)
  T.raises(m.bad, "undefined global 'io'")
  local wrapped = ft.sandbox.wrap(m.len, { timeout_ms = 50, name = "len" })
  T.eq(wrapped("xy"), 2)
end)

T.test("errors at any stack depth get a traceback", function()
  -- Regression: the traceback skipped the middle of deep stacks with a stale lua_Debug (segfault at 13-22 frames).
  local run = ft.sandbox("error('deep')", { name = "deep" })
  local function nest(n)
    if n == 0 then return pcall(run) end
    local ok, err = nest(n - 1)
    return ok, err
  end
  for depth = 0, 40 do
    local ok, err = nest(depth)
    T.ok(not ok and err:find("^deep:1: deep\nstack traceback:\n"), tostring(err))
  end
end)

T.test("options are validated", function()
  T.raises(function() ft.sandbox("return 1", { timeout = 5 }) end,
    "unknown option 'timeout' (did you mean 'timeout_ms'?)")
  T.raises(function() ft.sandbox(42) end, "code must be a string or a function")
  T.raises(function() ft.sandbox("return (") end, "sandbox: ")
end)

T.done()
