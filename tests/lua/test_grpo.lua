-- ft.grpo: options and their errors, rewards as the trainer calls them (changed between steps, errors per
-- policy, wrong return types, endless loops stopped), nil rewards, chat prompts, logs and metrics, exact
-- resume from a checkpoint. Learning itself is tests/lua/test_grpo_learn.lua.
local T = require "testlib"
local ft = require "ft"

local rows = {}
for i = 1, 32 do rows[i] = { prompt = tostring(i) .. "+1=", answer = tostring(i + 1) } end

local tiny = T.tiny_model

local function run_with(extra)
  local o = { model = tiny(), data = rows, rewards = function(s) return #s.completion / 4 end,
    num_generations = 4, batch_size = 8, max_completion_len = 4, max_steps = 4, lr = 1e-3, seed = 5, log = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return ft.grpo(o)
end

T.test("batch x grad_accum must be divisible by num_generations, said with the numbers", function()
  T.raises(function() run_with{ batch_size = 6, num_generations = 4 } end,
    "(processes x per-device batch x grad_accum) = 1 x 6 x 1 = 6 must be divisible by num_generations = 4")
end)

T.test("TRL option names point at fthost's; misspellings name the nearest option", function()
  T.raises(function() run_with{ max_completion_length = 3 } end,
    "unknown option 'max_completion_length' (did you mean 'max_completion_len'?)")
  T.raises(function() run_with{ reward_funcs = function() return 1 end } end, "did you mean 'rewards'?")
  T.raises(function() run_with{ num_generation = 4 } end, "did you mean 'num_generations'?")
  T.raises(function() run_with{ loss = "ppo" } end, "dapo")
  local run = run_with{ loss = "grpo", scale_rewards = "none", max_steps = 1 }
  T.eq(run.total_steps, 1)
end)

T.test("a step generates G samples per prompt and passes them to the reward", function()
  local seen = {}
  local run = run_with{ rewards = function(s)
    seen[#seen + 1] = s
    return 0.5
  end, max_steps = 1 }
  T.eq(run.prompts_per_step, 2)
  run:step()
  T.eq(#seen, 8)
  for i, s in ipairs(seen) do
    T.eq(s.index, i)
    T.eq(s.group, math.floor((i - 1) / 4) + 1)
    T.eq(type(s.completion), "string")
    T.ok(#s.completion_ids >= 1 and #s.completion_ids <= 4)
    T.eq(s.row.prompt, s.prompt)
    T.eq(s.row.answer, tostring(tonumber(s.prompt:match("^(%d+)")) + 1))
  end
  T.eq(run.global_step, 1)
  T.eq(run.reward, 0.5)
end)

T.test("num_iterations = 2: each batch gives two steps; beta > 0 uses the right reference policy", function()
  for _, mode in ipairs({ "lora", "full" }) do
    local m = tiny()
    if mode == "lora" then m:lora{ r = 4, targets = "all-linear" } end
    local steps, iters = {}, {}
    local run = run_with{ model = m, num_iterations = 2, beta = 0.1, max_steps = 4, lr = 1e-2,
      rewards = function(s) return (#s.completion_ids % 2) + s.index / 100 end,
      on_step = function(_, s)
        steps[#steps + 1] = s.step
        iters[#iters + 1] = s.iteration
      end }
    run:train()
    T.eq(steps, { 1, 2, 3, 4 })
    T.eq(iters, { 1, 2, 1, 2 })
    T.eq(run._t:info().reference, mode == "lora" and "adapters_disabled" or "copy")
  end
end)

T.test("the SFT trainer's options reach GRPO: bf16 with fp32 masters, gradient checkpointing, SGD", function()
  local m = tiny()
  local run = run_with{ model = m, precision = "bf16", gradient_checkpointing = true, optimizer = "sgd",
    momentum = 0.9, max_steps = 2 }
  T.eq(m.dtype, "bf16")
  run:step(2)
  T.eq(run.global_step, 2)
  T.ok(run.loss == run.loss, "finite loss")
  T.raises(function() run_with{ precision = "fp8" } end, "precision")
end)

T.test("rewards can be replaced between run:step() calls (REPL)", function()
  local run = run_with{ rewards = function() return 0.25 end }
  run:step(1)
  T.eq(run.reward, 0.25)
  run.rewards = { ft.reward{ name = "three_quarters", fn = function() return 0.75 end } }
  run:step(1)
  T.eq(run.reward, 0.75)
  T.eq(run.global_step, 2)
end)

T.test("a reward that errors stops the run naming the reward (raise) or counts (zero)", function()
  local run = run_with{ rewards = ft.reward{ name = "broken", fn = function(s)
    if s.index == 3 then error("no answer tag") end
    return 1
  end } }
  local err = T.raises(function() run:step() end, "reward 'broken'")
  T.ok(err:find("no answer tag", 1, true), err)
  T.ok(err:find("traceback", 1, true), err)
  local ok_run = run_with{ rewards = ft.reward{ name = "lenient", on_error = "zero", fn = function(s)
    if s.index == 3 then error("no answer tag") end
    return 1
  end } }
  ok_run:step()
  T.eq(ok_run.reward, 7 / 8)
end)

T.test("a reward that returns a string is an error naming the reward", function()
  local run = run_with{ rewards = ft.reward{ name = "stringy", fn = function() return "1.0" end } }
  local err = T.raises(function() run:step() end, "reward 'stringy'")
  T.ok(err:find("string", 1, true), err)
end)

T.test("a reward that never returns is stopped at its time limit (JIT on and off)", function()
  for _, jit_on in ipairs({ true, false }) do
    if jit_on then jit.on() else jit.off() end
    local run = run_with{ rewards = ft.reward{ name = "forever", timeout_ms = 200, fn = function()
      local x = 0
      while true do x = x + 1 end
    end } }
    local t0 = ft.sandbox.clock()
    T.raises(function() run:step() end, "reward 'forever'")
    local dt = ft.sandbox.clock() - t0
    T.ok(dt < 5, "stopped after " .. dt .. " s")
  end
  jit.on()
end)

T.test("nil rewards: samples with no reward get advantage 0; all-nil batches still step", function()
  local run = run_with{ rewards = function() return nil end, max_steps = 2 }
  run:step(2)
  T.eq(run.global_step, 2)
  T.eq(run.reward, nil)
  T.eq(run.loss, 0)
end)

T.test("chat prompts go through the chat template with a generation prompt", function()
  local m = tiny()
  m.tokenizer.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}" ..
    "{% if add_generation_prompt %}<assistant>{% endif %}"
  local chat_rows = {}
  for i = 1, 8 do chat_rows[i] = { prompt = { { role = "user", content = "q" .. i } } } end
  local got
  local run = ft.grpo{ model = m, data = chat_rows, num_generations = 4, batch_size = 8, max_completion_len = 2,
    max_steps = 1, log = false, rewards = function(s)
      got = got or s
      return 0
    end }
  run:step()
  T.eq(type(got.prompt), "table")
  T.eq(got.prompt[1].content:sub(1, 1), "q")
  T.raises(function() ft.grpo{ model = tiny(), data = { { question = "x" } }, rewards = function() return 0 end,
    num_generations = 2, batch_size = 2, log = false } end, "expected a 'prompt'")
end)

T.test("logs: the step line, sample completions and metrics.jsonl with per-reward stats", function()
  local dir = T.tmpdir("grpo")
  local lines = {}
  local real_print = print
  print = function(...) lines[#lines + 1] = table.concat({ ... }, "\t") end -- luacheck: ignore 121
  local ok, err = pcall(function()
    local run = run_with{ output = dir, log = true, log_completions = 2, max_steps = 2,
      rewards = { ft.reward{ name = "len", fn = function(s) return #s.completion_ids end } } }
    run:train()
  end)
  print = real_print -- luacheck: ignore 121
  assert(ok, err)
  T.ok(lines[1]:find("^step 1/2 | reward "), lines[1])
  T.ok(lines[1]:find("len ", 1, true), lines[1])
  T.ok(lines[2]:find("^  %[1%] "), lines[2])
  local f = assert(io.open(dir .. "/metrics.jsonl"))
  local first = f:read("*l")
  f:close()
  for _, key in ipairs({ '"step":1', '"reward":', '"kl":', '"entropy":', '"frac_reward_zero_std":', '"completion_len":',
    '"clip_ratio":', '"rewards/len/mean":', '"rollout_s":', '"train_s":', '"reward_s":' }) do
    T.ok(first:find(key, 1, true), key .. " missing in " .. first)
  end
end)

T.test("resume from a checkpoint continues with the same losses as an uninterrupted run", function()
  local function rw(s) return (#s.completion_ids % 3) / 2 end
  local full = run_with{ rewards = rw, max_steps = 4, lr = 1e-2 }
  local losses = {}
  for i = 1, 4 do
    full:step()
    losses[i] = full.loss
  end
  local dir = T.tmpdir("grpo-resume")
  local a = run_with{ rewards = rw, max_steps = 4, lr = 1e-2, output = dir }
  a:step(2)
  a:save()
  local b = run_with{ rewards = rw, max_steps = 4, lr = 1e-2, output = dir }
  T.eq(b.global_step, 2)
  b:step()
  T.eq(b.loss, losses[3])
  b:step()
  T.eq(b.loss, losses[4])
end)

T.done()
