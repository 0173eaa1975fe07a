#!/usr/bin/env bash
# Training benchmarks, ratios measured in one run: fused CPU AdamW vs torch::optim::AdamW on 32M
# parameters, and the fused step against a plain copy of the same bytes (the memory-bandwidth bound).
set -euo pipefail
FTHOST=${FTHOST:-build/fthost}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/bench.lua" <<'LUA'
local n = tonumber(ft.args.numel or 32 * 1024 * 1024)
local r = require("_ft.train").bench_adamw(n, ft.args.steps or 10)
print(string.format("adamw %d params, %d threads: fused %.1f ms, torch %.1f ms (%.2fx), copy of the same bytes %.1f ms",
  n, ft.threads(), r.fused_s * 1e3, r.torch_s * 1e3, r.torch_s / r.fused_s, r.copy_s * 1e3))
print(string.format("fused AdamW reaches %.0f%% of the copy bandwidth (%.1f GB/s vs %.1f GB/s)",
  100 * r.copy_s / r.fused_s, r.bytes_per_step / r.fused_s / 1e9, r.bytes_per_step / r.copy_s / 1e9))
LUA
"$FTHOST" "$tmp/bench.lua" "$@"
