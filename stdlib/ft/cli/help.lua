--- `fthost help [command]`: lists commands, or prints one command's usage.
local cli = require "ft.cli"

return {
  summary = "list commands, or show one command's usage (fthost help download)",
  usage = "usage: fthost help [command]",
  main = function(args)
    local name = args[1]
    if name and name ~= "--commands-only" then
      local ok, mod = pcall(require, "ft.cli." .. name:gsub("-", "_"))
      if not ok then
        io.stderr:write(string.format("fthost help: unknown command '%s'\n", name))
        return 2
      end
      io.write((mod.usage or ("usage: fthost " .. name)), "\n")
      return 0
    end
    io.write("\ncommands:\n")
    for _, c in ipairs(cli.commands()) do
      local ok, mod = pcall(require, "ft.cli." .. c)
      io.write(string.format("  %-14s %s\n", c, ok and mod.summary or "(failed to load)"))
    end
    return 0
  end,
}
