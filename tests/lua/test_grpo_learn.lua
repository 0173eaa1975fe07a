-- GRPO learns for real on the CPU: a tiny model, briefly SFT-warmed on string reversal ("abc>" -> "cba"),
-- is trained with a Lua reward (the fraction of characters in the right place) and its mean reward on
-- held-out words — sampled at temperature 1, num_generations per prompt — must rise by a clear margin,
-- with LoRA and with full fine-tuning. The reward curve goes to $FTHOST_TEST_TMP/grpo-learn-*/metrics.jsonl.
local T = require "testlib"
local ft = require "ft"

local train, test = ft.tasks.reverse{ letters = "abcdef", len = 3, train = 160, test = 56, seed = 1 }

-- The reward: fraction of positions holding the right character (1 for the exact reversal).
local function in_place(s)
  local want, got = s.row.completion, s.completion
  local same = 0
  for i = 1, #want do
    if got:sub(i, i) == want:sub(i, i) then same = same + 1 end
  end
  return same / math.max(#want, #got)
end

local function learn(mode)
  ft.seed(1)
  local m = ft.new{ hidden = 64, layers = 2, heads = 4, seed = 1 }
  if mode == "lora" then m:lora{ r = 16, alpha = 32, targets = "all-linear", modules_to_save = { "embed_tokens" } } end
  -- A short warm-up: the model learns the format and some reversals, far from all.
  ft.sft{ model = m, data = train, max_steps = 60, batch_size = 64, lr = 3e-3, max_len = 12, log = false, seed = 1 }:train()
  local dir = T.tmpdir("grpo-learn-" .. mode)
  local run = ft.grpo{ model = m, data = train, eval_data = test, rewards = in_place, num_generations = 8,
    batch_size = 128, max_completion_len = 5, lr = 1e-3, schedule = "constant", max_steps = 80, seed = 1,
    logging_steps = 10, output = dir, log = true }
  local before = run:evaluate().reward
  run:train()
  local after = run:evaluate().reward
  print(string.format("%s: held-out mean reward %.3f -> %.3f (curve in %s/metrics.jsonl)", mode, before, after, dir))
  return before, after
end

for _, mode in ipairs({ "full", "lora" }) do
  T.test("GRPO raises the held-out reward with " .. mode .. " fine-tuning", function()
    local before, after = learn(mode)
    T.ok(before < 0.5, "the warm-up alone should leave room: " .. before)
    T.ok(after >= before + 0.2, string.format("reward %.3f -> %.3f: expected a rise of at least 0.2", before, after))
  end)
end

T.done()
