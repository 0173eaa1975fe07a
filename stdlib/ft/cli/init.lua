--- Subcommand dispatch: `fthost <command> args...` runs `require("ft.cli.<command>").main(args)`.
--- A command module returns `{ summary = "one line", usage = "text", main = function(args) ... end }`;
--- main returns an exit code (nil = 0). Adding a command means adding stdlib/ft/cli/<command>.lua.
local M = {}

--- Names of the available commands, sorted.
---@return string[]
function M.commands()
  local names = {}
  for _, mod in ipairs(require("_ft.runtime").embedded_modules()) do
    local cmd = mod:match("^ft%.cli%.([%w_%-]+)$")
    if cmd then names[#names + 1] = cmd end
  end
  table.sort(names)
  return names
end

--- Runs a command by name; unknown names are a usage error naming the nearest command.
---@param name string
---@param args string[]
---@return integer exit code
function M.run(name, args)
  local modname = "ft.cli." .. name:gsub("-", "_")
  local ok, mod = pcall(require, modname)
  if not ok then
    if tostring(mod):find("module '" .. modname .. "' not found", 1, true) then
      local cmds = M.commands()
      local best, best_d
      for _, c in ipairs(cmds) do
        local d = require("ft.options").edit_distance(name, c)
        if not best_d or d < best_d then best, best_d = c, d end
      end
      local msg = string.format("fthost: unknown command '%s'", name)
      if best and best_d <= 3 then msg = msg .. string.format(" (did you mean '%s'?)", best) end
      io.stderr:write(msg, "\n", "hint: commands are: ", table.concat(cmds, ", "),
        "; a recipe file must exist or end in .lua\n")
      return 2
    end
    error(mod, 0)
  end
  _G.ft = _G.ft or require "ft"
  local code = mod.main(args or {})
  return tonumber(code) or 0
end

return M
