--- Causal language models (llama / qwen2 / mistral): load Hugging Face folders or hub ids, build tiny
--- random models, run forward passes, generate text, save in the HF layout and export GGUF.
---
---   local m = ft.load("Qwen/Qwen2.5-0.5B-Instruct", { dtype = "bf16" })
---   local tiny = ft.new{ arch = "qwen2", hidden = 64, layers = 2, heads = 4, kv_heads = 2, vocab = 512 }
---   print(tiny:generate("Hello", { max_new_tokens = 16, temperature = 0 }))
local native = require "_ft.model"
local options = require "ft.options"

local M = {}

---@class ft.Model
---@field config table the HF config.json fields (model_type, hidden_size, ...)
---@field dtype string "f32" | "bf16" | "f16"
---@field device string "cpu" | "cuda:0" ...
local Model = {}
Model.__index = Model
Model.__name = "Model"

local function wrap(handle)
  local m = setmetatable({ _m = handle }, Model)
  m:_refresh()
  return m
end

function Model:_refresh()
  local info = self._m:info()
  rawset(self, "config", self._m:config())
  rawset(self, "dtype", info.dtype)
  rawset(self, "device", info.device)
  rawset(self, "tokenizer_kind", info.tokenizer)
  local tok = self._m:tokenizer_handle()
  rawset(self, "tokenizer", tok and require("ft.tokenizer").wrap(tok) or nil)
end

function Model:__tostring()
  local c = self.config
  return string.format("Model(%s, hidden=%d, layers=%d, heads=%d/%d, vocab=%d, %s, %s, %.1fM params)",
    c.model_type, c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
    c.vocab_size, self.dtype, self.device, self._m:num_params() / 1e6)
end

local dtypes = { "f32", "float32", "bf16", "bfloat16", "f16", "float16" }

-- ---- construction ---------------------------------------------------------------------------------

local new_spec = {
  arch = { type = "string", default = "qwen2", one_of = { "qwen2", "llama", "mistral" }, aliases = { "model_type" } },
  hidden = { type = "integer", default = 64, min = 2, aliases = { "hidden_size", "dim" } },
  layers = { type = "integer", default = 2, min = 1, aliases = { "num_hidden_layers", "n_layers" } },
  heads = { type = "integer", default = 4, min = 1, aliases = { "num_attention_heads", "n_heads" } },
  kv_heads = { type = "integer", min = 1, aliases = { "num_key_value_heads", "n_kv_heads" },
    doc = "default: heads (no grouped-query attention)" },
  vocab = { type = "integer", min = 1, aliases = { "vocab_size" },
    doc = "default 259: the byte tokenizer (bytes + <bos> <eos> <pad>); >= 259 keeps the byte tokenizer" },
  intermediate = { type = "integer", min = 1, aliases = { "intermediate_size", "ffn_dim" },
    doc = "default 4 * hidden" },
  head_dim = { type = "integer", min = 2, doc = "default hidden / heads" },
  tie = { type = "boolean", aliases = { "tie_word_embeddings" }, doc = "default true for qwen2, false otherwise" },
  max_positions = { type = "integer", default = 4096, min = 1, aliases = { "max_position_embeddings" } },
  rope_theta = { type = "number", min = 0, doc = "default 1e6 (qwen2) or 1e4" },
  rope_scaling = { type = "table", doc = "{rope_type = \"llama3\", factor, low_freq_factor, high_freq_factor, " ..
    "original_max_position_embeddings} as in config.json" },
  rms_norm_eps = { type = "number", default = 1e-6, min = 0 },
  init_std = { type = "number", default = 0.02, min = 0, aliases = { "initializer_range" },
    doc = "weights and biases ~ N(0, init_std), norm weights 1 + N(0, init_std)" },
  seed = { type = "integer", default = 0, min = 0, doc = "the same seed gives the same weights" },
  dtype = { type = "string", default = "f32", one_of = dtypes },
  device = { type = "string", default = "cpu" },
}

---@class ft.NewOptions
---@field arch? string "qwen2" | "llama" | "mistral"
---@field hidden? integer
---@field layers? integer
---@field heads? integer
---@field kv_heads? integer
---@field vocab? integer
---@field intermediate? integer
---@field head_dim? integer
---@field tie? boolean
---@field max_positions? integer
---@field rope_theta? number
---@field rope_scaling? table
---@field rms_norm_eps? number
---@field init_std? number
---@field seed? integer
---@field dtype? string
---@field device? string

--- A tiny randomly initialised model (deterministic for a seed) with the built-in byte tokenizer.
---@param opts? ft.NewOptions
---@return ft.Model
function M.new(opts)
  local o = options.check("ft.new", opts, new_spec)
  local m = wrap(native.new(o))
  if o.dtype ~= "f32" and o.dtype ~= "float32" or o.device ~= "cpu" then m:to(o.device, o.dtype) end
  return m
end

local load_spec = {
  dtype = { type = "string", one_of = dtypes, aliases = { "torch_dtype" },
    doc = "default: the checkpoint's dtype (config.json torch_dtype)" },
  device = { type = "string", default = "cpu", aliases = { "device_map" } },
  revision = { type = "string", default = "main", doc = "hub revision when a repo id is given" },
}

local function is_dir(path)
  local f = io.open(path .. "/config.json", "rb")
  if f then f:close() return true end
  return false
end

--- Loads a model folder (config.json + *.safetensors + tokenizer files) or a Hugging Face hub repo id
--- (downloaded into the HF cache first; only config, weights and tokenizer files are fetched).
---@param path string a folder, or a hub id like "Qwen/Qwen2.5-0.5B-Instruct"
---@param opts? {dtype?:string, device?:string, revision?:string}
---@return ft.Model
function M.load(path, opts)
  if type(path) ~= "string" then
    error("ft.load: expected a folder or hub repo id (string), got " .. type(path), 2)
  end
  local o = options.check("ft.load", opts, load_spec)
  local dir = path
  if not is_dir(path) and path:match("^[%w%-%._]+/[%w%-%._]+$") then
    dir = require("ft.hub").download(path, { revision = o.revision,
      include = { "*.json", "*.safetensors", "tokenizer.model", "*.txt", "*.jinja" } })
  end
  return wrap(native.load(dir, o.dtype, o.device))
end

-- ---- methods ----------------------------------------------------------------------------------------

local function as_ids(ids)
  if type(ids) == "table" and type(ids[1]) == "number" then return { ids } end
  return ids
end

--- Logits for token ids: a Tensor or a Lua list ([T] or [B, T]); returns a [B, T, vocab] Tensor
--- (no autograd).
---@param ids any Tensor or table of integer token ids
---@param opts? {attention_mask?:any, position_ids?:any, segment_ids?:any}
---@return any logits Tensor
function Model:forward(ids, opts)
  local o = options.check("Model:forward", opts, {
    attention_mask = { type = "Tensor|table", doc = "[B, T], 1 = token, 0 = padding" },
    position_ids = { type = "Tensor|table" },
    segment_ids = { type = "Tensor|table", doc = "packed sequences: attention stays inside a segment" },
  })
  return self._m:forward(as_ids(ids), o.attention_mask, o.position_ids, o.segment_ids)
end

local generate_spec = {
  max_new_tokens = { type = "integer", default = 64, min = 0, aliases = { "max_tokens", "max_length" } },
  temperature = { type = "number", default = 1.0, min = 0, doc = "0 = greedy" },
  top_k = { type = "integer", default = 0, min = 0, doc = "0 = off" },
  top_p = { type = "number", default = 1.0, min = 0, max = 1 },
  min_p = { type = "number", default = 0.0, min = 0, max = 1 },
  repetition_penalty = { type = "number", default = 1.0, min = 0 },
  eos_ids = { type = "table", aliases = { "eos_token_id", "stop_token_ids" },
    doc = "default: the model's eos ids; {} never stops on a token" },
  stop = { type = "table|string", aliases = { "stop_strings" }, doc = "text is cut before the first match" },
  seed = { type = "integer", min = 0, doc = "same seed, same samples; default random" },
  stream = { type = "callable", aliases = { "streamer", "callback" },
    doc = "stream(seq, token_id, piece) per token; return false to end that sequence" },
  skip_special_tokens = { type = "boolean", default = true },
  add_special_tokens = { type = "boolean", default = true, doc = "tokenizer post-processing (BOS) on text prompts" },
  details = { type = "boolean", default = false, doc = "also return {ids, finish_reason} per prompt" },
}

---@class ft.GenerateOptions
---@field max_new_tokens? integer default 64
---@field temperature? number default 1.0; 0 = greedy
---@field top_k? integer
---@field top_p? number
---@field min_p? number
---@field repetition_penalty? number
---@field eos_ids? integer[]
---@field stop? string|string[]
---@field seed? integer
---@field stream? fun(seq:integer, id:integer, piece:string):boolean?
---@field skip_special_tokens? boolean
---@field add_special_tokens? boolean
---@field details? boolean

--- Generates continuations with a KV cache. `prompt` is a string, a list of strings (one batch, left
--- padded), a list of token ids, or a list of such lists. Returns the text (a string for one prompt, a
--- list for a batch) and, with details = true, a second value: a list of {ids, finish_reason}
--- ("eos", "stop", "length", "callback").
---@param prompt string|string[]|integer[]|integer[][]
---@param opts? ft.GenerateOptions
---@return string|string[] text
---@return table? details
function Model:generate(prompt, opts)
  local o = options.check("Model:generate", opts, generate_spec)
  if type(o.stop) == "string" then o.stop = { o.stop } end
  local single = type(prompt) == "string" or (type(prompt) == "table" and type(prompt[1]) == "number")
  local prompts
  if single then
    prompts = { prompt }
  elseif type(prompt) == "table" and #prompt > 0 then
    prompts = prompt
  else
    error("Model:generate: prompt must be a string, a list of strings or a list of token ids, got " .. type(prompt), 2)
  end
  local texts, ids, reasons = self._m:generate(prompts, o, o.stream)
  local details
  if o.details then
    details = {}
    for i = 1, #texts do details[i] = { ids = ids[i], finish_reason = reasons[i], text = texts[i] } end
    if single then details = details[1] end
  end
  if single then return texts[1], details end
  return texts, details
end

--- Saves in the Hugging Face layout: config.json, generation_config.json, model.safetensors (or
--- model-0000i-of-0000n.safetensors + index when larger than shard_size), and the tokenizer files the
--- model was loaded with.
---@param dir string
---@param opts? {shard_size?:integer|string}
function Model:save(dir, opts)
  local o = options.check("Model:save", opts, {
    shard_size = { type = "integer|string", default = "5GB", aliases = { "max_shard_size" },
      doc = "bytes, or a string like \"500MB\" / \"2GB\" (decimal units as huggingface_hub)" },
  })
  local size = o.shard_size
  if type(size) == "string" then
    local num, unit = size:upper():match("^%s*([%d%.]+)%s*([KMGT]?I?B?)%s*$")
    local mult = { [""] = 1, B = 1, KB = 1e3, MB = 1e6, GB = 1e9, TB = 1e12,
      KIB = 2 ^ 10, MIB = 2 ^ 20, GIB = 2 ^ 30, TIB = 2 ^ 40 }
    if not num or not mult[unit] then
      error(string.format("Model:save: shard_size %q is not a size (expected e.g. 500MB, 5GB or bytes)", size), 2)
    end
    size = math.floor(tonumber(num) * mult[unit])
  end
  self._m:save(dir, size)
end

--- Writes a GGUF file for llama.cpp / Ollama (qwen2 or llama arch) with tokenizer metadata.
---@param path string
---@param opts? {type?:string} "f32" | "f16" | "bf16" | "q8_0" (default "f16")
function Model:export_gguf(path, opts)
  local o = options.check("Model:export_gguf", opts, {
    type = { type = "string", default = "f16", one_of = { "f32", "f16", "bf16", "q8_0" }, aliases = { "outtype" } },
  })
  self._m:export_gguf(path, o.type)
end

--- Moves the model to a device and/or dtype: m:to("cuda"), m:to("bf16"), m:to("cuda", "bf16").
---@param a string device or dtype
---@param b? string dtype
---@return ft.Model self
function Model:to(a, b)
  local device, dtype
  for _, v in ipairs({ a, b }) do
    if type(v) ~= "string" then error("Model:to: expected device or dtype names, got " .. type(v), 2) end
    local is_dtype = false
    for _, d in ipairs(dtypes) do if d == v then is_dtype = true end end
    if is_dtype then dtype = v else device = v end
  end
  self._m:to(device, dtype)
  self:_refresh()
  return self
end

--- Every parameter: a list of {name = "model.layers.0.self_attn.q_proj.weight", shape = {...}, dtype = "f32"}.
---@return table[]
function Model:parameters() return self._m:parameters() end

--- The live parameter tensor with this HF name (shares storage with the model).
---@param name string
---@return any Tensor
function Model:parameter(name) return self._m:parameter(name) end

--- Total number of parameter elements.
---@return integer
function Model:num_params() return self._m:num_params() end

--- Token ids of `text` through the model's tokenizer.
---@param text string
---@param add_special? boolean default true
---@return integer[]
function Model:encode(text, add_special) return self._m:encode(text, add_special ~= false) end

--- Text of token ids through the model's tokenizer.
---@param ids integer[]
---@param skip_special? boolean default true
---@return string
function Model:decode(ids, skip_special) return self._m:decode(ids, skip_special ~= false) end

M.Model = Model
-- ft.lora adds m:lora, m:merge, m:save_adapter... and ft.freeze m:freeze, m:trainable_parameters... to
-- Model, and both require this module: register it first. (When one of them is the one being loaded, its
-- own install() runs once this module returns.)
package.loaded["ft.model"] = M
if package.loaded["ft.lora"] == nil then require "ft.lora" end
if package.loaded["ft.freeze"] == nil then require "ft.freeze" end
return M
