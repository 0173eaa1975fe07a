#!/usr/bin/env bash
# Builds the tokenizer.json loader fuzz target with clang (libFuzzer + ASan + UBSan) from the
# torch-free text sources, then fuzzes it for FT_FUZZ_SECONDS (default 45) from the seed corpus.
# Usage: tokenizer_json.sh <work dir>
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
seconds=${FT_FUZZ_SECONDS:-45}
mkdir -p "$work/objs" "$work/corpus"
cxx="clang++"
command -v ccache >/dev/null && cxx="ccache clang++"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -I"$src/host" $(pkg-config --cflags oniguruma libutf8proc))
sources=(core/interrupt.cpp text/tokenizer.cpp text/utf8.cpp text/regex.cpp text/byte_level.cpp text/normalizer.cpp
         text/pre_tokenizer.cpp text/pattern.cpp text/added_vocab.cpp text/bpe_model.cpp text/decoder.cpp text/bpe_tokenizer.cpp)
objs=()
for s in "${sources[@]}"; do
  o=$work/objs/${s//\//_}.o
  if [[ ! -f $o || $src/host/$s -nt $o || -n $(find "$src/host/text" "$src/host/core" -name '*.h' -newer "$o" -print -quit) ]]; then
    $cxx "${flags[@]}" -c "$src/host/$s" -o "$o"
  fi
  objs+=("$o")
done
$cxx "${flags[@]}" -fsanitize=fuzzer "$src/tests/fuzz/fuzz_tokenizer_json.cpp" "${objs[@]}" \
  $(pkg-config --libs oniguruma libutf8proc) -o "$work/fuzz_tokenizer_json"
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_tokenizer_json" "$work/corpus" "$src/tests/fuzz/corpus/tokenizer_json" \
  -dict="$src/tests/fuzz/tokenizer_json.dict" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
