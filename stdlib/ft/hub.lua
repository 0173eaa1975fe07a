--- Hugging Face Hub downloads into the cache huggingface_hub uses (HF_HOME / HF_HUB_CACHE), so files
--- fetched here serve Python and files Python fetched serve fthost. Settings come from the same
--- environment variables as huggingface_hub: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN (or the token
--- file $HF_HOME/token), HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT.
---
---   local dir = ft.hub.download("Qwen/Qwen2.5-0.5B-Instruct", { include = { "*.json", "*.safetensors" } })
---   local cfg = ft.hub.file("Qwen/Qwen2.5-0.5B-Instruct", "config.json")
local native = require "_ft.hub"
local options = require "ft.options"

local M = {}

---@class ft.hub.Options
---@field revision? string branch, tag or 40-hex commit (default "main")
---@field repo_type? string "model" (default), "dataset" or "space"
---@field cache_dir? string default HF_HUB_CACHE / $HF_HOME/hub
---@field endpoint? string default HF_ENDPOINT or https://huggingface.co
---@field offline? boolean answer from the cache only (default HF_HUB_OFFLINE)
---@field progress? boolean progress on stderr (default true)
---@field workers? integer files fetched at once (default 8)
---@field connections? integer byte ranges fetched at once per large file (default 8)
---@field max_retries? integer consecutive failures without progress (default 5)
---@field verify? boolean check sha256 / git-sha1 before a blob is used (default true)

---@class ft.hub.CachedRepo
---@field repo_id string
---@field repo_type string
---@field path string
---@field size_on_disk number bytes of complete blobs (as huggingface_hub's CachedRepoInfo)
---@field blobs number
---@field incomplete_bytes number partial downloads waiting to be resumed
---@field revisions {commit:string, refs:string[], files:string[]}[]

-- Options shared by every call; `include`/`exclude` only for download.
local common = {
  revision = { type = "string", default = "main", doc = "branch, tag or 40-hex commit" },
  repo_type = { type = "string", default = "model", one_of = { "model", "dataset", "space" } },
  cache_dir = { type = "string", doc = "defaults to HF_HUB_CACHE / $HF_HOME/hub" },
  endpoint = { type = "string", doc = "defaults to HF_ENDPOINT or https://huggingface.co" },
  offline = { type = "boolean", doc = "answer from the cache only (default: HF_HUB_OFFLINE)" },
  progress = { type = "boolean", default = true, doc = "progress on stderr (redrawn on a TTY, log lines otherwise)" },
  workers = { type = "integer", default = 8, min = 1, max = 64, aliases = { "max_workers" },
    doc = "files fetched at once" },
  connections = { type = "integer", default = 8, min = 1, max = 64,
    doc = "byte ranges fetched at once per large file" },
  max_retries = { type = "integer", default = 5, min = 0, max = 100 },
  verify = { type = "boolean", default = true, doc = "check sha256 (LFS) / git-sha1 before a blob is used" },
}

local function spec_with(extra)
  local s = {}
  for k, v in pairs(common) do s[k] = v end
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

local download_spec = spec_with {
  include = { type = "table|string", aliases = { "allow_patterns" },
    doc = "fnmatch patterns a file must match (one of); '*' also matches '/'" },
  exclude = { type = "table|string", aliases = { "ignore_patterns" }, doc = "fnmatch patterns that drop a file" },
}
local file_spec = spec_with()

local function check_repo(fname, repo)
  if type(repo) ~= "string" or repo == "" then
    error(string.format("%s: repo id must be a string like 'org/name', got %s", fname, type(repo)), 3)
  end
end

local function patterns(fname, v, key)
  if v == nil then return nil end
  if type(v) == "string" then return { v } end
  for i, p in ipairs(v) do
    if type(p) ~= "string" then
      error(string.format("%s: option '%s'[%d] must be a string pattern, got %s", fname, key, i, type(p)), 4)
    end
  end
  return v
end

--- Downloads every file of a repo revision that matches `include` and no `exclude` pattern
--- (huggingface_hub's snapshot_download), several files at once and large files as parallel byte
--- ranges, resuming partial downloads and verifying each blob's hash. Offline, or when the network
--- is down, the cached snapshot is returned without a network call.
---@param repo string repo id, e.g. "Qwen/Qwen2.5-0.5B-Instruct"
---@param opts? ft.hub.Options|{include?:string[]|string, exclude?:string[]|string}
---@return string dir the local snapshot folder (snapshots/<commit>)
---@return table stats {network_bytes, resumed_bytes, files_fetched, files_cached, requests, retries, restarts, seconds}
function M.download(repo, opts)
  check_repo("ft.hub.download", repo)
  local o = options.check("ft.hub.download", opts, download_spec)
  o.include = patterns("ft.hub.download", o.include, "include")
  o.exclude = patterns("ft.hub.download", o.exclude, "exclude")
  return native.snapshot(repo, o)
end

--- Downloads (or finds in the cache) one file of a repo revision (huggingface_hub's hf_hub_download).
---@param repo string repo id
---@param filename string path inside the repo, e.g. "config.json" or "onnx/model.onnx"
---@param opts? ft.hub.Options
---@return string path the local file (a symlink inside snapshots/<commit>/)
---@return table stats as for download
function M.file(repo, filename, opts)
  check_repo("ft.hub.file", repo)
  if type(filename) ~= "string" or filename == "" then
    error("ft.hub.file: filename must be a non-empty string, got " .. type(filename), 2)
  end
  local o = options.check("ft.hub.file", opts, file_spec)
  return native.file(repo, filename, o)
end

--- Lists the files of a repo revision from the Hub's tree API.
---@param repo string
---@param opts? {revision?:string, repo_type?:string, endpoint?:string}
---@return {path:string, size:number, oid:string, lfs:string|nil}[]
function M.list_files(repo, opts)
  check_repo("ft.hub.list_files", repo)
  return native.list_files(repo, options.check("ft.hub.list_files", opts, file_spec))
end

--- Repo metadata from the Hub's API: the commit a revision points to and its file names.
---@param repo string
---@param opts? {revision?:string, repo_type?:string, endpoint?:string}
---@return {id:string, sha:string, siblings:string[], private:boolean, gated:string}
function M.repo_info(repo, opts)
  check_repo("ft.hub.repo_info", repo)
  return native.repo_info(repo, options.check("ft.hub.repo_info", opts, file_spec))
end

--- Lists the repos in the cache with their size on disk and cached revisions.
---@param cache_dir? string defaults to HF_HUB_CACHE / $HF_HOME/hub
---@return ft.hub.CachedRepo[]
function M.cache_info(cache_dir)
  if cache_dir ~= nil and type(cache_dir) ~= "string" then
    error("ft.hub.cache_info: cache_dir must be a string, got " .. type(cache_dir), 2)
  end
  return native.cache_info(cache_dir)
end

--- The settings in effect: endpoint, cache_dir, home, offline and whether a token is configured
--- (the token itself is never exposed).
---@return {endpoint:string, cache_dir:string, home:string, offline:boolean, has_token:boolean}
function M.settings() return native.settings() end

--- Files a model load needs: configs, tokenizer files, chat templates and weights (safetensors
--- preferred; .bin only when a repo has no safetensors).
M.model_patterns = { "*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "*.txt", "*.jinja" }

--- Resolves a model name for ft.load: an existing local folder is returned as is; otherwise the name
--- is a Hub repo id whose model files are downloaded (or found in the cache) and the snapshot folder
--- is returned.
---@param name string local folder or "org/name"
---@param opts? {revision?:string, cache_dir?:string, endpoint?:string, offline?:boolean, progress?:boolean}
---@return string dir
function M.model_dir(name, opts)
  if type(name) ~= "string" or name == "" then
    error("ft.hub.model_dir: expected a folder or a repo id like 'org/name', got " .. type(name), 2)
  end
  local f = io.open(name .. "/config.json", "rb")
  if f then
    f:close()
    return name
  end
  if name:match("^[%.~/]") then
    error(string.format("ft.load: no config.json in folder '%s' (expected a Hugging Face model folder)", name), 2)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.include = o.include or M.model_patterns
  return (M.download(name, o))
end

return M
