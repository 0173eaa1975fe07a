#!/usr/bin/env bash
# ft.sft resume is exact: a run killed with SIGKILL at a random step and started again produces, for
# every step, bitwise the same loss as an uninterrupted run; SIGTERM saves a checkpoint and stops cleanly.
source "$(dirname "$0")/lib.sh"

recipe=$E2E_TMP/recipe.lua
cat >"$recipe" <<'LUA'
local ft = require "ft"
require "ft.lora"
local out, log = ft.args.output, ft.args.log
ft.seed(5)
local train = ft.tasks.addition{ digits = 2, train = 256, test = 1, seed = 3 }
local m = ft.new{ hidden = 32, layers = 2, heads = 4, seed = 2 }
m:lora{ r = 8, alpha = 16, dropout = 0.1, targets = "all-linear", modules_to_save = { "embed_tokens" } }
local f = assert(io.open(log, "a"))
ft.sft{ model = m, data = train, max_steps = 40, batch_size = 8, grad_accum = 2, lr = 5e-3, warmup = 4,
  output = out, save_steps = 3, log = false, on_step = function(run, s)
    f:write(string.format("%d %.17g\n", run.global_step, s.loss)); f:flush()
    if ft.args.slow then os.execute("sleep 0.05") end
  end }:train()
f:close()
LUA

run "$FTHOST" "$recipe" --output="$E2E_TMP/a" --log="$E2E_TMP/a.log"
expect_rc "uninterrupted run" 0
[[ $(wc -l <"$E2E_TMP/a.log") -eq 40 ]] && ok "40 steps logged" || bad "expected 40 logged steps"

# Kill -9 at a random step between 5 and 30, then resume to the end.
k=$((5 + RANDOM % 26))
"$FTHOST" "$recipe" --output="$E2E_TMP/b" --log="$E2E_TMP/b.log" --slow >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$(cat "$E2E_TMP/b.log" 2>/dev/null | wc -l)
  ((n >= k)) && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
echo "killed at step $(wc -l <"$E2E_TMP/b.log") (target $k), latest: $(cat "$E2E_TMP/b/latest" 2>/dev/null)"
run "$FTHOST" "$recipe" --output="$E2E_TMP/b" --log="$E2E_TMP/b.log"
expect_rc "resumed run" 0
expect_out "resume message" "ft.sft: resumed from"
# Every logged (step, loss) of both processes equals the uninterrupted run's, bit for bit.
if awk 'NR == FNR { want[$1] = $2; next } { if (want[$1] != $2) { print "step " $1 ": " $2 " != " want[$1]; bad = 1 } }
        END { exit bad }' "$E2E_TMP/a.log" "$E2E_TMP/b.log"; then
  ok "loss sequence after kill -9 + resume is bitwise equal"
else
  RC=1 OUT="" ERR=$(paste "$E2E_TMP/a.log" "$E2E_TMP/b.log" | head -50)
  bad "loss sequence differs"
fi
[[ $(tail -1 "$E2E_TMP/b.log" | cut -d' ' -f1) == 40 ]] && ok "resumed run reached step 40" || bad "resumed run did not finish"

# SIGTERM: checkpoint saved, clean error exit naming it.
"$FTHOST" "$recipe" --output="$E2E_TMP/c" --log="$E2E_TMP/c.log" --slow >"$E2E_TMP/c.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$(cat "$E2E_TMP/c.log" 2>/dev/null | wc -l)
  ((n >= 7)) && break
  sleep 0.05
done
kill -TERM $pid
wait $pid
RC=$? OUT=$(cat "$E2E_TMP/c.out") ERR=""
[[ $RC -ne 0 && $RC -ne 137 ]] && ok "SIGTERM exits with an error status ($RC)" || bad "SIGTERM exit status"
expect_out "SIGTERM message names the checkpoint" "checkpoint saved to $E2E_TMP/c/checkpoint-"
step=$(cat "$E2E_TMP/c/latest" | sed 's/checkpoint-//')
[[ $step -eq $(wc -l <"$E2E_TMP/c.log") ]] && ok "SIGTERM checkpoint is at the last finished step ($step)" || bad "SIGTERM checkpoint step $step"

finish
