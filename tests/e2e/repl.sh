#!/usr/bin/env bash
# The REPL driven for real in a pseudo-terminal (tmux): typing, expression printing, multi-line
# continuation, pretty-printed tables, errors, Ctrl-C during `while true do end` and during a native
# call (state kept), history written to ~/.fthost_history, Ctrl-D exits.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "tmux is required (scripts/install-deps installs it)"; exit 1; }

export HOME=$E2E_TMP/home
mkdir -p "$HOME"
sock=$E2E_TMP/tmux.sock
session=ftrepl
tm() { tmux -S "$sock" "$@"; }
tm new-session -d -s $session -x 160 -y 50 "TERM=xterm $FTHOST; echo REPL_EXITED=\$?; sleep 30"
trap 'tm kill-server 2>/dev/null; rm -rf "$E2E_TMP"' EXIT

screen() { tm capture-pane -p -t $session -S -200; }
# wait_for TEXT [SECONDS]: waits until the pane shows TEXT.
wait_for() {
  local deadline=$((SECONDS + ${2:-20}))
  while ((SECONDS < deadline)); do
    if screen | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  return 1
}
type_line() { tm send-keys -t $session -l -- "$1"; tm send-keys -t $session Enter; }
step() {  # step NAME TEXT: passes when TEXT appears
  RC=0
  if wait_for "$2" "${3:-20}"; then ok "$1"; else OUT=$(screen); ERR=""; bad "$1: screen lacks '$2'"; fi
}

step "banner" "fthost REPL"
type_line "1 + 1"
step "expression prints its value" $'> 1 + 1\n2'

type_line "t = { a = 1, list = { 1, 2, 3 }, name = 'x' }"
type_line "t"
step "tables pretty-print" '{ a = 1, list = { 1, 2, 3 }, name = "x" }'

type_line "function sq(x)"
step "continuation prompt" ">>"
type_line "  return x * x"
type_line "end"
type_line "sq(12)"
step "multi-line chunk defines a function" "144"

type_line "error('oops')"
step "errors are reported" "stdin:1: oops"

type_line "counter = 0"
type_line "while true do counter = counter + 1 end"
sleep 1
tm send-keys -t $session C-c
step "Ctrl-C stops while true do end" "interrupted"
type_line "counter > 0"
step "state survives the interrupt" $'> counter > 0\ntrue'

type_line "require('_ft.runtime').native_spin(60000)"
sleep 1
tm send-keys -t $session C-c
type_line "print('after native', sq(3))"
step "Ctrl-C stops a native call at its check point" "after native    9"

tm send-keys -t $session C-c
step "Ctrl-C at the prompt gives a fresh prompt" "> "

tm send-keys -t $session C-d
step "Ctrl-D exits" "REPL_EXITED=0"

if [[ -f $HOME/.fthost_history ]] && grep -qF "sq(12)" "$HOME/.fthost_history"; then
  ok "history written to ~/.fthost_history"
else
  RC=0; OUT=$(cat "$HOME/.fthost_history" 2>/dev/null); ERR=""; bad "history file lacks the typed lines"
fi
finish
