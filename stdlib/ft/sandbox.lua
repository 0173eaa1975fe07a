--- Runs untrusted Lua (GRPO reward scripts, user snippets) with an allow-list of globals, no io/os/
--- package/ffi/debug/load, reads of undefined globals as errors, and a wall-clock plus instruction
--- budget per call. Sandboxed functions run with the JIT off (LuaJIT runs no hooks inside compiled
--- traces), and a budget kill cannot be swallowed by pcall inside the sandbox.
local C = require "_ft.sandbox"
local options = require "ft.options"

local M = {}

local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "select", "tonumber", "tostring", "type", "unpack",
  "rawequal", "rawget", "rawset", "setmetatable", "print", "_VERSION",
}
local SAFE_LIBS = { "string", "table", "math", "bit", "coroutine" }
local STRING_DENY = { dump = true }

local SPEC = {
  timeout_ms = { type = "number", default = 1000, min = 0, doc = "wall-clock budget per call, in ms",
                 aliases = { "timeout", "time_limit" } },
  instructions = { type = "number", default = 0, min = 0, doc = "VM instruction budget per call (0 = none)" },
  name = { type = "string", default = "sandboxed code", doc = "named in error messages" },
  chunkname = { type = "string",
                doc = "source name in error positions (default \"=\" .. name; load_file uses \"@\" .. path)" },
  env = { type = "table", doc = "extra globals visible to the code (copied in)" },
}

local function copy_lib(lib, deny)
  local t = {}
  for k, v in pairs(lib) do
    if not (deny and deny[k]) then t[k] = v end
  end
  return t
end

--- Builds a fresh sandbox environment.
---@param extra? table extra globals (e.g. helper functions) to expose
---@return table env
function M.env(extra)
  local env = {}
  for _, name in ipairs(SAFE_GLOBALS) do env[name] = _G[name] end
  for _, name in ipairs(SAFE_LIBS) do
    if _G[name] then env[name] = copy_lib(_G[name], name == "string" and STRING_DENY or nil) end
  end
  env.os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }
  -- getmetatable on strings would hand out the shared string metatable.
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end
  -- pcall/xpcall that cannot swallow a budget kill.
  env.pcall = function(f, ...)
    local r = { pcall(f, ...) }
    if C.killed() then error(r[2], 0) end
    return unpack(r, 1, table.maxn(r))
  end
  env.xpcall = function(f, handler)
    local r = { xpcall(f, handler) }
    if C.killed() then error(r[2], 0) end
    return unpack(r, 1, table.maxn(r))
  end
  for k, v in pairs(extra or {}) do env[k] = v end
  env._G = env
  return setmetatable(env, {
    __index = function(_, k)
      error(string.format("sandbox: undefined global '%s'", tostring(k)), 2)
    end,
  })
end

local function compile(code, name, chunkname, env)
  if code:byte(1) == 27 then
    error(string.format("sandbox: %s: precompiled bytecode is not accepted (pass Lua source)", name), 3)
  end
  local chunk, err = loadstring(code, chunkname or ("=" .. name))
  if not chunk then error("sandbox: " .. err, 3) end
  setfenv(chunk, env)
  return chunk
end

--- Wraps code so each call runs under the sandbox's budget.
--- `code` may be Lua source (compiled in a fresh sandbox environment) or a Lua function (its
--- environment is set to the sandbox's; its upvalues remain its own, so pass source for untrusted code).
---@param code string|function
---@param opts? {timeout_ms?: number, instructions?: number, name?: string, chunkname?: string, env?: table}
---@return function run calls the code with its arguments and returns its results
---@return table env the sandbox environment (globals the code defined are there)
function M.new(code, opts)
  opts = options.check("ft.sandbox", opts, SPEC)
  local env = M.env(opts.env)
  local fn
  if type(code) == "string" then
    fn = compile(code, opts.name, opts.chunkname, env)
  elseif type(code) == "function" then
    fn = code
    if pcall(setfenv, fn, env) == false then
      error("ft.sandbox: cannot sandbox a native function", 2)
    end
  else
    error(string.format("ft.sandbox: code must be a string or a function, got %s", type(code)), 2)
  end
  C.jit_off(fn)
  local timeout, budget, name = opts.timeout_ms, opts.instructions, opts.name
  local function run(...)
    return C.call(fn, timeout, budget, name, ...)
  end
  return run, env
end

--- Loads a Lua file into a sandbox: the chunk runs once under the budget, and its return value (for a
--- reward script, a table of functions) is returned with the environment. Error positions name the file
--- ("@path" chunk name: a long path is shortened from the left, keeping the file name).
---@param path string
---@param opts? {timeout_ms?: number, instructions?: number, name?: string, env?: table}
---@return any result, table env
function M.load_file(path, opts)
  local f, err = io.open(path, "rb")
  if not f then error(string.format("ft.sandbox.load_file: cannot open '%s': %s", path, err), 2) end
  local src = f:read("*a")
  f:close()
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.name = o.name or path
  o.chunkname = o.chunkname or ("@" .. path)
  local run, env = M.new(src, o)
  return run(), env
end

--- Wraps a function that already lives in a sandbox environment (e.g. one a sandboxed script
--- returned) so each call runs under its own budget.
---@param fn function
---@param opts? {timeout_ms?: number, instructions?: number, name?: string}
---@return function
function M.wrap(fn, opts)
  opts = options.check("ft.sandbox.wrap", opts, SPEC)
  C.jit_off(fn)
  local timeout, budget, name = opts.timeout_ms, opts.instructions, opts.name
  return function(...) return C.call(fn, timeout, budget, name, ...) end
end

--- Monotonic wall-clock seconds (the clock time limits are measured with; os.clock is CPU time).
---@return number
M.clock = C.clock

return setmetatable(M, { __call = function(_, code, opts) return M.new(code, opts) end })
