#!/usr/bin/env bash
# fthost's CPU performance settings: the oneDNN linear layers and the allocation cache (both named by
# --version, both switchable, bad values rejected before any work), and the same training losses with
# either matmul backend.
source "$(dirname "$0")/lib.sh"
T=$E2E_TMP

run "$FTHOST" --version
expect_rc "--version" 0
expect_out "--version names the linear backend" "CPU fp32 linear layers: oneDNN "
expect_out "--version names the allocation cache" "CPU allocation cache: up to "

run env FTHOST_CPU_MATMUL=blas FTHOST_CPU_CACHE=0 "$FTHOST" --version
expect_out "FTHOST_CPU_MATMUL=blas is reported" "CPU fp32 linear layers: LibTorch's BLAS (FTHOST_CPU_MATMUL=blas"
expect_out "FTHOST_CPU_CACHE=0 is reported" "CPU allocation cache: off"

run env FTHOST_CPU_CACHE=512M "$FTHOST" --version
expect_out "FTHOST_CPU_CACHE=512M is the limit" "up to 512 MiB"

run env FTHOST_CPU_MATMUL=mkl "$FTHOST" -e 'print("ran")'
expect_rc "bad FTHOST_CPU_MATMUL" 1
expect_err "bad FTHOST_CPU_MATMUL names the variable and the choices" "FTHOST_CPU_MATMUL: expected onednn or blas, found 'mkl'"
[[ $OUT != *ran* ]] && ok "bad FTHOST_CPU_MATMUL stops before the code runs" || bad "the code ran"

run env FTHOST_CPU_CACHE=lots "$FTHOST" -e 'print("ran")'
expect_rc "bad FTHOST_CPU_CACHE" 1
expect_err "bad FTHOST_CPU_CACHE names the value" "FTHOST_CPU_CACHE: expected a byte count such as 0, 512M or 4G, found 'lots'"

# The same three SFT steps through oneDNN and through LibTorch's BLAS: losses agree to float rounding.
cat >"$T/steps.lua" <<'LUA'
local m = ft.new { arch = "llama", hidden = 64, layers = 2, heads = 4, kv_heads = 2, intermediate = 128, seed = 7 }
m:lora { r = 4, alpha = 8, targets = "all-linear", seed = 1 }
local rows = {}
for i = 1, 8 do rows[i] = { text = string.rep(string.char(96 + i), 20 + i) } end
local run = ft.sft { model = m, data = rows, batch_size = 4, max_len = 32, lr = 1e-3, max_steps = 3, log = false,
  shuffle = false }
run:step(3)
print(string.format("%.9g", run.loss))
LUA
run "$FTHOST" "$T/steps.lua"
expect_rc "SFT steps with oneDNN" 0
a=$OUT
run env FTHOST_CPU_MATMUL=blas "$FTHOST" "$T/steps.lua"
expect_rc "SFT steps with BLAS" 0
b=$OUT
awk -v a="$a" -v b="$b" 'BEGIN { d = (a - b) / b; if (d < 0) d = -d; exit !(a > 0 && d < 1e-5) }' &&
  ok "step-3 loss: oneDNN $a vs BLAS $b" || bad "step-3 loss differs: oneDNN '$a' vs BLAS '$b'"

finish
