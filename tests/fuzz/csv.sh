#!/usr/bin/env bash
# Builds the CSV fuzz target (parser + row reader) with clang (libFuzzer + ASan + UBSan) from the
# torch-free data sources, then fuzzes it for FT_FUZZ_SECONDS if set, else <seconds> (default 30).
# Usage: csv.sh <work dir> [seconds]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
seconds=${FT_FUZZ_SECONDS:-${2:-30}}
source "$src/tests/fuzz/lib.sh"
fuzz_build "$work" csv "" core/fs.cpp data/csv.cpp data/json_line.cpp data/rows.cpp
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_csv" "$work/corpus" "$src/tests/fuzz/corpus/csv" -dict="$src/tests/fuzz/csv.dict" \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
