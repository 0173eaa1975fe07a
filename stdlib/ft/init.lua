--- fthost's Lua API: `local ft = require "ft"` (also the global `ft` in recipes and the REPL).
--- Submodules load on first use: `ft.tensor`, `ft.data`, `ft.hub`, `ft.tokenizer`, `ft.rewards`...
local core = require "_ft.core"

local ft = {}

ft.options = require "ft.options"
ft.inspect = require "ft.inspect"
ft.sandbox = require "ft.sandbox"

--- Parsed `--key=value` arguments of the recipe (numbers, booleans, strings; positionals in order).
ft.args = require("ft.args").parse(rawget(_G, "arg"))

--- fthost's version string.
ft.version = "0.1.0"

--- Seeds every random generator fthost uses (LibTorch CPU/CUDA, Lua's math.random), so init, dropout,
--- shuffling and sampling repeat run to run.
---@param n integer
function ft.seed(n)
  core.seed(n)
  math.randomseed(n)
end

--- Gets (and with an argument, sets) the number of threads LibTorch's CPU kernels use.
---@param n? integer
---@return integer
function ft.threads(n) return core.threads(n) end

--- Versions of fthost, LuaJIT, LibTorch and whether CUDA/NCCL are usable, as printed by --version.
---@return string
function ft.versions() return require("_ft.runtime").version_report() end

--- Loads a model from a folder (config.json + safetensors + tokenizer files) or a Hub id through the
--- Hugging Face cache. See ft.model.load.
---@param path string a folder, or a hub id like "Qwen/Qwen2.5-0.5B-Instruct"
---@param opts? {dtype?:string, device?:string, revision?:string}
---@return ft.Model
function ft.load(path, opts) return require("ft.model").load(path, opts) end

--- Creates a tiny randomly initialised model (deterministic for a seed); the built-in default the
--- quickstart and tests use. See ft.model.new.
---@param opts? table e.g. { arch = "qwen2", hidden = 64, layers = 2, heads = 4, kv_heads = 2, vocab = 512 }
---@return ft.Model
function ft.new(opts) return require("ft.model").new(opts) end

--- Makes a GRPO reward from a Lua function (see ft.rewards.new; built-ins and compute/load: ft.rewards).
---@param spec {fn: function, name?: string, batch?: boolean, weight?: number, on_error?: string, timeout_ms?: number}
---@return ft.Reward
function ft.reward(spec) return require("ft.rewards").new(spec) end

-- Submodules that load on first access (ft.tensor, ft.data, ...): any stdlib module ft.<name>.
local function find_module(name)
  for i, loader in ipairs(package.loaders) do
    if i > 1 then
      local ok, f = pcall(loader, name)
      if ok and type(f) == "function" then return true end
    end
  end
  return false
end

setmetatable(ft, {
  __index = function(t, k)
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then return nil end
    local name = "ft." .. k
    if package.loaded[name] == nil and not find_module(name) then return nil end
    local mod = require(name)
    rawset(t, k, mod)
    return mod
  end,
})

return ft
