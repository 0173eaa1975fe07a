-- Downloads a model from the Hugging Face Hub into the same cache Python's huggingface_hub uses
-- (HF_HOME / HF_HUB_CACHE, HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE are honoured), then lists the cache.
--
--   fthost examples/download.lua --repo=Qwen/Qwen2.5-0.5B-Instruct
--   fthost examples/download.lua --repo=org/name --revision=v1.0 --include=*.json
-- (the CLI equivalent: fthost download org/name --include "*.json")
local ft = require "ft"
local repo = ft.args.repo or error("usage: fthost examples/download.lua --repo=org/name [--revision=] [--include=]", 0)

-- Weights, config and tokenizer only: skip other formats a repo may carry.
local dir, stats = ft.hub.download(repo, {
  revision = ft.args.revision,
  include = ft.args.include or { "*.json", "*.safetensors", "tokenizer*", "*.jinja" },
})
print("snapshot: " .. dir)
print(string.format("%d files fetched, %d already cached", stats.files_fetched, stats.files_cached or 0))

for _, r in ipairs(ft.hub.cache_info()) do
  print(string.format("%-50s %10.1f MiB  %d revision(s)", r.repo_id, r.size_on_disk / 2 ^ 20, #r.revisions))
end
