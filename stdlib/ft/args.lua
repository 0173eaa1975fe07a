--- Command-line argument parsing for recipes: `fthost recipe.lua a b --lr=3e-4 --fast --name=x`
--- gives `ft.args = { "a", "b", lr = 3e-4, fast = true, name = "x" }`.
local M = {}

--- Converts an argument string to a typed value: numbers, booleans (true/false), nil, or the string.
---@param s string
---@return any
function M.convert(s)
  if s == "true" then return true end
  if s == "false" then return false end
  local n = tonumber(s)
  if n ~= nil and s:match("^%s*[-+]?[%d.]") then return n end
  return s
end

--- Parses a list of arguments: `--key=value` (typed), `--flag` (true), `--no-flag` (false);
--- anything else stays positional in the array part.
---@param list string[]|nil
---@return table
function M.parse(list)
  local out = {}
  for _, a in ipairs(list or {}) do
    local key, value = a:match("^%-%-([%a_][%w_%-%.]*)=(.*)$")
    if key then
      out[key:gsub("-", "_")] = M.convert(value)
    else
      local flag = a:match("^%-%-([%a_][%w_%-%.]*)$")
      if flag then
        local neg = flag:match("^no%-(.+)$")
        if neg then out[neg:gsub("-", "_")] = false else out[flag:gsub("-", "_")] = true end
      else
        out[#out + 1] = a
      end
    end
  end
  return out
end

return M
