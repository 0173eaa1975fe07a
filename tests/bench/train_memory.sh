#!/usr/bin/env bash
# `scripts/bench train` (memory part): peak resident memory (getrusage high-water mark, /usr/bin/time %M)
# of a LoRA step vs full fine-tuning of the same 21.9M-parameter model and batch as train_step.sh, each in
# its own process: fthost full, fthost LoRA (r 16, every projection), and the process with the model
# built but not trained (the baseline: program + libraries + weights), so the training-only part is
# visible. The same for the plain-PyTorch reference, for comparison. Prints MiB and the LoRA/full ratios.
# Env: FTHOST, BENCH_THREADS (default nproc), BENCH_MEM_STEPS (2).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FTHOST=${FTHOST:-$src/build/fthost}
threads=${BENCH_THREADS:-$(nproc)}
steps=${BENCH_MEM_STEPS:-2}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# peak_kib CMD...: runs CMD (output discarded) and prints its peak RSS in KiB.
peak_kib() {
  /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null
  cat "$work/rss"
}
lua=$src/tests/bench/train_step.lua
"$FTHOST" "$lua" --dir="$work/d" --variant=lora --steps=0 --warmup=1 --threads="$threads" >/dev/null  # files for PyTorch
base=$(peak_kib "$FTHOST" "$lua" --dir="$work/m" --variant=none --threads="$threads")
full=$(peak_kib "$FTHOST" "$lua" --dir="$work/m" --variant=full --steps="$steps" --warmup=0 --threads="$threads" --save=false)
lora=$(peak_kib "$FTHOST" "$lua" --dir="$work/m" --variant=lora --steps="$steps" --warmup=0 --threads="$threads" --save=false)
pfull=$(peak_kib "$py" "$src/tests/bench/train_step_ref.py" "$work/d" full "$steps" 0 "$threads")
plora=$(peak_kib "$py" "$src/tests/bench/train_step_ref.py" "$work/d" lora "$steps" 0 "$threads")
awk -v b="$base" -v f="$full" -v l="$lora" -v pf="$pfull" -v pl="$plora" -v s="$steps" 'BEGIN {
  m = 1024
  printf "peak RSS over %d steps: fthost full %.0f MiB, LoRA %.0f MiB = LoRA %.2fx of full\n", s, f / m, l / m, l / f
  printf "  above the untrained model (%.0f MiB): full +%.0f MiB, LoRA +%.0f MiB = LoRA %.2fx of full\n", b / m, (f - b) / m, (l - b) / m, (l - b) / (f - b)
  printf "PyTorch (same model and batch): full %.0f MiB, LoRA %.0f MiB = LoRA %.2fx of full; fthost/PyTorch: full %.2fx, LoRA %.2fx\n", pf / m, pl / m, pl / pf, f / pf, l / pl }'
