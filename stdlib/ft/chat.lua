--- Chat templates: the Jinja template of tokenizer_config.json ("chat_template"), rendered exactly as
--- transformers' apply_chat_template renders it (trim_blocks, lstrip_blocks, loop controls, tojson as
--- json.dumps(ensure_ascii=False), raise_exception, strftime_now, {% generation %} spans).
---
---   local chat = require "ft.chat"
---   local text, spans = chat.apply(template_source, {
---     { role = "system", content = "You are terse." },
---     { role = "user", content = "2+2?" },
---   }, { add_generation_prompt = true, eos_token = "<|im_end|>" })
---
--- Context values are converted to JSON: a table with keys 1..n (or an empty table) is a list, a table
--- with string keys is an object whose keys `tojson` writes in sorted order (Lua tables have no order;
--- pass the context as a JSON string to keep a given key order). Integral numbers are integers.
--- Spans are `{start, end}` pairs of 1-based inclusive byte positions: `text:sub(span[1], span[2])`.
local native = require "_ft.chat"
local options = require "ft.options"

local M = {}

--- Parses a template once; render it many times with `tpl:render(context, opts)`.
--- Syntax errors raise "chat template line N: ..." (with the template's name when given).
---@param source string the template text (tokenizer_config.json "chat_template")
---@param name? string a name for error messages, e.g. "tool_use"
---@return ChatTemplate tpl with methods render(context, opts) -> text, spans; has_generation(); source()
function M.template(source, name)
  if type(source) ~= "string" then
    error("ft.chat.template: template source must be a string, got " .. type(source), 2)
  end
  return native.parse(source, name)
end

local render_spec = {
  now = { type = "integer", doc = "Unix time strftime_now() uses instead of the clock" },
  transformers_defaults = { type = "boolean", default = true,
    doc = "define tools/documents as none and add_generation_prompt as false when absent" },
}

--- Renders a template with every variable given in `context` (messages, tools, add_generation_prompt,
--- bos_token, eos_token, any extra name the template reads).
---@param template string|ChatTemplate template source or a parsed template
---@param context table|string the variables, as a table or a JSON object string
---@param opts? {now?: integer, transformers_defaults?: boolean}
---@return string text the rendered prompt
---@return table spans `{start, end}` byte ranges produced inside {% generation %} blocks
function M.render(template, context, opts)
  local o = options.check("ft.chat.render", opts, render_spec)
  if type(context) ~= "table" and type(context) ~= "string" then
    error("ft.chat.render: context must be a table or a JSON string, got " .. type(context), 2)
  end
  if type(template) == "string" then return native.render(template, context, o) end
  return template:render(context, o)
end

local apply_spec = {
  add_generation_prompt = { type = "boolean", default = false,
    doc = "end with the header that starts the assistant's reply" },
  tools = { type = "table", doc = "tool (function) definitions, OpenAI/transformers JSON-schema style" },
  documents = { type = "table", doc = "documents for retrieval-augmented templates" },
  bos_token = { type = "string" },
  eos_token = { type = "string" },
  kwargs = { type = "table", aliases = { "chat_template_kwargs", "template_kwargs" },
    doc = "extra template variables, e.g. { date_string = '26 Jul 2024' }" },
  now = { type = "integer", doc = "Unix time strftime_now() uses instead of the clock" },
}

---@class ChatApplyOptions
---@field add_generation_prompt? boolean end with the header that starts the assistant's reply (default false)
---@field tools? table tool definitions (JSON-schema functions), none when absent
---@field documents? table documents for retrieval templates, none when absent
---@field bos_token? string
---@field eos_token? string
---@field kwargs? table extra template variables (aliases: chat_template_kwargs, template_kwargs)
---@field now? integer Unix time for strftime_now()

--- apply_chat_template without tokenizing: renders `messages` the way transformers does (tools and
--- documents are none unless given, add_generation_prompt defaults to false).
---@param template string|ChatTemplate template source or a parsed template
---@param messages table list of { role = ..., content = ..., tool_calls = ... } tables
---@param opts? ChatApplyOptions
---@return string text the rendered prompt
---@return table spans `{start, end}` byte ranges produced inside {% generation %} blocks
function M.apply(template, messages, opts)
  local o = options.check("ft.chat.apply", opts, apply_spec)
  if type(messages) ~= "table" then
    error("ft.chat.apply: messages must be a list of message tables, got " .. type(messages), 2)
  end
  for i, m in ipairs(messages) do
    if type(m) ~= "table" then
      error(string.format("ft.chat.apply: messages[%d] must be a table, got %s", i, type(m)), 2)
    end
  end
  local ctx = {}
  for k, v in pairs(o.kwargs or {}) do ctx[k] = v end
  ctx.messages = messages
  ctx.add_generation_prompt = o.add_generation_prompt
  ctx.tools = o.tools
  ctx.documents = o.documents
  ctx.bos_token = o.bos_token
  ctx.eos_token = o.eos_token
  local ropts = { now = o.now }
  if type(template) == "string" then return native.render(template, ctx, ropts) end
  return template:render(ctx, ropts)
end

return M
