#!/usr/bin/env bash
# ft.sft's progress display. Under a pseudo-terminal (tmux): one live line redrawn in place with \r (one
# redraw per step, never one line per step on screen), with a bar when the width allows and cut to the
# width when it does not, log lines every logging_steps above it. Off a terminal: only the log lines.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "tmux is required (scripts/install-deps installs it)"; exit 1; }

recipe=$E2E_TMP/recipe.lua
cat >"$recipe" <<'LUA'
local ft = require "ft"
ft.seed(1)
local train = ft.tasks.addition{ digits = 1, train = 64, test = 1, seed = 2 }
local m = ft.new{ hidden = 32, layers = 2, heads = 4, seed = 2 }
m:lora{ r = 4, targets = "all-linear" }
local run = ft.sft{ model = m, data = train, max_steps = 30, batch_size = 8, lr = 1e-2, logging_steps = 10 }
run:step(3)  -- as in the REPL: the live line ends with the call
print("STEPPED")
run:train()
print("RECIPE_DONE")
LUA

# Off a terminal (this is what CI logs show): the three log lines, no carriage returns, no escapes.
run "$FTHOST" "$recipe"
expect_rc "plain run" 0
n=$(grep -cE '^step (10|20|30)/30 \| loss [0-9.]+ \| lr [0-9.e+-]+ \| [0-9]+ tok/s \| eta ' <<<"$OUT")
[[ $n -eq 3 ]] && ok "plain: a log line every logging_steps" || bad "plain: expected 3 log lines, found $n"
if grep -q $'\r\|\e' <<<"$OUT"; then bad "plain: output holds \\r or escape sequences"; else ok "plain: no redraws"; fi

sock=$E2E_TMP/tmux.sock
tm() { tmux -S "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$E2E_TMP"' EXIT

# tty_run NAME COLUMNS: runs the recipe in a COLUMNS-wide pane; leaves the screen in $SCREEN, raw bytes in $RAW.
tty_run() {
  local name=$1 cols=$2
  rm -f "$E2E_TMP/go"
  tm new-session -d -s "$name" -x "$cols" -y 40 \
    "while [ ! -f $E2E_TMP/go ]; do sleep 0.05; done; TERM=xterm $FTHOST $recipe; echo EXITED=\$?; sleep 60"
  tm pipe-pane -o -t "$name" "cat > $E2E_TMP/$name.raw"
  touch "$E2E_TMP/go"
  local deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    tm capture-pane -p -t "$name" | grep -q "EXITED=" && break
    sleep 0.2
  done
  SCREEN=$(tm capture-pane -p -t "$name" -S -100)
  RAW=$(cat "$E2E_TMP/$name.raw")
  OUT=$SCREEN ERR="" RC=0
}

tty_run wide 100
grep -q "EXITED=0" <<<"$SCREEN" && ok "tty: run finished" || bad "tty: run did not finish"
redraws=$(grep -o $'\rstep [0-9]*/30 \\[' <<<"$RAW" | wc -l)
((redraws >= 30)) && ok "tty: the live line is redrawn with \\r each step ($redraws)" || bad "tty: $redraws redraws"
bars=$(grep -cE '^step [0-9]+/30 \[' <<<"$SCREEN")
[[ $bars -eq 2 ]] && ok "tty: one live line per call on screen (run:step(3), run:train()), not one per step" \
  || bad "tty: $bars bar lines on screen"
after=$(grep -A1 -E '^step 3/30 \[' <<<"$SCREEN" | tail -1)
[[ $after == STEPPED ]] && ok "tty: run:step(n) ends its live line" || bad "tty: after the step-3 line: '$after'"
if grep -qE '^step 30/30 \[=+\] 100% \| loss [0-9.]+ \| lr [0-9.e+-]+ \| [0-9]+ tok/s \| eta 0s$' <<<"$SCREEN"; then
  ok "tty: final line: full bar, loss, lr, tokens/s, ETA"
else
  bad "tty: no finished bar line"
fi
width=$(grep -E '^step 30/30 \[' <<<"$SCREEN" | awk '{ print length($0) }')
[[ $width -eq 99 ]] && ok "tty: the line fills the width less one column" || bad "tty: bar line is $width wide, not 99"
logs=$(grep -cE '^step (10|20|30)/30 \| loss' <<<"$SCREEN")
[[ $logs -eq 3 ]] && ok "tty: log lines printed above the live line" || bad "tty: $logs log lines"
after=$(grep -A1 -E '^step 30/30 \[' <<<"$SCREEN" | tail -1)
[[ $after == RECIPE_DONE ]] && ok "tty: later output starts on its own line" || bad "tty: after the bar: '$after'"

tty_run narrow 48
live=$(grep -E '^step 30/30 +100%' <<<"$SCREEN")
[[ -n $live && ${#live} -le 47 ]] && ok "tty narrow: the live line is cut to 47 columns (${#live})" \
  || bad "tty narrow: live line '$live'"
grep -q '\[' <<<"$live" && bad "tty narrow: a bar where it does not fit" || ok "tty narrow: no bar when it does not fit"
finish
