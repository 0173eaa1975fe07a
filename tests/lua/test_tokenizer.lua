-- ft.tokenizer: loading a tokenizer.json folder, encode/decode with options, offsets, batch encoding,
-- special tokens, the byte tokenizer, and the errors bad input and bad options produce.
local T = require "testlib"
local tokenizer = require "ft.tokenizer"

local DIR = "tests/data/tokenizers/tiny-bpe"  -- ids: bytes 0..255, "ll" 256 ... " world" 263, specials 300..302

T.test("load: fields from tokenizer.json and tokenizer_config.json", function()
  local tok = tokenizer.load(DIR)
  T.eq(tok.kind, "bpe")
  T.eq(tok.vocab_size, 303)
  T.eq(tok.eos_id, 302)
  T.eq(tok.eos_token, "<|im_end|>")
  T.eq(tok.pad_id, 300)
  T.eq(tok.bos_id, nil)
  T.ok(tok.chat_template:find("<|im_start|>", 1, true))
  T.eq(tostring(tok), "Tokenizer(bpe, vocab_size=303)")
end)

T.test("encode: merges, specials in text, decode round trip", function()
  local tok = tokenizer.load(DIR)
  local ids = tok:encode("hello world<|im_end|>")
  -- "hello" merges fully (259); " world" is " wor" (262) + l + d; then the special token.
  T.eq(ids, { 259, 262, 108, 100, 302 })
  T.eq(tok:decode(ids), "hello world<|im_end|>")
  T.eq(tok:decode(ids, { skip_special = true }), "hello world")
  T.eq(tok:decode({}), "")
  T.eq(tok:token_to_id("<|im_start|>"), 301)
  T.eq(tok:token_to_id("\196\160wor"), 262)  -- "Ġwor": the vocab's ByteLevel spelling
  T.eq(tok:token_to_id("nope"), nil)
  T.eq(tok:id_to_token(259), "hello")
  T.eq(tok:is_special(302), true)
  T.eq(tok:is_special(259), false)
end)

T.test("encode: offsets are 1-based inclusive byte positions", function()
  local tok = tokenizer.load(DIR)
  local text = "h\195\169 hello"  -- "hé hello"
  local ids, offsets = tok:encode(text, { offsets = true })
  T.eq(#ids, #offsets)
  local pieces = {}
  for i, o in ipairs(offsets) do pieces[i] = text:sub(o[1], o[2]) end
  T.eq(table.concat(pieces), text)
  T.eq(offsets[#offsets], { 5, 9 })  -- " hello" is the space (own token) then "hello"
  T.eq(pieces[#pieces], "hello")
end)

T.test("encode_batch: same ids as encode, in order, on several threads", function()
  local tok = tokenizer.load(DIR)
  local texts = {}
  for i = 1, 200 do texts[i] = string.rep("hello ", i % 7) .. tostring(i) .. "<|im_end|>" end
  local batch = tok:encode_batch(texts, { threads = 3 })
  T.eq(#batch, 200)
  for i = 1, 200 do T.eq(batch[i], tok:encode(texts[i])) end
  T.raises(function() tok:encode_batch({ "a", 5 }) end, "element 2 is a number")
end)

T.test("byte tokenizer: layout and round trip", function()
  local tok = tokenizer.bytes()
  T.eq(tok.kind, "bytes")
  T.eq(tok.vocab_size, 259)
  T.eq({ tok.bos_id, tok.eos_id, tok.pad_id }, { 256, 257, 258 })
  local ids = tok:encode("hi\255")
  T.eq(ids, { 256, 104, 105, 255 })
  T.eq(tok:encode("hi", { add_special = false }), { 104, 105 })
  T.eq(tok:decode(ids), "<bos>hi\255")
  T.eq(tok:decode(ids, { skip_special = true }), "hi\255")
end)

T.test("errors: bad options, bad arguments, missing and malformed files", function()
  local tok = tokenizer.load(DIR)
  T.raises(function() tok:encode("x", { add_specail = true }) end,
    "Tokenizer:encode: unknown option 'add_specail' (did you mean 'add_special'?)")
  -- HF's name is recognised and pointed at fthost's.
  T.raises(function() tok:decode({ 1 }, { skip_special_tokens = true }) end,
    "Tokenizer:decode: unknown option 'skip_special_tokens' (did you mean 'skip_special'?)")
  T.raises(function() tok:decode({ 1, "x" }) end, "element 2 is a string")
  T.raises(function() tok:encode(42) end, "text must be a string")
  T.raises(function() tok.encode("x") end, "with a colon")
  T.raises(function() tokenizer.load("/nonexistent/dir") end, "no tokenizer in /nonexistent/dir")
  local dir = T.tmpdir("tok")
  local f = assert(io.open(dir .. "/tokenizer.json", "w"))
  f:write('{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "b"]]}}')
  f:close()
  T.raises(function() tokenizer.load(dir) end, "tokenizer.json: model.merges[0]: merge part \"b\" is not in the vocab")
end)

T.test("apply_chat: renders the tokenizer's template, tokenizes without doubling specials", function()
  local tok = tokenizer.load(DIR)
  local messages = { { role = "user", content = "hello" }, { role = "assistant", content = "world" } }
  local text = tok:apply_chat(messages, { add_generation_prompt = true })
  T.eq(text, "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nworld<|im_end|>\n<|im_start|>assistant\n")
  local ids = tok:apply_chat(messages, { tokenize = true })
  T.eq(ids, tok:encode("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nworld<|im_end|>\n",
    { add_special = false }))
  -- A template with {% generation %} gives the assistant mask over tokens.
  local tpl = "{% for m in messages %}{{ m.role }}:{% if m.role == 'assistant' %}{% generation %}"
    .. "{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}"
  local out, spans = tok:apply_chat(messages, { template = tpl })
  T.eq(out, "user:hello|assistant:world|")
  T.eq(spans, { { 22, 26 } })
  local ids2, mask = tok:apply_chat(messages, { template = tpl, tokenize = true })
  T.eq(#mask, #ids2)
  local masked = {}
  for i, id in ipairs(ids2) do
    if mask[i] == 1 then masked[#masked + 1] = id end
  end
  T.eq(tok:decode(masked), "world")
  -- Extra variables reach the template; the tokenizer's own special tokens are defined.
  T.eq(tok:apply_chat(messages, { template = "{{ greeting }}|{{ eos_token }}|{{ pad_token }}",
    kwargs = { greeting = "hey" } }), "hey|<|im_end|>|<|endoftext|>")
  T.raises(function() tok:apply_chat(messages, { chat_template_kwargs = {} }) end, "(did you mean 'kwargs'?)")
  T.raises(function() tok:apply_chat(messages, { template = "nope" }) end, "no chat template named 'nope'")
  T.raises(function() tokenizer.bytes():apply_chat(messages) end, "this tokenizer has no chat template")
end)

T.test("sentencepiece: tokenizer.model loads inside fthost (next to LibTorch's protobuf)", function()
  local tok = tokenizer.load("tests/data/tokenizers/tiny-sp")
  T.eq(tok.kind, "sentencepiece")
  T.eq({ tok.bos_id, tok.eos_id }, { 1, 2 })
  local ids = tok:encode("hello world")
  T.eq(ids[1], 1)
  T.ok(#ids >= 3 and #ids <= 6, "hello world in a few pieces, got " .. #ids)
  T.eq(tok:decode(ids, { skip_special = true }), "hello world")
  -- An unseen character falls back to its UTF-8 bytes and decodes back.
  T.eq(tok:decode(tok:encode("\228\184\173", { add_special = false })), "\228\184\173")
  T.eq(tok:id_to_token(3), "<0x00>")
end)

T.done()
