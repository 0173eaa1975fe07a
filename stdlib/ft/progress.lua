--- Training progress display. On a terminal: one live line redrawn in place (\r), cut to the terminal's
--- width, with permanent log lines printed above it. Elsewhere (a pipe, a file, CI): only the log lines.
---
---   local bar = progress.new{ total = 100 }
---   bar:update(step, { loss = 1.23, lr = 2e-4, tokens_per_s = 900, eta_s = 65 })
---   bar:print("step 10/100 | loss ...")   -- a permanent line; the live line is redrawn below it
---   bar:close()
local core = require "_ft.core"

local M = {}

---@class ft.Progress
---@field total integer
---@field tty boolean true: the live line is drawn
---@field columns integer terminal width
local Bar = {}
Bar.__index = Bar

--- "45s", "3m05s", "2h10m".
---@param s number seconds
---@return string
function M.format_time(s)
  if s ~= s or s == math.huge then return "?" end
  if s >= 3600 then return string.format("%dh%02dm", math.floor(s / 3600), math.floor((s % 3600) / 60)) end
  if s >= 60 then return string.format("%dm%02ds", math.floor(s / 60), math.floor(s % 60)) end
  return string.format("%ds", math.floor(s))
end

--- A display for `total` steps; tty and columns default to what stdout is.
---@param opts {total:integer, tty?:boolean, columns?:integer, out?:file*}
---@return ft.Progress
function M.new(opts)
  local tty, columns = core.terminal(1)
  if opts.tty ~= nil then tty = opts.tty end
  return setmetatable({ total = opts.total, tty = tty, columns = opts.columns or columns, out = opts.out or io.stdout,
    last = nil }, Bar)
end

--- The live line for a step: "step 12/100 [=====>    ] 12% | loss 1.2345 | lr 2.00e-04 | 900 tok/s | eta 1m05s",
--- the bar sized to fill the width; on a narrow terminal the bar goes and the line is cut to fit.
---@param step integer
---@param f {loss:number, lr:number, tokens_per_s:number, eta_s:number}
---@return string
function Bar:line(step, f)
  local total = math.max(1, self.total)
  local frac = math.min(1, math.max(0, step / total))
  local head = string.format("step %d/%d", step, self.total)
  local tail = string.format(" %3d%% | loss %.4f | lr %.2e | %.0f tok/s | eta %s", math.floor(frac * 100),
    f.loss, f.lr, f.tokens_per_s, M.format_time(f.eta_s))
  local width = self.columns - 1  -- never the last column: some terminals wrap there
  local room = width - #head - #tail - 3
  local line
  if room >= 10 then
    local filled = math.floor(frac * room + 1e-9)
    local bar = string.rep("=", filled)
    if filled < room then bar = bar .. ">" .. string.rep(" ", room - filled - 1) end
    line = head .. " [" .. bar .. "]" .. tail
  else
    line = head .. tail
  end
  if #line > width then line = line:sub(1, math.max(1, width)) end
  return line
end

--- Redraws the live line (terminal only).
---@param step integer
---@param f {loss:number, lr:number, tokens_per_s:number, eta_s:number}
function Bar:update(step, f)
  if not self.tty then return end
  self.last = self:line(step, f)
  self.out:write("\r", self.last, "\27[K")
  self.out:flush()
end

--- Prints a permanent line (above the live line on a terminal).
---@param msg string
function Bar:print(msg)
  if self.tty and self.last then
    self.out:write("\r\27[K", msg, "\n", self.last, "\27[K")
  else
    self.out:write(msg, "\n")
  end
  self.out:flush()
end

--- Ends the live line (it stays on screen); later output starts on a fresh line.
function Bar:close()
  if self.tty and self.last then
    self.out:write("\n")
    self.out:flush()
  end
  self.last = nil
end

return M
