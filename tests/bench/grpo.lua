-- GRPO benchmark (scripts/bench grpo): rollout tokens/s with the prompt's KV cache shared by its G samples
-- vs every sample prefilling its own copy of the prompt, measured in the same run on the same model; and
-- the time the Lua rewards take per sample vs the generation time per sample.
-- Args: --hidden=256 --layers=4 --prompt_len=256 --G=8 --prompts=4 --new=32 --reps=3
local grpo = require "_ft.grpo"
local a = ft.args
local hidden, layers = a.hidden or 256, a.layers or 4
local P, G, new, reps, plen = a.prompts or 4, a.G or 8, a.new or 32, a.reps or 3, a.prompt_len or 256
ft.seed(1)
local m = ft.new{ hidden = hidden, layers = layers, heads = 8, kv_heads = 4, seed = 1 }
print(string.format("model: %s; %d threads", tostring(m), ft.threads()))
print(string.format("rollout: %d prompts x %d tokens, G = %d, %d new tokens each (no EOS stop)", P, plen, G, new))

local prompts = {}
for p = 1, P do
  local ids = {}
  for i = 1, plen do ids[i] = 3 + (p * 131 + i * 17) % 250 end
  prompts[p] = ids
end

local function trainer(share)
  return grpo.trainer(m._m, { num_generations = G, batch_size = P * G, max_completion_len = new, max_steps = 1,
    eos_ids = {}, seed = 7, share_prompt_cache = share, max_prompt_len = plen })
end

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local results = {}
for _, share in ipairs({ true, false }) do
  local t = trainer(share)
  t:rollout(prompts)  -- warm-up
  local secs, tokens, st = {}, 0, nil
  for r = 1, reps do
    local ro = t:rollout(prompts)
    st = ro:stats()
    secs[r] = st.seconds_generate
    tokens = st.completion_tokens
  end
  results[share] = { s = median(secs), tokens = tokens, st = st }
  print(string.format("%-28s %8.1f tok/s  (%.3f s per rollout; prefill %d rows x %d positions)",
    share and "shared prompt cache" or "prompt prefilled per sample", tokens / results[share].s, results[share].s,
    st.prefill_rows, st.prefill_positions / math.max(1, st.prefill_rows)))
end
print(string.format("prompt-cache sharing: %.2fx the rollout throughput of per-sample prefill",
  results[false].s / results[true].s))

-- Reward overhead: typical Lua rewards (a custom one and two built-ins) over the same samples.
local t = trainer(true)
local ro, list = t:rollout(prompts)
local samples = {}
for i, s in ipairs(list) do
  samples[i] = { prompt = "p", completion = s.completion .. " <answer>42</answer>", completion_ids = s.completion_ids,
    row = { answer = "42" }, index = i, group = s.prompt_index }
end
local rewards = {
  ft.reward{ name = "custom", fn = function(s) return #s.completion % 7 == 0 and 1 or 0 end },
  ft.rewards.numeric_answer{ field = "answer" },
  ft.rewards.repetition_penalty{},
}
ft.rewards.compute(rewards, samples)  -- warm-up
local rs = {}
for r = 1, reps do rs[r] = ft.rewards.compute(rewards, samples).seconds end
local per_sample_reward = median(rs) / #samples
local per_sample_gen = ro:stats().seconds_generate / #samples
print(string.format("rewards (%d Lua functions): %.1f us per sample; generation: %.1f us per sample; " ..
  "rewards are %.2f%% of generation time", #rewards, per_sample_reward * 1e6, per_sample_gen * 1e6,
  100 * per_sample_reward / per_sample_gen))
