#!/usr/bin/env bash
# Builds one io fuzz target (safetensors_header | gguf_reader) with clang (libFuzzer + ASan + UBSan)
# from the torch-free io sources, then fuzzes it from the seed corpus for FT_FUZZ_SECONDS if set, else
# <seconds> (default 60). Usage: io.sh <target> <work dir> [seconds]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
target=$1
work=$2
seconds=${FT_FUZZ_SECONDS:-${3:-60}}
case $target in
  safetensors_header) sources=(core/strings.cpp io/safetensors_header.cpp) ;;
  gguf_reader) sources=(io/gguf_reader.cpp io/gguf_quant.cpp) ;;
  *) echo "io.sh: unknown target '$target'" >&2; exit 2 ;;
esac
source "$src/tests/fuzz/lib.sh"
fuzz_build "$work" "$target" "" "${sources[@]}"
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_$target" "$work/corpus" "$src/tests/fuzz/corpus/$target" -max_total_time="$seconds" -max_len=8192 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
