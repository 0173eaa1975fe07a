#!/usr/bin/env bash
# Dataset reading, ratios measured in one run: rows per second of fthost's streamed JSONL and CSV readers
# (ft.data.load(path, { stream = true }):count(): parse every row into a Lua table, in chunks) against
# Python's standard library on the same files (json.loads per line; csv.DictReader), and the peak RSS
# growth of the streamed read. Usage: scripts/bench data [rows] (default 400000, ~60 MB of JSONL).
set -euo pipefail
FTHOST=${FTHOST:-build/fthost}
rows=${1:-400000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" "$rows" <<'PY'
import csv, json, sys
d, n = sys.argv[1], int(sys.argv[2])
with open(f"{d}/d.jsonl", "w") as j, open(f"{d}/d.csv", "w", newline="") as c:
    w = csv.writer(c)
    w.writerow(["prompt", "completion"])
    for i in range(n):
        p = f"Question {i}: what is {i} + {i * 7 % 1000}, and why? Say it \"plainly\", with commas."
        a = f"The answer is {i + i * 7 % 1000}.\nIt follows from adding the two numbers."
        j.write(json.dumps({"prompt": p, "completion": a}) + "\n")
        w.writerow([p, a])
PY
cat >"$tmp/fthost.lua" <<'LUA'
local path = ft.args[1]
local function kb(key)
  local f = assert(io.open("/proc/self/status"))
  local v = tonumber(f:read("*a"):match(key .. ":%s*(%d+)"))
  f:close()
  return v
end
collectgarbage()
assert(io.open("/proc/self/clear_refs", "w")):write("5")
local base = kb("VmRSS")
local best, n = math.huge, 0
for _ = 1, 3 do
  local t0 = os.clock()
  n = ft.data.load(path, { stream = true }):count()
  best = math.min(best, os.clock() - t0)
end
print(string.format("%d %.4f %.1f", n, best, (kb("VmHWM") - base) / 1024))
LUA
cat >"$tmp/peer.py" <<'PY'
import csv, json, sys, time
path = sys.argv[1]
best = float("inf")
for _ in range(3):
    t0 = time.process_time()
    with open(path, newline="") as f:
        n = sum(1 for _ in csv.DictReader(f)) if path.endswith(".csv") else sum(1 for l in f if json.loads(l))
    best = min(best, time.process_time() - t0)
print(n, f"{best:.4f}")
PY
for kind in jsonl csv; do
  f=$tmp/d.$kind
  read -r n1 t1 rss < <("$FTHOST" "$tmp/fthost.lua" "$f")
  read -r n2 t2 < <(python3 "$tmp/peer.py" "$f")
  [[ $n1 == "$n2" ]] || { echo "row counts differ: fthost $n1, python $n2" >&2; exit 1; }
  mb=$(($(stat -c %s "$f") / 1000000))
  awk -v k="$kind" -v n="$n1" -v t1="$t1" -v t2="$t2" -v mb="$mb" -v rss="$rss" 'BEGIN {
    printf "%s %d rows (%d MB): fthost stream %.0f krows/s (%.0f MB/s), python %.0f krows/s: %.2fx; peak RSS growth %.1f MB\n",
      k, n, mb, n / t1 / 1e3, mb / t1, n / t2 / 1e3, t2 / t1, rss }'
done
