--- Option-table validation shared by every ft function that takes `{ key = value }` options.
--- Unknown keys are errors that name the nearest valid key; wrong types say what was expected.
local M = {}

local function edit_distance(a, b)
  local la, lb = #a, #b
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ai = a:byte(i)
    for j = 1, lb do
      local cost = (ai == b:byte(j)) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end
M.edit_distance = edit_distance

-- "learning_rate" -> "lr", "max_seq_length" -> "msl": initials of the words of a snake/kebab name.
local function initials(name)
  local s = {}
  for word in name:gmatch("[^_%-]+") do s[#s + 1] = word:sub(1, 1) end
  return table.concat(s)
end

--- The valid key a mistyped or foreign name most likely meant, or nil.
---@param key string the unknown key
---@param spec table<string, table> the option spec (entries may list `aliases`: names other tools use)
---@return string|nil
function M.nearest(key, spec)
  local lkey = key:lower()
  -- 1. Names other tools use (TRL/PEFT/torchtune) declared as aliases.
  for name, s in pairs(spec) do
    for _, alias in ipairs(s.aliases or {}) do
      if alias == key or alias == lkey then return name end
    end
  end
  -- 2. Abbreviations: learning_rate -> lr.
  local ini = initials(lkey)
  if #ini >= 2 and spec[ini] then return ini end
  -- 3. Plain typos.
  local best, best_d
  for name in pairs(spec) do
    local d = edit_distance(lkey, name:lower())
    if not best_d or d < best_d or (d == best_d and name < best) then best, best_d = name, d end
  end
  if best and best_d <= math.max(2, math.floor(math.max(#key, #best) / 3)) then return best end
  return nil
end

local function value_type(v)
  local t = type(v)
  if t == "userdata" then
    local mt = getmetatable(v)
    if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  end
  if t == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return "integer", t end
  return t
end

local function type_ok(v, want)
  local t, base = value_type(v)
  for w in want:gmatch("[^|]+") do
    if w == "any" or w == t or w == base or (w == "callable" and (t == "function" or
        (type(getmetatable(v)) == "table" and getmetatable(v).__call))) then
      return true
    end
  end
  return false
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

--- Validates `opts` against `spec` and returns a new table with defaults filled in.
--- Spec entries: `{ type = "number|string", default = v, one_of = {...}, required = true,
--- min = n, max = n, aliases = {"other_tool_name"}, doc = "..." }`.
---@param fname string the public function name used in messages, e.g. "ft.sft"
---@param opts table|nil the user's options (nil means all defaults)
---@param spec table<string, table>
---@param level? integer error level pointing at the user's call (default 3: the caller of fname)
---@return table
function M.check(fname, opts, spec, level)
  level = level or 3
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", fname, value_type(opts)), level)
  end
  for k in pairs(opts) do
    if type(k) ~= "string" then
      error(string.format("%s: option keys must be names, got %s key %s", fname, type(k), tostring(k)), level)
    end
    if not spec[k] then
      local near = M.nearest(k, spec)
      local msg = string.format("%s: unknown option '%s'", fname, k)
      if near then
        msg = msg .. string.format(" (did you mean '%s'?)", near)
      else
        msg = msg .. " (valid options: " .. table.concat(sorted_keys(spec), ", ") .. ")"
      end
      error(msg, level)
    end
  end
  local out = {}
  for name, s in pairs(spec) do
    local v = opts[name]
    if v == nil then
      if s.required then
        error(string.format("%s: option '%s' is required%s", fname, name,
          s.doc and (" (" .. s.doc .. ")") or ""), level)
      end
      v = s.default
      if type(v) == "table" and not s.shared_default then
        local copy = {}
        for kk, vv in pairs(v) do copy[kk] = vv end
        v = copy
      end
    else
      if s.type and not type_ok(v, s.type) then
        error(string.format("%s: option '%s' must be %s, got %s", fname, name,
          s.type:gsub("|", " or "), value_type(v)), level)
      end
      if s.one_of then
        local ok = false
        for _, c in ipairs(s.one_of) do if c == v then ok = true end end
        if not ok then
          local names = {}
          for _, c in ipairs(s.one_of) do names[#names + 1] = string.format("%q", tostring(c)) end
          error(string.format("%s: option '%s' must be one of %s, got %q", fname, name,
            table.concat(names, ", "), tostring(v)), level)
        end
      end
      if s.min and type(v) == "number" and v < s.min then
        error(string.format("%s: option '%s' must be >= %s, got %s", fname, name, s.min, v), level)
      end
      if s.max and type(v) == "number" and v > s.max then
        error(string.format("%s: option '%s' must be <= %s, got %s", fname, name, s.max, v), level)
      end
    end
    out[name] = v
  end
  return out
end

return M
