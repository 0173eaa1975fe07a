-- ft.data, m:lora / PEFT adapters, ft.sft and ft.tasks from Lua: dataset transforms, file:line errors
-- for bad rows, label masks, LoRA identities, option errors naming TRL's names, a loss that falls,
-- metrics.jsonl, checkpoints and resume.
local T = require "testlib"
local data = require "ft.data"
local sft = require "ft.sft"
local tasks = require "ft.tasks"

local tiny = T.tiny_model

local write = T.write

local read = T.read

T.test("datasets: jsonl, map, filter, shuffle, split, take, concat", function()
  local dir = T.tmpdir("sft-data")
  write(dir .. "/d.jsonl", '{"q":"a","a":"1"}\n{"q":"b","a":"2"}\n\n{"q":"c","a":"3"}\n')
  local ds = data.jsonl(dir .. "/d.jsonl")
  T.eq(ds.n, 3)
  T.eq(ds[2], { q = "b", a = "2" })
  T.eq(ds.origins[3], dir .. "/d.jsonl:4")
  local pc = ds:map(function(r) return { prompt = r.q, completion = r.a } end)
  T.eq(pc[1], { prompt = "a", completion = "1" })
  T.eq(pc:filter(function(r) return r.prompt ~= "b" end).origins, { dir .. "/d.jsonl:1", dir .. "/d.jsonl:4" })
  local big = data.from_table((function()
    local t = {}
    for i = 1, 100 do t[i] = { text = tostring(i) } end
    return t
  end)())
  local s1, s2 = big:shuffle(7), big:shuffle(7)
  T.eq(s1.rows, s2.rows)
  T.ok(s1[1].text ~= "1" or s1[2].text ~= "2", "shuffled")
  local a, b = big:split(0.9, { seed = 3 })
  T.eq({ a.n, b.n }, { 90, 10 })
  local seen = {}
  for _, r in ipairs(a:concat(b).rows) do seen[r.text] = true end
  local count = 0
  for _ in pairs(seen) do count = count + 1 end
  T.eq(count, 100)
  T.eq(big:take(3).n, 3)
  T.raises(function() big:split(1.5) end, "fraction must be a number in (0, 1)")
end)

T.test("bad rows: errors name file and line", function()
  local dir = T.tmpdir("sft-bad")
  write(dir .. "/bad.jsonl", '{"prompt":"a","completion":"1"}\n{"prompt": nope}\n')
  T.raises(function() data.jsonl(dir .. "/bad.jsonl") end, dir .. "/bad.jsonl:2: invalid JSON")
  T.eq(data.jsonl(dir .. "/bad.jsonl", { skip_invalid = true }).skipped, 1)
  write(dir .. "/missing.jsonl", '{"prompt":"a","completion":"1"}\n{"prompt":"b"}\n')
  local m = tiny()
  T.raises(function() sft.sft{ model = m, data = data.jsonl(dir .. "/missing.jsonl"), batch_size = 1, log = false } end,
    dir .. "/missing.jsonl:2: row has 'prompt' but no 'completion' field")
  T.raises(function() sft.sft{ model = m, data = { { prompt = "x", completion = "" } }, batch_size = 1, log = false } end,
    "row 1: empty completion")
end)

T.test("tokenize: completion-only labels with EOS", function()
  local m = tiny()
  local ex = data.from_table{ { prompt = "1+2=", completion = "3" } }:tokenize(m)
  T.eq(ex[1].ids, { 256, 49, 43, 50, 61, 51, 257 })
  T.eq(ex[1].labels, { -100, -100, -100, -100, -100, 51, 257 })
end)

T.test("lora: B = 0 keeps logits, adapter round trip, merge keeps outputs", function()
  local m = tiny()
  local ids = { 256, 49, 43, 50, 61 }
  local before = m:forward(ids)
  m:lora{ r = 4, alpha = 8, targets = "all-linear" }
  T.ok((m:forward(ids) - before):abs():max():item() == 0, "B = 0 must not change logits")
  local _, trainable, total = m:trainable_parameters()
  T.eq(trainable, 2 * 4 * (32 + 32) * 2 + 2 * 4 * (32 + 16) * 2 + 2 * 4 * (32 + 64) * 2 + 2 * 4 * (64 + 32))
  T.ok(total > trainable)
  T.raises(function() m:lora{ r = 4 } end, "already has LoRA adapters")
  T.raises(function() tiny():lora{ targets = { "nope_proj" } } end, "no linear module matches the targets")
  T.raises(function() tiny():lora{ rank_typo = 4 } end, "unknown option 'rank_typo'")
end)

T.test("ft.sft: option names from TRL point at fthost's", function()
  local m = tiny()
  local rows = { { text = "hello" } }
  T.raises(function() sft.sft{ model = m, data = rows, learning_rate = 1e-3 } end, "did you mean 'lr'?")
  T.raises(function() sft.sft{ model = m, data = rows, per_device_train_batch_size = 2 } end, "did you mean 'batch_size'?")
  T.raises(function() sft.sft{ model = m, data = rows, gradient_accumulation_steps = 2 } end, "did you mean 'grad_accum'?")
  T.raises(function() sft.sft{ model = m, data = rows, num_train_epochs = 2 } end, "did you mean 'epochs'?")
  T.raises(function() sft.sft{ model = m, data = rows, max_seq_length = 2 } end, "did you mean 'max_len'?")
  T.raises(function() sft.sft{ data = rows } end, "option 'model' is required")
end)

T.test("ft.sft: loss falls, fields, metrics.jsonl, checkpoint and resume", function()
  local dir = T.tmpdir("sft-run")
  local train = tasks.addition{ digits = 1, train = 64, test = 10, seed = 2 }
  local m = tiny(3)
  m:lora{ r = 8, alpha = 16, targets = "all-linear", modules_to_save = { "embed_tokens" } }
  local run = sft{ model = m, data = train, max_steps = 12, batch_size = 8, lr = 1e-2, warmup = 2,
    output = dir, logging_steps = 4, save_steps = 5, log = false }
  T.eq(run.global_step, 0)
  T.eq(run.total_steps, 12)
  local first = run:step(1)
  T.eq(run.global_step, 1)
  T.eq(run.lr, 0)  -- warmup starts at 0, as transformers
  run:step(2)
  T.near(run.lr, 1e-2, 1e-12)
  run:train()
  T.eq(run.global_step, 12)
  T.ok(run.loss < first, string.format("loss %g should fall below %g", run.loss, first))
  local lines = {}
  for l in read(dir .. "/metrics.jsonl"):gmatch("[^\n]+") do lines[#lines + 1] = l end
  T.eq(#lines, 3)
  T.ok(lines[3]:find('"step":12', 1, true), lines[3])
  T.eq(read(dir .. "/latest"), "checkpoint-12\n")
  T.ok(io.open(dir .. "/checkpoint-10/trainer_state.json") ~= nil, "checkpoint-10 kept")
  -- A new run on the same output resumes at the end (nothing left to train).
  local m2 = tiny(3)
  m2:lora{ r = 8, alpha = 16, targets = "all-linear", modules_to_save = { "embed_tokens" } }
  local again = sft{ model = m2, data = train, max_steps = 12, batch_size = 8, lr = 1e-2, output = dir, log = false }
  T.eq(again.global_step, 12)
  -- Adapter save / load and merge from Lua.
  m:save_adapter(dir .. "/adapter")
  local cfg = read(dir .. "/adapter/adapter_config.json")
  T.ok(cfg:find('"peft_type": "LORA"', 1, true), cfg)
  local ids = { 256, 49, 43, 50, 61 }
  local want = m:forward(ids)
  local m3 = tiny(3):load_adapter(dir .. "/adapter")
  T.ok((m3:forward(ids) - want):abs():max():item() < 1e-5)
  m3:merge()
  T.ok((m3:forward(ids) - want):abs():max():item() < 1e-4)
end)

T.test("ft.sft: NaN/inf steps are skipped, counted, and a streak stops the run", function()
  local train = tasks.addition{ digits = 1, train = 16, test = 1, seed = 2 }
  local run = sft{ model = tiny(4), data = train, max_steps = 20, batch_size = 8, lr = 1e30, schedule = "constant",
    max_grad_norm = 0, max_bad_steps = 3, log = false }
  local err = T.raises(function() run:train() end, "3 steps in a row had NaN/inf gradients")
  T.ok(err:find("hint: lower lr", 1, true), err)
  T.eq(run.skipped_steps, 3)
  T.ok(run.global_step < 20)
end)

T.test("ft.tasks.addition: disjoint deterministic splits", function()
  local a, b = tasks.addition{ digits = 2, train = 500, test = 50, seed = 4 }
  local a2 = tasks.addition{ digits = 2, train = 500, test = 50, seed = 4 }
  T.eq(a.rows, a2.rows)
  local seen = {}
  for _, r in ipairs(a.rows) do
    seen[r.prompt] = true
    local x, y = r.prompt:match("^(%d+)%+(%d+)=$")
    T.eq(tonumber(r.completion), tonumber(x) + tonumber(y))
  end
  for _, r in ipairs(b.rows) do T.ok(not seen[r.prompt], "test prompt " .. r.prompt .. " is in train") end
  T.raises(function() tasks.addition{ digits = 1, train = 100, test = 1 } end, "only 100 distinct")
end)

T.done()
