--- Partial fine-tuning without LoRA: which parameters train, as methods of ft.Model installed when this
--- module loads: m:freeze{except = {...}}, m:unfreeze(patterns), m:trainable_parameters(),
--- m:print_trainable_parameters(). ft.sft trains exactly the parameters left trainable.
---
--- A pattern is one or more dot-separated parts of a parameter name, matched as a whole run of its parts:
--- "embed_tokens", "layers.1" (layer 1, not 10), "mlp.down_proj", "norm" (model.norm, not input_layernorm),
--- "model.layers.0.self_attn.q_proj.weight". A pattern that matches no parameter is an error.
--- With LoRA: m:lora{...} freezes every base parameter itself; base parameters unfrozen afterwards train
--- but are not in m:save_adapter's file (use the lora option modules_to_save, or save the merged model).
---
---   m:freeze{ except = { "layers.1", "norm" } }   -- train the last block and the final norm only
---   m:print_trainable_parameters()                 -- trainable params: ... || all params: ... || trainable%: ...
local native = require "_ft.train"
local options = require "ft.options"

local M = {}

local freeze_spec = {
  except = { type = "table|string", default = {},
    doc = "patterns of the parameters that stay trainable (dot-separated name parts, e.g. \"layers.1\")" },
}

local function list(v) if type(v) == "string" then return { v } end return v end

--- Freezes every base parameter except those matching `except` (which become trainable). LoRA adapter
--- parameters keep their state.
---@param opts? {except?: string[]|string}
---@return ft.Model self
local function freeze(self, opts)
  local o = options.check("Model:freeze", opts or {}, freeze_spec)
  native.freeze(self._m, { patterns = list(o.except) })
  return self
end

--- Makes the base parameters matching `patterns` trainable (all of them when nil); others keep their state.
---@param patterns? string[]|string
---@return ft.Model self
local function unfreeze(self, patterns)
  if patterns ~= nil and type(patterns) ~= "table" and type(patterns) ~= "string" then
    error("Model:unfreeze: expected a pattern or a list of patterns, got " .. type(patterns), 2)
  end
  native.unfreeze(self._m, { patterns = list(patterns or {}) })
  return self
end

--- Parameters that will be trained: a list of {name, numel}, their total, and the model's total
--- (adapters included).
---@return table[] params
---@return integer trainable
---@return integer total
local function trainable_parameters(self) return native.trainable(self._m) end

-- 1234567 -> "1,234,567" (Python's format(n, ",d")).
local function thousands(n)
  local s = string.format("%d", n)
  local k = #s % 3
  if k == 0 then k = 3 end
  return s:sub(1, k) .. s:sub(k + 1):gsub("(%d%d%d)", ",%1")
end

--- Prints and returns PEFT's print_trainable_parameters line:
--- "trainable params: 1,024 || all params: 70,528 || trainable%: 1.4519".
---@return string line
local function print_trainable_parameters(self)
  local _, trainable, total = native.trainable(self._m)
  local line = string.format("trainable params: %s || all params: %s || trainable%%: %.4f", thousands(trainable),
    thousands(total), total > 0 and 100 * trainable / total or 0)
  print(line)
  return line
end

--- Adds the methods to ft.Model (idempotent).
function M.install()
  local Model = require("ft.model").Model
  Model.freeze = freeze
  Model.unfreeze = unfreeze
  Model.trainable_parameters = trainable_parameters
  Model.print_trainable_parameters = print_trainable_parameters
end

M.thousands = thousands
M.install()
return M
