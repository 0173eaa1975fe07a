#!/usr/bin/env bash
# `scripts/bench model`: CPU generation speed of fthost against llama.cpp (node-llama-cpp, prebuilt CPU)
# on the same ~100M-parameter random model (qwen2 arch: hidden 768, 12 layers, 12 heads / 4 kv heads,
# intermediate 2048, vocab 32000, tied), exported by fthost to an f32 GGUF, greedy, 16-token prompts,
# 64 new tokens, batch 1 and batch 8, the same thread count for both. Prints tokens/s and the ratio;
# never fails on speed. Goal: fthost >= 0.5x llama.cpp at f32.
# Env: FTHOST_BUILD or FT_BUILD_DIR (default build), BENCH_THREADS (default nproc), BENCH_NEW_TOKENS (default 64).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FTHOST_BUILD:-${FT_BUILD_DIR:-build}}
[[ $build == /* ]] || build=$src/$build
threads=${BENCH_THREADS:-$(nproc)}
n=${BENCH_NEW_TOKENS:-64}
peer=$src/tests/conformance/llama
tool=$build/tests/conformance/llama/model_tool
if [[ ! -x $tool ]]; then
  (cd "$src" && FT_BUILD_DIR=$build FT_BUILD_TARGETS=model_tool scripts/build >/dev/null)
fi
if [[ ! -d $peer/node_modules/node-llama-cpp ]]; then
  echo "bench model: $peer/node_modules missing; run scripts/install-deps" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shape=(arch=qwen2 hidden=768 layers=12 heads=12 kv_heads=4 intermediate=2048 vocab=32000 seed=1 init_std=0.02)
"$tool" "${shape[@]}" gguf="$work/m.gguf" type=f32 n=0 >/dev/null
# LibTorch's matmuls go through the system libblas.so.3 (Debian alternatives): the reference BLAS is
# many times slower than OpenBLAS (package libopenblas0-pthread), so say which one this run used.
blas=$(ldd "$tool" | awk '/libblas.so.3/ {print $3}')
echo "model: ${shape[*]}; f32; $threads threads; prompt 16 tokens, $n new tokens per sequence, greedy"
echo "BLAS: ${blas:-?} -> $(readlink -f "${blas:-/dev/null}"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for batch in 1 8; do
  ft=$("$tool" "${shape[@]}" bench=1 batch=$batch n=$n threads=$threads prompt_len=16)
  ll=$(cd "$peer" && node bench.mjs "$work/m.gguf" $batch $n $threads 16)
  node -e '
    const ft = JSON.parse(process.argv[1]), ll = JSON.parse(process.argv[2]);
    console.log(`batch ${ft.batch}: fthost ${ft.tok_s.toFixed(1)} tok/s, llama.cpp ${ll.tok_s.toFixed(1)} tok/s` +
                ` = ${(ft.tok_s / ll.tok_s).toFixed(2)}x llama.cpp (params ${(ft.params / 1e6).toFixed(1)}M)`);
  ' "$ft" "$ll"
done
