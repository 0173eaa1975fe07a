--- What every trainer (ft.sft, ft.grpo) shares on the Lua side: the options (length, batch, optimizer,
--- schedule, precision, checkpoints, logging, hooks, with the TRL / transformers names as aliases), the table
--- of them the native trainers read, and the train() loop that saves a checkpoint on Ctrl-C / SIGTERM.
--- A trainer adds its own options with M.spec{...}.
local native = require "_ft.train"

local M = {}

local common = {
  model = { required = true, doc = "an ft.Model (ft.new / ft.load); after m:lora{...} only the adapters train" },
  epochs = { type = "integer", default = 1, min = 1, aliases = { "num_train_epochs" } },
  max_steps = { type = "integer", default = -1, doc = "> 0: stop after this many optimizer steps (overrides epochs)" },
  batch_size = { type = "integer", default = 8, min = 1,
    aliases = { "per_device_train_batch_size", "train_batch_size", "micro_batch_size" } },
  grad_accum = { type = "integer", default = 1, min = 1, aliases = { "gradient_accumulation_steps" } },
  lr = { type = "number", default = 2e-4, min = 0, aliases = { "learning_rate" } },
  warmup = { type = "number", default = 0, min = 0, aliases = { "warmup_steps", "warmup_ratio" },
    doc = "steps (>= 1) or a fraction of all steps (< 1)" },
  schedule = { type = "string", default = "linear", one_of = { "constant", "linear", "cosine" },
    aliases = { "lr_scheduler_type", "scheduler" } },
  min_lr_ratio = { type = "number", default = 0, min = 0, max = 1 },
  optimizer = { type = "string", default = "adamw",
    one_of = { "adamw", "adamw_fused", "adamw_foreach", "adamw_torch", "adafactor", "sgd" }, aliases = { "optim" },
    doc = "adamw (fused kernel on CPU; multi-tensor, or LibTorch's fused kernel, on GPU), adamw_foreach, " ..
      "adamw_torch (one parameter at a time), adafactor (transformers' Adafactor), " ..
      "sgd (torch.optim.SGD)" },
  weight_decay = { type = "number", default = 0.0, min = 0, doc = "AdamW/Adafactor: decoupled; SGD: L2 added to the gradient" },
  beta1 = { type = "number", aliases = { "adam_beta1" },
    doc = "AdamW: default 0.9; Adafactor: first-moment decay, none unless given" },
  beta2 = { type = "number", default = 0.999, aliases = { "adam_beta2" } },
  eps = { type = "number", default = 1e-8, aliases = { "adam_epsilon" } },
  momentum = { type = "number", default = 0, min = 0, doc = "sgd: momentum factor" },
  dampening = { type = "number", default = 0, min = 0, doc = "sgd: dampening of the momentum" },
  nesterov = { type = "boolean", default = false, doc = "sgd: Nesterov momentum (needs momentum > 0, dampening 0)" },
  relative_step = { type = "boolean", default = false,
    doc = "adafactor: step size min(1e-2, 1/sqrt(t)) instead of lr and the schedule (false as transformers' Trainer)" },
  scale_parameter = { type = "boolean", default = false,
    doc = "adafactor: step size times max(1e-3, RMS of the parameter) (false as transformers' Trainer)" },
  warmup_init = { type = "boolean", default = false, doc = "adafactor with relative_step: step size min(1e-6 t, 1/sqrt(t))" },
  decay_rate = { type = "number", default = -0.8, max = 0, doc = "adafactor: beta2 at step t is 1 - t^decay_rate" },
  clip_threshold = { type = "number", default = 1.0, min = 0, doc = "adafactor: the update's RMS is clipped to this" },
  max_grad_norm = { type = "number", default = 1.0, doc = "<= 0: no clipping" },
  precision = { type = "string", default = "auto", one_of = { "auto", "fp32", "bf16", "fp16" },
    aliases = { "bf16", "fp16", "mixed_precision", "torch_dtype" },
    doc = "auto: the model's dtype. bf16/fp16 cast the model (weights and activations) and keep fp32 master weights " ..
      "and optimizer state; fp16 adds dynamic loss scaling (2^16, halved on overflow after hysteresis 2, doubled " ..
      "after 1000 clean steps; overflow steps are skipped and counted). fp16 needs a GPU with LibTorch 1.13" },
  gradient_checkpointing = { type = "boolean", default = false,
    doc = "recompute each transformer block in backward: activation memory of one block, about 1/3 more compute" },
  seed = { type = "integer", default = 42, min = 0, doc = "drives shuffling, sampling and dropout" },
  shuffle = { type = "boolean", default = true },
  output = { type = "string", aliases = { "output_dir" }, doc = "checkpoints and metrics.jsonl; nil: none" },
  save_steps = { type = "integer", default = 0, min = 0, doc = "checkpoint every N steps (0: only at the end)" },
  save_total_limit = { type = "integer", default = 2, doc = "checkpoints kept (<= 0: all)" },
  resume = { type = "boolean", default = true, aliases = { "resume_from_checkpoint" },
    doc = "continue from <output>/latest when present" },
  logging_steps = { type = "integer", default = 10, min = 1 },
  eval_steps = { type = "integer", default = 0, min = 0, doc = "evaluate every N steps (0: only when asked)" },
  log = { type = "boolean", default = true, doc = "print progress and log lines" },
  on_step = { type = "callable" },
  on_log = { type = "callable" },
  on_eval = { type = "callable" },
  on_save = { type = "callable" },
  rank = { type = "integer", default = 0, min = 0 },
  world_size = { type = "integer", default = 1, min = 1 },
}

--- The common options plus a trainer's own; `own` entries replace common ones of the same name (e.g. another
--- default learning rate).
---@param own table<string, table> option specs as for ft.options.check
---@return table<string, table>
function M.spec(own)
  local s = {}
  for k, v in pairs(common) do s[k] = v end
  for k, v in pairs(own) do s[k] = v end
  return s
end

--- The options the native trainers read (TrainState and its optimizer), from checked options `o`.
---@param o table options checked against a spec from M.spec
---@return table
function M.native(o)
  return {
    batch_size = o.batch_size, grad_accum = o.grad_accum, epochs = o.epochs, max_steps = o.max_steps,
    lr = o.lr, schedule = o.schedule, min_lr_ratio = o.min_lr_ratio,
    warmup_steps = o.warmup >= 1 and math.floor(o.warmup) or 0, warmup_ratio = o.warmup < 1 and o.warmup or 0,
    max_grad_norm = o.max_grad_norm, beta1 = o.beta1, beta2 = o.beta2, eps = o.eps,
    weight_decay = o.weight_decay, optimizer = o.optimizer, seed = o.seed, shuffle = o.shuffle,
    momentum = o.momentum, dampening = o.dampening, nesterov = o.nesterov, relative_step = o.relative_step,
    scale_parameter = o.scale_parameter, warmup_init = o.warmup_init, decay_rate = o.decay_rate,
    clip_threshold = o.clip_threshold, precision = o.precision, gradient_checkpointing = o.gradient_checkpointing,
    rank = o.rank, world_size = o.world_size, output = o.output or "", save_total_limit = o.save_total_limit,
  }
end

--- Runs `advance()` until `finished()` returns true, then saves a checkpoint when the run has an output
--- folder. Ctrl-C or SIGTERM stops it after the current step with a checkpoint saved (when there is an
--- output folder) and an error saying where; `close()` (optional) runs however the loop ends.
---@param run table a run with `_o.output`, `global_step`, `:save()` and `:_refresh()`
---@param name string the trainer's name in messages ("ft.sft")
---@param finished fun():boolean
---@param advance fun()
---@param close? fun()
function M.train_loop(run, name, finished, advance, close)
  native.install_sigterm()
  local ok, err = pcall(function()
    while not finished() do advance() end
  end)
  if close then close() end
  if not ok then
    if tostring(err):match("interrupted") or native.interrupt_requested() then
      native.clear_interrupt()
      run:_refresh()
      if run._o.output then
        local dir = run:save()
        error(string.format("%s: interrupted at step %d; checkpoint saved to %s (run again to resume)", name,
          run.global_step, dir), 0)
      end
      error(string.format("%s: interrupted at step %d (no output folder, nothing saved)", name, run.global_step), 0)
    end
    error(err, 0)
  end
  if run._o.output then run:save() end
end

return M
