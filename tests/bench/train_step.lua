-- fthost side of tests/bench/train_step.sh: one SFT configuration (full fine-tuning or LoRA) on a
-- ~20M-parameter random llama model, timed per optimizer step; writes the model, the batch and the
-- per-step losses/times so the plain-PyTorch reference (train_step_ref.py) can run the same steps.
-- Args: --dir=D (output folder) --variant=full|lora|none --steps=N --warmup=N --batch=N --seq=N --threads=N
--       --save=true (write model + batch + adapter for the reference; false: only train, for memory runs)
-- --variant=none builds the model and stops (the memory baseline of train_memory.sh).
local a = ft.args
local dir = assert(a.dir, "--dir=folder expected")
local variant = a.variant or "full"
local steps, warmup = a.steps or 5, a.warmup or 2
local batch, seq = a.batch or 8, a.seq or 128
ft.threads(a.threads or 2)

-- The benchmark model: llama (RMSNorm, RoPE, GQA 8/4 heads, SwiGLU), untied head, 21.9M parameters.
local m = ft.new { arch = "llama", hidden = 512, layers = 6, heads = 8, kv_heads = 4, intermediate = 1408,
  vocab = 4096, seed = 1 }
if variant == "none" then return end
if variant == "lora" then
  m:lora { r = 16, alpha = 32, targets = "all-linear", seed = 1 }
elseif variant ~= "full" then
  error("--variant must be full or lora, got " .. tostring(variant))
end

-- batch rows of exactly seq tokens (<bos> + seq-2 bytes + <eos>), so there is no padding.
local rows, rng = {}, 12345
for r = 1, batch do
  local b = {}
  for i = 1, seq - 2 do
    rng = (rng * 1103515245 + 12345) % 2147483648
    b[i] = string.char(32 + math.floor(rng / 65536) % 95)
  end
  rows[r] = { text = table.concat(b) }
end

local times, losses = {}, {}
local run = ft.sft { model = m, data = rows, batch_size = batch, max_len = seq, shuffle = false, lr = 1e-4,
  schedule = "constant", weight_decay = 0.0, max_grad_norm = 1.0, max_steps = warmup + steps, log = false,
  on_step = function(_, s)
    times[#times + 1] = s.seconds
    losses[#losses + 1] = s.loss
  end }

os.execute(string.format("mkdir -p %q", dir))
if a.save ~= false then
  m:save(dir .. "/model") -- the weights the reference starts from (LoRA B is 0: the base is the model)
  if variant == "none" then return end
if variant == "lora" then m:save_adapter(dir .. "/adapter") end
  local f = assert(io.open(dir .. "/batch.txt", "w"))
  for _, r in ipairs(rows) do
    local ids = m:encode(r.text, true)
    ids[#ids + 1] = 257 -- <eos>, as ft.sft appends it to text rows
    f:write(table.concat(ids, " "), "\n")
  end
  f:close()
end

run:step(warmup + steps)
local f = assert(io.open(dir .. "/fthost_" .. variant .. ".txt", "w"))
for i = 1, #times do f:write(string.format("%.17g %.9f\n", losses[i], times[i])) end
f:close()
local _, trainable, total = m:trainable_parameters()
print(string.format("fthost %s: %d threads, %.1fM params (%.2fM trainable), batch %dx%d", variant, ft.threads(),
  total / 1e6, trainable / 1e6, batch, seq))
