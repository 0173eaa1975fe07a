--- GRPO (Group Relative Policy Optimization, as TRL's GRPOTrainer): for each prompt the model samples
--- `num_generations` completions, Lua reward functions score them, and the policy is pushed towards the
--- completions that beat their group's mean. Generation, log-probs, the loss and the update are native;
--- only the rewards run in Lua (with a time limit per call).
---
---   local run = ft.grpo{ model = m, data = rows, rewards = { my_reward, ft.rewards.think_format{} },
---                        num_generations = 8, max_completion_len = 64, lr = 1e-5, output = "runs/grpo" }
---   run:train()        -- or run:step(10) in the REPL; run.rewards can be replaced between calls
---
--- Rows have a `prompt`: a string (used as is) or a list of chat messages (rendered with the tokenizer's chat
--- template and a generation prompt). Every column of the row reaches the rewards as `s.row`.
local native = require "_ft.grpo"
local train_native = require "_ft.train"
local options = require "ft.options"
local train_options = require "ft.train_options"
local data = require "ft.data"
local rewards_mod = require "ft.rewards"
local metrics = require "ft.metrics"
require "ft.lora"

local M = {}

local spec = train_options.spec{
  data = { type = "table", required = true, aliases = { "train_dataset", "dataset" },
    doc = "an ft.data Dataset or a list of rows with a `prompt` (string or chat messages)" },
  eval_data = { type = "table", aliases = { "eval_dataset" }, doc = "prompts for run:evaluate() (mean rewards)" },
  rewards = { required = true, aliases = { "reward_funcs", "reward_fns", "reward" },
    doc = "a reward (Lua function or ft.reward{...}) or a list of them" },
  reward_weights = { type = "table", doc = "one weight per reward (default: each reward's weight, else 1)" },
  num_generations = { type = "integer", default = 8, min = 2, aliases = { "group_size", "G" },
    doc = "completions sampled per prompt (the group)" },
  max_prompt_len = { type = "integer", default = 512, min = 1, aliases = { "max_prompt_length" },
    doc = "longer prompts keep their last tokens" },
  max_completion_len = { type = "integer", default = 256, min = 1, aliases = { "max_completion_length", "max_new_tokens" } },
  temperature = { type = "number", default = 1.0, min = 0 },
  top_p = { type = "number", default = 1.0, min = 0, max = 1 },
  top_k = { type = "integer", default = 0, min = 0, doc = "0: off" },
  min_p = { type = "number", default = 0, min = 0, max = 1, doc = "0: off" },
  repetition_penalty = { type = "number", default = 1.0, min = 0 },
  stop = { type = "table", aliases = { "stop_strings" }, doc = "strings that end a completion (cut before them)" },
  beta = { type = "number", default = 0.0, min = 0, doc = "KL weight; > 0 needs a reference policy" },
  epsilon = { type = "number", default = 0.2, min = 0, aliases = { "epsilon_low", "clip_range" } },
  epsilon_high = { type = "number", min = 0, doc = "upper clip (default: epsilon)" },
  loss = { type = "string", default = "dapo", one_of = { "grpo", "bnpo", "dr_grpo", "dapo" }, aliases = { "loss_type" } },
  scale_rewards = { type = "string", default = "group", one_of = { "group", "batch", "none" } },
  num_iterations = { type = "integer", default = 1, min = 1, doc = "optimizer steps per generated batch" },
  mask_truncated_completions = { type = "boolean", default = false,
    doc = "completions cut by max_completion_len (no EOS) get no loss" },
  logps_chunk_rows = { type = "integer", default = 0, min = 0,
    doc = "compute log-probs this many rows at a time (0: a micro-batch at once); lowers peak memory" },
  ref_on_cpu = { type = "boolean", default = false, doc = "full fine-tuning: keep the frozen reference copy on the CPU" },
  batch_size = { type = "integer", default = 8, min = 1, aliases = { "per_device_train_batch_size", "train_batch_size" },
    doc = "completions per micro-batch" },
  lr = { type = "number", default = 1e-6, min = 0, aliases = { "learning_rate" } },
  logging_steps = { type = "integer", default = 1, min = 1 },
  log_completions = { type = "integer", default = 0, min = 0, doc = "print this many sample completions per log" },
}

---@class ft.GrpoRun
---@field global_step integer optimizer steps done
---@field total_steps integer
---@field loss number|nil loss of the last step
---@field lr number
---@field reward number|nil mean total reward of the last generated batch
---@field rewards table the reward functions (replace them between run:step() calls to change the task)
---@field reward_weights table|nil
---@field model ft.Model
local Run = {}
Run.__index = Run
Run.__name = "GrpoRun"

local function nan() return 0 / 0 end

-- Prompt text of a row: a string as is, chat messages through the chat template.
local function prompt_text(model, row, where)
  local p = row.prompt
  if type(p) == "string" then return p end
  if type(p) == "table" then
    if not model.tokenizer then error("ft.grpo: chat prompts need a tokenizer with a chat template", 0) end
    return (model.tokenizer:apply_chat(p, { add_generation_prompt = true }))
  end
  error(string.format("ft.grpo: %s: expected a 'prompt' (string or list of chat messages), got %s" ..
    "\nhint: map rows to { prompt = ... } with ds:map(...)", where, type(p)), 0)
end

-- Token ids of every row's prompt (BOS as the tokenizer adds it for plain text; none after a chat template).
local function encode_prompts(model, ds)
  local ids = {}
  for i = 1, ds.n do
    local row, where = ds.rows[i], ds.origins[i] or ("row " .. i)
    ids[i] = model.tokenizer:encode(prompt_text(model, row, where), { add_special = type(row.prompt) == "string" })
    if #ids[i] == 0 then error(string.format("ft.grpo: %s: the prompt is empty", where), 0) end
  end
  return ids
end

--- Creates a GRPO run (prompts are checked and tokenized now; resumes from <output>/latest when present).
---@param opts table see the option list in stdlib/ft/grpo.lua (TRL GRPOConfig names are recognised)
---@return ft.GrpoRun
function M.grpo(opts)
  local o = options.check("ft.grpo", opts, spec)
  local m = o.model
  if type(m) ~= "table" or not m._m then error("ft.grpo: 'model' must be an ft.Model (from ft.new or ft.load)", 2) end
  if not m.tokenizer then error("ft.grpo: the model has no tokenizer (needed to encode prompts and decode completions)", 2) end
  local ds = data.as_dataset(o.data)
  if ds.n == 0 then error("ft.grpo: 'data' has no rows", 2) end
  local reward_list = rewards_mod.list(o.rewards)
  if o.reward_weights and #o.reward_weights ~= #reward_list then
    error(string.format("ft.grpo: reward_weights has %d entries but there are %d rewards", #o.reward_weights,
      #reward_list), 2)
  end
  local run = setmetatable({ model = m, _o = o, rewards = reward_list, reward_weights = o.reward_weights,
    _ds = ds, _eval = o.eval_data and data.as_dataset(o.eval_data) or nil }, Run)
  run._prompt_ids = encode_prompts(m, ds)
  local G = o.num_generations
  local per_step = o.batch_size * o.grad_accum * o.world_size
  if per_step % G ~= 0 then
    error(string.format("ft.grpo: (processes x per-device batch x grad_accum) = %d x %d x %d = %d must be divisible" ..
      " by num_generations = %d\nhint: set batch_size to a multiple of %d", o.world_size, o.batch_size,
      o.grad_accum, per_step, G, G), 2)
  end
  run.prompts_per_step = math.floor(per_step / G)
  local rollouts_per_epoch = math.max(1, math.floor(ds.n / run.prompts_per_step))
  local total = o.max_steps > 0 and o.max_steps or o.epochs * rollouts_per_epoch * o.num_iterations
  local topts = train_options.native(o)
  topts.max_steps = total
  for k, v in pairs({
    num_generations = G, max_prompt_len = o.max_prompt_len, max_completion_len = o.max_completion_len,
    temperature = o.temperature, top_p = o.top_p, top_k = o.top_k, min_p = o.min_p,
    repetition_penalty = o.repetition_penalty, stop = o.stop, logps_chunk_rows = o.logps_chunk_rows,
    beta = o.beta, epsilon = o.epsilon, epsilon_high = o.epsilon_high or o.epsilon, loss = o.loss,
    scale_rewards = o.scale_rewards, num_iterations = o.num_iterations,
    mask_truncated_completions = o.mask_truncated_completions, ref_device = o.ref_on_cpu and "cpu" or "",
  }) do topts[k] = v end
  run._t = native.trainer(m._m, topts)
  m:_refresh()  -- precision may have cast the model
  if o.output and o.resume then
    local at = run._t:resume()
    if at > 0 then print(string.format("ft.grpo: resumed from %s/checkpoint-%d", o.output, at)) end
  end
  run:_refresh()
  return run
end

function Run:_refresh()
  local info = self._t:info()
  self.global_step, self.total_steps = info.step, info.total_steps
  if not self.loss then self.lr = info.lr end
end

function Run:__tostring()
  return string.format("GrpoRun(step %d/%d, reward %s, loss %s, lr %.3g)", self.global_step, self.total_steps,
    self.reward and string.format("%.3f", self.reward) or "-",
    self.loss and string.format("%.4f", self.loss) or "-", self.lr)
end

-- Samples for the rewards from a native rollout: s.prompt, s.completion, s.completion_ids, s.row, s.index, s.group.
local function make_samples(ds, idx, list)
  local samples = {}
  for i, s in ipairs(list) do
    local row_i = idx[s.prompt_index]
    samples[i] = { prompt = ds.rows[row_i].prompt, completion = s.completion, completion_ids = s.completion_ids,
      row = ds.rows[row_i], index = i, group = s.prompt_index, finish_reason = s.finish_reason, truncated = s.truncated }
  end
  return samples
end

-- Generates completions for the given dataset rows and scores them with the current rewards.
function Run:_generate(ds, prompt_ids, idx)
  local prompts = {}
  for i, r in ipairs(idx) do prompts[i] = prompt_ids[r] end
  local ro, list = self._t:rollout(prompts)
  local samples = make_samples(ds, idx, list)
  local res = rewards_mod.compute(self.rewards, samples, { weights = self.reward_weights })
  local totals = {}
  for i = 1, res.n do
    local v = res.total[i]
    totals[i] = v == nil and nan() or v
  end
  return ro, samples, res, totals
end

-- Mean of the values that are not NaN (nil when there are none).
local function mean_of(values)
  local n, sum = 0, 0
  for i = 1, #values do
    local v = values[i]
    if v == v then n, sum = n + 1, sum + v end
  end
  return n > 0 and sum / n or nil
end

local function fmt(v, f) return v and string.format(f or "%.4f", v) or "-" end

function Run:_log(s, res, samples)
  local o = self._o
  local rec = { step = self.global_step, loss = s.loss, lr = s.lr, grad_norm = s.grad_norm, kl = s.kl,
    entropy = s.entropy, clip_ratio = s.clip_ratio, clip_ratio_low = s.clip_ratio_low, clip_ratio_high = s.clip_ratio_high,
    reward = s.reward, reward_std = s.reward_std, frac_reward_zero_std = s.frac_reward_zero_std,
    completion_len = s.completion_len_mean, completion_len_min = s.completion_len_min,
    completion_len_max = s.completion_len_max, truncated = s.truncated_frac,
    rollout_s = s.seconds_rollout, train_s = s.seconds_train, reward_s = res.seconds }
  for k, name in ipairs(res.names) do
    local st = res.stats[k]
    rec["rewards/" .. name .. "/mean"], rec["rewards/" .. name .. "/std"] = st.mean, st.std
  end
  if o.log then
    local parts = {}
    for k, name in ipairs(res.names) do parts[#parts + 1] = string.format("%s %s", name, fmt(res.stats[k].mean, "%.3f")) end
    print(string.format("step %d/%d | reward %s ± %s (%s) | loss %s | kl %s | len %s | clip %s | lr %.2e | " ..
      "rollout %.1fs train %.1fs reward %.2fs", self.global_step, self.total_steps, fmt(s.reward, "%.3f"),
      fmt(s.reward_std, "%.3f"), table.concat(parts, ", "), fmt(s.loss), fmt(s.kl), fmt(s.completion_len_mean, "%.1f"),
      fmt(s.clip_ratio, "%.3f"), s.lr, s.seconds_rollout, s.seconds_train, res.seconds))
    for i = 1, math.min(o.log_completions, #samples) do
      local smp = samples[i]
      print(string.format("  [%d] %s%s  -> reward %s", i, tostring(type(smp.prompt) == "string" and smp.prompt or "<chat>"),
        smp.completion, fmt(res.total[i], "%.3f")))
    end
  end
  metrics.append(self, rec)
  if o.on_log then o.on_log(self, rec) end
end

function Run:_after(s, res, samples)
  local o = self._o
  -- With num_iterations > 1 one batch gives several steps: each stats table carries its own step.
  self.loss, self.lr, self.global_step = s.loss, s.lr, s.step
  if not s.applied then self.skipped_steps = (self.skipped_steps or 0) + 1 end
  if o.on_step then o.on_step(self, s) end
  if self.global_step % o.logging_steps == 0 or self.global_step == self.total_steps then self:_log(s, res, samples) end
  if self._eval and o.eval_steps > 0 and self.global_step % o.eval_steps == 0 then self:evaluate() end
  if o.output and o.save_steps > 0 and self.global_step % o.save_steps == 0 and self.global_step < self.total_steps then
    self:save()
  end
end

--- Generates a batch (batch_size x grad_accum completions, num_generations per prompt), scores it with
--- the rewards and trains on it: num_iterations optimizer steps per batch. Repeats until n steps are done
--- (default 1; with num_iterations > 1 the last batch may add up to num_iterations - 1 more) or training
--- ends. Returns the mean total reward of the last batch. The rewards are read from run.rewards each time,
--- so they can be replaced between calls.
---@param n? integer
---@return number|nil reward
function Run:step(n)
  local goal = self.global_step + (n or 1)
  while self.global_step < goal and self.global_step < self.total_steps do
    local idx = self._t:prompt_indices(self._ds.n)
    local ro, samples, res, totals = self:_generate(self._ds, self._prompt_ids, idx)
    self.reward = mean_of(totals)
    for _, s in ipairs(self._t:train(ro, totals, res.n)) do
      s.reward_seconds = res.seconds
      self:_after(s, res, samples)
    end
    if train_native.interrupt_requested() then error("interrupted", 0) end
  end
  return self.reward
end

--- Trains to the end (epochs or max_steps), saving checkpoints as configured and at the end.
---@return ft.GrpoRun self
function Run:train()
  train_options.train_loop(self, "ft.grpo", function() return self.global_step >= self.total_steps end,
    function() self:step(1) end)
  return self
end

--- Mean rewards over eval_data (or the given rows): every prompt gets num_generations sampled completions.
---@param rows? ft.Dataset|table[] prompts to score (default: eval_data)
---@return {reward:number|nil, per_reward:table<string, number|nil>, samples:integer}
function Run:evaluate(rows)
  local ds = rows and data.as_dataset(rows) or self._eval
  if not ds then error("Run:evaluate: no eval_data was given to ft.grpo and no rows were passed", 2) end
  local ids
  if rows then
    ids = encode_prompts(self.model, ds)
  else  -- eval_data is encoded once, at the first evaluation
    self._eval_ids = self._eval_ids or encode_prompts(self.model, ds)
    ids = self._eval_ids
  end
  local all, per = {}, {}
  local k, G = self.prompts_per_step, self._o.num_generations
  for first = 1, ds.n, k do
    -- A rollout takes exactly k prompts: the last chunk is topped up with earlier ones, not counted.
    local idx, real = {}, math.min(k, ds.n - first + 1)
    for i = 1, k do idx[i] = (first + (i <= real and i or i - real) - 2) % ds.n + 1 end
    local _, _, res, totals = self:_generate(ds, ids, idx)
    for i = 1, real * G do all[#all + 1] = totals[i] end
    for j, name in ipairs(res.names) do
      per[name] = per[name] or {}
      for i = 1, real * G do
        local v = res.values[j][i]
        per[name][#per[name] + 1] = v == nil and nan() or v
      end
    end
  end
  local e = { reward = mean_of(all), per_reward = {}, samples = #all }
  for name, vals in pairs(per) do e.per_reward[name] = mean_of(vals) end
  if self._o.log then print(string.format("eval @ step %d | reward %s over %d samples", self.global_step,
    fmt(e.reward, "%.3f"), e.samples)) end
  metrics.append(self, { step = self.global_step, eval_reward = e.reward })
  if self._o.on_eval then self._o.on_eval(self, e) end
  return e
end

--- Writes a checkpoint now (<output>/checkpoint-<step>, then the latest pointer); returns its folder.
---@return string dir
function Run:save()
  local dir = self._t:save()
  if self._o.on_save then self._o.on_save(self, dir) end
  return dir
end

M.Run = Run
return setmetatable(M, { __call = function(_, opts) return M.grpo(opts) end })
