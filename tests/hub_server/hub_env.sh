# Sourced by the hub e2e and bench scripts: starts the loopback fake Hub (fake_hub_server) on free
# ports, exports HF_ENDPOINT and a fresh HF_HUB_CACHE, and stops the server on exit.
#   start_fake_hub [server options...]   -> sets FAKE_HUB_PID, HF_ENDPOINT, HUB_WORK
#   hub_stat NAME                        -> a counter from GET /_control/stats (e.g. body_bytes)
#   hub_fault JSON                       -> POST /_control/fault
set -euo pipefail
: "${FTHOST:?FTHOST must name the fthost binary}"
: "${FTHOST_BUILD:?FTHOST_BUILD must name the build folder}"
FAKE_HUB_SERVER=${FAKE_HUB_SERVER:-$FTHOST_BUILD/tests/cpp/hub/fake_hub_server}

hub_cleanup() {
  if [[ -n ${FAKE_HUB_PID:-} ]]; then kill "$FAKE_HUB_PID" 2>/dev/null || true; wait "$FAKE_HUB_PID" 2>/dev/null || true; fi
  if [[ -n ${HUB_WORK:-} && -z ${KEEP_HUB_WORK:-} ]]; then rm -rf "$HUB_WORK"; fi
}
trap hub_cleanup EXIT

start_fake_hub() {
  [[ -x $FAKE_HUB_SERVER ]] || { echo "FAIL: $FAKE_HUB_SERVER not built (build target fake_hub_server)"; exit 1; }
  HUB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/fthost-hub-e2e.XXXXXX")
  "$FAKE_HUB_SERVER" --port-file "$HUB_WORK/port.json" "$@" >"$HUB_WORK/server.log" 2>&1 &
  FAKE_HUB_PID=$!
  for _ in $(seq 1 2400); do  # up to 120 s: a --big server hashes its content before listening
    [[ -s $HUB_WORK/port.json ]] && break
    kill -0 "$FAKE_HUB_PID" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s $HUB_WORK/port.json ]] || { echo "FAIL: fake hub did not start"; cat "$HUB_WORK/server.log"; exit 1; }
  HF_ENDPOINT=$(sed -E 's/.*"endpoint": "([^"]+)".*/\1/' "$HUB_WORK/port.json")
  export HF_ENDPOINT
  export HF_HOME=$HUB_WORK/hf_home HF_HUB_CACHE=$HUB_WORK/cache
  unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE TRANSFORMERS_OFFLINE
}

hub_stat() {
  curl -sf "$HF_ENDPOINT/_control/stats" | sed -E "s/.*\"$1\":([0-9]+).*/\1/"
}

hub_fault() {
  curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$HF_ENDPOINT/_control/fault" >/dev/null
}

fail() {
  echo "FAIL: $*"
  exit 1
}
