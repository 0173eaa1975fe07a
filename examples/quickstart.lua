-- fthost quickstart: what exists today, on the built-in tiny default model (no network, no files).
-- Run it with: scripts/run examples/quickstart.lua
ft.seed(0)

-- Tensors, as in PyTorch but with Lua's 1-based indexing.
local a = ft.tensor { { 1, 2 }, { 3, 4 } }
local b = ft.tensor.ones(2, 2)
print("a @ b =", a:matmul(b))
print("softmax of a's first row:", a[1]:softmax(1))

-- A tiny random Qwen2-shaped model with the byte-level tokenizer.
local m = ft.new { arch = "qwen2", hidden = 64, layers = 2, heads = 4, kv_heads = 2, seed = 0 }
print(m)
print(string.format("%d parameters", m:num_params()))

-- Logits for a prompt, and a greedy continuation (random weights: expect gibberish until trained).
local ids = m:encode("12+34=")
local logits = m:forward({ ids })
print("logits shape:", table.concat(logits.shape, "x"))
print("greedy:", m:generate("12+34=", { max_new_tokens = 8, temperature = 0 }))
