# Shared helpers for tests/e2e/*.sh. Each test sources this, calls `check` for each case and ends with
# `finish`, which prints "N passed, N failed" and exits non-zero on failure.
set -u
FTHOST=$(realpath "${FTHOST:-build/fthost}")
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fthost-e2e.XXXXXX")
trap 'rm -rf "$E2E_TMP"' EXIT
_pass=0
_fail=0

# run CMD...: runs a command, capturing stdout to $OUT, stderr to $ERR, exit code to $RC.
run() {
  "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" </dev/null
  RC=$?
  OUT=$(cat "$E2E_TMP/out")
  ERR=$(cat "$E2E_TMP/err")
}

ok() { _pass=$((_pass + 1)); echo "ok   $1"; }
bad() {
  _fail=$((_fail + 1))
  echo "FAIL $1"
  echo "     rc=$RC"
  echo "     stdout: ${OUT:0:2000}" | sed '2,$s/^/     /'
  echo "     stderr: ${ERR:0:2000}" | sed '2,$s/^/     /'
}

# expect_rc NAME CODE
expect_rc() { if [[ $RC -eq $2 ]]; then ok "$1 (exit $2)"; else bad "$1: expected exit $2"; fi; }
# expect_out NAME TEXT / expect_err NAME TEXT: fixed-string containment
expect_out() { if grep -qF -- "$2" <<<"$OUT"; then ok "$1"; else bad "$1: stdout lacks '$2'"; fi; }
expect_err() { if grep -qF -- "$2" <<<"$ERR"; then ok "$1"; else bad "$1: stderr lacks '$2'"; fi; }
expect_err_re() { if grep -qE -- "$2" <<<"$ERR"; then ok "$1"; else bad "$1: stderr does not match /$2/"; fi; }
expect_no_err() { if [[ -z $ERR ]]; then ok "$1"; else bad "$1: unexpected stderr"; fi; }

finish() {
  echo "$_pass passed, $_fail failed"
  [[ $_fail -eq 0 && $_pass -gt 0 ]]
  exit $?
}
