-- ft.new / ft.load / Model methods from Lua: the DESIGN.md tiny model, forward shapes, greedy and
-- seeded generation, batches, save -> load identical logits (single file and sharded), GGUF export,
-- parameters listing, and option errors that name the nearest valid key.
local T = require "testlib"
local model = require "ft.model"

local function tiny(extra)
  local o = { arch = "qwen2", hidden = 64, layers = 2, heads = 4, kv_heads = 2, vocab = 512, seed = 1 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return model.new(o)
end

T.test("ft.new gives the DESIGN.md tiny model", function()
  local m = tiny()
  T.eq(m.config.model_type, "qwen2")
  T.eq(m.config.hidden_size, 64)
  T.eq(m.config.num_key_value_heads, 2)
  T.eq(m.config.tie_word_embeddings, true)
  T.eq(m.dtype, "f32")
  T.eq(m.device, "cpu")
  -- embed 512*64, per layer q 64*64 + k,v 32*64 + o 64*64 + biases 128 + mlp 3*64*256 + norms 128, final norm
  local per_layer = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 128 + 3 * 64 * 256 + 128
  T.eq(m:num_params(), 512 * 64 + 2 * per_layer + 64)
  local ps = m:parameters()
  T.eq(ps[1], { name = "model.embed_tokens.weight", shape = { 512, 64 }, dtype = "f32" })
  T.eq(ps[#ps].name, "model.norm.weight")
  T.ok(tostring(m):find("qwen2", 1, true))
end)

T.test("forward returns [B, T, vocab] logits", function()
  local m = tiny()
  local logits = m:forward({ 256, 72, 105 })
  T.eq(logits.shape, { 1, 3, 512 })
  local batch = m:forward({ { 256, 1, 2 }, { 256, 3, 4 } })
  T.eq(batch.shape, { 2, 3, 512 })
  -- the same row alone gives the same logits
  T.near((m:forward({ 256, 1, 2 }) - batch:narrow(1, 1, 1)):abs():max():item(), 0, 1e-5)
end)

T.test("same seed, same weights; other seed, other weights", function()
  local a, b, c = tiny(), tiny(), tiny { seed = 2 }
  T.eq((a:forward({ 256, 5 }) - b:forward({ 256, 5 })):abs():max():item(), 0)
  T.ok((a:forward({ 256, 5 }) - c:forward({ 256, 5 })):abs():max():item() > 1e-4)
end)

T.test("greedy generation is deterministic and batches agree with single prompts", function()
  local m = tiny { init_std = 0.1 }
  local opts = { max_new_tokens = 12, temperature = 0, eos_ids = {} }
  local t1, d1 = m:generate("Hi", { max_new_tokens = 12, temperature = 0, eos_ids = {}, details = true })
  T.eq(#d1.ids, 12)
  T.eq(d1.finish_reason, "length")
  T.eq(type(t1), "string")
  local texts = m:generate({ "Hi", "A longer prompt" }, opts)
  T.eq(texts[1], t1)
  T.eq(texts[2], m:generate("A longer prompt", opts))
  -- token-id prompts: the byte tokenizer gives <bos> 'H' 'i'
  local _, d2 = m:generate({ 256, 72, 105 }, { max_new_tokens = 12, temperature = 0, eos_ids = {}, details = true })
  T.eq(d2.ids, d1.ids)
  T.eq(m:encode("Hi"), { 256, 72, 105 })
  T.eq(m:decode(d1.ids, true), t1)
end)

T.test("sampling repeats with a seed; stream callback sees every token", function()
  local m = tiny { init_std = 0.1 }
  local o = { max_new_tokens = 16, temperature = 1.0, top_p = 0.9, seed = 42, eos_ids = {}, details = true }
  local _, a = m:generate("x", o)
  local _, b = m:generate("x", o)
  T.eq(a.ids, b.ids)
  local seen = {}
  o.stream = function(seq, id, piece)
    T.eq(seq, 1)
    T.eq(type(piece), "string")
    seen[#seen + 1] = id
    if #seen == 5 then return false end
  end
  local _, c = m:generate("x", o)
  T.eq(seen, { a.ids[1], a.ids[2], a.ids[3], a.ids[4], a.ids[5] })
  T.eq(c.finish_reason, "callback")
  T.eq(c.ids, seen)
end)

T.test("save -> load gives identical logits, single file and sharded", function()
  local m = tiny { arch = "llama", tie = false, seed = 7 }
  local dir = T.tmpdir("model")
  m:save(dir .. "/one")
  m:save(dir .. "/sharded", { shard_size = "100KB" })
  T.ok(io.open(dir .. "/sharded/model.safetensors.index.json"), "index written")
  local ids = { 256, 10, 20, 30, 40 }
  local ref = m:forward(ids)
  for _, sub in ipairs({ "one", "sharded" }) do
    local back = model.load(dir .. "/" .. sub)
    T.eq(back.config.model_type, "llama")
    T.eq((back:forward(ids) - ref):abs():max():item(), 0, sub)
    T.eq(back:generate("ab", { max_new_tokens = 8, temperature = 0 }),
      m:generate("ab", { max_new_tokens = 8, temperature = 0 }))
  end
  local half = model.load(dir .. "/one", { dtype = "bf16" })
  T.eq(half.dtype, "bf16")
  T.eq(half.config.torch_dtype, "bfloat16")
  os.execute("rm -rf '" .. dir .. "'")
end)

T.test("to() changes dtype; export_gguf writes a GGUF file", function()
  local m = tiny()
  m:to("bf16")
  T.eq(m.dtype, "bf16")
  T.eq(m:parameters()[1].dtype, "bf16")
  m:to("f32")
  local dir = T.tmpdir("gguf")
  m:export_gguf(dir .. "/m.gguf", { type = "q8_0" })
  local f = assert(io.open(dir .. "/m.gguf", "rb"))
  T.eq(f:read(4), "GGUF")
  f:close()
  os.execute("rm -rf '" .. dir .. "'")
end)

T.test("llama3 rope scaling reaches config.json", function()
  local m = tiny { arch = "llama",
    rope_scaling = { rope_type = "llama3", factor = 8, original_max_position_embeddings = 64 } }
  T.eq(m.config.rope_scaling.rope_type, "llama3")
  T.eq(m.config.rope_scaling.factor, 8)
  T.eq(m.config.rope_scaling.original_max_position_embeddings, 64)
  T.raises(function() tiny { rope_scaling = { rope_type = "yarn" } } end, "rope_scaling type 'yarn' is not supported")
end)

T.test("option errors name the nearest valid key", function()
  T.raises(function() model.new { hiden = 64 } end, "unknown option 'hiden' (did you mean 'hidden'?)")
  T.raises(function() model.new { num_attention_heads = 4 } end, "did you mean 'heads'?")
  T.raises(function() model.new { heads = 3, hidden = 64 } end, "head_dim must be even")
  local m = tiny()
  T.raises(function() m:generate("x", { max_new_token = 3 }) end, "did you mean 'max_new_tokens'?")
  T.raises(function() m:generate("x", { temperature = "hot" }) end, "option 'temperature' must be number")
  T.raises(function() m:export_gguf("/tmp/x.gguf", { type = "q4" }) end, "must be one of")
  T.raises(function() model.load("/nonexistent/dir") end, "no config.json")
  T.raises(function() m:forward({ 256, 600 }) end, "token id 600 is outside the vocabulary [0, 512)")
end)

T.test("m.tokenizer is the model's tokenizer, for new and loaded models", function()
  local m = ft.new { hidden = 32, layers = 1, heads = 2, seed = 3 }
  T.eq(m.tokenizer.kind, "bytes")
  T.eq(m.tokenizer.vocab_size, 259)
  T.eq(m.tokenizer:encode("hi", { add_special = false }), m:encode("hi", false))
  local dir = T.tmpdir("model-tok")
  m:save(dir)
  local m2 = ft.load(dir)
  T.eq(m2.tokenizer.kind, "bytes")
  T.eq(m2.tokenizer:decode(m2.tokenizer:encode("abc", { add_special = false })), "abc")
end)

T.done()
