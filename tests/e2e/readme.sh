#!/usr/bin/env bash
# Every ```lua block in README.md runs as written (each in a fresh fthost, in a scratch folder).
source "$(dirname "$0")/lib.sh"
readme=${FTHOST_SRC:-.}/README.md
n=0
awk -v dir="$E2E_TMP" '
  /^```lua$/ { inb = 1; n++; file = sprintf("%s/block%02d.lua", dir, n); next }
  /^```/ && inb { inb = 0; close(file); next }
  inb { print > file }
' "$readme"
for f in "$E2E_TMP"/block*.lua; do
  n=$((n + 1))
  pushd "$E2E_TMP" >/dev/null
  run "$FTHOST" "$f"
  popd >/dev/null
  first=$(grep -m1 -v '^\s*$' "$f")
  expect_rc "README block $(basename "$f" .lua): ${first:0:60}" 0
done
[[ $n -ge 5 ]] && ok "found $n lua blocks" || { RC=0; OUT=""; ERR=""; bad "expected at least 5 lua blocks, found $n"; }
finish
