-- GGUF conformance driver for a *trained* LoRA, through the public Lua API: a random tiny model gets LoRA
-- adapters on every projection with bias = "all", ft.sft trains them a few steps on ft.tasks.addition,
-- then fthost greedy-decodes n tokens from the prompt ids with the adapters active, merges them
-- (W += s B A; the trained biases are base weights already) and exports an f32 GGUF for llama.cpp.
-- Prints JSON {"tokens", "probs", "base_tokens"}: base_tokens come from the untrained base model.
--   fthost lora_sft.lua --gguf=out.gguf --arch=qwen2 --seed=21 --prompt=256,72,101 --n=48 --steps=12
local a = ft.args
local function new()
  return ft.new{ arch = a.arch, hidden = 64, layers = 2, heads = 4, kv_heads = 2, vocab = 300, seed = a.seed,
    init_std = 0.25 }
end
local prompt = {}
for id in tostring(a.prompt):gmatch("%d+") do prompt[#prompt + 1] = tonumber(id) end
local gen = { temperature = 0, max_new_tokens = a.n, eos_ids = {}, details = true }

local m = new()
m:lora{ r = 8, alpha = 16, targets = "all-linear", bias = "all", seed = a.seed }
local rows = require("ft.tasks").addition{ digits = 2, train = 64, test = 1, seed = a.seed }
ft.sft{ model = m, data = rows, max_steps = a.steps, batch_size = 16, lr = 1e-2, max_len = 16, log = false }:train()

local _, out = m:generate(prompt, gen)
local tokens = out.ids  -- one prompt: one {ids, finish_reason}
-- Each chosen token's probability, from one forward pass over prompt + tokens.
local seq = {}
for _, t in ipairs(prompt) do seq[#seq + 1] = t end
for i = 1, #tokens - 1 do seq[#seq + 1] = tokens[i] end
local p = m:forward(seq):softmax(-1):tolist()[1]
local probs = {}
for i, t in ipairs(tokens) do probs[i] = p[#prompt + i - 1][t + 1] end

local _, base = new():generate(prompt, gen)
m:merge():export_gguf(a.gguf, { type = "f32" })
local function list(t, fmt)
  local s = {}
  for i, v in ipairs(t) do s[i] = string.format(fmt, v) end
  return "[" .. table.concat(s, ",") .. "]"
end
print(string.format('{"tokens":%s,"probs":%s,"base_tokens":%s}', list(tokens, "%d"), list(probs, "%.7g"),
  list(base.ids, "%d")))
