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
local train_options = require "ft.train_options"
local metrics = require "ft.metrics"
local data = require "ft.data"
local stream = require "ft.data_stream"
local progress = require "ft.progress"
require "ft.lora"

local M = {}

local spec = train_options.spec{
  data = { type = "table", required = true, aliases = { "train_dataset", "dataset" },
    doc = "an ft.data Dataset, an ft.Stream (tokenized chunk by chunk) or a list of rows" },
  eval_data = { type = "table", aliases = { "eval_dataset" } },
  max_len = { type = "integer", default = 1024, min = 2, aliases = { "max_seq_length", "max_length", "seq_len" } },
  packing = { type = "boolean", default = false,
    doc = "pack samples into rows of max_len (positions restart, no attention across samples)" },
  train_on_inputs = { type = "boolean", default = false, doc = "false: loss on completions / assistant turns only" },
  add_eos = { type = "boolean", default = true },
  truncation = { type = "boolean", default = true, doc = "false: an over-long sample is an error (or a skip)" },
  skip_bad_rows = { type = "boolean", default = false, doc = "count and skip rows that cannot be formatted" },
  group_by_length = { type = "boolean", default = false,
    doc = "batches of similar lengths (less padding): megabatches of up to 50 optimizer-step batches sorted by length," ..
      " longest first, as transformers' LengthGroupedSampler" },
  max_bad_steps = { type = "integer", default = 5, min = 1,
    doc = "stop after this many steps in a row with NaN/inf gradients (each such step is skipped and counted)" },
  early_stopping_patience = { type = "integer", default = 0, min = 0,
    doc = "stop when eval_loss has not improved (by more than early_stopping_threshold) for this many evaluations " ..
      "in a row; needs eval_data and eval_steps (0: off)" },
  early_stopping_threshold = { type = "number", default = 0, min = 0,
    doc = "how much eval_loss must fall below the best so far to count as an improvement" },
  load_best_model_at_end = { type = "boolean", default = false,
    doc = "checkpoint at each new best eval_loss (kept from pruning) and load its weights when train() ends; " ..
      "needs eval_data, eval_steps and output" },
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
  local topts = train_options.native(o)
  topts.packing, topts.group_by_length = o.packing, o.group_by_length
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

function Run:_metrics(rec) metrics.append(self, rec) end

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
  train_options.train_loop(self, "ft.sft", function() return self:_finished() end, function() self:_advance(1) end,
    function() if self._o.log then self._bar:close() end end)
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
