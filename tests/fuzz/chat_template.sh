#!/usr/bin/env bash
# Builds the chat-template fuzz target with clang (libFuzzer + ASan + UBSan) from the torch-free
# Jinja engine sources, then fuzzes it for FT_FUZZ_SECONDS (default 50) from the seed corpus (the
# chat templates under tests/data/chat plus tests/fuzz/corpus/chat_template).
# Usage: chat_template.sh <work dir>
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
seconds=${FT_FUZZ_SECONDS:-50}
mkdir -p "$work/objs" "$work/corpus" "$work/seeds"
cxx="clang++"
command -v ccache >/dev/null && cxx="ccache clang++"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -I"$src/host" $(pkg-config --cflags libutf8proc))
sources=(core/interrupt.cpp core/strings.cpp text/jinja_pystr.cpp text/jinja_value.cpp text/jinja_lexer.cpp
         text/jinja_parser.cpp text/jinja_builtins.cpp text/jinja_eval.cpp text/chat_template.cpp)
objs=()
for s in "${sources[@]}"; do
  o=$work/objs/${s//\//_}.o
  if [[ ! -f $o || $src/host/$s -nt $o || -n $(find "$src/host/text" "$src/host/core" -name '*.h' -newer "$o" -print -quit) ]]; then
    $cxx "${flags[@]}" -c "$src/host/$s" -o "$o"
  fi
  objs+=("$o")
done
$cxx "${flags[@]}" -fsanitize=fuzzer "$src/tests/fuzz/fuzz_chat_template.cpp" "${objs[@]}" \
  $(pkg-config --libs libutf8proc) -o "$work/fuzz_chat_template"
cp "$src"/tests/data/chat/*.jinja "$work/seeds/"
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_chat_template" "$work/corpus" "$work/seeds" "$src/tests/fuzz/corpus/chat_template" \
  -dict="$src/tests/fuzz/chat_template.dict" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
