#!/usr/bin/env bash
# GRPO benchmark: rollout tokens/s with vs without prompt-cache sharing, and Lua reward time per sample
# vs generation time per sample, measured in one run (tests/bench/grpo.lua; its --args pass through).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
FTHOST=${FTHOST:-$here/build/fthost}
"$FTHOST" "$here/tests/bench/grpo.lua" "$@"
