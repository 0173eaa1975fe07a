--- LoRA adapters (PEFT semantics and file format) as methods of ft.Model, installed when this module
--- loads: m:lora{...}, m:merge(), m:unmerge(), m:disable_adapters(), m:enable_adapters(),
--- m:save_adapter(dir), m:load_adapter(dir), m:adapter_config(). (Freezing: ft.freeze.)
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
    doc = "a list of module names or dotted suffixes ({ \"q_proj\", \"mlp.down_proj\" }); one string: a regex that " ..
      "must match the whole module name (PEFT), e.g. \"model\\\\.layers\\\\.[01]\\\\..*_proj\"; or \"all-linear\" " ..
      "(every projection except lm_head)" },
  exclude = { type = "table|string", aliases = { "exclude_modules" },
    doc = "modules never adapted: a list of names/suffixes, or one regex string" },
  layers = { type = "integer|table", aliases = { "layers_to_transform" },
    doc = "only these layer indices (0-based), with list targets or all-linear" },
  layers_pattern = { type = "string|table",
    doc = "the name before the layer index (\"layers\" in model.layers.3.mlp); default: any" },
  rank_pattern = { type = "table", doc = "{ [regex] = r }: per-module rank, regex matched at the end of the name" },
  alpha_pattern = { type = "table", doc = "{ [regex] = alpha }: per-module alpha" },
  bias = { type = "string", default = "none", one_of = { "none", "all", "lora_only" },
    doc = "biases trained and saved with the adapter: none, all of them, or those of adapted modules" },
  rslora = { type = "boolean", default = false, aliases = { "use_rslora" }, doc = "scale alpha / sqrt(r)" },
  modules_to_save = { type = "table", default = {},
    doc = "modules trained in full and saved with the adapter, e.g. { \"embed_tokens\" }" },
  seed = { type = "integer", default = 0, min = 0, doc = "init of the A matrices" },
}

-- An empty Lua table reaches C++ as a JSON array; patterns must be objects.
local function pattern_table(t)
  if t == nil or next(t) == nil then return nil end
  return t
end

---@class ft.LoraOptions
---@field r? integer rank (default 8)
---@field alpha? number PEFT's lora_alpha (default 16)
---@field dropout? number
---@field targets? string[]|string suffix list, full-match regex string, or "all-linear"
---@field exclude? string[]|string
---@field layers? integer|integer[] PEFT's layers_to_transform
---@field layers_pattern? string|string[]
---@field rank_pattern? table<string, integer>
---@field alpha_pattern? table<string, number>
---@field bias? string "none" | "all" | "lora_only"
---@field rslora? boolean
---@field modules_to_save? string[]
---@field seed? integer

--- Attaches LoRA adapters and freezes every other parameter (except modules_to_save and, with
--- bias = "all" / "lora_only", those biases). Targets follow PEFT: a list matches module names by
--- suffix, one string is a full-match regex, "all-linear" takes every projection but lm_head.
---@param opts? ft.LoraOptions
---@return ft.Model self
local function lora(self, opts)
  local o = options.check("Model:lora", opts, lora_spec)
  local targets = o.targets
  if type(targets) == "table" and #targets == 1 and targets[1] == "all-linear" then targets = "all-linear" end
  local cfg = { r = o.r, alpha = o.alpha, dropout = o.dropout, rslora = o.rslora, seed = o.seed, bias = o.bias,
    modules_to_save = o.modules_to_save, layers_pattern = o.layers_pattern,
    rank_pattern = pattern_table(o.rank_pattern), alpha_pattern = pattern_table(o.alpha_pattern) }
  if targets == "all-linear" then
    cfg.all_linear = true
  elseif type(targets) == "string" then
    cfg.target_regex = targets
  else
    cfg.targets = targets
  end
  if type(o.exclude) == "string" then cfg.exclude_regex = o.exclude else cfg.exclude = o.exclude end
  if type(o.layers) == "number" then cfg.layers = { o.layers } else cfg.layers = o.layers end
  for _, l in ipairs(cfg.layers or {}) do
    if type(l) ~= "number" or l ~= math.floor(l) then
      error("Model:lora: layers must be layer indices (integers), got " .. tostring(l), 2)
    end
  end
  self._lora_count = native.lora(self._m, cfg)
  return self
end

--- The adapter_config.json table m:save_adapter would write (PEFT keys: r, lora_alpha, target_modules,
--- bias, layers_to_transform, ...).
---@return table
local function adapter_config(self) return native.adapter_config(self._m) end

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

--- The base model's outputs (adapters skipped) until enable_adapters(). As in PEFT, biases trained with
--- bias = "all" / "lora_only" and modules_to_save keep their trained values.
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
  Model.adapter_config = adapter_config
end

M.install()
return M
