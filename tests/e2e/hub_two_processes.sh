#!/usr/bin/env bash
# Two `fthost download` processes fetch the same snapshot at once from the loopback Hub: both succeed,
# print the same snapshot folder, and each blob is produced exactly once (the server sends each file's
# bytes once; the .locks flock makes the second process wait and then link the finished blob).
source "$FTHOST_SRC/tests/hub_server/hub_env.sh"
start_fake_hub --rate 2M
"$FTHOST" download acme/tiny --quiet --stats >"$HUB_WORK/a.out" 2>"$HUB_WORK/a.err" &
a=$!
"$FTHOST" download acme/tiny --quiet --stats >"$HUB_WORK/b.out" 2>"$HUB_WORK/b.err" &
b=$!
wait $a || { cat "$HUB_WORK/a.err"; fail "process A failed"; }
wait $b || { cat "$HUB_WORK/b.err"; fail "process B failed"; }
dir=$(cat "$HUB_WORK/a.out")
[[ $dir == "$(cat "$HUB_WORK/b.out")" ]] || fail "different snapshot folders: $dir vs $(cat "$HUB_WORK/b.out")"
[[ -d $dir ]] || fail "no snapshot folder $dir"
storage=$HF_HUB_CACHE/models--acme--tiny
nblobs=$(ls "$storage/blobs" | wc -l)
[[ $nblobs -eq 7 ]] || fail "expected 7 blobs, found $nblobs: $(ls "$storage/blobs")"
if ls "$storage/blobs" | grep -q '\.'; then fail "partial files left: $(ls "$storage/blobs")"; fi
total=0
for f in config.json model.safetensors README.md tokenizer.json sub/dir/notes.txt weights/big.bin empty.txt; do
  [[ -L $dir/$f ]] || fail "$f is not a symlink"
  blob=$(basename "$(readlink "$dir/$f")")
  if [[ ${#blob} -eq 64 ]]; then
    [[ $(sha256sum <"$dir/$f" | cut -d' ' -f1) == "$blob" ]] || fail "$f: sha256 differs from its blob name"
  fi
  total=$((total + $(stat -L -c %s "$dir/$f")))
done
served=$(hub_stat body_bytes)
[[ $served -eq $total ]] || fail "server sent $served body bytes for $total bytes of files (a blob was fetched twice)"
fetched=$(grep -ho "files_fetched=[0-9]*" "$HUB_WORK/a.err" "$HUB_WORK/b.err" | cut -d= -f2 | awk "{s+=\$1} END {print s}")
[[ $fetched -eq 7 ]] || fail "the two processes fetched $fetched files in total, expected 7"
echo "PASS: two processes, one copy of each of 7 blobs ($total bytes served once)"
