# Shared by the fuzz scripts: builds a libFuzzer target with clang from torch-free engine sources.
# fuzz_build WORK NAME "PKG-CONFIG MODULES" SOURCE...
#   compiles host/<SOURCE> (libFuzzer + ASan + UBSan, incrementally into WORK/objs) and links
#   tests/fuzz/fuzz_NAME.cpp into WORK/fuzz_NAME. WORK/corpus is created for new inputs.
FUZZ_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

fuzz_build() {
  local work=$1 name=$2 pkgs=$3
  shift 3
  local cxx="clang++"
  command -v ccache >/dev/null && cxx="ccache clang++"
  local flags=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
               -I"$FUZZ_SRC/host")
  local libs=()
  if [[ -n $pkgs ]]; then
    # shellcheck disable=SC2207,SC2086
    flags+=($(pkg-config --cflags $pkgs))
    # shellcheck disable=SC2207,SC2086
    libs=($(pkg-config --libs $pkgs))
  fi
  mkdir -p "$work/objs" "$work/corpus"
  local objs=() s o
  for s in "$@"; do
    o=$work/objs/${s//\//_}.o
    if [[ ! -f $o || $FUZZ_SRC/host/$s -nt $o || -n $(find "$FUZZ_SRC/host" -name '*.h' -newer "$o" -print -quit) ]]; then
      $cxx "${flags[@]}" -c "$FUZZ_SRC/host/$s" -o "$o"
    fi
    objs+=("$o")
  done
  $cxx "${flags[@]}" -fsanitize=fuzzer "$FUZZ_SRC/tests/fuzz/fuzz_$name.cpp" "${objs[@]}" "${libs[@]}" \
    -o "$work/fuzz_$name"
}
