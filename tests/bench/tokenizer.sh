#!/usr/bin/env bash
# `scripts/bench tokenizer`: encode throughput of fthost's tokenizer against transformers.js on the
# conformance corpus (same corpus, same machine, same run), single-threaded, and encode_batch scaling
# with threads. Prints ratios; never fails on speed.
# Env: FTHOST_BUILD (scripts/bench sets it) or FT_BUILD_DIR (default build); BENCH_REPS (default 5).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FTHOST_BUILD:-${FT_BUILD_DIR:-build}}
[[ $build == /* ]] || build=$src/$build
reps=${BENCH_REPS:-5}  # passes per measurement; the fastest counts
peer=$src/tests/conformance/tokenizers
tool=$build/tests/conformance/tokenizers/tok_tool
if [[ ! -x $tool ]]; then
  (cd "$src" && FT_BUILD_DIR=$build FT_BUILD_TARGETS=tok_tool scripts/build >/dev/null)
fi
if [[ ! -d $peer/node_modules/@huggingface/transformers ]]; then
  echo "bench tokenizer: $peer/node_modules missing; run scripts/install-deps" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$peer/gen_corpus.mjs" "$work/corpus.json" 20241121 6000 >/dev/null
cores=$(nproc)
threads=(1 2 4 8)
echo "corpus: 6006 strings (tests/conformance/tokenizers/gen_corpus.mjs, seed 20241121); $cores cores; fastest of $reps passes each"
for model in tokenizer-qwen2_5 tokenizer-llama3; do
  dir=$peer/node_modules/@lenml/$model/models
  js=$(cd "$peer" && node bench.mjs "$dir" "$work/corpus.json" "$reps")
  ft=$("$tool" bench "$dir" "$work/corpus.json" "$reps" "${threads[@]}")
  node -e '
    const js = JSON.parse(process.argv[1]), ft = JSON.parse(process.argv[2]), name = process.argv[3];
    const mb = (s) => (ft.bytes / s / 1e6).toFixed(2) + " MB/s";
    console.log(`${name}: ${ft.bytes} bytes, ${ft.tokens} tokens`);
    console.log(`  transformers.js  1 thread : ${mb(js.single_s)}`);
    console.log(`  fthost encode    1 thread : ${mb(ft.single_s)}  = ${(js.single_s / ft.single_s).toFixed(1)}x transformers.js`);
    for (const k of Object.keys(ft).filter((k) => k.startsWith("batch_"))) {
      const n = k.split("_")[1];
      console.log(`  fthost encode_batch ${n.padStart(2)} thr: ${mb(ft[k])}  = ${(ft.single_s / ft[k]).toFixed(2)}x single, ${(js.single_s / ft[k]).toFixed(1)}x transformers.js`);
    }
    if (js.tokens !== ft.tokens) console.log(`  WARNING: token counts differ (${js.tokens} vs ${ft.tokens})`);
  ' "$js" "$ft" "$model"
done
