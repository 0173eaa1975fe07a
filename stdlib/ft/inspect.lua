--- Pretty-printing of Lua values for the REPL and for messages: nested tables with sorted keys,
--- cycles marked, long tables cut, userdata (tensors, models) shown by their __tostring.
local M = {}

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function sort_keys(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function fmt_scalar(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v):gsub("\\\n", "\\n") end
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
    return string.format("%.14g", v)
  end
  return tostring(v)
end

--- Renders a value as text.
---@param v any
---@param opts? {depth?: integer, max_items?: integer, indent?: string}
---@return string
function M.inspect(v, opts)
  opts = opts or {}
  local max_depth = opts.depth or 4
  local max_items = opts.max_items or 40
  local indent = opts.indent or "  "
  local seen = {}
  local function render(x, depth)
    if type(x) ~= "table" then return fmt_scalar(x) end
    local mt = getmetatable(x)
    if type(mt) == "table" and mt.__tostring then return tostring(x) end
    if seen[x] then return "<cycle>" end
    if depth >= max_depth then return "{...}" end
    seen[x] = true
    local parts, n = {}, #x
    local count = 0
    for i = 1, n do
      count = count + 1
      if count > max_items then break end
      parts[#parts + 1] = render(x[i], depth + 1)
    end
    local keys = {}
    for k in pairs(x) do
      if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then keys[#keys + 1] = k end
    end
    table.sort(keys, sort_keys)
    for _, k in ipairs(keys) do
      count = count + 1
      if count > max_items then break end
      local ks = is_identifier(k) and k or ("[" .. fmt_scalar(k) .. "]")
      parts[#parts + 1] = ks .. " = " .. render(x[k], depth + 1)
    end
    local total = n + #keys
    if total > max_items then parts[#parts + 1] = string.format("... (%d more)", total - max_items) end
    seen[x] = nil
    if #parts == 0 then return "{}" end
    local one_line = "{ " .. table.concat(parts, ", ") .. " }"
    if #one_line <= 80 and not one_line:find("\n") then return one_line end
    local pad = string.rep(indent, depth + 1)
    return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. string.rep(indent, depth) .. "}"
  end
  return render(v, 0)
end

setmetatable(M, { __call = function(_, v, opts) return M.inspect(v, opts) end })
return M
