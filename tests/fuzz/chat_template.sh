#!/usr/bin/env bash
# Builds the chat-template fuzz target with clang (libFuzzer + ASan + UBSan) from the torch-free
# Jinja engine sources, then fuzzes it for FT_FUZZ_SECONDS (default 50) from the seed corpus (the
# chat templates under tests/data/chat plus tests/fuzz/corpus/chat_template).
# Usage: chat_template.sh <work dir>
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
seconds=${FT_FUZZ_SECONDS:-50}
source "$src/tests/fuzz/lib.sh"
fuzz_build "$work" chat_template libutf8proc \
  core/interrupt.cpp core/strings.cpp text/jinja_pystr.cpp text/jinja_value.cpp text/jinja_lexer.cpp \
  text/jinja_parser.cpp text/jinja_builtins.cpp text/jinja_eval.cpp text/chat_template.cpp
mkdir -p "$work/seeds"
cp "$src"/tests/data/chat/*.jinja "$work/seeds/"
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_chat_template" "$work/corpus" "$work/seeds" "$src/tests/fuzz/corpus/chat_template" \
  -dict="$src/tests/fuzz/chat_template.dict" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
