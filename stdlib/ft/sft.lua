--- Supervised fine-tuning: ft.sft{...} returns a run that trains a model on rows of text,
--- prompt/completion or chat messages (full fine-tuning, or LoRA after m:lora{...}).
---
---   local run = ft.sft{ model = m, data = rows, epochs = 1, batch_size = 8, lr = 2e-4, output = "runs/sft" }
---   run:train()          -- resumes from runs/sft/latest when a checkpoint is there
---   run:step(10)         -- or a few steps at a time (REPL); run.global_step, run.loss, run.lr are readable
---   print(run:evaluate().loss)
---
--- Checkpoints go to <output>/checkpoint-<step> (written to a temp folder, fsynced, renamed; then the
--- <output>/latest pointer), metrics to <output>/metrics.jsonl. Ctrl-C or SIGTERM during train() saves a
--- checkpoint and stops with an error that says where it is.
--- run.global_step (steps done), run.loss, run.lr are readable after every step.
--- On a terminal a live progress line (step, loss, lr, tokens/s, ETA) is redrawn in place; log lines
--- every logging_steps are printed above it (and are all there is when stdout is not a terminal).
local native = require "_ft.train"
local options = require "ft.options"
local data = require "ft.data"
local stream = require "ft.data_stream"
local progress = require "ft.progress"
require "ft.lora"

local M = {}

local spec = {
  model = { required = true, doc = "an ft.Model (ft.new / ft.load)" },
  data = { type = "table", required = true, aliases = { "train_dataset", "dataset" },
    doc = "an ft.data Dataset, an ft.Stream (tokenized chunk by chunk) or a list of rows" },
  eval_data = { type = "table", aliases = { "eval_dataset" } },
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
  max_len = { type = "integer", default = 1024, min = 2, aliases = { "max_seq_length", "max_length", "seq_len" } },
  packing = { type = "boolean", default = false,
    doc = "pack samples into rows of max_len (positions restart, no attention across samples)" },
  train_on_inputs = { type = "boolean", default = false, doc = "false: loss on completions / assistant turns only" },
  add_eos = { type = "boolean", default = true },
  truncation = { type = "boolean", default = true, doc = "false: an over-long sample is an error (or a skip)" },
  skip_bad_rows = { type = "boolean", default = false, doc = "count and skip rows that cannot be formatted" },
  optimizer = { type = "string", default = "adamw", one_of = { "adamw", "adamw_fused", "adamw_torch", "adafactor", "sgd" },
    aliases = { "optim" }, doc = "adamw (fused kernel on CPU), adamw_torch, adafactor (transformers' Adafactor), " ..
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
  seed = { type = "integer", default = 42, min = 0, doc = "drives shuffling and dropout" },
  shuffle = { type = "boolean", default = true },
  group_by_length = { type = "boolean", default = false,
    doc = "batches of similar lengths (less padding): megabatches of up to 50 optimizer-step batches sorted by length," ..
      " longest first, as transformers' LengthGroupedSampler" },
  output = { type = "string", aliases = { "output_dir" }, doc = "checkpoints and metrics.jsonl; nil: none" },
  save_steps = { type = "integer", default = 0, min = 0, doc = "checkpoint every N steps (0: only at the end)" },
  save_total_limit = { type = "integer", default = 2, doc = "checkpoints kept (<= 0: all)" },
  resume = { type = "boolean", default = true, aliases = { "resume_from_checkpoint" },
    doc = "continue from <output>/latest when present" },
  logging_steps = { type = "integer", default = 10, min = 1 },
  max_bad_steps = { type = "integer", default = 5, min = 1,
    doc = "stop after this many steps in a row with NaN/inf gradients (each such step is skipped and counted)" },
  eval_steps = { type = "integer", default = 0, min = 0, doc = "evaluate every N steps (0: only when asked)" },
  early_stopping_patience = { type = "integer", default = 0, min = 0,
    doc = "stop when eval_loss has not improved (by more than early_stopping_threshold) for this many evaluations " ..
      "in a row; needs eval_data and eval_steps (0: off)" },
  early_stopping_threshold = { type = "number", default = 0, min = 0,
    doc = "how much eval_loss must fall below the best so far to count as an improvement" },
  load_best_model_at_end = { type = "boolean", default = false,
    doc = "checkpoint at each new best eval_loss (kept from pruning) and load its weights when train() ends; " ..
      "needs eval_data, eval_steps and output" },
  log = { type = "boolean", default = true, doc = "print the progress line" },
  on_step = { type = "callable" },
  on_log = { type = "callable" },
  on_eval = { type = "callable" },
  on_save = { type = "callable" },
  rank = { type = "integer", default = 0, min = 0 },
  world_size = { type = "integer", default = 1, min = 1 },
}

---@class ft.SftRun
---@field global_step integer optimizer steps done (a field named `step` would hide the method run:step(n))
---@field total_steps integer
---@field loss number|nil loss of the last step
---@field lr number learning rate of the last step (before any: of the first)
---@field model ft.Model
local Run = {}
Run.__index = Run
Run.__name = "SftRun"

local function json_line(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    local s
    if type(v) == "number" then
      if v ~= v or v == math.huge or v == -math.huge then s = "null"
      elseif v == math.floor(v) and math.abs(v) < 2 ^ 53 then s = string.format("%d", v)
      else s = string.format("%.9g", v) end
    elseif type(v) == "boolean" then s = tostring(v)
    else s = string.format("%q", tostring(v)) end
    parts[#parts + 1] = string.format("%q:%s", k, s)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end


--- Creates a training run (tokenizes the data; resumes from <output>/latest when present).
---@param opts table see the option list in stdlib/ft/sft.lua (TRL names are recognised and mapped)
---@return ft.SftRun
function M.sft(opts)
  local o = options.check("ft.sft", opts, spec)
  local m = o.model
  if type(m) ~= "table" or not m._m then error("ft.sft: 'model' must be an ft.Model (from ft.new or ft.load)", 2) end
  local evals = o.eval_data ~= nil and o.eval_steps > 0
  if o.early_stopping_patience > 0 and not evals then
    error("ft.sft: early_stopping_patience needs eval_data and eval_steps > 0 (it watches eval_loss)", 2)
  end
  if o.load_best_model_at_end and not (evals and o.output) then
    error("ft.sft: load_best_model_at_end needs eval_data, eval_steps > 0 and output (the best model is a checkpoint)", 2)
  end
  local topts = {
    batch_size = o.batch_size, grad_accum = o.grad_accum, epochs = o.epochs, max_steps = o.max_steps,
    lr = o.lr, schedule = o.schedule, min_lr_ratio = o.min_lr_ratio,
    warmup_steps = o.warmup >= 1 and math.floor(o.warmup) or 0, warmup_ratio = o.warmup < 1 and o.warmup or 0,
    max_grad_norm = o.max_grad_norm, beta1 = o.beta1, beta2 = o.beta2, eps = o.eps,
    weight_decay = o.weight_decay, optimizer = o.optimizer, seed = o.seed, shuffle = o.shuffle,
    momentum = o.momentum, dampening = o.dampening, nesterov = o.nesterov, relative_step = o.relative_step,
    scale_parameter = o.scale_parameter, warmup_init = o.warmup_init, decay_rate = o.decay_rate,
    clip_threshold = o.clip_threshold, precision = o.precision, gradient_checkpointing = o.gradient_checkpointing,
    rank = o.rank, world_size = o.world_size, output = o.output or "", save_total_limit = o.save_total_limit,
    packing = o.packing, group_by_length = o.group_by_length,
  }
  local fopts = { max_len = o.max_len, train_on_inputs = o.train_on_inputs, add_eos = o.add_eos,
    truncation = o.truncation, skip_bad_rows = o.skip_bad_rows }
  -- A Stream is tokenized chunk by chunk into a native store (its rows never all live in Lua); a Dataset
  -- goes to the trainer as rows, tokenized there.
  local function source(x)
    if stream.is_stream(x) then
      local store = x:_tokenize(m, fopts)
      return store, nil, store:info().examples + store:info().skipped, x._base and x._base.skipped or 0
    end
    local ds = data.as_dataset(x)
    return ds.rows, ds.origins, ds.n, ds.skipped or 0
  end
  local rows, origins, n, skipped_invalid = source(o.data)
  local eval_rows, eval_origins
  if o.eval_data then eval_rows, eval_origins = source(o.eval_data) end
  local t, skipped, truncated, first_skip = native.trainer(m._m, rows, origins, eval_rows, eval_origins, fopts, topts)
  m:_refresh()  -- precision may have cast the model (m.dtype)
  local run = setmetatable({ model = m, _t = t, _o = o, skipped = skipped, truncated = truncated,
    skipped_invalid = skipped_invalid, examples = n - skipped, skipped_steps = 0, _cb = { patience_counter = 0 } }, Run)
  run:_refresh()
  run._bar = progress.new{ total = run.total_steps }
  if o.log and skipped > 0 then
    run:_say(string.format("ft.sft: skipped %d of %d rows that could not be formatted (first: %s)", skipped, n,
      first_skip))
  end
  if o.log and skipped_invalid > 0 then
    run:_say(string.format("ft.sft: the data reader skipped %d invalid lines (skip_invalid = true)", skipped_invalid))
  end
  if o.output and o.resume then
    local at, cb = t:resume()
    if at > 0 then
      run._bar:print(string.format("ft.sft: resumed from %s/checkpoint-%d", o.output, at))  -- even with log = false
      if cb then run:_restore_callbacks(cb) end
    end
  end
  run:_refresh()
  return run
end

function Run:_refresh()
  local info = self._t:info()
  self.global_step, self.total_steps, self.steps_per_epoch = info.step, info.total_steps, info.steps_per_epoch
  self.precision, self.loss_scale = info.precision, info.loss_scale
  if not self.loss then self.lr = info.lr end
end

-- A message line (above the live progress line on a terminal).
function Run:_say(msg)
  if self._o.log then self._bar:print(msg) end
end

-- State of the loop that a checkpoint carries (trainer_state.json "callbacks"), and its restore.
function Run:_callbacks()
  local cb = self._cb
  return { patience_counter = cb.patience_counter, best_metric = cb.best_metric, best_step = cb.best_step,
    best_checkpoint = cb.best_checkpoint, skipped_steps = self.skipped_steps, stopped_early = cb.stopped_early }
end

function Run:_restore_callbacks(cb)
  self._cb = { patience_counter = cb.patience_counter or 0, best_metric = cb.best_metric, best_step = cb.best_step,
    best_checkpoint = cb.best_checkpoint, stopped_early = cb.stopped_early }
  self.skipped_steps = cb.skipped_steps or 0
  self.best_metric, self.best_step, self.stopped_early = cb.best_metric, cb.best_step, cb.stopped_early
  if cb.best_step and self._o.load_best_model_at_end then self._t:keep(cb.best_step) end
end

-- After an evaluation during training: best eval_loss (a checkpoint when load_best_model_at_end) and the
-- early-stopping count, with transformers' EarlyStoppingCallback semantics: an evaluation improves when it
-- is below the best so far by more than the threshold; the best itself moves on any decrease.
function Run:_after_eval(e)
  local o, cb = self._o, self._cb
  local improved = cb.best_metric == nil or
    (e.loss < cb.best_metric and math.abs(e.loss - cb.best_metric) > o.early_stopping_threshold)
  cb.patience_counter = improved and 0 or cb.patience_counter + 1
  if cb.best_metric == nil or e.loss < cb.best_metric then
    cb.best_metric, cb.best_step = e.loss, self.global_step
    self.best_metric, self.best_step = cb.best_metric, cb.best_step
    if o.load_best_model_at_end then
      self._t:keep(self.global_step)
      cb.best_checkpoint = string.format("%s/checkpoint-%d", o.output, self.global_step)
      self:save()
    end
  end
  if o.early_stopping_patience > 0 and cb.patience_counter >= o.early_stopping_patience then
    cb.stopped_early = self.global_step
    self.stopped_early = self.global_step
    self:_say(string.format("ft.sft: early stopping at step %d: eval_loss did not improve by more than %g for %d " ..
      "evaluations (best %.4f at step %d)", self.global_step, o.early_stopping_threshold, cb.patience_counter,
      cb.best_metric, cb.best_step))
  end
end

function Run:__tostring()
  return string.format("SftRun(step %d/%d, loss %s, lr %.3g)", self.global_step, self.total_steps,
    self.loss and string.format("%.4f", self.loss) or "-", self.lr)
end

function Run:_metrics(rec)
  if not self._o.output then return end
  if not self._made_output then
    os.execute(string.format("mkdir -p %q", self._o.output))
    self._made_output = true
  end
  local f = assert(io.open(self._o.output .. "/metrics.jsonl", "a"))
  f:write(json_line(rec), "\n")
  f:close()
end

function Run:_after(s)
  local o = self._o
  self.loss, self.lr = s.loss, s.lr
  self:_refresh()
  -- The native step skips the update when the gradient norm is NaN/inf; count and stop on a streak. fp16
  -- overflows are the loss scaler's business: skipped and counted, the scale halves (and errors at its minimum).
  if s.overflow then
    self.skipped_steps = self.skipped_steps + 1
    self:_say(string.format("step %d: fp16 gradients overflowed at loss scale %g, update skipped", self.global_step,
      s.loss_scale))
  elseif s.grad_norm ~= s.grad_norm or s.grad_norm == math.huge then
    self.skipped_steps = self.skipped_steps + 1
    self._bad_in_row = (self._bad_in_row or 0) + 1
    self:_say(string.format("step %d: NaN/inf gradients (loss %s), update skipped", self.global_step, s.loss))
    if self._bad_in_row >= o.max_bad_steps then
      error(string.format("ft.sft: %d steps in a row had NaN/inf gradients (last loss %s at step %d); stopping." ..
        "\nhint: lower lr, raise warmup, or check the data for broken rows", self._bad_in_row, s.loss, self.global_step), 0)
    end
  else
    self._bad_in_row = 0
  end
  self._window = self._window or { loss = 0, n = 0, tokens = 0, seconds = 0 }
  local w = self._window
  w.loss, w.n, w.tokens, w.seconds = w.loss + s.loss, w.n + 1, w.tokens + s.tokens, w.seconds + s.seconds
  self._elapsed = (self._elapsed or 0) + s.seconds
  if o.on_step then o.on_step(self, s) end
  local eta = (self.total_steps - self.global_step) * (self._elapsed / math.max(1, self._steps_here or 1))
  local tps = w.tokens / math.max(w.seconds, 1e-9)
  if o.log then self._bar:update(self.global_step, { loss = w.loss / w.n, lr = s.lr, tokens_per_s = tps, eta_s = eta }) end
  if self.global_step % o.logging_steps == 0 or self.global_step == self.total_steps then
    local rec = { step = self.global_step, loss = w.loss / w.n, lr = s.lr, grad_norm = s.grad_norm, epoch = s.epoch,
      tokens_per_s = tps }
    if self.precision == "fp16" then rec.loss_scale = s.loss_scale end
    self:_say(string.format("step %d/%d | loss %.4f | lr %.3e | %.0f tok/s | eta %s", self.global_step,
      self.total_steps, rec.loss, rec.lr, rec.tokens_per_s, progress.format_time(eta)))
    self:_metrics(rec)
    if o.on_log then o.on_log(self, rec) end
    self._window = nil
  end
  if o.eval_data and o.eval_steps > 0 and self.global_step % o.eval_steps == 0 then self:_after_eval(self:evaluate()) end
  if o.output and o.save_steps > 0 and self.global_step % o.save_steps == 0 and self.global_step < self.total_steps then
    self:save()
  end
end

-- True when the loop should end: all steps done, or early stopping triggered.
function Run:_finished()
  return self.global_step >= self.total_steps or self._cb.stopped_early ~= nil
end

--- Runs up to n optimizer steps (default 1); returns the loss of the last one.
---@param n? integer
---@return number|nil loss
function Run:step(n)
  local ok, err = pcall(self._advance, self, n or 1)
  if self._o.log then self._bar:close() end  -- the REPL prompt (or anything printed next) gets its own line
  if not ok then error(err, 0) end
  return self.loss
end

-- Up to n steps, the live progress line left open (train() closes it once at the end).
function Run:_advance(n)
  for _ = 1, n do
    if self:_finished() then break end
    local s = self._t:step()
    self._steps_here = (self._steps_here or 0) + 1
    self:_after(s)
    if native.interrupt_requested() then error("interrupted", 0) end
  end
end

--- Trains to the end (epochs or max_steps, or early stopping), saving checkpoints as configured and at the
--- end; with load_best_model_at_end the model then holds the best evaluation's weights.
---@return ft.SftRun self
function Run:train()
  native.install_sigterm()
  local ok, err = pcall(function()
    while not self:_finished() do self:_advance(1) end
  end)
  if self._o.log then self._bar:close() end
  if not ok then
    local msg = tostring(err)
    if msg:match("interrupted") or native.interrupt_requested() then
      native.clear_interrupt()
      self:_refresh()
      if self._o.output then
        local dir = self:save()
        error(string.format("ft.sft: interrupted at step %d; checkpoint saved to %s (run again to resume)",
          self.global_step, dir), 0)
      end
      error(string.format("ft.sft: interrupted at step %d (no output folder, nothing saved)", self.global_step), 0)
    end
    error(err, 0)
  end
  if self._o.output then self:save() end
  local cb = self._cb
  if self._o.load_best_model_at_end and cb.best_checkpoint then
    self._t:load_weights(cb.best_checkpoint)
    self:_say(string.format("ft.sft: loaded the best model (eval_loss %.4f at step %d) from %s", cb.best_metric,
      cb.best_step, cb.best_checkpoint))
  end
  return self
end

--- Loss and perplexity on eval_data (no gradients); also logged to metrics.jsonl.
---@return {loss:number, perplexity:number, label_tokens:integer}
function Run:evaluate()
  local e = self._t:evaluate()
  self.eval_loss = e.loss
  self:_say(string.format("eval @ step %d | loss %.4f | perplexity %.3f", self.global_step, e.loss, e.perplexity))
  self:_metrics({ step = self.global_step, eval_loss = e.loss, eval_perplexity = e.perplexity })
  if self._o.on_eval then self._o.on_eval(self, e) end
  return e
end

--- Writes a checkpoint now (<output>/checkpoint-<step>, then the latest pointer); returns its folder.
---@return string dir
function Run:save()
  local dir = self._t:save(self:_callbacks())
  if self._o.on_save then self._o.on_save(self, dir) end
  return dir
end

M.Run = Run
-- ft.sft{...} works whether init.lua maps ft.sft to this function or to the module.
return setmetatable(M, { __call = function(_, opts) return M.sft(opts) end })
