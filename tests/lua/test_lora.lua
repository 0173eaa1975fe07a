-- m:lora's PEFT options from Lua (regex / suffix targets, layers, bias modes, patterns) and what they
-- write to adapter_config.json; m:freeze / m:unfreeze for partial fine-tuning (ft.sft changes exactly
-- the trainable parameters); m:print_trainable_parameters in PEFT's format.
local T = require "testlib"
local ft = require "ft"
local sft = require "ft.sft"
local tasks = require "ft.tasks"

-- qwen2 (q/k/v biases), hidden 32, 2 layers, vocab 259, tied embeddings: 27,008 parameters.
local function tiny(seed) return T.tiny_model(seed, { init_std = 0.2 }) end

local function maxdiff(a, b) return (a - b):abs():max():item() end

T.test("lora targets: a string is a full-match regex, a list matches suffixes, layers filter", function()
  local m = tiny():lora{ targets = "model\\.layers\\.1\\.self_attn\\.(q|v)_proj", r = 4 }
  T.eq(m._lora_count, 2)
  local cfg = m:adapter_config()
  T.eq(cfg.target_modules, "model\\.layers\\.1\\.self_attn\\.(q|v)_proj")
  T.eq(cfg.r, 4)
  T.raises(function() tiny():lora{ targets = "q_proj" } end, "a single string is a regex that must match the whole name")
  m = tiny():lora{ targets = { "q_proj", "mlp.down_proj" }, layers = 1, layers_pattern = "layers" }
  T.eq(m._lora_count, 2)
  cfg = m:adapter_config()
  T.eq(cfg.target_modules, { "mlp.down_proj", "q_proj" })
  T.eq(cfg.layers_to_transform, { 1 })
  T.eq(cfg.layers_pattern, "layers")
  T.eq(tiny():lora{ targets = "all-linear", layers = { 0 }, exclude = { "o_proj" } }._lora_count, 6)
  T.eq(tiny():lora{ targets = "all-linear", exclude = ".*\\.mlp\\..*" }._lora_count, 8)
  local params = tiny():lora{ targets = { "q_proj", "v_proj" }, rank_pattern = { v_proj = 2 } }:trainable_parameters()
  local numel = {}
  for _, p in ipairs(params) do numel[p.name] = p.numel end
  T.eq(numel["model.layers.0.self_attn.q_proj.lora.lora_A"], 8 * 32)
  T.eq(numel["model.layers.0.self_attn.v_proj.lora.lora_A"], 2 * 32)
  T.raises(function() tiny():lora{ targets = ".*q_proj", layers = { 0 } } end, "cannot be used with a regex target")
  T.raises(function() tiny():lora{ layers_pattern = "layers" } end, "layers_pattern needs layers")
  T.raises(function() tiny():lora{ bias = "some" } end, "bias")
  T.raises(function() tiny():lora{ layers_to_transform = { 1 } } end, "did you mean 'layers'?")
  T.raises(function() tiny():lora{ targets = { "embed_tokens" } } end, "is not a linear module")
end)

T.test("lora bias modes: trainable biases, saved with the adapter, restored on load", function()
  local dir = T.tmpdir("lora-bias")
  local m = tiny():lora{ targets = { "q_proj" }, bias = "lora_only" }
  local _, trainable = m:trainable_parameters()
  T.eq(trainable, 2 * 8 * (32 + 32) + 2 * 32)  -- A and B of two q_proj, plus their biases
  m = tiny():lora{ targets = { "q_proj" }, bias = "all" }
  _, trainable = m:trainable_parameters()
  T.eq(trainable, 2 * 8 * (32 + 32) + 2 * (32 + 16 + 16))
  m:parameter("model.layers.0.self_attn.k_proj.bias"):detach():add_(1)  -- detach(): same storage, no autograd
  m:parameter("model.layers.1.self_attn.q_proj.lora.lora_B"):detach():add_(0.1)
  m:save_adapter(dir)
  local names = {}
  for _, t in ipairs(ft.safetensors.header(dir .. "/adapter_model.safetensors").tensors) do names[t.name] = t.dtype end
  T.eq(names["base_model.model.model.layers.0.self_attn.k_proj.bias"], "F32")
  T.eq(names["base_model.model.model.layers.1.self_attn.q_proj.base_layer.bias"], "F32")
  T.eq(names["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"], "F32")
  local ids = { 256, 49, 43, 50, 61 }
  local m2 = tiny():load_adapter(dir)
  T.ok(maxdiff(m2:forward(ids), m:forward(ids)) < 1e-5)
  T.ok(maxdiff(m2:forward(ids), tiny():forward(ids)) > 1e-3, "the adapter changes the outputs")
  T.eq(m2:adapter_config().bias, "all")
end)

T.test("freeze{except}: ft.sft trains exactly the parameters left trainable", function()
  local m = tiny(3)
  m:freeze{ except = { "layers.1", "norm" } }
  local line = m:print_trainable_parameters()
  -- layer 1: q 1056 + k 528 + v 528 + o 1024 + gate/up/down 3 x 2048 + 2 norms 64 = 9344; + model.norm 32
  T.eq(line, "trainable params: 9,376 || all params: 27,008 || trainable%: 34.7156")
  local names = { frozen = { "model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight",
    "model.layers.0.self_attn.q_proj.bias", "model.layers.0.input_layernorm.weight" },
    trained = { "model.layers.1.mlp.down_proj.weight", "model.layers.1.self_attn.q_proj.bias", "model.norm.weight" } }
  local before = {}
  for _, group in pairs(names) do
    for _, n in ipairs(group) do before[n] = m:parameter(n):clone() end
  end
  local train = tasks.addition{ digits = 1, train = 32, test = 4, seed = 1 }
  sft{ model = m, data = train, max_steps = 3, batch_size = 8, lr = 1e-2, log = false }:train()
  for _, n in ipairs(names.frozen) do T.eq(maxdiff(m:parameter(n), before[n]), 0, n .. " is frozen") end
  for _, n in ipairs(names.trained) do T.ok(maxdiff(m:parameter(n), before[n]) > 1e-4, n .. " trains") end
  m:unfreeze("embed_tokens")
  local _, trainable, total = m:trainable_parameters()
  T.eq(trainable, 9376 + 259 * 32)
  m:unfreeze()
  _, trainable = m:trainable_parameters()
  T.eq(trainable, total)
  T.raises(function() m:freeze{ except = { "layers.9" } } end, "pattern 'layers.9' matches no parameter")
  T.raises(function() m:freeze{ keep = { "norm" } } end, "unknown option 'keep'")
  T.eq(require("ft.freeze").thousands(1234567), "1,234,567")
  T.eq(require("ft.freeze").thousands(999), "999")
end)

T.done()
