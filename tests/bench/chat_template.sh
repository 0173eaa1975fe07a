#!/usr/bin/env bash
# Chat-template render speed: fthost vs Python Jinja2 (transformers' environment) vs @huggingface/jinja
# on the conformance cases (real Qwen2.5 / Llama 3 / Mistral templates). Prints microseconds per render
# and the ratios; the template is parsed once per case. Usage: scripts/bench chat_template [repeats]
set -euo pipefail
src=${FTHOST_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FTHOST_BUILD:-$src/build}
work=$build/tests/bench/chat_template
mkdir -p "$work"
cmake --build "$build" --target ft_chat_render >/dev/null
# compare.mjs resolves the templates and checks the outputs are identical before anything is timed.
node "$src/tests/conformance/chat/compare.mjs" "$build/tests/conformance/chat/ft_chat_render" "$work" | tail -n 1
node "$src/tests/bench/chat_template.mjs" "$build/tests/conformance/chat/ft_chat_render" \
  "$work/resolved_cases.json" "${1:-500}"
