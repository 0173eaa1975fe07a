#!/usr/bin/env bash
# kill -9 in the middle of `fthost download`, then run it again: the rerun resumes the partial blob
# (parallel byte ranges with holes, then a single stream) instead of starting over. Asserted with the
# bytes the server sent and the bytes fthost reports as resumed; the final blob's sha256 is its name.
source "$FTHOST_SRC/tests/hub_server/hub_env.sh"
size=$((64 * 1024 * 1024))
start_fake_hub --big 64M --rate 8M

run_case() {  # $1: label, $2...: extra download options
  local label=$1
  shift
  rm -rf "$HF_HUB_CACHE"
  local before after killed_at
  before=$(hub_stat body_bytes)
  "$FTHOST" download bench/big --include model.bin --quiet "$@" >/dev/null 2>"$HUB_WORK/kill.err" &
  local pid=$!
  for _ in $(seq 1 400); do
    sleep 0.05
    [[ $(($(hub_stat body_bytes) - before)) -ge $((12 * 1024 * 1024)) ]] && break
  done
  sleep 1  # past a save of the range list (every 0.5 s)
  kill -9 $pid
  wait $pid 2>/dev/null || true
  # The server's threads for the dead connections may still be counting bytes into closed sockets:
  # wait until its counter settles before measuring the rerun.
  local prev=-1 now_bytes
  for _ in $(seq 1 100); do
    now_bytes=$(hub_stat body_bytes)
    [[ $now_bytes -eq $prev ]] && break
    prev=$now_bytes
    sleep 0.2
  done
  killed_at=$((now_bytes - before))
  [[ $killed_at -ge $((12 * 1024 * 1024)) && $killed_at -lt $size ]] || fail "$label: killed after $killed_at bytes"
  ls "$HF_HUB_CACHE"/models--bench--big/blobs/*.incomplete >/dev/null 2>&1 || fail "$label: no partial file after kill -9"
  before=$(hub_stat body_bytes)
  "$FTHOST" download bench/big --include model.bin --quiet --stats "$@" >"$HUB_WORK/out" 2>"$HUB_WORK/err" ||
    { cat "$HUB_WORK/err"; fail "$label: rerun failed"; }
  after=$(($(hub_stat body_bytes) - before))
  local resumed network
  resumed=$(grep -o 'resumed_bytes=[0-9]*' "$HUB_WORK/err" | cut -d= -f2)
  network=$(grep -o 'network_bytes=[0-9]*' "$HUB_WORK/err" | cut -d= -f2)
  [[ $resumed -ge $((4 * 1024 * 1024)) ]] || fail "$label: resumed only $resumed bytes (killed after $killed_at)"
  [[ $((resumed + network)) -eq $size ]] || fail "$label: resumed $resumed + fetched $network != $size"
  [[ $after -eq $network ]] || fail "$label: server sent $after bytes, fthost counted $network"
  local f
  f=$(cat "$HUB_WORK/out")/model.bin
  [[ $(sha256sum <"$f" | cut -d' ' -f1) == "$(basename "$(readlink "$f")")" ]] || fail "$label: sha256 differs"
  if ls "$HF_HUB_CACHE"/models--bench--big/blobs | grep -q '\.'; then fail "$label: partial files left"; fi
  echo "PASS: $label: killed after $killed_at bytes, rerun resumed $resumed and fetched $network"
}
run_case "parallel ranges" --connections 4
run_case "single stream" --connections 1
