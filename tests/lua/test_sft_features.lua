-- ft.sft's optimizers (adafactor, sgd), precision (bf16 with fp32 masters; fp16's clear error on CPU),
-- gradient checkpointing (same losses), early stopping and load_best_model_at_end (HF semantics, state kept
-- across resume), and the progress line's layout.
local T = require "testlib"
local ft = require "ft"
local sft = require "ft.sft"
local tasks = require "ft.tasks"
local progress = require "ft.progress"

local tiny = T.tiny_model

local function lora(m, dropout)
  m:lora{ r = 4, alpha = 8, dropout = dropout or 0, targets = "all-linear" }
  return m
end

local read = T.read

local train = tasks.addition{ digits = 1, train = 64, test = 8, seed = 2 }

-- Losses of n steps of a fresh LoRA run with extra options.
local function losses(n, extra, seed)
  ft.seed(seed or 7)
  local m = lora(tiny(3), 0.1)
  local o = { model = m, data = train, max_steps = n, batch_size = 8, lr = 1e-2, log = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  local run = sft(o)
  local out = {}
  for i = 1, n do out[i] = run:step(1) end
  return out, run, m
end

T.test("optimizers: adafactor and sgd train, by name", function()
  local ada, run = losses(8, { optimizer = "adafactor", lr = 5e-2 })
  T.eq(run._t:info().optimizer, "adafactor")
  T.ok(ada[8] < ada[1] - 0.1, string.format("adafactor: loss %g -> %g", ada[1], ada[8]))
  local sgd, run2 = losses(8, { optimizer = "sgd", lr = 0.5, momentum = 0.9, nesterov = true })
  T.eq(run2._t:info().optimizer, "sgd")
  T.ok(sgd[8] < sgd[1] - 0.1, string.format("sgd: loss %g -> %g", sgd[1], sgd[8]))
  -- relative_step ignores lr: lr = 0 still trains.
  local rel = losses(4, { optimizer = "adafactor", lr = 0, relative_step = true, scale_parameter = true })
  T.ok(rel[4] ~= rel[1], "relative_step moves the weights without lr")
  T.raises(function() losses(1, { optimizer = "sgd", nesterov = true }) end,
    "Nesterov momentum requires a momentum and zero dampening")
  T.raises(function() losses(1, { optimizer = "adafactor", warmup_init = true }) end,
    "warmup_init = true requires relative_step = true")
  T.raises(function() losses(1, { optimizer = "lion" }) end, "option 'optimizer' must be one of")
  T.raises(function() losses(1, { optim = "sgd" }) end, "did you mean 'optimizer'?")
end)

T.test("precision: bf16 with fp32 masters; fp16 explains itself on CPU; HF names point at precision", function()
  local fp32 = losses(4)
  local bf16, run, m = losses(4, { precision = "bf16" })
  T.eq(run.precision, "bf16")
  T.eq(m.dtype, "bf16")
  for i = 1, 4 do
    T.ok(math.abs(bf16[i] - fp32[i]) < 0.02 * fp32[i], string.format("step %d: bf16 %g vs fp32 %g", i, bf16[i], fp32[i]))
  end
  T.ok(bf16[4] < bf16[1], "bf16 loss falls")
  local ok, err = pcall(losses, 1, { precision = "fp16" })
  if ok then
    print("note: this LibTorch multiplies fp16 on CPU; fp16 ran")
  else
    T.ok(tostring(err):find("precision fp16: this LibTorch has no Half matrix multiply on cpu", 1, true), err)
  end
  T.raises(function() losses(1, { bf16 = true }) end, "unknown option 'bf16' (did you mean 'precision'?)")
  T.raises(function() losses(1, { fp16 = true }) end, "(did you mean 'precision'?)")
end)

T.test("gradient_checkpointing: the same losses as without", function()
  local plain = losses(4)
  local ckpt = losses(4, { gradient_checkpointing = true })
  T.eq(ckpt[1], plain[1])  -- the first forward is the same computation
  -- Later steps follow gradients equal to ~1e-7 relative (summation order): the same losses to 1e-5.
  for i = 2, 4 do T.near(ckpt[i], plain[i], 1e-5 * plain[i], "step " .. i) end
end)

-- A task whose eval loss can only rise: training teaches "a=" -> "1", evaluation asks for "a=" -> "2".
local function contradicting(extra)
  local rows, evals = {}, {}
  for i = 1, 8 do rows[i] = { prompt = "a=", completion = "1" } end
  evals[1] = { prompt = "a=", completion = "2" }
  ft.seed(3)
  local m = lora(tiny(5))
  local o = { model = m, data = rows, eval_data = evals, add_eos = false, max_steps = 20, batch_size = 8, lr = 2e-2,
    eval_steps = 1, log = false }
  for k, v in pairs(extra) do o[k] = v end
  return sft(o), m
end

T.test("early stopping: patience counts evaluations without improvement beyond the threshold", function()
  local dir = T.tmpdir("sft-early")
  local evals = {}
  local run = contradicting{ early_stopping_patience = 2, output = dir,
    on_eval = function(r, e) evals[#evals + 1] = { r.global_step, e.loss } end }
  run:train()
  -- Eval at step 1 sets the best; steps 2 and 3 are worse: 2 evaluations without improvement -> stop at 3.
  T.eq(run.global_step, 3)
  T.eq(run.stopped_early, 3)
  T.eq(#evals, 3)
  T.ok(evals[2][2] > evals[1][2] and evals[3][2] > evals[2][2], "eval loss rises")
  T.eq(run.best_step, 1)
  T.eq(run.best_metric, evals[1][2])
  -- The state is in the checkpoint: a new run on the output is already stopped and trains no further.
  local again = contradicting{ early_stopping_patience = 2, output = dir }
  T.eq(again.global_step, 3)
  T.eq(again.stopped_early, 3)
  again:train()
  T.eq(again.global_step, 3)
  local st = read(dir .. "/checkpoint-3/trainer_state.json")
  T.ok(st:find('"patience_counter": 2', 1, true), st)
  -- A threshold larger than any change: falling losses do not count as improvement either.
  local rows = tasks.addition{ digits = 1, train = 16, test = 8, seed = 1 }
  ft.seed(1)
  local r2 = sft{ model = lora(tiny(2)), data = rows, eval_data = rows, max_steps = 20, batch_size = 8, lr = 1e-2,
    eval_steps = 2, early_stopping_patience = 3, early_stopping_threshold = 10, log = false }
  r2:train()
  T.eq(r2.stopped_early, 8)  -- evals at 2 (best), 4, 6, 8
  T.ok(r2.best_step > 2, "the best moves on any decrease, threshold or not")
  T.raises(function() sft{ model = tiny(), data = rows, early_stopping_patience = 2 } end,
    "early_stopping_patience needs eval_data and eval_steps > 0")
  T.raises(function() sft{ model = lora(tiny()), data = rows, eval_data = rows, eval_steps = 1,
    load_best_model_at_end = true } end, "load_best_model_at_end needs eval_data, eval_steps > 0 and output")
end)

T.test("load_best_model_at_end: the best evaluation's weights come back, its checkpoint survives pruning", function()
  local dir = T.tmpdir("sft-best")
  local run = contradicting{ max_steps = 6, output = dir, load_best_model_at_end = true, save_total_limit = 1 }
  run:train()
  T.eq(run.global_step, 6)
  T.eq(run.best_step, 1)
  T.ok(io.open(dir .. "/checkpoint-1/state.safetensors") ~= nil, "best checkpoint kept despite save_total_limit = 1")
  T.ok(io.open(dir .. "/checkpoint-6/state.safetensors") ~= nil, "final checkpoint written")
  -- The model now evaluates exactly as at step 1.
  T.eq(run:evaluate().loss, run.best_metric)
end)

T.test("progress line: fits the width, bar when there is room, plain log lines off a terminal", function()
  local f = { loss = 1.23456, lr = 2e-4, tokens_per_s = 912.4, eta_s = 65 }
  local wide = progress.new{ total = 100, tty = true, columns = 100 }
  local line = wide:line(25, f)
  T.eq(#line, 99)
  T.ok(line:find("^step 25/100 %[=+>%s+%]  25%% | loss 1%.2346 | lr 2%.00e%-04 | 912 tok/s | eta 1m05s$"), line)
  local narrow = progress.new{ total = 100, tty = true, columns = 40 }
  local n = narrow:line(25, f)
  T.eq(#n, 39)
  T.ok(not n:find("[", 1, true), "no bar when it does not fit: " .. n)
  local fixed = #"step 100/100 [] 100% | loss 1.2346 | lr 2.00e-04 | 912 tok/s | eta 1m05s"
  T.eq(wide:line(100, f):match("%[(.-)%]"), string.rep("=", 99 - fixed))
  -- Off a terminal nothing but the permanent lines is written.
  local path = T.tmpdir("sft-progress") .. ".txt"
  local out = assert(io.open(path, "w"))
  local plain = progress.new{ total = 10, tty = false, out = out }
  plain:update(1, f)
  plain:print("step 1/10 | loss 1.2346")
  plain:close()
  out:close()
  T.eq(read(path), "step 1/10 | loss 1.2346\n")
  T.eq(progress.format_time(3725), "1h02m")
end)

T.done()
