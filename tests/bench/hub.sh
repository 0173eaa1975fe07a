#!/usr/bin/env bash
# Hub download benchmark (not a timed test: it prints ratios measured in the same run).
#  1. A 2 GiB LFS file from the loopback fake Hub: fthost download (sha256 verified, written to the
#     cache) vs `curl -o /dev/null` on the same CDN URL. Goal: fthost >= 0.9x curl.
#  2. The same server capping each connection (default 100 MiB/s) with a 1 GiB file: parallel byte
#     ranges (--connections 8) vs a single stream (--connections 1), and curl for reference.
# Env: FTHOST (default build/fthost), FTHOST_BUILD (default build), BENCH_SIZE (2G), BENCH_CAP (100M).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export FTHOST=${FTHOST:-$here/build/fthost} FTHOST_BUILD=${FTHOST_BUILD:-$here/build} FTHOST_SRC=$here
source "$here/tests/hub_server/hub_env.sh"
size_arg=${BENCH_SIZE:-2G}
cap=${BENCH_CAP:-100M}

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1048576 }'; }

bench_pair() {  # prints "curl_s fthost_s bytes" for the running server
  local url loc bytes t0 t1 t2 dir
  url="$HF_ENDPOINT/bench/big/resolve/main/model.bin"
  loc=$(curl -sI "$url" | tr -d '\r' | sed -n 's/^Location: //Ip')
  bytes=$(curl -sI "$url" | tr -d '\r' | sed -n 's/^X-Linked-Size: //Ip')
  t0=$(now)
  curl -s -o /dev/null "$loc"
  t1=$(now)
  rm -rf "$HF_HUB_CACHE"
  dir=$("$FTHOST" download bench/big --include model.bin --quiet "$@")
  t2=$(now)
  [[ $(stat -L -c %s "$dir/model.bin") -eq $bytes ]] || fail "fthost file has the wrong size"
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') $(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}') $bytes"
}

echo "== 1. $size_arg file, uncapped loopback: fthost (verify on) vs curl -o /dev/null"
start_fake_hub --big "$size_arg" --chunk 1M
read -r c f bytes < <(bench_pair)
echo "curl:   $(mbps "$bytes" "$c") MiB/s (${c}s)"
echo "fthost: $(mbps "$bytes" "$f") MiB/s (${f}s)"
echo "ratio fthost/curl: $(awk -v c="$c" -v f="$f" 'BEGIN { printf "%.2f", c / f }')  (goal >= 0.90)"
hub_cleanup
FAKE_HUB_PID=

echo "== 2. 1G file, server caps each connection at $cap/s: parallel ranges vs one stream"
start_fake_hub --big 1G --chunk 256K --rate "$cap"
read -r c f8 bytes < <(bench_pair --connections 8)
read -r _ f1 _ < <(bench_pair --connections 1)
echo "curl (1 connection):        $(mbps "$bytes" "$c") MiB/s"
echo "fthost --connections 1:     $(mbps "$bytes" "$f1") MiB/s"
echo "fthost --connections 8:     $(mbps "$bytes" "$f8") MiB/s"
echo "ratio ranges/single stream: $(awk -v a="$f1" -v b="$f8" 'BEGIN { printf "%.2f", a / b }')"
