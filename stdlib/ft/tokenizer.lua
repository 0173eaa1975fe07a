--- Tokenizers: byte-level BPE from tokenizer.json (GPT-2, Qwen2/2.5, Llama 3), SentencePiece
--- (tokenizer.model: Llama 2, Mistral) and the byte tokenizer of tiny models. Ids are the model's own
--- (0-based, as in Hugging Face); tables of ids are ordinary Lua lists.
---
---   local tok = ft.tokenizer.load("path/to/Qwen2.5-0.5B-Instruct")
---   local ids = tok:encode("Hello world")            -- { 9707, 1879 }
---   print(tok:decode(ids), tok.eos_id, tok.vocab_size)
local native = require "_ft.text"
local options = require "ft.options"

local M = {}

---@class ft.Tokenizer
---@field kind string "bpe" | "sentencepiece" | "bytes"
---@field vocab_size integer number of ids, added tokens included
---@field bos_id integer|nil
---@field eos_id integer|nil
---@field pad_id integer|nil
---@field bos_token string|nil
---@field eos_token string|nil
---@field pad_token string|nil
---@field chat_template string|nil the default chat template source (tokenizer_config.json)
---@field chat_templates table<string, string> named chat templates ({name = source})
local Tokenizer = {}
Tokenizer.__index = Tokenizer
Tokenizer.__name = "Tokenizer"

--- Wraps a native `_ft.text` Tokenizer userdata (bindings hand those out, e.g. a model's tokenizer).
---@param handle userdata
---@return ft.Tokenizer
function M.wrap(handle)
  local info = handle:info()
  local t = setmetatable({ _t = handle }, Tokenizer)
  for _, k in ipairs { "kind", "vocab_size", "bos_id", "eos_id", "pad_id", "bos_token", "eos_token", "pad_token",
    "chat_template", "chat_templates" } do
    rawset(t, k, info[k])
  end
  return t
end

function Tokenizer:__tostring()
  return string.format("Tokenizer(%s, vocab_size=%d)", self.kind, self.vocab_size)
end

local function check_self(self, fname)
  if getmetatable(self) ~= Tokenizer then
    error(string.format("%s: call it as tok:%s(...), with a colon", fname, fname:match("[^:.]+$")), 3)
  end
end

--- Loads the tokenizer of a model folder: tokenizer.json (+ tokenizer_config.json) or tokenizer.model.
--- Malformed files raise an error naming the file and the JSON field.
---@param dir string a local folder (use ft.hub.download for hub ids)
---@return ft.Tokenizer
function M.load(dir)
  if type(dir) ~= "string" then
    error("ft.tokenizer.load: expected a folder path (string), got " .. type(dir), 2)
  end
  return M.wrap(native.load(dir))
end

--- The byte tokenizer of tiny models: bytes are ids 0..255, then <bos>=256, <eos>=257, <pad>=258.
---@return ft.Tokenizer
function M.bytes()
  return M.wrap(native.bytes())
end

local encode_spec = {
  add_special = { type = "boolean", default = true, aliases = { "add_special_tokens" },
    doc = "apply the post-processor (e.g. prepend BOS), as HF's add_special_tokens=True" },
  offsets = { type = "boolean", default = false, aliases = { "return_offsets_mapping" },
    doc = "also return each token's {first, last} byte positions (text:sub(first, last))" },
}

--- Encodes text to token ids. Special tokens written in the text (e.g. "<|im_end|>") become their ids.
--- Invalid UTF-8 is read as U+FFFD, as Python and JavaScript tokenizers see it.
---@param text string
---@param opts? {add_special?:boolean, offsets?:boolean}
---@return integer[] ids
---@return table[]|nil offsets with opts.offsets: {first, last} per token; added specials get {1, 0}
function Tokenizer:encode(text, opts)
  check_self(self, "Tokenizer:encode")
  local o = options.check("Tokenizer:encode", opts, encode_spec)
  if type(text) ~= "string" then error("Tokenizer:encode: text must be a string, got " .. type(text), 2) end
  return self._t:encode(text, o.add_special, o.offsets)
end

local batch_spec = {
  add_special = { type = "boolean", default = true, aliases = { "add_special_tokens" } },
  threads = { type = "integer", default = 0, min = 0, aliases = { "num_threads" },
    doc = "encoding threads; 0 = all cores" },
}

--- Encodes many texts on several threads; results come back in input order.
---@param texts string[]
---@param opts? {add_special?:boolean, threads?:integer}
---@return integer[][]
function Tokenizer:encode_batch(texts, opts)
  check_self(self, "Tokenizer:encode_batch")
  local o = options.check("Tokenizer:encode_batch", opts, batch_spec)
  if type(texts) ~= "table" then
    error("Tokenizer:encode_batch: texts must be a list of strings, got " .. type(texts), 2)
  end
  return self._t:encode_batch(texts, o.add_special, o.threads)
end

local decode_spec = {
  skip_special = { type = "boolean", default = false, aliases = { "skip_special_tokens" },
    doc = "drop special tokens (BOS, EOS, <|im_end|>...)" },
}

--- Decodes ids back to text. Ids outside the vocabulary are skipped; bytes that do not form valid
--- UTF-8 come out as U+FFFD, as in transformers.
---@param ids integer[]
---@param opts? {skip_special?:boolean}
---@return string
function Tokenizer:decode(ids, opts)
  check_self(self, "Tokenizer:decode")
  local o = options.check("Tokenizer:decode", opts, decode_spec)
  if type(ids) ~= "table" then error("Tokenizer:decode: ids must be a list of integers, got " .. type(ids), 2) end
  return self._t:decode(ids, o.skip_special)
end

--- The id of a token in the vocabulary's spelling (e.g. "<|im_end|>", or "Ġthe" in byte-level vocabs).
---@param token string
---@return integer|nil
function Tokenizer:token_to_id(token)
  check_self(self, "Tokenizer:token_to_id")
  if type(token) ~= "string" then error("Tokenizer:token_to_id: token must be a string, got " .. type(token), 2) end
  return self._t:token_to_id(token)
end

--- The vocabulary spelling of an id, or nil.
---@param id integer
---@return string|nil
function Tokenizer:id_to_token(id)
  check_self(self, "Tokenizer:id_to_token")
  return self._t:id_to_token(id)
end

--- True for special tokens (those decode(ids, {skip_special = true}) drops).
---@param id integer
---@return boolean
function Tokenizer:is_special(id)
  check_self(self, "Tokenizer:is_special")
  return self._t:is_special(id)
end

local chat_spec = {
  add_generation_prompt = { type = "boolean", default = false, doc = "end with the assistant turn header" },
  tools = { type = "table", doc = "tool (function) schemas the template shows the model" },
  documents = { type = "table", doc = "documents for RAG templates" },
  tokenize = { type = "boolean", default = false, doc = "return ids (encoded without adding specials)" },
  template = { type = "string", aliases = { "chat_template" },
    doc = "a named template of tokenizer_config.json, or a template source" },
  kwargs = { type = "table", aliases = { "chat_template_kwargs", "template_kwargs", "vars" },
    doc = "extra template variables (e.g. { enable_thinking = false })" },
  now = { type = "integer", doc = "Unix time strftime_now() uses instead of the clock" },
}

--- Renders a conversation with the tokenizer's chat template (transformers' apply_chat_template,
--- through ft.chat.apply with this tokenizer's bos/eos/pad tokens). Returns the text and the byte spans
--- of the template's {% generation %} blocks; with tokenize = true, the ids (encoded with
--- add_special = false, so BOS is not doubled) and a per-token assistant mask (1 for tokens that
--- overlap a {% generation %} block), nil when the template has no such blocks.
---@param messages table[] { {role = "user", content = "..."}, ... }
---@param opts? {add_generation_prompt?:boolean, tools?:table, documents?:table, tokenize?:boolean,
---  template?:string, kwargs?:table, now?:integer}
---@return string|integer[] text_or_ids
---@return table|nil spans_or_mask
function Tokenizer:apply_chat(messages, opts)
  check_self(self, "Tokenizer:apply_chat")
  local o = options.check("Tokenizer:apply_chat", opts, chat_spec)
  if type(messages) ~= "table" then error("Tokenizer:apply_chat: messages must be a list of {role, content}", 2) end
  local source = self.chat_template
  if o.template then
    source = self.chat_templates[o.template]
      or (o.template:find("{[{%%]") and o.template)
      or error(string.format("Tokenizer:apply_chat: no chat template named '%s'", o.template), 2)
  end
  if not source or source == "" then
    error("Tokenizer:apply_chat: this tokenizer has no chat template (tokenizer_config.json has no chat_template);"
      .. " pass one as opts.template", 2)
  end
  local kwargs = { pad_token = self.pad_token }
  for k, v in pairs(o.kwargs or {}) do kwargs[k] = v end
  local text, spans = require("ft.chat").apply(source, messages, {
    add_generation_prompt = o.add_generation_prompt, tools = o.tools, documents = o.documents,
    bos_token = self.bos_token, eos_token = self.eos_token, kwargs = kwargs, now = o.now,
  })
  if not o.tokenize then return text, spans end
  local ids, offsets = self._t:encode(text, false, true)
  if not spans or #spans == 0 then return ids, nil end
  -- As transformers' return_assistant_tokens_mask: every token overlapping a span counts.
  local mask = {}
  for i, off in ipairs(offsets) do
    local inside = 0
    for _, s in ipairs(spans) do
      if off[2] >= off[1] and off[1] <= s[2] and off[2] >= s[1] then
        inside = 1
        break
      end
    end
    mask[i] = inside
  end
  return ids, mask
end

return M
