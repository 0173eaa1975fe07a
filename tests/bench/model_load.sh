#!/usr/bin/env bash
# Model-load benchmark (not a timed test: it prints ratios measured in the same run). Writes a >= 1 GB
# fp32 safetensors checkpoint to a temp folder, warms the page cache, then compares
#   `cat file >/dev/null`                      (reading every byte once: the floor)
#   ft_bench_safetensors load file             (mmap + validate + read every tensor, as model loading)
# The loader's time is reported three ways: measured inside the process (load_safetensors + a sum over
# every tensor), the whole process's wall time, and that wall time minus the same process loading a
# one-tensor file (the fixed cost of starting a LibTorch program, which cat does not pay).
# Goals: load time <= 1.5x cat, peak RSS <= 1.2x the file size. Best of BENCH_RUNS (3) runs each.
# Env: FTHOST_BUILD (default build), BENCH_LOAD_BYTES (default 1100000000), BENCH_TMP (default $TMPDIR).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${FTHOST_BUILD:-$here/build}
bytes=${BENCH_LOAD_BYTES:-1100000000}
runs=${BENCH_RUNS:-3}
tool=$build/tests/bench/ft_bench_safetensors
cmake --build "$build" --target ft_bench_safetensors >/dev/null 2>&1
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/ft_bench_load.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
file=$tmp/model.safetensors
"$tool" write "$file" "$bytes"
"$tool" tiny "$tmp/tiny.safetensors"  # the start-up baseline
size=$(stat -c %s "$file")
cat "$file" >/dev/null  # warm the page cache

best() { sort -g | head -n1; }
# Wall time of whole processes (the loader pays for starting LibTorch too); peak RSS from getrusage.
cat_s=$(for _ in $(seq "$runs"); do
  t0=$(date +%s.%N); cat "$file" >/dev/null; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
done | best)
load_lines=$(for _ in $(seq "$runs"); do
  t0=$(date +%s.%N); line=$("$tool" load "$file"); t1=$(date +%s.%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $line"
done)
echo "$load_lines" | sed 's/^/  run: wall_s=/'
wall_s=$(echo "$load_lines" | awk '{print $1}' | best)
inproc_s=$(echo "$load_lines" | sed -n 's/.*load_s=\([0-9.]*\).*/\1/p' | best)
start_s=$(for _ in $(seq "$runs"); do
  t0=$(date +%s.%N); "$tool" load "$tmp/tiny.safetensors" >/dev/null; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
done | best)
rss_kib=$(echo "$load_lines" | sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p' | sort -g | head -n1)
awk -v c="$cat_s" -v i="$inproc_s" -v w="$wall_s" -v st="$start_s" -v r="$rss_kib" -v s="$size" 'BEGIN {
  printf "file: %.3f GB fp32 safetensors\n", s / 1e9
  printf "cat file >/dev/null (warm): %.3f s\n", c
  printf "load, in process (mmap + validate + read every tensor): %.3f s  ratio %.2fx (goal <= 1.5x)\n", i, i / c
  printf "load, process wall: %.3f s; LibTorch program start (1-tensor file): %.3f s; difference %.3f s  ratio %.2fx\n", w, st, w - st, (w - st) / c
  printf "peak RSS: %.3f GB  ratio %.2fx file size (goal <= 1.2x)\n", r * 1024 / 1e9, r * 1024 / s
}'
