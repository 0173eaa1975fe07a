--- LoRA adapters (PEFT semantics and file format) as methods of ft.Model, installed when this module
--- loads: m:lora{...}, m:merge(), m:unmerge(), m:disable_adapters(), m:enable_adapters(),
--- m:save_adapter(dir), m:load_adapter(dir), m:trainable_parameters().
---
---   m:lora{ r = 16, alpha = 32, dropout = 0.05, targets = { "q_proj", "v_proj" } }
---   m:save_adapter("out/adapter")          -- adapter_config.json + adapter_model.safetensors
---   m:merge():save("out/merged")
local native = require "_ft.train"
local options = require "ft.options"

local M = {}

local lora_spec = {
  r = { type = "integer", default = 8, min = 1, aliases = { "rank", "lora_r" } },
  alpha = { type = "number", default = 16, min = 0, aliases = { "lora_alpha" }, doc = "PEFT's lora_alpha" },
  dropout = { type = "number", default = 0.0, min = 0, max = 1, aliases = { "lora_dropout" } },
  targets = { type = "table|string", default = { "q_proj", "v_proj" }, aliases = { "target_modules" },
    doc = "module-name suffixes, or \"all-linear\" (every projection except lm_head)" },
  rslora = { type = "boolean", default = false, aliases = { "use_rslora" }, doc = "scale alpha / sqrt(r)" },
  modules_to_save = { type = "table", default = {},
    doc = "modules trained in full and saved with the adapter, e.g. { \"embed_tokens\" }" },
  seed = { type = "integer", default = 0, min = 0, doc = "init of the A matrices" },
}

--- Attaches LoRA adapters and freezes every other parameter (except modules_to_save).
---@param opts? {r?:integer, alpha?:number, dropout?:number, targets?:string[]|string, rslora?:boolean, modules_to_save?:string[], seed?:integer}
---@return ft.Model self
local function lora(self, opts)
  local o = options.check("Model:lora", opts, lora_spec)
  if type(o.targets) == "string" then o.targets = { o.targets } end
  self._lora_count = native.lora(self._m, o)
  return self
end

--- Folds the adapters into the base weights (W += s * B A) and disables them; returns the model, so
--- m:merge():save(dir) writes a plain HF model.
---@return ft.Model self
local function merge(self)
  native.merge(self._m)
  return self
end

--- Subtracts merged adapters again (W -= s * B A) and re-enables them.
---@return ft.Model self
local function unmerge(self)
  native.unmerge(self._m)
  return self
end

--- The base model's outputs (adapters skipped) until enable_adapters().
---@return ft.Model self
local function disable_adapters(self)
  native.set_adapters_enabled(self._m, false)
  return self
end

---@return ft.Model self
local function enable_adapters(self)
  native.set_adapters_enabled(self._m, true)
  return self
end

--- Writes the adapters in PEFT's format: adapter_config.json + adapter_model.safetensors with names like
--- base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.
---@param dir string
local function save_adapter(self, dir)
  if type(dir) ~= "string" then error("Model:save_adapter: expected a folder path, got " .. type(dir), 2) end
  native.save_adapter(self._m, dir)
end

--- Loads a PEFT LoRA adapter folder (made by fthost or PEFT); attaches adapters first when the model
--- has none.
---@param dir string
---@return ft.Model self
local function load_adapter(self, dir)
  if type(dir) ~= "string" then error("Model:load_adapter: expected a folder path, got " .. type(dir), 2) end
  native.load_adapter(self._m, dir)
  return self
end

--- Parameters that will be trained: a list of {name, numel}, their total, and the model's total.
---@return table[] params
---@return integer trainable
---@return integer total
local function trainable_parameters(self) return native.trainable(self._m) end

--- Adds the LoRA methods to ft.Model (idempotent).
function M.install()
  local Model = require("ft.model").Model
  Model.lora = lora
  Model.merge = merge
  Model.unmerge = unmerge
  Model.disable_adapters = disable_adapters
  Model.enable_adapters = enable_adapters
  Model.save_adapter = save_adapter
  Model.load_adapter = load_adapter
  Model.trainable_parameters = trainable_parameters
end

M.install()
return M
