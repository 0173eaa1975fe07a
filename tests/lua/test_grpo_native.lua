-- _ft.grpo, the native GRPO trainer under stdlib/ft/grpo.lua: rollout samples (1-based indices, ids,
-- finish reasons), rewards with nil holes, stats tables, prompt order per step, save/resume with extra
-- state, and the errors a caller can hit (divisibility, prompt count, reward types).
local T = require "testlib"
local native = require "_ft.grpo"

local tiny = T.tiny_model

local function opts(extra)
  local o = { num_generations = 4, batch_size = 4, grad_accum = 2, max_completion_len = 5, max_steps = 3,
    eos_ids = {}, seed = 3, lr = 1e-2, schedule = "constant" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local prompts = { { 256, 65, 66 }, { 256, 70 }, { 256, 71, 72, 73 }, { 256, 80 } }

T.test("rollout gives G samples per prompt with 1-based indices", function()
  local t = native.trainer(tiny()._m, opts())
  local info = t:info()
  T.eq(info.prompts_per_step, 2)
  T.eq(info.step, 0)
  T.eq(info.total_steps, 3)
  T.eq(info.reference, "none")
  local r, samples = t:rollout({ prompts[1], prompts[2] })
  T.eq(r:size(), 8)
  T.eq(#samples, 8)
  for i, s in ipairs(samples) do
    T.eq(s.prompt_index, math.floor((i - 1) / 4) + 1)
    T.eq(s.group_index, (i - 1) % 4 + 1)
    T.eq(#s.completion_ids, 5)
    T.eq(s.finish_reason, "length")
    T.eq(s.truncated, true)
    T.eq(type(s.completion), "string")
  end
  local st = r:stats()
  T.eq(st.prefill_rows, 2)           -- each prompt prefilled once for its 4 samples
  T.eq(st.completion_tokens, 40)
end)

T.test("train takes rewards with nil holes and returns one stats table per step", function()
  local t = native.trainer(tiny()._m, opts{ num_iterations = 2 })
  local r, samples = t:rollout({ prompts[1], prompts[2] })
  local rewards = {}
  for i, s in ipairs(samples) do
    if s.prompt_index == 1 then rewards[i] = s.completion_ids[1] % 2 end  -- prompt 2: every reward nil
  end
  rewards[1] = 1
  rewards[2] = 0
  T.eq(r:advantages(), nil)
  local stats = t:train(r, rewards, #samples)
  local adv = r:advantages()
  T.eq(#adv, 8)
  for i = 5, 8 do T.eq(adv[i], 0) end       -- all-nil group
  T.ok(adv[1] > 0 and adv[2] < 0, "rewarded 1 above the group mean, 0 below")
  T.eq(#stats, 2)
  T.eq(stats[1].step, 1)
  T.eq(stats[2].iteration, 2)
  T.eq(stats[1].nil_rewards, 4)
  T.eq(stats[1].loss_tokens, 40)
  T.eq(stats[1].completion_len_mean, 5)
  T.eq(stats[1].truncated_frac, 1)
  T.ok(stats[1].grad_norm > 0, "rewarded group moves the policy")
  T.ok(stats[1].seconds_rollout > 0 and stats[2].seconds_rollout == 0)
  T.eq(t:info().step, 2)
  T.raises(function() t:train(r, rewards, #samples) end, "already trained")
end)

T.test("errors: divisibility, prompt count, reward types", function()
  T.raises(function() native.trainer(tiny()._m, opts{ batch_size = 3 }) end,
    "(processes x per-device batch x grad_accum) must be divisible by num_generations: 1 x 3 x 2 = 6 is not "
    .. "divisible by 4")
  local t = native.trainer(tiny()._m, opts())
  T.raises(function() t:rollout({ prompts[1] }) end, "expected 2 prompts")
  T.raises(function() t:rollout({ prompts[1], "text" }) end, "prompt 2: list of token ids expected, got string")
  local r = t:rollout({ prompts[1], prompts[2] })
  T.raises(function() t:train(r, { 1, 0, "high" }, 8) end, "reward 3 must be a number or nil, got string")
  T.raises(function() t:train(r, {}, 7) end, "the rollout has 8 completions, n is 7")
end)

T.test("prompt order follows the step; save/resume restores it with extra state", function()
  local dir = T.tmpdir("grpo-native")
  local t = native.trainer(tiny()._m, opts{ output = dir })
  local first = t:prompt_indices(#prompts)
  T.eq(#first, 2)
  local batch = { prompts[first[1]], prompts[first[2]] }
  local r, samples = t:rollout(batch)
  local rewards = {}
  for i, s in ipairs(samples) do rewards[i] = s.completion_ids[1] % 2 end
  t:train(r, rewards, #samples)
  local second = t:prompt_indices(#prompts)
  local path = t:save({ epoch = 0, note = "x" })
  T.eq(path, dir .. "/checkpoint-1")
  local t2 = native.trainer(tiny()._m, opts{ output = dir })
  local step, extra = t2:resume()
  T.eq(step, 1)
  T.eq(extra, { epoch = 0, note = "x" })
  T.eq(t2:prompt_indices(#prompts), second)
  local _, s1 = t:rollout({ prompts[second[1]], prompts[second[2]] })
  local _, s2 = t2:rollout({ prompts[second[1]], prompts[second[2]] })
  for i = 1, #s1 do T.eq(s2[i].completion_ids, s1[i].completion_ids) end
end)

T.done()
