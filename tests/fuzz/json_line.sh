#!/usr/bin/env bash
# Builds the differential JSONL fast-path fuzz target (parse_json_fast vs nlohmann::json::parse) with
# clang (libFuzzer + ASan + UBSan), then fuzzes it for FT_FUZZ_SECONDS if set, else <seconds> (default 30).
# Usage: json_line.sh <work dir> [seconds]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
seconds=${FT_FUZZ_SECONDS:-${2:-30}}
source "$src/tests/fuzz/lib.sh"
fuzz_build "$work" json_line "" data/json_line.cpp
# New inputs go to the work corpus; the checked-in seeds are only read.
"$work/fuzz_json_line" "$work/corpus" "$src/tests/fuzz/corpus/json_line" -dict="$src/tests/fuzz/json_line.dict" \
  -max_total_time="$seconds" -max_len=1024 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 25
