-- ft.reward / ft.rewards: hand-checked values of every built-in, compute() with weights, nils and all-nil
-- samples, each error policy, exact error messages, time limits with the JIT on and off, batch rewards and
-- reward scripts loaded in the sandbox.
local T = require "testlib"
local rewards = ft.rewards

local DATA = "tests/data/rewards"
local SRC = debug.getinfo(1, "S").short_src   -- this file, as error positions name it

-- Scores one sample table with a reward (policy applied).
local function score(r, s) return r(s) end

local function ids(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

-- file:line of a function defined in this file, as reward names and error messages show it.
local function where(fn)
  local info = debug.getinfo(fn, "S")
  return string.format("%s:%d", info.short_src:match("[^/]*$"), info.linedefined)
end

T.test("ft.reward and ft.rewards are reachable from ft", function()
  T.eq(type(ft.reward), "function")
  T.eq(type(ft.rewards.compute), "function")
  local r = ft.reward { name = "len", fn = function(s) return #s.completion end, weight = 0.5 }
  T.ok(rewards.is_reward(r))
  T.eq({ r.name, r.weight, r.batch, r.on_error, r.timeout_ms }, { "len", 0.5, false, "raise", 1000 })
  T.eq(tostring(r), "ft.Reward 'len' (per sample, weight 0.5, on_error raise, timeout 1000 ms)")
  T.eq(r { completion = "abcd" }, 4)
  T.eq(getmetatable(r), false)
end)

T.test("think_format", function()
  local f = rewards.think_format {}
  local cases = {
    { "<think>\nreason\n</think>\n<answer>\n4\n</answer>", 1 },
    { "<think>r</think><answer>4</answer>", 1 },
    { "  <think>r</think>  <answer>4</answer>\n", 1 },
    { "<think></think><answer></answer>", 1 },
    { "<think>r</think>", 0 },
    { "<answer>4</answer><think>r</think>", 0 },
    { "<think>a</think><think>b</think><answer>4</answer>", 0 },
    { "<think>r</think><answer>4</answer> trailing", 0 },
    { "<think>r<answer>4</answer></think>", 0 },
    { "text <think>r</think><answer>4</answer>", 0 },
    { "<think>r</think><answer>4</answer><answer>5</answer>", 0 },
    { "", 0 },
  }
  for _, c in ipairs(cases) do T.eq(score(f, { completion = c[1] }), c[2], c[1]) end
  -- TRL's think_format_reward docstring examples (no answer block required).
  local trl = rewards.think_format { answer = false }
  T.eq(trl { completion = "<think>\nThis is my reasoning.\n</think>\nThis is my answer." }, 1)
  T.eq(trl { completion = "<think>\nThis is my reasoning.\nThis is my answer." }, 0)
  -- Open-R1's exact layout.
  local strict = rewards.think_format { strict = true }
  T.eq(strict { completion = "<think>\nr\n</think>\n<answer>\n4\n</answer>" }, 1)
  T.eq(strict { completion = "<think>\nr\n</think>\n<answer>\n4\n</answer>\n" }, 1)
  T.eq(strict { completion = "<think>r</think><answer>4</answer>" }, 0)
  T.eq(strict { completion = "<think>\nr\n</think>\n\n<answer>\n4\n</answer>" }, 0)
  -- The prompt ends with "<think>" (R1-style templates): the completion starts inside the block.
  local pre = rewards.think_format { prefilled = true }
  T.eq(pre { completion = "r</think><answer>4</answer>" }, 1)
  T.eq(pre { completion = "<think>r</think><answer>4</answer>" }, 0)
  local tags = rewards.think_format { think_tag = "reasoning", answer_tag = "final" }
  T.eq(tags { completion = "<reasoning>x</reasoning>\n<final>1</final>" }, 1)
  T.eq(tags { completion = "<think>x</think><answer>1</answer>" }, 0)
  T.eq(f.name, "think_format")
end)

T.test("number normalisation", function()
  local table_ = {
    { "1,000", 1000 }, { "1000.0", 1000 }, { "1e3", 1000 }, { "\\boxed{1000}", 1000 }, { "$1,000", 1000 },
    { "1000.", 1000 }, { "The answer is 1,000.", 1000 }, { "-5", -5 }, { "x = -3.5", -3.5 }, { "3-2", 2 },
    { "50%", 50 }, { "1,234,567", 1234567 }, { "1,2,3", 3 }, { "\\frac{3}{4}", 0.75 }, { "\\dfrac{-1}{8}", -0.125 },
    { "3/4", 0.75 }, { ".5", 0.5 }, { "1{,}000", 1000 }, { "1\\,000", 1000 }, { "\226\136\1467", -7 },
    { "-$5", -5 }, { "2.5e-3", 0.0025 }, { "12 apples, 7 pears", 7 }, { "(-4)", -4 }, { "x2", 2 },
    { "1,0000", 0 }, { "no digits here", nil }, { "", nil },
  }
  for _, c in ipairs(table_) do T.eq(rewards.last_number(c[1]), c[2], c[1]) end
  T.eq(rewards.last_number(42), 42)
end)

T.test("answer extraction", function()
  T.eq(rewards.extract("<answer> 42 </answer>", "answer_tag"), "42")
  T.eq(rewards.extract("<answer>1</answer> then <answer>2</answer>", "answer_tag"), "2")
  T.eq(rewards.extract("no tags", "answer_tag"), nil)
  T.eq(rewards.extract("so \\boxed{\\frac{1}{2}} done", "boxed"), "\\frac{1}{2}")
  T.eq(rewards.extract("\\boxed{1} or \\fbox{2}", "boxed"), "2")
  T.eq(rewards.extract("\\boxed{unclosed", "boxed"), nil)
  T.eq(rewards.extract("Natalia sold 48/2 = 24 clips.\n#### 72", "hashes"), "72")
  T.eq(rewards.extract("<answer>The result is \\boxed{5}</answer>"), "5")
  T.eq(rewards.extract("<think>\\boxed{1}</think><answer>7</answer>"), "7")
  T.eq(rewards.extract("  plain 7 "), "plain 7")
  T.eq(rewards.extract(" x ", "all"), "x")
  T.raises(function() rewards.extract("x", "tags") end,
    "ft.rewards.extract: how must be one of auto, answer_tag, boxed, hashes, all, got tags")
end)

T.test("numeric_answer", function()
  local r = rewards.numeric_answer {}
  local function s(c, gold) return { completion = c, row = { answer = gold } } end
  T.eq(r(s("<think>sum</think><answer>1,000</answer>", "1000")), 1)
  T.eq(r(s("so the total is \\boxed{1000.0}", 1000)), 1)
  T.eq(r(s("1e3", "$1,000")), 1)
  T.eq(r(s("The answer: 72.", "Natalia sold 48/2 = 24 clips.\n#### 72")), 1)
  T.eq(r(s("The answer: 71", "Natalia sold 48/2 = 24 clips.\n#### 72")), 0)
  T.eq(r(s("<answer>seventy-two</answer>", "72")), 0)
  T.eq(r(s("<answer>-0.5</answer>", "-1/2")), 1)
  local tol = rewards.numeric_answer { tolerance = 1, field = "solution" }
  T.eq(tol { completion = "about 71", row = { solution = 72 } }, 1)
  T.eq(tol { completion = "about 70.5", row = { solution = 72 } }, 0)
  local tagged = rewards.numeric_answer { extract = "answer_tag" }
  T.eq(tagged(s("the answer is 5", 5)), 0)
  T.eq(tagged(s("<answer>5</answer>", 5)), 1)
  -- A row without the field, or a gold without a number, is an error (per on_error).
  T.raises(function() r { completion = "1", row = { question = "q", solution = "1" } } end,
    "reward 'numeric_answer' failed on sample 1 (completion \"1\"): ft.rewards.numeric_answer: the sample's " ..
    "row has no field 'answer' (columns: question, solution); set `field`")
  T.raises(function() r(s("1", "unknown")) end,
    "ft.rewards.numeric_answer: the row's 'answer' (\"unknown\") holds no number")
  T.eq(rewards.numeric_answer { on_error = "skip" } { completion = "1", row = {} }, nil)
end)

T.test("exact_answer", function()
  local r = rewards.exact_answer {}
  local function s(c, gold) return { completion = c, row = { answer = gold } } end
  T.eq(r(s("<think>capital</think><answer> Paris. </answer>", "Paris")), 1)
  T.eq(r(s("<answer>paris</answer>", "Paris")), 0)
  T.eq(rewards.exact_answer { ignore_case = true } (s("<answer>paris</answer>", "Paris")), 1)
  T.eq(r(s("<answer>New  York</answer>", { "NYC", "New York" })), 1)
  T.eq(r(s("<answer>Boston</answer>", { "NYC", "New York" })), 0)
  T.eq(r(s("<answer>42</answer>", 42)), 1)
  T.eq(r(s("\\boxed{x^2}", "x^2")), 1)
  T.eq(r(s("Paris", "Paris")), 1)
  local custom = rewards.exact_answer { field = "a", extract = function(c) return c:match("ANSWER: (%w+)") end }
  T.eq(custom { completion = "blah ANSWER: yes", row = { a = "yes" } }, 1)
  T.eq(custom { completion = "no marker", row = { a = "yes" } }, 0)
  local upper = rewards.exact_answer { normalize = function(x) return x:upper() end }
  T.eq(upper(s("abc", "ABC")), 1)
  T.raises(function() rewards.exact_answer { extract = "bogus" } end,
    "ft.rewards.exact_answer: option 'extract' must be one of auto, answer_tag, boxed, hashes, all or a function, " ..
    "got \"bogus\"")
end)

T.test("length_penalty", function()
  local r = rewards.length_penalty { target = 10 }
  local expect = { [5] = 0, [10] = 0, [15] = -0.5, [20] = -1, [40] = -1 }
  for n, v in pairs(expect) do T.eq(r { completion_ids = ids(n) }, v, "tokens " .. n) end
  local both = rewards.length_penalty { target = 10, mode = "both", max_penalty = -0.8 }
  T.eq(both { completion_ids = ids(5) }, -0.5)
  T.eq(both { completion_ids = ids(30) }, -0.8)
  T.near(rewards.length_penalty { target = 10, unit = "chars" } { completion = "abcdefghijkl" }, -0.2, 1e-12)
  T.eq(rewards.length_penalty { target = 2, unit = "words" } { completion = " a  b\nc " }, -0.5)
  T.raises(function() rewards.length_penalty {} end, "ft.rewards.length_penalty: option 'target' is required")
  T.raises(function() rewards.length_penalty { target = 0 } end, "option 'target' must be > 0, got 0")
  T.raises(function() r { completion = "no ids" } end,
    "ft.rewards.length_penalty: the sample has no completion_ids list (got nil) (use unit = \"chars\" or \"words\")")
end)

T.test("soft_overlong (DAPO)", function()
  local r = rewards.soft_overlong { max_len = 100, cache = 20 }
  local expect = { [50] = 0, [79] = 0, [80] = 0, [85] = -0.25, [90] = -0.5, [100] = -1, [101] = -1, [500] = -1 }
  for n, v in pairs(expect) do T.eq(r { completion_ids = ids(n) }, v, "length " .. n) end
  -- TRL's docstring example: 90 tokens with max 100, cache 20 -> -0.5; the default cache is max_len / 5.
  T.eq(rewards.soft_overlong { max_len = 100 } { completion_ids = ids(90) }, -0.5)
  local hard = rewards.soft_overlong { max_len = 100, cache = 0 }
  T.eq({ hard { completion_ids = ids(100) }, hard { completion_ids = ids(101) } }, { 0, -1 })
  T.raises(function() rewards.soft_overlong { max_len = 10, cache = 11 } end,
    "ft.rewards.soft_overlong: option 'cache' (11) must be <= max_len (10)")
  -- TRL's names point to fthost's.
  T.raises(function() rewards.soft_overlong { max_completion_len = 10 } end,
    "ft.rewards.soft_overlong: unknown option 'max_completion_len' (did you mean 'max_len'?)")
  T.raises(function() rewards.soft_overlong { max_len = 10, soft_punish_cache = 2 } end,
    "unknown option 'soft_punish_cache' (did you mean 'cache'?)")
end)

T.test("repetition_penalty", function()
  -- TRL's docstring example: ngram 2 over token ids.
  local r2 = rewards.repetition_penalty { ngram = 2 }
  T.eq({ r2 { completion_ids = { 1, 2, 3, 4 } }, r2 { completion_ids = { 5, 5, 5, 5, 5 } } }, { 0, -0.75 })
  local r3 = rewards.repetition_penalty {}
  T.eq(r3 { completion_ids = { 1, 2, 3, 1, 2, 3 } }, -0.25)   -- trigrams 123 231 312 123: 3 unique of 4
  T.eq(r3 { completion_ids = { 1, 2 } }, 0)
  T.eq(r3 { completion_ids = { 12, 3, 1, 23 } }, 0)           -- ids are not glued into "123"
  local words = rewards.repetition_penalty { ngram = 2, unit = "words", max_penalty = -0.5 }
  T.near(words { completion = "the cat the cat the cat" }, -0.3, 1e-12)   -- 5 bigrams, 2 unique
  T.near(rewards.repetition_penalty { ngram = 2, unit = "words" } { completion = "The cat the CAT" }, -1 / 3, 1e-12)
  T.raises(function() rewards.repetition_penalty { max_penalty = 0.5 } end, "option 'max_penalty' must be <= 0")
  T.raises(function() rewards.repetition_penalty { ngram_size = 2 } end, "unknown option 'ngram_size' (did you mean 'ngram'?)")
end)

T.test("compute: weights, nils and all-nil samples", function()
  local a = ft.reward { name = "a", weight = 2, fn = function(s) return s.row.a end }
  local b = ft.reward { name = "b", weight = 0.5, fn = function(s) return s.row.b end }
  local samples = {
    { completion = "", row = { a = 1, b = 2 } },
    { completion = "", row = { b = 4 } },
    { completion = "", row = {} },
    { completion = "", row = { a = -1 } },
  }
  local res = rewards.compute({ a, b }, samples)
  T.eq(res.n, 4)
  T.eq(res.names, { "a", "b" })
  T.eq(res.weights, { 2, 0.5 })
  T.eq({ res.total[1], res.total[2], res.total[3], res.total[4] }, { 3, 2, nil, -2 })
  T.eq(res.values[1], { [1] = 1, [4] = -1 })
  T.eq(res.values[2], { 2, 4 })
  T.eq({ res.stats[1].mean, res.stats[1].n, res.stats[1].n_nil, res.stats[1].n_error }, { 0, 2, 2, 0 })
  T.near(res.stats[1].std, math.sqrt(2), 1e-12)
  T.eq({ res.stats[2].mean, res.stats[2].n, res.stats[2].n_nil }, { 3, 2, 2 })
  T.near(res.stats[2].std, math.sqrt(2), 1e-12)
  T.ok(res.seconds >= 0 and res.seconds < 1 and res.stats[1].seconds <= res.seconds)
  -- weights from compute replace the rewards' own.
  local w = rewards.compute({ a, b }, samples, { weights = { 1, 1 } })
  T.eq({ w.total[1], w.total[2], w.total[3], w.total[4] }, { 3, 4, nil, -1 })
  T.raises(function() rewards.compute({ a, b }, samples, { weights = { 1 } }) end,
    "ft.rewards.compute: weights has 1 entries for 2 rewards")
  T.raises(function() rewards.compute({ a, b }, samples, { weights = { 1, 0 / 0 } }) end,
    "ft.rewards.compute: weights[2] must be a finite number, got nan")
  -- One number: stats std 0; no numbers: mean nil.
  local one = rewards.compute(a, { samples[1], samples[3] })
  T.eq({ one.stats[1].mean, one.stats[1].std, one.stats[1].n, one.stats[1].n_nil }, { 1, 0, 1, 1 })
  local none = rewards.compute(a, { samples[3] })
  T.eq({ none.stats[1].mean, none.stats[1].std, none.stats[1].n, none.total[1] }, { nil, nil, 0, nil })
  T.eq(rewards.compute(a, {}).n, 0)
end)

T.test("lists: plain functions, specs, uncalled built-ins, maps, names", function()
  local function plain(s) return #s.completion end
  local list = rewards.list { plain, { fn = plain, name = "spec", weight = 3 }, rewards.think_format }
  T.eq(list[1].name, "reward #1 (" .. where(plain) .. ")")
  T.eq({ list[2].name, list[2].weight }, { "spec", 3 })
  T.eq(list[3].name, "think_format")
  local map = rewards.list { z = plain, fmt = rewards.think_format }
  T.eq({ map[1].name, map[2].name }, { "fmt", "z" })
  T.eq(#rewards.list(plain), 1)
  T.eq(ft.reward { fn = plain }.name, "reward (" .. where(plain) .. ")")
  T.raises(function() rewards.list { plain, 5 } end,
    "ft.rewards: rewards[2] must be a function, an ft.reward or a reward spec table { fn = ... }, got number")
  T.raises(function() rewards.list { rewards.think_format, rewards.think_format {} } end,
    "ft.rewards: two rewards are named 'think_format' (rewards[1] and rewards[2]); give one a different `name`")
  T.raises(function() rewards.list {} end, "ft.rewards: the list of rewards is empty")
  T.raises(function() rewards.list { plain, x = plain } end, "ft.rewards: rewards mixes a list and named entries")
  T.raises(function() rewards.list { { fn = plain, wieght = 1 } } end,
    "ft.reward (rewards[1]): unknown option 'wieght' (did you mean 'weight'?)")
  T.raises(function() ft.reward { fn = plain, on_error = "ignore" } end,
    "ft.reward: option 'on_error' must be one of \"raise\", \"zero\", \"skip\", got \"ignore\"")
  T.raises(function() ft.reward { fn = plain, weight = math.huge } end,
    "ft.reward: option 'weight' must be a finite number, got inf")
  T.raises(function() ft.reward { name = "x" } end, "ft.reward: option 'fn' is required")
end)

-- A reward that fails on sample 2 only.
local function flaky(s)
  if s.index == 2 then error("boom") end
  return 1
end
local SAMPLES = {
  { index = 1, group = 1, completion = "fine" },
  { index = 2, group = 1, completion = "The answer is <answer>42</answer> and this completion is quite long indeed" },
}

T.test("error policy raise: names the reward, the sample and the traceback", function()
  local err = T.raises(function() rewards.compute(ft.reward { name = "flaky", fn = flaky }, SAMPLES) end)
  local line = debug.getinfo(flaky, "S").linedefined + 1
  local lines = {}
  for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
  T.eq(lines[1], "reward 'flaky' failed on sample 2 (group 1, completion \"The answer is <answer>42</answer> and " ..
    "this completion is qui...\"): " .. SRC .. ":" .. line .. ": boom")
  T.eq(lines[2], "stack traceback:")
  T.ok(lines[3]:find("test_rewards.lua:" .. line .. ": in function", 1, true), lines[3])
  T.eq(#lines, 3, err)   -- fthost's own frames are cut
end)

T.test("error policies zero and skip are counted", function()
  local zero = rewards.compute(ft.reward { name = "z", fn = flaky, on_error = "zero" }, SAMPLES)
  T.eq(zero.values[1], { 1, 0 })
  T.eq({ zero.total[1], zero.total[2] }, { 1, 0 })
  T.eq({ zero.stats[1].n, zero.stats[1].n_nil, zero.stats[1].n_error, zero.stats[1].mean }, { 2, 0, 1, 0.5 })
  local skip = rewards.compute(ft.reward { name = "s", fn = flaky, on_error = "skip" }, SAMPLES)
  T.eq(skip.values[1], { 1 })
  T.eq({ skip.total[1], skip.total[2] }, { 1, nil })
  T.eq({ skip.stats[1].n, skip.stats[1].n_nil, skip.stats[1].n_error }, { 1, 1, 1 })
end)

T.test("returns that are not numbers", function()
  local function ret(v) return function() return v end end
  T.raises(function() rewards.compute(ft.reward { name = "str", fn = ret("yes") }, SAMPLES) end,
    "reward 'str' returned a string (\"yes\") for sample 1 (group 1, completion \"fine\"); expected a number or nil")
  -- Not per policy: a string is a bug in the reward, not a sample it cannot score.
  T.raises(function() rewards.compute(ft.reward { name = "str", fn = ret("1"), on_error = "zero" }, SAMPLES) end,
    "reward 'str' returned a string (\"1\")")
  T.raises(function() rewards.compute(ft.reward { name = "b", fn = ret(true) }, SAMPLES) end,
    "reward 'b' returned a boolean (true) for sample 1 (group 1, completion \"fine\"); expected a number or nil " ..
    "(for a condition, return `cond and 1 or 0`)")
  T.raises(function() rewards.compute(ft.reward { name = "t", fn = ret({}) }, SAMPLES) end, "reward 't' returned a table")
  T.raises(function() rewards.compute(ft.reward { name = "nan", fn = ret(0 / 0) }, SAMPLES) end,
    "reward 'nan' returned NaN for sample 1 (group 1, completion \"fine\"); expected a finite number or nil")
  T.raises(function() rewards.compute(ft.reward { name = "inf", fn = ret(-math.huge) }, SAMPLES) end,
    "reward 'inf' returned -inf for sample 1")
  -- NaN/inf follow the policy.
  local z = rewards.compute(ft.reward { name = "nan", fn = ret(0 / 0), on_error = "zero" }, SAMPLES)
  T.eq({ z.values[1], z.stats[1].n_error }, { { 0, 0 }, 2 })
  local s = rewards.compute(ft.reward { name = "inf", fn = ret(math.huge), on_error = "skip" }, SAMPLES)
  T.eq({ s.values[1], s.stats[1].n_nil, s.stats[1].n_error, s.total[1] }, { {}, 2, 2, nil })
end)

T.test("batch rewards", function()
  local samples = { { completion = "a" }, { completion = "bb" }, { completion = "ccc" } }
  local lens = ft.reward { name = "lens", batch = true, weight = 2, fn = function(ss)
    local out = {}
    for i, s in ipairs(ss) do out[i] = #s.completion end
    return out
  end }
  local res = rewards.compute(lens, samples)
  T.eq(res.values[1], { 1, 2, 3 })
  T.eq({ res.total[1], res.total[2], res.total[3] }, { 2, 4, 6 })
  T.eq(lens(samples[2]), 2)
  local trailing = ft.reward { name = "trail", batch = true, fn = function() return { n = 3, 1 } end }
  T.eq(rewards.compute(trailing, samples).values[1], { 1 })
  local short = ft.reward { name = "short", batch = true, fn = function() return { 1, 2 } end }
  T.raises(function() rewards.compute(short, samples) end,
    "reward 'short' (batch) returned 2 values for 3 samples; return one number or nil per sample " ..
    "(a list ending in nils needs its length: { n = 3, ... })")
  local scalar = ft.reward { name = "scalar", batch = true, fn = function() return 1 end }
  T.raises(function() rewards.compute(scalar, samples) end,
    "reward 'scalar' (batch) returned a number; expected a list of 3 numbers or nils")
  local bad = ft.reward { name = "bad", batch = true, fn = function() return { 1, "x", 3 } end }
  T.raises(function() rewards.compute(bad, samples) end,
    "reward 'bad' returned a string (\"x\") for sample 2 (completion \"bb\"); expected a number or nil")
  local fails = ft.reward { name = "fails", batch = true, on_error = "skip", fn = function() error("down") end }
  local r = rewards.compute(fails, samples)
  T.eq({ r.values[1], r.stats[1].n_error, r.stats[1].n_nil }, { {}, 3, 3 })
  T.raises(function() rewards.compute(ft.reward { name = "f", batch = true, fn = function() error("down") end },
    samples) end, "reward 'f' failed on a batch of 3 samples: ")
end)

-- Wall-clock time of fn(), in ms.
local function timed(fn)
  local t0 = ft.sandbox.clock()
  local ok, err = pcall(fn)
  return (ft.sandbox.clock() - t0) * 1000, ok, err
end

local LIMIT = 300
local function assert_stopped(r, label, what)
  local ms, ok, err = timed(function() rewards.compute(r, { { index = 1, completion = "x" } }) end)
  T.ok(not ok, label .. ": expected a time-limit error")
  T.ok(err:find("exceeded its time limit of " .. LIMIT .. " ms", 1, true), label .. ": " .. err)
  T.ok(err:find("reward '" .. r.name .. "' failed on " .. (what or "sample 1"), 1, true), label .. ": " .. err)
  T.ok(ms >= LIMIT * 0.9 and ms <= LIMIT * 1.5, string.format("%s: stopped after %.0f ms, limit %d ms", label, ms, LIMIT))
end

T.test("infinite loops are stopped at the time limit, JIT on and off", function()
  T.ok(jit.status(), "the JIT is on for this test")
  local spin = ft.reward { name = "spin", timeout_ms = LIMIT, fn = function() while true do end end }
  assert_stopped(spin, "own loop, jit on")
  T.ok(jit.status(), "compute restores the JIT")
  -- A loop in a helper the reward calls, compiled into a trace before (hooks never run inside traces).
  local function sum(n)
    local x = 0
    for i = 1, n do x = x + i % 7 end
    return x
  end
  for _ = 1, 50 do sum(1e5) end
  local hot = ft.reward { name = "hot", timeout_ms = LIMIT, fn = function() return sum(1e15) end }
  assert_stopped(hot, "jit-compiled helper")
  T.eq(sum(10), 27)
  -- pcall in a trusted reward cannot swallow the kill.
  local swallow = ft.reward { name = "swallow", timeout_ms = LIMIT, fn = function()
    while true do pcall(function() while true do end end) end
  end }
  assert_stopped(swallow, "pcall loop")
  local batch = ft.reward { name = "batchspin", batch = true, timeout_ms = LIMIT, fn = function() while true do end end }
  assert_stopped(batch, "batch", "a batch of 1 samples")
  for _ = 1, 50 do sum(1e5) end   -- compiled again (compute flushed the traces)
  jit.off()
  local ok, err = pcall(assert_stopped, ft.reward { name = "off", timeout_ms = LIMIT, fn = function()
    local x = 0
    while true do x = x + 1 end
  end }, "jit off")
  local ok2, err2 = pcall(assert_stopped, ft.reward { name = "off_hot", timeout_ms = LIMIT, fn = function()
    return sum(1e15)
  end }, "jit off, helper compiled while it was on")
  local still_off = not jit.status()
  jit.on()
  T.ok(ok, err)
  T.ok(ok2, err2)
  T.ok(still_off, "compute leaves the JIT off when it was off")
  -- A timeout under on_error = "zero" counts as an error and scores 0.
  local z = rewards.compute(ft.reward { name = "z", timeout_ms = 50, on_error = "zero", fn = function()
    while true do end
  end }, { { completion = "x" } })
  T.eq({ z.values[1][1], z.stats[1].n_error }, { 0, 1 })
end)

T.test("reward scripts load in the sandbox", function()
  local list = rewards.load(DATA .. "/math_rewards.lua", { timeout_ms = LIMIT })
  T.eq(#list, 4)
  T.eq(list[1].name, "reward #1 (math_rewards.lua:8)")
  T.eq({ list[2].name, list[2].weight, list[2].timeout_ms }, { "has_answer", 0.5, LIMIT })   -- capped by load
  T.eq({ list[3].name, list[4].name, list[4].on_error }, { "num", "spin", "zero" })
  for _, r in ipairs(list) do T.ok(r.sandboxed and r.source == DATA .. "/math_rewards.lua", r.name) end
  local samples = {
    { completion = "<answer>1,000</answer>", row = { answer = "1000" } },
    { completion = "about 12", row = { answer = 13 } },
  }
  local ms, ok, res = timed(function() return rewards.compute(list, samples) end)
  T.ok(ok, res)
  T.eq(res.values[1], { 22, 8 })
  T.eq(res.values[2], { 1, 0 })
  T.eq(res.values[3], { 1, 0 })
  T.eq(res.values[4], { 0, 0 })
  T.eq(res.stats[4].n_error, 2)
  T.eq({ res.total[1], res.total[2] }, { 22 + 0.5 + 1, 8 })
  T.ok(ms >= 2 * LIMIT * 0.9 and ms < 2 * LIMIT * 1.5, string.format("two timeouts took %.0f ms", ms))
end)

T.test("a reward script cannot open files", function()
  local list = rewards.load(DATA .. "/escape.lua")
  T.eq(list[1].name, "reward #1 (escape.lua:2)")
  local err = T.raises(function() rewards.compute(list, { { index = 1, completion = "x" } }) end)
  T.eq(err:match("^[^\n]*"), "reward 'reward #1 (escape.lua:2)' failed on sample 1 (completion \"x\"): " ..
    DATA .. "/escape.lua:3: sandbox: undefined global 'io'")
end)

T.test("reward script errors name the file and line", function()
  local dir = T.tmpdir("rewards")
  local function script(name, src)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(src)
    f:close()
    return dir .. "/" .. name
  end
  local p = script("syntax.lua", "return function(s)\n  return s.completion ==\nend\n")
  -- The position names the file even when its path is long (shortened from the left).
  local function load_error(path, tail)
    local first = T.raises(function() rewards.load(path) end):match("^[^\n]*")
    T.ok(first:find("ft.rewards.load: ", 1, true) and first:sub(-#tail) == tail, first)
  end
  load_error(p, "/syntax.lua:3: unexpected symbol near 'end'")
  p = script("runtime.lua", "local x = nil\nreturn x.y\n")
  load_error(p, "/runtime.lua:2: attempt to index local 'x' (a nil value)")
  p = script("number.lua", "return 42\n")
  T.raises(function() rewards.load(p) end, "ft.rewards.load: " .. p .. " returned a number; a reward script " ..
    "returns a function, a reward spec table { fn = ... } or a list/map of them")
  p = script("nothing.lua", "local x = 1\n")
  T.raises(function() rewards.load(p) end, "ft.rewards.load: " .. p .. " returned nothing")
  p = script("spin.lua", "while true do end\n")
  local ms = timed(function()
    T.raises(function() rewards.load(p, { timeout_ms = 100 }) end,
      "ft.rewards.load: " .. p .. " exceeded its time limit of 100 ms")
  end)
  T.ok(ms < 1000, string.format("%.0f ms", ms))
  p = script("badopt.lua", "return {\n  ft.rewards.think_format { strictt = true },\n}\n")
  load_error(p, "/badopt.lua:2: ft.rewards.think_format: unknown option 'strictt' (did you mean 'strict'?)")
  p = script("map.lua", "return { fmt = ft.rewards.think_format, len = function(s) return #s.completion end }\n")
  local list = rewards.load(p)
  T.eq({ list[1].name, list[2].name }, { "fmt", "len" })
  T.raises(function() rewards.load(dir .. "/missing.lua") end, "ft.rewards.load: cannot open '" .. dir ..
    "/missing.lua'")
  T.raises(function() rewards.load(p, { timeout = 5 }) end,
    "ft.rewards.load: unknown option 'timeout' (did you mean 'timeout_ms'?)")
end)

T.done()
