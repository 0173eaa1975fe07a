#!/usr/bin/env bash
# `scripts/bench train` (step part): one SFT optimizer step of a 21.9M-parameter llama model (hidden 512,
# 6 layers, 8/4 heads, SwiGLU 1408, vocab 4096, fp32, batch 8 x 128 tokens, AdamW, clipping at 1.0),
# fthost (tests/bench/train_step.lua) vs the same model and step in plain PyTorch Python
# (tests/bench/train_step_ref.py: Debian's python3-torch = the same LibTorch 1.13.1, same thread count),
# full fine-tuning and LoRA (r 16 on every projection). The PyTorch model loads the weights, adapter and
# batch fthost wrote, and the run fails unless both compute the same losses at every step (relative
# difference <= 1e-4), so the times compare the same work. Prints the median step time of each side
# (warmup steps dropped) and the ratio; goal fthost <= 0.9x PyTorch. Both sides alternate round by round
# so they see the same machine load. Two more lines separate what gives fthost its lead: fthost with
# FTHOST_CPU_MATMUL=blas (its linear layers on LibTorch's BLAS, as PyTorch's are, instead of oneDNN:
# host/model/cpu_matmul.h), and PyTorch with fthost's OpenMP setting (GOMP_SPINCOUNT=3000,
# host/runtime/cpu_defaults.cpp). Both sides run with the environment's OPENBLAS_CORETYPE as it is.
# Env: FTHOST, BENCH_THREADS (default nproc), BENCH_STEPS (5), BENCH_WARMUP (2), BENCH_ROUNDS (1),
#      BENCH_VARIANTS ("full lora").
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FTHOST=${FTHOST:-$src/build/fthost}
threads=${BENCH_THREADS:-$(nproc)}
steps=${BENCH_STEPS:-5}
warmup=${BENCH_WARMUP:-2}
rounds=${BENCH_ROUNDS:-1}
variants=${BENCH_VARIANTS:-full lora}
py=/usr/bin/python3
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "bench train_step: python3-torch is missing; run scripts/install-deps --bench" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "$("$FTHOST" -v | grep -E '^(LibTorch|BLAS)') | PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
echo "threads: $threads; steps timed: $steps after $warmup warmup, $rounds round(s); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for v in $variants; do
  d=$work/$v
  : >"$work/ft_$v.times"
  : >"$work/pt_$v.times"
  : >"$work/pp_$v.times"
  : >"$work/fb_$v.times"
  for ((r = 1; r <= rounds; r++)); do
    "$FTHOST" "$src/tests/bench/train_step.lua" --dir="$d" --variant="$v" --steps="$steps" --warmup="$warmup" \
      --threads="$threads" >"$work/ft_$v.log"
    "$py" "$src/tests/bench/train_step_ref.py" "$d" "$v" "$steps" "$warmup" "$threads" \
      >"$work/pt_$v.log"
    tail -n +$((warmup + 1)) "$d/fthost_$v.txt" | awk '{print $2}' >>"$work/ft_$v.times"
    tail -n +$((warmup + 1)) "$d/torch_$v.txt" | awk '{print $2}' >>"$work/pt_$v.times"
    # Losses of every step, both sides: the same model, data and update, or no comparison.
    paste "$d/fthost_$v.txt" "$d/torch_$v.txt" | awk -v v="$v" '
      { d = ($1 - $3) / ($3 == 0 ? 1 : $3); d = d < 0 ? -d : d; if (d > m) m = d; n++; first = first == "" ? $1 " vs " $3 : first }
      END { printf "%s: losses of %d steps agree within %.1e relative (step 1: fthost %s)\n", v, n, m, first
            if (m > 1e-4 || n == 0) { print "bench train_step: fthost and PyTorch losses differ; the comparison is void" > "/dev/stderr"; exit 1 } }'
    FTHOST_CPU_MATMUL=blas "$FTHOST" "$src/tests/bench/train_step.lua" --dir="$d" --variant="$v" --steps="$steps" \
      --warmup="$warmup" --threads="$threads" --save=false >/dev/null
    tail -n +$((warmup + 1)) "$d/fthost_$v.txt" | awk '{print $2}' >>"$work/fb_$v.times"
    GOMP_SPINCOUNT=3000 "$py" "$src/tests/bench/train_step_ref.py" "$d" "$v" "$steps" "$warmup" "$threads" \
      >/dev/null
    tail -n +$((warmup + 1)) "$d/torch_$v.txt" | awk '{print $2}' >>"$work/pp_$v.times"
  done
  head -1 "$work/ft_$v.log"
  head -1 "$work/pt_$v.log"
  median() { sort -g "$1" | awk '{a[NR] = $1} END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
  ft=$(median "$work/ft_$v.times") pt=$(median "$work/pt_$v.times") pp=$(median "$work/pp_$v.times")
  fb=$(median "$work/fb_$v.times")
  awk -v v="$v" -v ft="$ft" -v pt="$pt" -v pp="$pp" -v fb="$fb" 'BEGIN {
    printf "%s step: fthost %.3f s, PyTorch %.3f s (median) = fthost %.2fx the time of PyTorch (goal <= 0.90)\n", v, ft, pt, ft / pt
    printf "%s step: fthost with FTHOST_CPU_MATMUL=blas %.3f s = %.2fx of PyTorch\n", v, fb, fb / pt
    printf "%s step: PyTorch with GOMP_SPINCOUNT=3000 %.3f s = fthost %.2fx of that\n", v, pp, ft / pp }'
done
