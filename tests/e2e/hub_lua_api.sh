#!/usr/bin/env bash
# The Lua API and CLI over the loopback Hub: ft.hub.download with include/exclude and revision,
# ft.hub.file, ft.hub.cache_info sizes, ft.hub.model_dir (what ft.load uses), option errors naming the
# nearest key, and `fthost download` exit codes and messages for a missing repo, a gated repo (how to
# log in, token never printed) and no network with nothing cached.
source "$FTHOST_SRC/tests/hub_server/hub_env.sh"
start_fake_hub
cat >"$HUB_WORK/t.lua" <<'LUA'
local ft = require "ft"
local function eq(a, b, what)
  if a ~= b then error(string.format("%s: expected %s, got %s", what, tostring(b), tostring(a)), 2) end
end
local function read(p) local f = assert(io.open(p, "rb")); local s = f:read("*a"); f:close(); return s end

local dir, st = ft.hub.download("acme/tiny", { include = { "*.json" }, progress = false })
eq(dir:match("models%-%-acme%-%-tiny/snapshots/(%x+)$") ~= nil, true, "snapshot dir " .. dir)
eq(read(dir .. "/config.json"):match('"layers": 2') ~= nil, true, "main config")
eq(io.open(dir .. "/model.safetensors") == nil, true, "include filtered the weights")
eq(st.files_fetched, 2, "files fetched")
local cfg_v1 = ft.hub.file("acme/tiny", "config.json", { revision = "v1.0", progress = false })
eq(read(cfg_v1):match('"layers"') == nil, true, "v1.0 config")
local d2 = ft.hub.download("acme/tiny", { exclude = "weights/*", progress = false })
eq(d2, dir, "same snapshot")
eq(io.open(d2 .. "/weights/big.bin") == nil, true, "exclude")
eq(io.open(d2 .. "/sub/dir/notes.txt") ~= nil, true, "nested file")
eq(ft.hub.model_dir("acme/tiny", { progress = false }), dir, "model_dir(repo id)")
eq(ft.hub.model_dir(dir), dir, "model_dir(local folder)")

local info = ft.hub.cache_info()
eq(#info, 1, "one cached repo")
eq(info[1].repo_id, "acme/tiny", "repo id")
local total = 0
for _, rev in ipairs(info[1].revisions) do
  for _, f in ipairs(rev.files) do
    local h = io.popen("stat -L -c %s '" .. info[1].path .. "/snapshots/" .. rev.commit .. "/" .. f .. "'")
    total = total + tonumber(h:read("*l")); h:close()
  end
end
-- config.json differs between v1.0 and main; every other cached file is a distinct blob once.
eq(info[1].size_on_disk, total, "cache size equals the bytes of the cached files")
eq(#info[1].revisions, 2, "two revisions cached")

local files = ft.hub.list_files("acme/tiny")
local big
for _, f in ipairs(files) do if f.path == "weights/big.bin" then big = f end end
eq(#files, 7, "list_files count")
eq(big.size, 3 * 1024 * 1024 + 12345, "list_files size")
eq(#big.lfs, 64, "list_files lfs sha256")
eq(dir:sub(-40), ft.hub.repo_info("acme/tiny").sha, "repo_info sha is the snapshot commit")

local ok, err = pcall(ft.hub.download, "acme/tiny", { inclde = { "*.json" } })
eq(ok, false, "unknown option fails")
eq(tostring(err):find("unknown option 'inclde' (did you mean 'include'?)", 1, true) ~= nil, true, tostring(err))
ok, err = pcall(ft.hub.download, "acme/tiny", { allow_patterns = { "x" } })
eq(tostring(err):find("did you mean 'include'", 1, true) ~= nil, true, tostring(err))
ok, err = pcall(ft.hub.file, "acme/tiny", "nope.json", { progress = false })
eq(tostring(err):find("file 'nope.json' not found in repo 'acme/tiny' at revision 'main'", 1, true) ~= nil, true, tostring(err))
local s = ft.hub.settings()
eq(s.cache_dir, os.getenv("HF_HUB_CACHE"), "settings.cache_dir")
eq(s.has_token, false, "no token")
print("lua api ok")
LUA
out=$("$FTHOST" "$HUB_WORK/t.lua" 2>&1) || fail "Lua API test: $out"
grep -q "lua api ok" <<<"$out" || fail "Lua API test: $out"

set +e
msg=$("$FTHOST" download acme/missing --quiet 2>&1); rc=$?
[[ $rc -eq 1 && $msg == *"repo 'acme/missing' not found"* ]] || fail "missing repo: rc=$rc $msg"
msg=$(HF_TOKEN=hf_secret_should_not_leak "$FTHOST" download acme/gated --quiet 2>&1); rc=$?
[[ $rc -eq 1 && $msg == *"is gated"* && $msg == *"HTTP 403"* ]] || fail "gated with a bad token: rc=$rc $msg"
[[ $msg != *hf_secret_should_not_leak* ]] || fail "the token was printed: $msg"
msg=$("$FTHOST" download acme/gated --quiet 2>&1); rc=$?
[[ $rc -eq 1 && $msg == *"HTTP 401"* && $msg == *"HF_TOKEN"* ]] || fail "gated without a token: rc=$rc $msg"
out=$(HF_TOKEN=hf_fthost_test_token "$FTHOST" download acme/gated --quiet 2>&1); rc=$?
[[ $rc -eq 0 && -f $out/model.safetensors ]] || fail "gated with the right token: rc=$rc $out"
msg=$(HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_ETAG_TIMEOUT=1 "$FTHOST" download acme/other --quiet 2>&1); rc=$?
[[ $rc -eq 1 && $msg == *"no network"* && $msg == *"no snapshot of 'acme/other'"* ]] || fail "no network: rc=$rc $msg"
msg=$("$FTHOST" download --bogus 2>&1); rc=$?
[[ $rc -eq 2 && $msg == *"unknown option '--bogus'"* ]] || fail "usage error: rc=$rc $msg"
set -e
[[ $(hub_stat cdn_auth_seen) -eq 0 ]] || fail "a token reached the CDN"
echo "PASS: Lua API and CLI over the loopback Hub"
