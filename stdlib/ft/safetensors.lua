--- safetensors files as Python's safetensors and huggingface_hub read and write them.
--- Loading maps the file: tensors point into the mapping (copy-on-write) until converted, and every
--- rule of the format is checked, with errors that name the file and the tensor.
---
---   local w = ft.safetensors.load("Qwen2.5-0.5B")                -- file, index.json or folder
---   print(ft.safetensors.header("model.safetensors").metadata.format)
---   ft.safetensors.save("out/model.safetensors", { w = ft.tensor.ones(2, 2) }, { metadata = { format = "pt" } })
---   ft.safetensors.save("out/ckpt", w, { shard_size = 2e9 })     -- folder: shards + index past 2 GB
local native = require "_ft.io"
local options = require "ft.options"

local M = {}

--- Loads every tensor of a .safetensors file, a *.safetensors.index.json (sharded checkpoint), or a
--- folder holding model.safetensors, model.safetensors.index.json, or a single *.safetensors file.
---@param path string
---@return table<string, Tensor> tensors by name
function M.load(path)
  if type(path) ~= "string" then error("ft.safetensors.load: path must be a string, got " .. type(path), 2) end
  return native.load(path)
end

--- Reads and validates a file's header without loading tensor data.
---@param file string a .safetensors file
---@return {metadata: table<string, string>, data_offset: integer, tensors: table[]} tensors in file order,
--- each { name = string, dtype = "F32"..., shape = integer[], offsets = { begin, end } } (bytes into the data)
function M.header(file)
  if type(file) ~= "string" then error("ft.safetensors.header: file must be a string, got " .. type(file), 2) end
  return native.header(file)
end

local save_spec = {
  metadata = { type = "table", default = {}, doc = "string -> string pairs for __metadata__ (or the index)" },
  shard_size = { type = "integer", default = 0, min = 0, aliases = { "max_shard_size" },
    doc = "folder saves only: bytes per shard, 0 = one file (huggingface_hub's default is 5e9)" },
  basename = { type = "string", default = "model",
    doc = "folder saves only: <basename>.safetensors or <basename>-0000i-of-0000n.safetensors" },
}

--- Saves a table of tensors, atomically (temp file, fsync, rename).
--- A path ending in ".safetensors" writes that one file with exactly `metadata`. Any other path is a
--- folder written as Hugging Face checkpoints are: model.safetensors with {"format": "pt"} added to
--- `metadata`, or, when `shard_size` > 0 and the tensors exceed it, model-0000i-of-0000n.safetensors and
--- model.safetensors.index.json (whose "metadata" holds total_size and `metadata`).
---@param path string
---@param tensors table<string, Tensor>
---@param opts? {metadata?: table<string, string>, shard_size?: integer, basename?: string}
function M.save(path, tensors, opts)
  if type(path) ~= "string" then error("ft.safetensors.save: path must be a string, got " .. type(path), 2) end
  if type(tensors) ~= "table" then
    error("ft.safetensors.save: tensors must be a table of name = Tensor, got " .. type(tensors), 2)
  end
  local o = options.check("ft.safetensors.save", opts, save_spec)
  if path:match("%.safetensors$") then
    if o.shard_size ~= 0 or o.basename ~= "model" then
      error("ft.safetensors.save: shard_size and basename apply to folder saves; '" .. path ..
        "' names a single .safetensors file", 2)
    end
    native.save_file(path, tensors, o.metadata)
  else
    native.save_dir(path, tensors, o.metadata, o.shard_size, o.basename)
  end
end

return M
