--- GRPO reward functions. `ft.reward{...}` wraps a Lua function (per sample, or per batch) with a name,
--- weight, error policy and time limit; `ft.rewards.compute` scores samples with a list of rewards (nil =
--- not applicable, as in TRL); `ft.rewards.load` runs a reward script in the sandbox; built-ins below.
---
---   local fmt = ft.reward{ name = "fmt", fn = function(s) return s.completion:find("</think>") and 1 or 0 end }
---   local res = ft.rewards.compute({ fmt, ft.rewards.numeric_answer{} }, samples)
---   print(res.total[1], res.values[2][1], res.stats[1].mean)
---
--- Every call runs under a wall-clock limit (`timeout_ms`) through the sandbox's hook, with the JIT off
--- while rewards run (LuaJIT runs no hooks inside compiled traces, so a hot loop could not be stopped).
local sandbox = require "ft.sandbox"
local options = require "ft.options"
local C = require "_ft.sandbox"

local M = {}

local DEFAULT_TIMEOUT_MS = 1000
local COMPLETION_PREVIEW = 60 -- bytes of the completion quoted in error messages

-- Options every reward takes (ft.reward and each built-in constructor).
local COMMON = {
  name = { type = "string", doc = "named in logs and errors (default: the constructor, or file:line of fn)" },
  weight = { type = "number", default = 1.0, doc = "multiplies the reward in the total (TRL reward_weights)" },
  on_error = { type = "string", default = "raise", one_of = { "raise", "zero", "skip" },
    doc = "a call that errors, times out or returns NaN/inf: raise, count it as 0, or count it as nil" },
  timeout_ms = { type = "number", min = 1, aliases = { "timeout", "time_limit" },
    doc = "wall-clock limit per call in ms (default 1000; math.huge: none)" },
}

local SPEC = {
  fn = { type = "callable", required = true, doc = "fn(sample) -> number|nil, or fn(samples) -> list with batch" },
  batch = { type = "boolean", default = false, doc = "fn takes the list of samples and returns one value per sample" },
}
for k, v in pairs(COMMON) do SPEC[k] = v end

-- Rewards made by this module (weak keys: a marker no script can forge through a metatable).
local IS_REWARD = setmetatable({}, { __mode = "k" })
-- Built-in constructors passed uncalled (`rewards = { ft.rewards.think_format }`) mean their defaults.
local FACTORIES = setmetatable({}, { __mode = "k" })
-- While ft.rewards.load runs a script: the file's time limit, the default and the cap for its rewards.
local loading

local Reward = {}
Reward.__index = Reward
Reward.__metatable = false -- getmetatable(r) from a sandboxed script sees nothing to modify

----------------------------------------------------------------------------------------------------------
-- Helpers
----------------------------------------------------------------------------------------------------------

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function count_plain(s, needle)
  local n, pos = 0, 1
  while true do
    local a, b = s:find(needle, pos, true)
    if not a then return n end
    n, pos = n + 1, b + 1
  end
end

local function escape_pattern(s) return (s:gsub("%p", "%%%0")) end

-- "reward.lua:14" for a Lua function (file base name and the line it is defined on).
local function where_defined(fn)
  if type(fn) ~= "function" then return "callable table" end
  local info = debug.getinfo(fn, "S")
  if info.what == "C" then return "native function" end
  return string.format("%s:%d", (info.short_src or "?"):match("[^/]*$"), info.linedefined or 0)
end

-- The start of a string for a message: at most `n` bytes (not cutting a UTF-8 character), newlines escaped.
local function preview(s, n)
  n = n or COMPLETION_PREVIEW
  local cut = s
  if #s > n then
    local e = n
    while e > 0 and (s:byte(e + 1) or 0) >= 0x80 and (s:byte(e + 1) or 0) < 0xC0 do e = e - 1 end
    cut = s:sub(1, e)
  end
  cut = cut:gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub("\r", "\\r"):gsub("\t", "\\t"):gsub('"', '\\"')
  return '"' .. cut .. (#s > n and '..."' or '"')
end

-- What a reward returned, for an error message.
local function describe_value(v)
  local t = type(v)
  if t == "string" then return "a string (" .. preview(v, 40) .. ")" end
  if t == "boolean" then return "a boolean (" .. tostring(v) .. ")" end
  if t == "number" then
    if v ~= v then return "NaN" end
    return v > 0 and "inf" or "-inf"
  end
  return "a " .. t
end

-- "sample 3 (group 1, completion "...")"
local function describe_sample(s, i)
  if type(s) ~= "table" then return string.format("sample %d (a %s, not a table)", i, type(s)) end
  local parts = {}
  if s.group ~= nil then parts[#parts + 1] = "group " .. tostring(s.group) end
  if type(s.completion) == "string" then parts[#parts + 1] = "completion " .. preview(s.completion) end
  local idx = s.index ~= nil and tostring(s.index) or tostring(i)
  if #parts == 0 then return "sample " .. idx end
  return string.format("sample %s (%s)", idx, table.concat(parts, ", "))
end

local clock = C.clock

-- Runs f(...) with the JIT off and no compiled traces left (LuaJIT runs no hooks inside a trace, so a
-- loop in a helper the reward calls could not be stopped otherwise); restores the JIT state after.
local function with_jit_off(f, ...)
  local was_on = jit ~= nil and jit.status()
  if jit then
    jit.off()
    jit.flush() -- also when the JIT is off now: traces compiled while it was on would still run
  end
  local r = { pcall(f, ...) }
  if was_on then jit.on() end
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, table.maxn(r))
end

----------------------------------------------------------------------------------------------------------
-- Reward objects
----------------------------------------------------------------------------------------------------------

-- Builds a Reward from checked options `o` (fn present); `default_name` when o.name is nil.
local function make_reward(o, default_name, level)
  local timeout = o.timeout_ms or (loading and loading.timeout_ms) or DEFAULT_TIMEOUT_MS
  if loading then timeout = math.min(timeout, loading.timeout_ms) end
  if o.weight ~= o.weight or o.weight == math.huge or o.weight == -math.huge then
    error(string.format("ft.reward: option 'weight' must be a finite number, got %s", tostring(o.weight)),
      level or 0)
  end
  local name = o.name or default_name or ("reward (" .. where_defined(o.fn) .. ")")
  local fn = o.fn
  if type(fn) ~= "function" then
    local callable = fn
    fn = function(...) return callable(...) end
  end
  local r = setmetatable({
    name = name, fn = o.fn, batch = o.batch, weight = o.weight, on_error = o.on_error, timeout_ms = timeout,
    sandboxed = loading ~= nil, source = loading and loading.path or nil,
  }, Reward)
  r._call = sandbox.wrap(fn, { timeout_ms = timeout, name = "reward '" .. name .. "'" })
  IS_REWARD[r] = true
  return r
end

--- Makes a reward: a Lua function over one sample (`fn(s)`: `s.prompt`, `s.completion`, `s.completion_ids`,
--- `s.row` (the dataset row, all columns), `s.index`, `s.group`), returning a number or nil (not applicable);
--- or with `batch = true` over the list of samples, returning one number or nil per sample (a list whose
--- last values are nil needs `n`: `{ n = #samples, ... }`). Every call runs under `timeout_ms`; a call that
--- errors, times out or returns NaN/inf is handled per `on_error`. A Reward is callable: `r(s)` scores one
--- sample. Rewards must not modify the samples (the other rewards see the same tables).
---@param spec {fn: function, name?: string, batch?: boolean, weight?: number, on_error?: "raise"|"zero"|"skip", timeout_ms?: number}
---@return ft.Reward
function M.new(spec)
  local o = options.check("ft.reward", spec, SPEC)
  return make_reward(o, nil, 3)
end

--- True when `v` is a Reward made by ft.reward or a built-in constructor.
---@param v any
---@return boolean
function M.is_reward(v) return IS_REWARD[v] == true end

---@class ft.Reward
---@field name string
---@field fn function the user's function
---@field batch boolean
---@field weight number
---@field on_error string
---@field timeout_ms number
---@field sandboxed boolean true for rewards from ft.rewards.load (they run with the sandbox's globals)

--- Scores one sample (with the reward's error policy): `r(s)` -> number or nil.
function Reward.__call(r, s)
  return M.compute({ r }, { s }).values[1][1]
end

function Reward.__tostring(r)
  return string.format("ft.Reward '%s' (%s, weight %g, on_error %s, timeout %g ms)", r.name,
    r.batch and "batch" or "per sample", r.weight, r.on_error, r.timeout_ms)
end

----------------------------------------------------------------------------------------------------------
-- Lists of rewards
----------------------------------------------------------------------------------------------------------

local function is_callable(v)
  if type(v) == "function" then return true end
  local ok, mt = pcall(getmetatable, v)
  return ok and type(mt) == "table" and mt.__call ~= nil
end

-- One entry of a rewards list -> Reward. `label` says where it came from ("rewards[2]"); `key` is its name
-- in a name -> reward map, `pos` its position in a list (plain functions become "reward #pos (file:line)").
local function to_reward(v, label, key, pos)
  if IS_REWARD[v] then return v end
  if FACTORIES[v] then return v({ name = key }) end
  local function default_name(fn) return key or string.format("reward #%d (%s)", pos, where_defined(fn)) end
  if type(v) == "table" and not getmetatable(v) and v.fn ~= nil then
    local o = options.check("ft.reward (" .. label .. ")", v, SPEC, 0)
    return make_reward(o, default_name(o.fn))
  end
  if is_callable(v) then
    return make_reward({ fn = v, batch = false, weight = 1.0, on_error = "raise" }, default_name(v))
  end
  error(string.format("ft.rewards: %s must be a function, an ft.reward or a reward spec table { fn = ... }, got %s",
    label, type(v)), 0)
end

--- Normalises what users pass as `rewards`: one reward or a list (or a name -> reward map, taken in name
--- order) of Rewards, plain functions, reward spec tables `{ fn = ..., ... }` or built-in constructors
--- passed uncalled (`ft.rewards.think_format` = its defaults). Plain functions are named
--- "reward #k (file.lua:line)". Two rewards with the same name are an error (logs are keyed by name).
---@param rewards any
---@return ft.Reward[]
function M.list(rewards)
  local entries = {}
  if IS_REWARD[rewards] or FACTORIES[rewards] or is_callable(rewards) or
      (type(rewards) == "table" and rewards.fn ~= nil) then
    entries[1] = { rewards, "rewards" }
  elseif type(rewards) == "table" then
    local n = table.maxn(rewards)
    local keys = {}
    for k in pairs(rewards) do
      if type(k) == "string" then
        keys[#keys + 1] = k
      elseif type(k) ~= "number" or k < 1 or k > n or k ~= math.floor(k) then
        error(string.format("ft.rewards: rewards must be a list or a name -> reward map, found key %s",
          tostring(k)), 0)
      end
    end
    if n > 0 and #keys > 0 then
      error("ft.rewards: rewards mixes a list and named entries ('" .. keys[1] .. "'); use one or the other", 0)
    end
    for i = 1, n do
      if rewards[i] == nil then error(string.format("ft.rewards: rewards[%d] is nil (a hole in the list)", i), 0) end
      entries[i] = { rewards[i], string.format("rewards[%d]", i), nil, i }
    end
    table.sort(keys)
    for _, k in ipairs(keys) do entries[#entries + 1] = { rewards[k], "rewards." .. k, k, #entries + 1 } end
  else
    error(string.format("ft.rewards: rewards must be a reward, a function or a list of them, got %s",
      type(rewards)), 0)
  end
  if #entries == 0 then error("ft.rewards: the list of rewards is empty", 0) end
  local out, seen = {}, {}
  for i, e in ipairs(entries) do
    local r = to_reward(e[1], e[2], e[3], e[4] or i)
    if seen[r.name] then
      error(string.format("ft.rewards: two rewards are named '%s' (%s and %s); give one a different `name`",
        r.name, entries[seen[r.name]][2], e[2]), 0)
    end
    seen[r.name] = i
    out[i] = r
  end
  return out
end

----------------------------------------------------------------------------------------------------------
-- Scoring
----------------------------------------------------------------------------------------------------------

-- The traceback of an error in reward code, cut where fthost's own frames (the call machinery) begin.
local function trim_traceback(msg)
  local head, tb = msg:match("^(.-\nstack traceback:)(.*)$")
  if not head then return msg end
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("ft/rewards%.lua:") or line:find("ft/sandbox%.lua:") then break end
    keep[#keep + 1] = line
  end
  while #keep > 0 and keep[#keep]:find("^%s*%[C%]: in ") do keep[#keep] = nil end
  if keep[1] and keep[1]:find("^%s*%[C%]: in function 'error'$") then table.remove(keep, 1) end
  if #keep == 0 then return (head:gsub("\nstack traceback:$", "")) end
  return head .. "\n" .. table.concat(keep, "\n")
end

-- A reward's failure: the error policy applies (unlike contract violations, which always raise).
local function failure(r, what, msg)
  msg = trim_traceback(tostring(msg)):gsub("^sandbox: reward '.-' (exceeded its time limit)", "%1")
  return { policy = true, text = string.format("reward '%s' failed on %s: %s", r.name, what, msg) }
end

-- Checks one returned value: v (ok), or nil + an error record.
local function check_value(r, v, s, i)
  if v == nil then return nil end
  if type(v) == "number" then
    if v == v and v ~= math.huge and v ~= -math.huge then return v end
    return nil, { policy = true, text = string.format("reward '%s' returned %s for %s; expected a finite number or nil",
      r.name, describe_value(v), describe_sample(s, i)) }
  end
  local hint = type(v) == "boolean" and " (for a condition, return `cond and 1 or 0`)" or ""
  return nil, { policy = false, text = string.format("reward '%s' returned %s for %s; expected a number or nil%s",
    r.name, describe_value(v), describe_sample(s, i), hint) }
end

-- Calls reward r on all samples; fills vals[i] and returns the count of policy-handled errors.
local function run_reward(r, samples, n, vals)
  local errors = 0
  local function handle(err, i)
    if not err.policy or r.on_error == "raise" then error(err.text, 0) end
    errors = errors + 1
    vals[i] = r.on_error == "zero" and 0 or nil
  end
  if not r.batch then
    local call = r._call
    for i = 1, n do
      local s = samples[i]
      local ok, v = pcall(call, s)
      if not ok then
        handle(failure(r, describe_sample(s, i), v), i)
      else
        local x, err = check_value(r, v, s, i)
        if err then handle(err, i) else vals[i] = x end
      end
    end
    return errors
  end
  local ok, out = pcall(r._call, samples)
  if not ok then
    local err = failure(r, string.format("a batch of %d samples", n), out)
    for i = 1, n do handle(err, i) end
    return errors
  end
  if type(out) ~= "table" then
    error(string.format("reward '%s' (batch) returned %s; expected a list of %d numbers or nils", r.name,
      type(out) == "number" and "a number" or describe_value(out), n), 0)
  end
  local len = out.n or table.maxn(out)
  if len ~= n then
    error(string.format("reward '%s' (batch) returned %s values for %d samples; return one number or nil per " ..
      "sample (a list ending in nils needs its length: { n = %d, ... })", r.name, tostring(len), n, n), 0)
  end
  for i = 1, n do
    local x, err = check_value(r, out[i], samples[i], i)
    if err then handle(err, i) else vals[i] = x end
  end
  return errors
end

-- Mean and sample standard deviation (Bessel-corrected, as TRL's nanstd) of the numbers in vals[1..n].
local function mean_std(vals, n)
  local sum, cnt = 0, 0
  for i = 1, n do
    if vals[i] ~= nil then sum, cnt = sum + vals[i], cnt + 1 end
  end
  if cnt == 0 then return nil, nil, 0 end
  local mean = sum / cnt
  if cnt < 2 then return mean, 0, cnt end
  local ss = 0
  for i = 1, n do
    if vals[i] ~= nil then ss = ss + (vals[i] - mean) ^ 2 end
  end
  return mean, math.sqrt(ss / (cnt - 1)), cnt
end

local COMPUTE_SPEC = {
  weights = { type = "table", aliases = { "reward_weights" },
    doc = "one weight per reward, replacing each reward's own weight" },
}

--- Scores samples with rewards. `res.total[i]` is the weighted sum of the non-nil rewards of sample i, or
--- nil when every reward returned nil for it (TRL: such a sample gets advantage 0); `res.values[k][i]` is
--- reward k's value (nil kept); `res.names[k]`, `res.weights[k]`; `res.stats[k] = { mean, std, n, n_nil,
--- n_error, seconds }` over reward k's numbers (std Bessel-corrected, 0 below two numbers; n + n_nil =
--- #samples; n_error counts calls handled by on_error "zero"/"skip"); `res.seconds` is the time spent in
--- reward code; `res.n` the number of samples (`#res.total` is unreliable when it holds nils).
--- With on_error = "raise" the first failure stops with an error naming the reward, the sample (index,
--- group, start of the completion) and the Lua traceback. A value that is not a number or nil (a string, a
--- boolean, a wrong-length batch list) is always an error.
---@param rewards any see ft.rewards.list
---@param samples table[] list of samples
---@param opts? {weights?: number[]}
---@return {total: (number|nil)[], values: (number|nil)[][], names: string[], weights: number[], stats: table[], seconds: number, n: integer}
function M.compute(rewards, samples, opts)
  opts = options.check("ft.rewards.compute", opts, COMPUTE_SPEC)
  local list = M.list(rewards)
  if type(samples) ~= "table" then
    error(string.format("ft.rewards.compute: samples must be a list of sample tables, got %s", type(samples)), 2)
  end
  local n = #samples
  local weights = {}
  if opts.weights then
    if #opts.weights ~= #list then
      error(string.format("ft.rewards.compute: weights has %d entries for %d rewards", #opts.weights, #list), 2)
    end
    for k, w in ipairs(opts.weights) do
      if type(w) ~= "number" or w ~= w or w == math.huge or w == -math.huge then
        error(string.format("ft.rewards.compute: weights[%d] must be a finite number, got %s", k, tostring(w)), 2)
      end
      weights[k] = w
    end
  else
    for k, r in ipairs(list) do weights[k] = r.weight end
  end
  local res = { total = {}, values = {}, names = {}, weights = weights, stats = {}, seconds = 0, n = n }
  with_jit_off(function()
    for k, r in ipairs(list) do
      local vals = {}
      local t0 = clock()
      local n_error = run_reward(r, samples, n, vals)
      local dt = clock() - t0
      local mean, std, cnt = mean_std(vals, n)
      res.values[k], res.names[k] = vals, r.name
      res.stats[k] = { mean = mean, std = std, n = cnt, n_nil = n - cnt, n_error = n_error, seconds = dt }
      res.seconds = res.seconds + dt
    end
  end)
  for i = 1, n do
    local total
    for k = 1, #list do
      local v = res.values[k][i]
      if v ~= nil then total = (total or 0) + weights[k] * v end
    end
    res.total[i] = total
  end
  return res
end

----------------------------------------------------------------------------------------------------------
-- Reward scripts
----------------------------------------------------------------------------------------------------------

local LOAD_SPEC = {
  timeout_ms = { type = "number", default = DEFAULT_TIMEOUT_MS, min = 1, aliases = { "timeout", "time_limit" },
    doc = "per-call limit for the script's rewards (a reward's own timeout_ms can only lower it) and for the script" },
}

-- What a reward script sees as `ft`: the constructors and helpers, no host access.
local function script_api()
  local api = { reward = M.new, rewards = {} }
  for _, name in ipairs({ "think_format", "exact_answer", "numeric_answer", "length_penalty", "soft_overlong",
    "repetition_penalty", "extract", "last_number", "is_reward" }) do
    api.rewards[name] = M[name]
  end
  return api
end

--- Loads a reward script in the sandbox (no io/os/require/load...; see ft.sandbox). The script returns a
--- function, a reward spec table `{ fn = ..., name = ... }`, an ft.reward, or a list or name -> reward map
--- of them; it can use `ft.reward` and the built-ins as `ft.rewards.*`. Every reward it yields runs
--- sandboxed with the per-call time limit. Errors name the script's file and line.
---@param path string
---@param opts? {timeout_ms?: number}
---@return ft.Reward[]
function M.load(path, opts)
  opts = options.check("ft.rewards.load", opts, LOAD_SPEC)
  if type(path) ~= "string" then
    error(string.format("ft.rewards.load: path must be a string, got %s", type(path)), 2)
  end
  local f, err = io.open(path, "rb")
  if not f then error(string.format("ft.rewards.load: cannot open '%s': %s", path, err), 2) end
  f:close()
  loading = { timeout_ms = opts.timeout_ms, path = path }
  local ok, out = pcall(function()
    local result = with_jit_off(sandbox.load_file, path,
      { timeout_ms = opts.timeout_ms, name = path, env = { ft = script_api() } })
    if result == nil then
      error(string.format("%s returned nothing; a reward script returns a function, a reward spec table " ..
        "{ fn = ... } or a list/map of them", path), 0)
    end
    if type(result) ~= "table" and not is_callable(result) then
      error(string.format("%s returned a %s; a reward script returns a function, a reward spec table " ..
        "{ fn = ... } or a list/map of them", path, type(result)), 0)
    end
    return M.list(result)
  end)
  loading = nil
  if not ok then
    local msg = trim_traceback(tostring(out)):gsub("^[^\n]-ft/sandbox%.lua:%d+: ", ""):gsub("^sandbox: ", "")
    error("ft.rewards.load: " .. msg, 2)
  end
  return out
end

----------------------------------------------------------------------------------------------------------
-- Answer extraction and numbers
----------------------------------------------------------------------------------------------------------

-- Content of the last \boxed{...} (or \fbox{...}), braces balanced; nil if none.
local function last_boxed(text)
  local last, pos = nil, 1
  while true do
    local a, b = text:find("\\boxed%s*{", pos)
    local a2, b2 = text:find("\\fbox%s*{", pos)
    if a2 and (not a or a2 < a) then a, b = a2, b2 end
    if not a then return last end
    local depth, j = 1, b + 1
    while j <= #text and depth > 0 do
      local c = text:byte(j)
      if c == 123 then depth = depth + 1 elseif c == 125 then depth = depth - 1 end
      j = j + 1
    end
    if depth == 0 then last = text:sub(b + 1, j - 2) end
    pos = b + 1
  end
end

-- Content of the last <tag>...</tag>; nil if none.
local function last_tagged(text, tag)
  local open, close = "<" .. tag .. ">", "</" .. tag .. ">"
  local last, pos = nil, 1
  while true do
    local a, b = text:find(open, pos, true)
    if not a then return last end
    local c = text:find(close, b + 1, true)
    if not c then return last end
    last = text:sub(b + 1, c - 1)
    pos = c + #close
  end
end

local EXTRACTORS = { "auto", "answer_tag", "boxed", "hashes", "all" }

--- Extracts the answer part of a completion. `how`: "answer_tag" (the last <answer>...</answer>),
--- "boxed" (the last \boxed{...}, braces balanced), "hashes" (after the last "####", GSM8K style),
--- "all" (the whole text, trimmed), or "auto" (default): the answer tag's content, then within it (or the
--- whole text) a \boxed{} or "####" answer if there is one, else that text. Returns nil when `how` finds
--- nothing ("auto" and "all" always return a string).
---@param text string
---@param how? "auto"|"answer_tag"|"boxed"|"hashes"|"all"
---@return string|nil
function M.extract(text, how)
  how = how or "auto"
  if type(text) ~= "string" then error("ft.rewards.extract: text must be a string, got " .. type(text), 2) end
  if how == "answer_tag" then
    local t = last_tagged(text, "answer")
    return t and trim(t)
  elseif how == "boxed" then
    local t = last_boxed(text)
    return t and trim(t)
  elseif how == "hashes" then
    local t = text:match(".*####(.*)$")
    return t and trim(t)
  elseif how == "all" then
    return trim(text)
  elseif how == "auto" then
    local t = last_tagged(text, "answer") or text
    return trim(last_boxed(t) or t:match(".*####(.*)$") or t)
  end
  error(string.format("ft.rewards.extract: how must be one of %s, got %s", table.concat(EXTRACTORS, ", "),
    tostring(how)), 2)
end

-- Byte classes for the number scanner.
local function is_digit(c) return c ~= nil and c >= 48 and c <= 57 end
local function is_alnum(c)
  return c ~= nil and (is_digit(c) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c == 95)
end

-- Reads the number that starts at the digit at `s` (integer part with valid thousands commas, decimals,
-- exponent; a simple fraction a/b). Returns value, end position.
local function read_number(text, s)
  local e = s
  while is_digit(text:byte(e + 1)) do e = e + 1 end
  local int = text:sub(s, e)
  if #int <= 3 then
    -- "1,000,000": groups of exactly three digits, the group not followed by another digit.
    while text:find("^,%d%d%d", e + 1) and not is_digit(text:byte(e + 5)) do
      int = int .. text:sub(e + 2, e + 4)
      e = e + 4
    end
  end
  local num = int
  local is_int = true
  local frac = text:match("^%.%d+", e + 1)
  if frac then
    num, e, is_int = num .. frac, e + #frac, false
  end
  local exp = text:match("^[eE][%-+]?%d+", e + 1)
  if exp and not is_alnum(text:byte(e + #exp + 1)) then
    num, e, is_int = num .. exp, e + #exp, false
  end
  local value = tonumber(num)
  if is_int then
    local den = text:match("^/(%d+)", e + 1)
    if den and tonumber(den) ~= 0 and text:byte(e + #den + 2) ~= 46 then
      value, e = value / tonumber(den), e + 1 + #den
    end
  end
  return value, e
end

-- LaTeX and typography that hide numbers: {,} and \, thousands separators, \frac{a}{b}, the unicode minus.
local function clean_number_text(text)
  text = text:gsub("{,}", ","):gsub("(%d)\\,(%d%d%d)", "%1,%2"):gsub("\226\136\146", "-")
  text = text:gsub("\\[dt]?frac%s*{%s*(%-?%d+)%s*}%s*{%s*(%d+)%s*}", "%1/%2")
  return text
end

--- The last number in a text, normalised: "1,000", "1000.0", "1e3", "$1,000", "1000.", "50%", "-5",
--- "3/4" and "\frac{3}{4}" (fractions), "1{,}000" (LaTeX) -> a Lua number; nil when there is none.
---@param text string
---@return number|nil
function M.last_number(text)
  if type(text) == "number" then return text end
  if type(text) ~= "string" then error("ft.rewards.last_number: text must be a string, got " .. type(text), 2) end
  text = clean_number_text(text)
  local last
  local pos = 1
  while true do
    local s = text:find("%d", pos)
    if not s then return last end
    local value, e = read_number(text, s)
    local start = s
    if text:byte(s - 1) == 46 and not is_digit(text:byte(s - 2)) then -- ".5"
      value, start = tonumber("0." .. text:sub(s, e)) or value, s - 1
    end
    -- A sign right before the number (or before its "$"), unless it follows a word or a number ("3-2").
    local p = start - 1
    if text:byte(p) == 36 then p = p - 1 end -- "-$5"
    if text:byte(p) == 45 and not is_alnum(text:byte(p - 1)) and text:byte(p - 1) ~= 41 then value = -value end
    last = value
    pos = e + 1
  end
end

----------------------------------------------------------------------------------------------------------
-- Built-in rewards
----------------------------------------------------------------------------------------------------------

-- Declares a built-in constructor `name(opts)`: own option spec + COMMON, `build(o)` returns fn(s).
local function builtin(name, spec, build)
  local full = {}
  for k, v in pairs(spec) do full[k] = v end
  for k, v in pairs(COMMON) do full[k] = v end
  local fname = "ft.rewards." .. name
  local function ctor(opts)
    local o = options.check(fname, opts, full)
    local fn = build(o, fname)
    return make_reward({ fn = fn, batch = false, weight = o.weight, on_error = o.on_error,
      timeout_ms = o.timeout_ms, name = o.name or name }, nil, 3)
  end
  FACTORIES[ctor] = name
  M[name] = ctor
  return ctor
end

-- The sample's completion, or an error naming the built-in.
local function completion_of(s, fname)
  local c = s.completion
  if type(c) ~= "string" then
    error(string.format("%s: the sample has no completion string (got %s)", fname, type(c)), 0)
  end
  return c
end

local function completion_ids_of(s, fname, hint)
  local ids = s.completion_ids
  if type(ids) ~= "table" then
    error(string.format("%s: the sample has no completion_ids list (got %s)%s", fname, type(ids), hint or ""), 0)
  end
  return ids
end

-- The row's gold value for `field`, or an error listing the row's columns.
local function gold_of(s, field, fname)
  local row = s.row
  if type(row) ~= "table" then error(string.format("%s: the sample has no row (got %s)", fname, type(row)), 0) end
  local v = row[field]
  if v == nil then
    local cols = {}
    for k in pairs(row) do cols[#cols + 1] = tostring(k) end
    table.sort(cols)
    error(string.format("%s: the sample's row has no field '%s' (columns: %s); set `field`", fname, field,
      #cols > 0 and table.concat(cols, ", ") or "none"), 0)
  end
  return v
end

local EXTRACT_OPT = {
  type = "string|function", default = "auto",
  doc = "how the answer is found in the completion: auto|answer_tag|boxed|hashes|all, or fn(completion, s) -> string|nil",
}

local function extractor(o, fname)
  if type(o.extract) == "function" then return o.extract end
  local how = o.extract
  local known = false
  for _, h in ipairs(EXTRACTORS) do known = known or h == how end
  if not known then
    error(string.format("%s: option 'extract' must be one of %s or a function, got %q", fname,
      table.concat(EXTRACTORS, ", "), how), 4)
  end
  return function(c) return M.extract(c, how) end
end

--- Format reward (TRL's think_format_reward, Open-R1's format_reward): 1 when the completion is
--- `<think>...</think>` followed by `<answer>...</answer>` (each tag exactly once; whitespace around and
--- between the blocks allowed), else 0. `answer = false`: only the think block is checked, anything may
--- follow it (TRL's think_format_reward). `strict = true`: Open-R1's exact layout
--- "<think>\n...\n</think>\n<answer>\n...\n</answer>" (one trailing newline allowed). `prefilled = true`:
--- the prompt already ends with the opening think tag (DeepSeek-R1/Qwen3 templates), so the completion
--- starts inside the think block. Tags are configurable (`think_tag`, `answer_tag`: names without brackets).
---@param opts? table the options above, plus name, weight, on_error and timeout_ms as for ft.reward
---@return ft.Reward
builtin("think_format", {
  answer = { type = "boolean", default = true, doc = "require <answer>...</answer> after the think block" },
  strict = { type = "boolean", default = false, doc = "Open-R1's exact newline layout" },
  prefilled = { type = "boolean", default = false, doc = "the prompt ends with the opening think tag" },
  think_tag = { type = "string", default = "think" },
  answer_tag = { type = "string", default = "answer" },
}, function(o, fname)
  local ot, ct = "<" .. o.think_tag .. ">", "</" .. o.think_tag .. ">"
  local oa, ca = "<" .. o.answer_tag .. ">", "</" .. o.answer_tag .. ">"
  local strict_pat
  if o.strict then
    strict_pat = "^" .. escape_pattern(ot) .. "\n.-\n" .. escape_pattern(ct) .. "\n"
    if o.answer then strict_pat = strict_pat .. escape_pattern(oa) .. "\n.-\n" .. escape_pattern(ca) .. "\n?$" end
  end
  return function(s)
    local c = completion_of(s, fname)
    if o.prefilled then c = ot .. c end
    if count_plain(c, ot) ~= 1 or count_plain(c, ct) ~= 1 then return 0 end
    if o.answer and (count_plain(c, oa) ~= 1 or count_plain(c, ca) ~= 1) then return 0 end
    if strict_pat then return c:find(strict_pat) and 1 or 0 end
    local body = o.prefilled and c or c:gsub("^%s+", "")
    if body:sub(1, #ot) ~= ot then return 0 end
    local _, think_end = body:find(ct, 1, true)
    if not o.answer then return 1 end
    local rest = trim(body:sub(think_end + 1))
    if rest:sub(1, #oa) ~= oa or rest:sub(-#ca) ~= ca or #rest < #oa + #ca then return 0 end
    return 1
  end
end)

-- Default normalisation for exact_answer: trimmed, inner whitespace runs as one space, no final period.
local function normalize_answer(s)
  return (trim(s):gsub("%s+", " "):gsub("%.$", ""))
end

--- Exact-match reward: 1 when the answer extracted from the completion equals `s.row[field]` (a string,
--- a number, or a list of accepted answers), else 0 (also when no answer is found). Both sides are
--- trimmed, inner whitespace collapsed and a final period dropped (`normalize` replaces that);
--- `ignore_case` compares case-insensitively. A row without the field is an error naming its columns.
---@param opts? table the options above, plus name, weight, on_error and timeout_ms as for ft.reward
---@return ft.Reward
builtin("exact_answer", {
  field = { type = "string", default = "answer", doc = "the row column holding the gold answer" },
  extract = EXTRACT_OPT,
  normalize = { type = "function", doc = "fn(string) -> string applied to both sides" },
  ignore_case = { type = "boolean", default = false },
}, function(o, fname)
  local get = extractor(o, fname)
  local norm = o.normalize or normalize_answer
  local function key(v)
    if type(v) == "number" then v = string.format("%.14g", v) end
    if type(v) ~= "string" then
      error(string.format("%s: expected a string or number answer, got %s", fname, type(v)), 0)
    end
    v = norm(v)
    if type(v) ~= "string" then error(string.format("%s: normalize returned a %s, not a string", fname, type(v)), 0) end
    return o.ignore_case and v:lower() or v
  end
  return function(s)
    local gold = gold_of(s, o.field, fname)
    local got = get(completion_of(s, fname), s)
    if got == nil then return 0 end
    got = key(got)
    if type(gold) == "table" then
      for _, g in ipairs(gold) do
        if key(g) == got then return 1 end
      end
      return 0
    end
    return key(gold) == got and 1 or 0
  end
end)

--- Numeric-answer reward: 1 when the number in the completion's answer equals the gold number within
--- `tolerance` (absolute), else 0 (also when the completion has no number). The answer is found as by
--- ft.rewards.extract(`extract`), then its last number is read with ft.rewards.last_number ("1,000",
--- "1000.0", "1e3", "$1,000", "1000." and "\boxed{1000}" are all 1000). The gold `s.row[field]` is a number
--- or a string read the same way ("...#### 72" as in GSM8K); a gold without a number is an error.
---@param opts? table the options above, plus name, weight, on_error and timeout_ms as for ft.reward
---@return ft.Reward
builtin("numeric_answer", {
  field = { type = "string", default = "answer", doc = "the row column holding the gold answer" },
  tolerance = { type = "number", default = 0, min = 0, doc = "largest accepted |answer - gold|" },
  extract = EXTRACT_OPT,
}, function(o, fname)
  local get = extractor(o, fname)
  return function(s)
    local raw = gold_of(s, o.field, fname)
    local gold = type(raw) == "number" and raw or (type(raw) == "string" and M.last_number(M.extract(raw)))
    if not gold then
      error(string.format("%s: the row's '%s' (%s) holds no number", fname, o.field,
        type(raw) == "string" and preview(raw, 40) or type(raw)), 0)
    end
    local text = get(completion_of(s, fname), s)
    local got = text and M.last_number(text)
    if got == nil then return 0 end
    return math.abs(got - gold) <= o.tolerance and 1 or 0
  end
end)

-- Completion length in `unit`.
local function length_of(s, unit, fname)
  if unit == "tokens" then
    return #completion_ids_of(s, fname, " (use unit = \"chars\" or \"words\")")
  end
  local c = completion_of(s, fname)
  if unit == "chars" then return #c end
  local n = 0
  for _ in c:gmatch("%S+") do n = n + 1 end
  return n
end

--- Length penalty around a target: `max(max_penalty, -d / target)` where d is how far the completion's
--- length (in `unit`: tokens from s.completion_ids, bytes, or whitespace-separated words) is beyond the
--- target (`mode = "over"`, default: shorter is free) or away from it (`mode = "both"`). With the defaults a
--- completion twice the target gets -1.
---@param opts table the options above, plus name, weight, on_error and timeout_ms as for ft.reward
---@return ft.Reward
builtin("length_penalty", {
  target = { type = "number", required = true, doc = "the length without penalty, in `unit`" },
  unit = { type = "string", default = "tokens", one_of = { "tokens", "chars", "words" } },
  mode = { type = "string", default = "over", one_of = { "over", "both" } },
  max_penalty = { type = "number", default = -1, max = 0, doc = "the lowest value (<= 0)" },
}, function(o, fname)
  if o.target <= 0 then error(string.format("%s: option 'target' must be > 0, got %s", fname, o.target), 3) end
  return function(s)
    local len = length_of(s, o.unit, fname)
    local d = len - o.target
    if o.mode == "both" then d = math.abs(d) end
    if d <= 0 then return 0 end
    return math.max(o.max_penalty, -d / o.target)
  end
end)

--- DAPO's soft overlong punishment (TRL's get_soft_overlong_punishment), over the completion's token
--- count L = #s.completion_ids: 0 while L <= max_len - cache, then linear down to -1 at L = max_len
--- ((max_len - cache - L) / cache), and -1 beyond. `cache` defaults to a fifth of max_len (DAPO: 4096 of
--- 20480); `cache = 0` gives 0 up to max_len and -1 beyond.
---@param opts table the options above, plus name, weight, on_error and timeout_ms as for ft.reward
---@return ft.Reward
builtin("soft_overlong", {
  max_len = { type = "integer", required = true, min = 1, aliases = { "max_completion_len", "max_completion_length" },
    doc = "L_max: the generation length limit in tokens" },
  cache = { type = "integer", min = 0, aliases = { "soft_punish_cache" },
    doc = "L_cache: the punished zone before max_len (default max_len / 5)" },
}, function(o, fname)
  local cache = o.cache or math.floor(o.max_len / 5)
  if cache > o.max_len then
    error(string.format("%s: option 'cache' (%d) must be <= max_len (%d)", fname, cache, o.max_len), 3)
  end
  local free = o.max_len - cache
  return function(s)
    local len = #completion_ids_of(s, fname)
    if len <= free then return 0 end
    if len <= o.max_len then return (free - len) / cache end
    return -1
  end
end)

--- N-gram repetition penalty (TRL's get_repetition_penalty_reward, "Demystifying Long CoT" App. C.2):
--- `(1 - unique n-grams / all n-grams) * max_penalty`, so 0 without repeats and towards max_penalty for a
--- fully repetitive completion; 0 below `ngram` units. `unit = "tokens"` (default, as TRL) counts
--- s.completion_ids; "words" counts the lowercased whitespace-separated words (Open-R1).
---@param opts? table the options above, plus name, weight, on_error and timeout_ms as for ft.reward
---@return ft.Reward
builtin("repetition_penalty", {
  ngram = { type = "integer", default = 3, min = 1, aliases = { "ngram_size" } },
  max_penalty = { type = "number", default = -1, max = 0, doc = "the value of a fully repetitive completion" },
  unit = { type = "string", default = "tokens", one_of = { "tokens", "words" } },
}, function(o, fname)
  local n = o.ngram
  return function(s)
    local items
    if o.unit == "tokens" then
      items = completion_ids_of(s, fname, " (use unit = \"words\")")
    else
      items = {}
      for w in completion_of(s, fname):lower():gmatch("%S+") do items[#items + 1] = w end
    end
    local total = #items - n + 1
    if total <= 0 then return 0 end
    local seen, unique = {}, 0
    for j = 1, total do
      local key = table.concat(items, "\0", j, j + n - 1)
      if not seen[key] then seen[key], unique = true, unique + 1 end
    end
    local scaling = 1 - unique / total
    if scaling == 0 then return 0 end
    return scaling * o.max_penalty
  end
end)

return M
