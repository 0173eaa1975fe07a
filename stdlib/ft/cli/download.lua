--- `fthost download org/name [--revision R] [--include PAT]... [--exclude PAT]...`: fills the Hugging
--- Face cache (HF_HOME / HF_HUB_CACHE) like `huggingface-cli download`, and prints the snapshot folder.
local usage = [[
usage: fthost download REPO_ID [FILE...] [options]

Downloads a Hugging Face Hub repo (or only FILE... from it) into the shared cache
($HF_HUB_CACHE, default ~/.cache/huggingface/hub) and prints the local folder (or file paths).
Partial downloads resume; blobs are verified (sha256 / git-sha1) before use.

options:
  --revision R        branch, tag or commit (default: main)
  --include PAT       only files matching this fnmatch pattern (repeatable; '*' matches '/')
  --exclude PAT       skip files matching this pattern (repeatable)
  --repo-type T       model (default), dataset or space
  --cache-dir DIR     cache folder (default: $HF_HUB_CACHE)
  --workers N         files fetched at once (default 8)
  --connections N     parallel byte ranges per large file (default 8)
  --offline           answer from the cache only (also: HF_HUB_OFFLINE=1)
  --quiet             no progress output
  --stats             print transfer totals (bytes fetched / resumed) on stderr

environment: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN (or $HF_HOME/token), HF_HUB_OFFLINE,
             HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT]]

local function parse(args)
  local o = { include = {}, exclude = {}, files = {} }
  local i = 1
  local function value(name)
    local v = args[i + 1]
    if v == nil then error({ usage_error = "option " .. name .. " needs a value" }) end
    i = i + 1
    return v
  end
  local function int(name)
    local v = value(name)
    local n = tonumber(v)
    if not n or n < 1 or n ~= math.floor(n) then
      error({ usage_error = "option " .. name .. " needs a positive integer, got '" .. v .. "'" })
    end
    return n
  end
  while i <= #args do
    local a = args[i]
    local key, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    if key then
      table.insert(args, i + 1, inline)
      a = key
    end
    if a == "--revision" then o.revision = value(a)
    elseif a == "--include" then o.include[#o.include + 1] = value(a)
    elseif a == "--exclude" then o.exclude[#o.exclude + 1] = value(a)
    elseif a == "--repo-type" then o.repo_type = value(a)
    elseif a == "--cache-dir" then o.cache_dir = value(a)
    elseif a == "--workers" then o.workers = int(a)
    elseif a == "--connections" then o.connections = int(a)
    elseif a == "--offline" then o.offline = true
    elseif a == "--quiet" then o.quiet = true
    elseif a == "--stats" then o.stats = true
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 2) == "--" then
      error({ usage_error = "unknown option '" .. a .. "'" })
    elseif not o.repo then o.repo = a
    else o.files[#o.files + 1] = a
    end
    i = i + 1
  end
  return o
end

local function main(args)
  local ok, o = pcall(parse, args)
  if not ok then
    if type(o) == "table" and o.usage_error then
      io.stderr:write("fthost download: ", o.usage_error, "\nhint: see fthost help download\n")
      return 2
    end
    error(o, 0)
  end
  if o.help then
    io.write(usage, "\n")
    return 0
  end
  if not o.repo then
    io.stderr:write("fthost download: a repo id is required, e.g. fthost download Qwen/Qwen2.5-0.5B-Instruct\n")
    return 2
  end
  local hub = require "ft.hub"
  local common = {
    revision = o.revision, repo_type = o.repo_type, cache_dir = o.cache_dir, offline = o.offline,
    progress = not o.quiet, connections = o.connections,
  }
  local total = { network_bytes = 0, resumed_bytes = 0, files_fetched = 0, files_cached = 0, retries = 0, seconds = 0 }
  local function add(s)
    for k in pairs(total) do total[k] = total[k] + (s[k] or 0) end
  end
  local run_ok, err = pcall(function()
    if #o.files > 0 then
      for _, f in ipairs(o.files) do
        local path, s = hub.file(o.repo, f, common)
        add(s)
        io.write(path, "\n")
      end
    else
      common.workers = o.workers
      common.include = #o.include > 0 and o.include or nil
      common.exclude = #o.exclude > 0 and o.exclude or nil
      local dir, s = hub.download(o.repo, common)
      add(s)
      io.write(dir, "\n")
    end
  end)
  if not run_ok then
    local msg = tostring(type(err) == "table" and err.message or err)
    -- The CLI user needs the message, not the Lua position or the native function's name.
    msg = msg:gsub("^[^\n]-%.lua:%d+: ", ""):gsub("^ft%.hub%.%a+: ", "")
    io.stderr:write("fthost download: ", msg, "\n")
    return 1
  end
  if o.stats then
    io.stderr:write(string.format(
      "hub stats: network_bytes=%d resumed_bytes=%d files_fetched=%d files_cached=%d retries=%d seconds=%.3f\n",
      total.network_bytes, total.resumed_bytes, total.files_fetched, total.files_cached, total.retries,
      total.seconds))
  end
  return 0
end

return { summary = "download a Hugging Face Hub repo into the shared cache (resumable, verified)",
  usage = usage, main = main }
