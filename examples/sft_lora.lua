-- Supervised fine-tuning with LoRA on your own data: a JSONL, JSON or CSV file of prompt/completion rows
-- (or chat `messages`, or plain `text`), a held-out split for eval loss, checkpoints you can resume, and a
-- PEFT adapter at the end that transformers/PEFT load as they load any other.
--
--   fthost examples/sft_lora.lua --data=train.jsonl --model=Qwen/Qwen2.5-0.5B-Instruct --output=runs/sft
--   fthost examples/sft_lora.lua                   -- no arguments: the tiny default on a generated task
--
-- Options: --data --model --output --epochs=1 --max_steps=-1 --lr=2e-4 --r=16 --batch_size=8 --max_len=512
--          --packing=true --dtype=bf16 --device=cuda --seed=1
local ft = require "ft"
local a = ft.args
local out = a.output or "runs/sft_lora"
ft.seed(a.seed or 1)

local data, m
if a.data then
  data = ft.data.load(a.data)          -- .jsonl / .json / .csv / .tsv; errors name file:line
else
  local train = ft.tasks.addition{ digits = 2, train = 2000, test = 1, seed = a.seed or 1 }
  data = train
end
if a.model then
  m = ft.load(a.model, { dtype = a.dtype or "bf16", device = a.device })   -- a folder or a Hub id
else
  m = ft.new{ hidden = 64, layers = 2, heads = 4, seed = a.seed or 1 }
end

local train, eval = data:shuffle(a.seed or 1):split(0.95, { seed = a.seed or 1 })

-- Adapters on every attention and MLP projection of the layers matched by a PEFT-style regex; biases of the
-- adapted layers train too. The same options go to adapter_config.json.
m:lora{ r = a.r or 16, alpha = 2 * (a.r or 16), dropout = 0.05,
        targets = "model\\.layers\\.\\d+\\.(self_attn\\.(q|k|v|o)_proj|mlp\\.(gate|up|down)_proj)",
        bias = "lora_only" }
m:print_trainable_parameters()

local run = ft.sft{
  model = m, data = train, eval_data = eval,
  epochs = a.epochs or 1, max_steps = a.max_steps or -1, batch_size = a.batch_size or 8, grad_accum = 1,
  lr = a.lr or 2e-4, warmup = 0.03, schedule = "cosine", max_len = a.max_len or 512,
  packing = a.packing or false, group_by_length = not a.packing,
  eval_steps = 50, save_steps = 100, output = out, logging_steps = 10,
}
run:train()                  -- resumes from <output>/latest when a checkpoint is there
local e = run:evaluate()
print(string.format("eval loss %.4f, perplexity %.2f", e.loss, e.perplexity))
m:save_adapter(out .. "/adapter")
print("adapter saved to " .. out .. "/adapter")
