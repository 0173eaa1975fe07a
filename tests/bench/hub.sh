#!/usr/bin/env bash
# Hub download benchmark (not a timed test: it prints ratios measured in the same run, plus the CPU
# seconds each side spent, since on a shared machine CPU cost decides the wall time).
#  1. A 2 GiB LFS file from the loopback fake Hub: fthost download (sha256 verified) vs
#     `curl -o /dev/null` on the same CDN URL. Goal: fthost >= 0.9x curl.
#     a) cache on tmpfs (/dev/shm): the download engine alone;  b) cache on disk, with curl also
#     writing its copy to the same disk.
#  2. The same server capping each connection (default 100 MiB/s), 1 GiB file: parallel byte ranges
#     (--connections 8) vs a single stream (--connections 1), curl for reference.
# Env: FTHOST (default build/fthost), FTHOST_BUILD (default build), BENCH_SIZE (2G), BENCH_CAP (100M).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export FTHOST=${FTHOST:-$here/build/fthost} FTHOST_BUILD=${FTHOST_BUILD:-$here/build} FTHOST_SRC=$here
source "$here/tests/hub_server/hub_env.sh"
size_arg=${BENCH_SIZE:-2G}
cap=${BENCH_CAP:-100M}
shm=/dev/shm/fthost-hub-bench.$$
trap 'rm -rf "$shm"; hub_cleanup' EXIT

mibps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1048576 }'; }
# timed CMD...: runs CMD, sets T_WALL and T_CPU (user+sys seconds), keeps CMD's stdout in T_OUT
timed() {
  local tf
  tf=$(mktemp)
  T_OUT=$(/usr/bin/time -f "%e %U %S" -o "$tf" "$@")
  read -r T_WALL u s <"$tf"
  T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
  rm -f "$tf"
}
cdn_url() { curl -sI "$HF_ENDPOINT/bench/big/resolve/main/model.bin" | tr -d '\r' | sed -n 's/^Location: //Ip'; }
file_size() { curl -sI "$HF_ENDPOINT/bench/big/resolve/main/model.bin" | tr -d '\r' | sed -n 's/^X-Linked-Size: //Ip'; }
fthost_run() {  # cache_dir, extra options...
  local cache=$1
  shift
  rm -rf "$cache"
  HF_HUB_CACHE=$cache timed "$FTHOST" download bench/big --include model.bin --quiet "$@"
  [[ $(stat -L -c %s "$T_OUT/model.bin") -eq $bytes ]] || fail "fthost file has the wrong size"
  rm -rf "$cache"
}
report() {  # label
  printf "%-34s %6s MiB/s  (%.2fs wall, %.2fs CPU)\n" "$1" "$(mibps "$bytes" "$T_WALL")" "$T_WALL" "$T_CPU"
}

echo "== 1. $size_arg file, uncapped loopback"
start_fake_hub --big "$size_arg" --chunk 1M
bytes=$(file_size)
url=$(cdn_url)
timed curl -s -o /dev/null "$url"; c_wall=$T_WALL; report "curl -o /dev/null"
fthost_run "$shm"; f_wall=$T_WALL; report "fthost (8 ranges), tmpfs, verified"
fthost_run "$shm" --connections 1; f1_wall=$T_WALL; report "fthost (1 stream), tmpfs, verified"
echo "ratio fthost/curl (tmpfs cache): 8 ranges $(awk -v c="$c_wall" -v f="$f_wall" 'BEGIN { printf "%.2f", c / f }'), 1 stream $(awk -v c="$c_wall" -v f="$f1_wall" 'BEGIN { printf "%.2f", c / f }')  (goal >= 0.90)"
timed curl -s -o "$HUB_WORK/curl.bin" "$url"; cd_wall=$T_WALL; report "curl -o file (disk)"
rm -f "$HUB_WORK/curl.bin"
fthost_run "$HUB_WORK/cache"; fd_wall=$T_WALL; report "fthost, cache on disk, verified"
echo "ratio fthost/curl (both writing to disk): $(awk -v c="$cd_wall" -v f="$fd_wall" 'BEGIN { printf "%.2f", c / f }')"
hub_cleanup
FAKE_HUB_PID=

echo "== 2. 1G file, server caps each connection at $cap/s (cache on tmpfs)"
start_fake_hub --big 1G --chunk 256K --rate "$cap"
bytes=$(file_size)
timed curl -s -o /dev/null "$(cdn_url)"; report "curl (1 connection)"
fthost_run "$shm" --connections 1; f1=$T_WALL; report "fthost --connections 1"
fthost_run "$shm" --connections 8; f8=$T_WALL; report "fthost --connections 8"
echo "ratio ranges/single stream: $(awk -v a="$f1" -v b="$f8" 'BEGIN { printf "%.2f", a / b }')"
