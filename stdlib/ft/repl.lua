--- REPL helpers: how results typed at the prompt are shown.
local inspect = require "ft.inspect"
local M = {}

--- Prints each value (tables pretty-printed, tensors and models by their own tostring), tab-separated.
---@param ... any
function M.show(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    parts[i] = type(v) == "table" and inspect(v) or tostring(v)
  end
  io.write(table.concat(parts, "\t"), "\n")
end

return M
