#!/usr/bin/env bash
# Builds one io fuzz target (safetensors_header | gguf_reader) with clang (libFuzzer + ASan + UBSan)
# from the torch-free io sources, then fuzzes it from the seed corpus for FT_FUZZ_SECONDS if set, else
# <seconds> (default 60). Usage: io.sh <target> <work dir> [seconds]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
target=$1
work=$2
seconds=${FT_FUZZ_SECONDS:-${3:-60}}
mkdir -p "$work/objs" "$work/corpus"
cxx="clang++"
command -v ccache >/dev/null && cxx="ccache clang++"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I"$src/host")
case $target in
  safetensors_header) sources=(core/strings.cpp io/safetensors_header.cpp) ;;
  gguf_reader) sources=(io/gguf_reader.cpp io/gguf_quant.cpp) ;;
  *) echo "io.sh: unknown target '$target'" >&2; exit 2 ;;
esac
objs=()
for s in "${sources[@]}"; do
  o=$work/objs/${s//\//_}.o
  if [[ ! -f $o || $src/host/$s -nt $o || -n $(find "$src/host/io" "$src/host/core" -name '*.h' -newer "$o" -print -quit) ]]; then
    $cxx "${flags[@]}" -c "$src/host/$s" -o "$o"
  fi
  objs+=("$o")
done
$cxx "${flags[@]}" -fsanitize=fuzzer "$src/tests/fuzz/fuzz_$target.cpp" "${objs[@]}" -o "$work/fuzz_$target"
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_$target" "$work/corpus" "$src/tests/fuzz/corpus/$target" -max_total_time="$seconds" -max_len=8192 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
