#!/usr/bin/env bash
# The fthost command line: --version/--help, -e, recipes with arguments, error reports with Lua and
# native frames, exit codes, subcommand dispatch, FTHOST_PATH, recipe-relative require, Ctrl-C.
source "$(dirname "$0")/lib.sh"
T=$E2E_TMP

run "$FTHOST" --version
expect_rc "--version" 0
expect_out "--version names fthost" "fthost 0.1.0"
expect_out "--version names LuaJIT" "LuaJIT 2.1"
expect_out "--version names LibTorch" "LibTorch "
expect_out "--version says CUDA" "CUDA: "
expect_out "--version says NCCL" "NCCL: "

run "$FTHOST" --help
expect_rc "--help" 0
expect_out "--help shows usage" "usage: fthost [options] [recipe.lua [args...]]"
expect_out "--help lists commands" "help "

run "$FTHOST" -e 'print(1 + 1)' -e 'print(type(ft))'
expect_rc "-e" 0
expect_out "-e runs code in order" $'2\ntable'

# A recipe with positional and --key=value arguments.
mkdir -p "$T/proj/lib"
cat >"$T/proj/recipe.lua" <<'LUA'
local helper = require "lib.helper"       -- found next to the recipe
print(arg[0]:match("recipe.lua$") ~= nil, arg[1], arg[2], #arg)
print(ft.args.lr, math.type and "" or type(ft.args.lr), ft.args.epochs, ft.args.fast, ft.args.name, ft.args[1])
print(helper.twice(21))
LUA
cat >"$T/proj/lib/helper.lua" <<'LUA'
return { twice = function(x) return 2 * x end }
LUA
pushd "$T" >/dev/null
run "$FTHOST" proj/recipe.lua a b --lr=3e-4 --epochs=2 --fast --name=run1
popd >/dev/null
expect_rc "recipe runs" 0
expect_out "arg table" $'true\ta\tb\t6'
expect_out "ft.args typed" $'0.0003\tnumber\t2\ttrue\trun1\ta'
expect_out "recipe-relative require" "42"

# Errors: recipe.lua:LINE: message plus a traceback with native frames; exit code 1.
cat >"$T/err.lua" <<'LUA'
local core = require "_ft.core"
local function load_model()
  core.test_throw("no config.json in 'models/x'", "pass a Hugging Face model folder")
end
load_model()
LUA
run "$FTHOST" "$T/err.lua"
expect_rc "native error exit code" 1
expect_err "native error names recipe line and function" "err.lua:3: ft.test_throw: no config.json in 'models/x'"
expect_err "native error hint" "hint: pass a Hugging Face model folder"
expect_err "traceback names the native frame" "[C++] ft.test_throw"
expect_err_re "traceback names the Lua frames" "err.lua:5: in main chunk"
if grep -qiE "terminate called|abort|core dumped" <<<"$ERR"; then bad "no C++ abort"; else ok "no C++ abort"; fi

printf 'local x = 1\n\nerror("boom")\n' >"$T/boom.lua"
run "$FTHOST" "$T/boom.lua"
expect_rc "Lua error exit code" 1
expect_err "Lua error location" "boom.lua:3: boom"
expect_err "Lua error traceback" "stack traceback:"

printf 'local x = = 1\n' >"$T/syntax.lua"
run "$FTHOST" "$T/syntax.lua"
expect_rc "syntax error exit code" 1
expect_err "syntax error location" "syntax.lua:1: unexpected symbol near '='"

cat >"$T/cb.lua" <<'LUA'
local core = require "_ft.core"
core.test_call(function()
  local t = nil
  return t.field
end)
LUA
run "$FTHOST" "$T/cb.lua"
expect_rc "error in a callback from C++" 1
expect_err "callback error location" "cb.lua:4: attempt to index local 't' (a nil value)"
expect_err "callback error passes the native frame" "[C++] ft.test_call"

run "$FTHOST" "$T/missing.lua"
expect_rc "missing recipe" 1
expect_err "missing recipe message" "cannot open recipe"

run "$FTHOST" --bogus
expect_rc "unknown option" 2
expect_err "unknown option message" "fthost: unknown option '--bogus'"

run "$FTHOST" -e
expect_rc "-e without code" 2

run "$FTHOST" dowload
expect_rc "unknown command" 2
expect_err "unknown command message" "fthost: unknown command 'dowload'"

run "$FTHOST" help help
expect_rc "subcommand dispatch" 0
expect_out "help command usage" "usage: fthost help [command]"

run "$FTHOST" -e 'ft.options.check("ft.sft", {learning_rate = 1}, {lr = {type = "number"}}, 2)'
expect_rc "option error exit code" 1
expect_err "option error text" "ft.sft: unknown option 'learning_rate' (did you mean 'lr'?)"

# FTHOST_PATH replaces the embedded stdlib.
mkdir -p "$T/dev/ft"
printf 'return { hello = function() return "from FTHOST_PATH" end }\n' >"$T/dev/ft/devmod.lua"
FTHOST_PATH="$T/dev" run "$FTHOST" -e 'print(require("ft.devmod").hello())'
expect_rc "FTHOST_PATH" 0
expect_out "FTHOST_PATH module found" "from FTHOST_PATH"
run "$FTHOST" -e 'print(pcall(require, "ft.devmod"))'
expect_out "without FTHOST_PATH the module is absent" "false"

# -i runs the recipe, then the REPL (stdin not a terminal: plain lines).
printf 'x = 40\n' >"$T/pre.lua"
"$FTHOST" -i "$T/pre.lua" <<<'x + 2' >"$T/out" 2>"$T/err"; RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "-i" 0
expect_out "-i keeps the recipe's state" "42"

# Ctrl-C (SIGINT) stops a running recipe: exit 130 with "interrupted", for a Lua loop and a native wait.
# The signal is sent once the recipe has printed "started" (its handler is installed by then; a background
# job of a script starts with SIGINT ignored), waiting up to 60 s for that on a loaded machine.
printf 'print("started") io.stdout:flush()\njit.off()\nwhile true do end\n' >"$T/spin.lua"
"$FTHOST" "$T/spin.lua" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 600); do grep -q started "$T/out" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid; RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "SIGINT stops a Lua loop" 130
expect_err "SIGINT message" "spin.lua:3: interrupted"

printf 'print("started") io.stdout:flush()\nrequire("_ft.runtime").native_spin(60000)\n' >"$T/native.lua"
"$FTHOST" "$T/native.lua" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 600); do grep -q started "$T/out" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid; RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "SIGINT stops a native call at its check point" 130
expect_err "native interrupt message" "interrupted"

finish
