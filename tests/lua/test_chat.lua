-- ft.chat: chat templates from Lua. Tables and JSON strings as contexts, generation spans as 1-based
-- inclusive byte ranges, option validation, and template errors that name the template line.
local T = require "testlib"
local chat = require "ft.chat"

local CHATML = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' }}"
  .. "{% if m.role == 'assistant' %}{% generation %}{{ m.content + '<|im_end|>' }}{% endgeneration %}"
  .. "{% else %}{{ m.content + '<|im_end|>' }}{% endif %}{{ '\\n' }}{% endfor %}"
  .. "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

T.test("chat.apply renders messages and returns generation spans", function()
  local text, spans = chat.apply(CHATML, {
    { role = "user", content = "héllo" },
    { role = "assistant", content = "wörld 🌍" },
  }, { add_generation_prompt = true })
  T.eq(text, "<|im_start|>user\nhéllo<|im_end|>\n<|im_start|>assistant\nwörld 🌍<|im_end|>\n"
    .. "<|im_start|>assistant\n")
  T.eq(#spans, 1)
  T.eq(text:sub(spans[1][1], spans[1][2]), "wörld 🌍<|im_end|>")
  T.eq(spans[1][1], #"<|im_start|>user\nhéllo<|im_end|>\n<|im_start|>assistant\n" + 1)
end)

T.test("parsed templates render many contexts; tables become JSON", function()
  local tpl = chat.template("{{ tools | tojson }}|{{ messages | length }}|{{ flag }}|{{ n }}|{{ x }}|{{ e | tojson }}")
  T.ok(not tpl:has_generation())
  local text = tpl:render { tools = { { type = "function", ["function"] = { name = "f", b = 1.5, a = true } } },
    messages = {}, flag = false, n = 3, e = {} }
  -- Objects list their keys sorted; 3 stays an integer; a missing value prints as nothing.
  T.eq(text, '[{"function": {"a": true, "b": 1.5, "name": "f"}, "type": "function"}]|0|False|3||[]')
  -- A JSON string keeps its key order.
  T.eq(chat.render("{{ t | tojson }}", '{"t": {"z": 1, "a": 2}}'), '{"z": 1, "a": 2}')
end)

T.test("strftime_now follows opts.now", function()
  local text = chat.render("{{ strftime_now('%Y') }}", {}, { now = 1732101296 })
  T.eq(text, "2024")
end)

T.test("errors name the template line, the option or the value", function()
  T.raises(function() chat.template("line1\n{{ x | trimm }}") end, "chat template line 2: no filter named 'trimm'")
  T.raises(function() chat.render("\n\n{{ raise_exception('bad roles') }}", {}) end, "chat template line 3: bad roles")
  T.raises(function() chat.apply(CHATML, {}, { add_generation_promt = true }) end,
    "unknown option 'add_generation_promt' (did you mean 'add_generation_prompt'?)")
  T.raises(function() chat.apply(CHATML, { "not a table" }) end, "messages[1] must be a table")
  T.raises(function() chat.render("x", { f = print }) end, "context.f: a function cannot be passed")
  T.raises(function() chat.render("x", { m = { 1, 2, k = 3 } }) end, "context.m: a table mixing list items and keys")
  local loop = {}
  loop.self = loop
  T.raises(function() chat.render("x", { loop = loop }) end, "nested deeper than 200 levels")
  T.raises(function() chat.render("x", "{not json") end, "the context string is not valid JSON")
end)

T.done()
