#!/usr/bin/env bash
# Builds the tokenizer.json loader fuzz target with clang (libFuzzer + ASan + UBSan) from the
# torch-free text sources, then fuzzes it for FT_FUZZ_SECONDS (default 45) from the seed corpus.
# Usage: tokenizer_json.sh <work dir>
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
seconds=${FT_FUZZ_SECONDS:-45}
source "$src/tests/fuzz/lib.sh"
fuzz_build "$work" tokenizer_json "oniguruma libutf8proc" \
  core/interrupt.cpp text/tokenizer.cpp text/utf8.cpp text/regex.cpp text/byte_level.cpp text/normalizer.cpp \
  text/pre_tokenizer.cpp text/pattern.cpp text/added_vocab.cpp text/bpe_model.cpp text/decoder.cpp \
  text/bpe_tokenizer.cpp
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_tokenizer_json" "$work/corpus" "$src/tests/fuzz/corpus/tokenizer_json" \
  -dict="$src/tests/fuzz/tokenizer_json.dict" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
