#!/usr/bin/env bash
# A full disk during `fthost download`, made without a mount or privileges by the LD_PRELOAD library
# libft_fault_fs.so (tests/hub_server/fault_fs_preload.c): writes to the partial file fail with ENOSPC
# after a byte budget, fallocate fails, or statvfs reports little free space. Each case must end in a
# clear error naming the path and the bytes needed and free, with a hint; no blob and no snapshot
# entry may appear; and a later run with space resumes the partial file instead of starting over.
source "$FTHOST_SRC/tests/hub_server/hub_env.sh"
FAULT_FS=$FTHOST_BUILD/tests/cpp/hub/libft_fault_fs.so
[[ -f $FAULT_FS ]] || fail "$FAULT_FS not built (build target ft_fault_fs)"
size=$((16 * 1024 * 1024))
start_fake_hub --big 16M
repo=$HF_HUB_CACHE/models--bench--big

expect_in() {  # label, text, file
  grep -qF -- "$2" "$3" || { cat "$3"; fail "$1: the message lacks '$2'"; }
}
no_corrupt_entries() {  # label: no finished blob of model.bin and no snapshot entry for it
  if ls "$repo"/blobs 2>/dev/null | grep -qv '\.'; then
    ls -l "$repo"/blobs
    fail "$1: a blob appeared in blobs/"
  fi
  if ls "$repo"/snapshots/*/model.bin >/dev/null 2>&1; then fail "$1: snapshots/ has a model.bin"; fi
}
resume_and_check() {  # label, minimum resumed bytes
  local before after resumed network f
  before=$(hub_stat body_bytes)
  "$FTHOST" download bench/big --include model.bin --quiet --stats >"$HUB_WORK/out" 2>"$HUB_WORK/err" ||
    { cat "$HUB_WORK/err"; fail "$1: the run with space failed"; }
  after=$(($(hub_stat body_bytes) - before))
  resumed=$(grep -o 'resumed_bytes=[0-9]*' "$HUB_WORK/err" | cut -d= -f2)
  network=$(grep -o 'network_bytes=[0-9]*' "$HUB_WORK/err" | cut -d= -f2)
  [[ $resumed -ge $2 ]] || fail "$1: resumed only $resumed bytes (expected >= $2)"
  [[ $((resumed + network)) -eq $size ]] || fail "$1: resumed $resumed + fetched $network != $size"
  [[ $after -eq $network ]] || fail "$1: the server sent $after bytes, fthost counted $network"
  f=$(cat "$HUB_WORK/out")/model.bin
  [[ $(sha256sum <"$f" | cut -d' ' -f1) == "$(basename "$(readlink "$f")")" ]] || fail "$1: sha256 differs"
  if ls "$repo"/blobs | grep -q '\.'; then fail "$1: partial files left after the resumed run"; fi
  echo "PASS: $1: resumed $resumed bytes, fetched $network"
}

# 1. The disk fills in the middle of the body (a file system without fallocate, so that the writes
#    themselves hit ENOSPC): single stream, then parallel ranges.
for conns in 1 4; do
  label="ENOSPC mid-download, --connections $conns"
  rm -rf "$HF_HUB_CACHE"
  budget=$((6 * 1024 * 1024 + 12345))
  if LD_PRELOAD=$FAULT_FS FT_FAULT_FALLOCATE=unsupported FT_FAULT_DISK_BUDGET=$budget \
    "$FTHOST" download bench/big --include model.bin --quiet --connections $conns >"$HUB_WORK/out" 2>"$HUB_WORK/err"; then
    fail "$label: the download succeeded on a full disk"
  fi
  expect_in "$label" "disk full: writing '$repo/blobs/" "$HUB_WORK/err"
  expect_in "$label" ".incomplete' (bench/big/model.bin, " "$HUB_WORK/err"
  grep -qE "of $size bytes in\) needs [0-9.]+ [KM]iB \([0-9]+ bytes\) more; [0-9.]+ [KMGT]?i?B \([0-9]+ bytes\) is free in '$repo/blobs'" "$HUB_WORK/err" ||
    { cat "$HUB_WORK/err"; fail "$label: the message does not give the bytes needed and free"; }
  expect_in "$label" "hint: free some space, or point HF_HUB_CACHE (or HF_HOME) at a larger disk" "$HUB_WORK/err"
  if grep -q "Segmentation\|terminate called\|Aborted" "$HUB_WORK/err"; then fail "$label: crashed"; fi
  no_corrupt_entries "$label"
  ls "$repo"/blobs/*.incomplete >/dev/null 2>&1 || fail "$label: the partial file was not kept for resuming"
  echo "PASS: $label: $(head -1 "$HUB_WORK/err")"
  # Pieces are recorded only once written whole: at least 4 MiB of the 6 MiB budget count as done.
  resume_and_check "$label, then a run with space" $((4 * 1024 * 1024))
done

# 2. Reserving the file's space fails: the error comes before any body byte is fetched.
label="fallocate ENOSPC"
rm -rf "$HF_HUB_CACHE"
before=$(hub_stat body_bytes)
if LD_PRELOAD=$FAULT_FS FT_FAULT_FALLOCATE=enospc \
  "$FTHOST" download bench/big --include model.bin --quiet >"$HUB_WORK/out" 2>"$HUB_WORK/err"; then
  fail "$label: the download succeeded"
fi
expect_in "$label" "disk full: downloading 'bench/big/model.bin' needs 16.0 MiB ($size bytes) more" "$HUB_WORK/err"
expect_in "$label" "is free in '$repo/blobs'" "$HUB_WORK/err"
[[ $(hub_stat body_bytes) -eq $before ]] || fail "$label: body bytes were fetched before the space was reserved"
no_corrupt_entries "$label"
echo "PASS: $label: $(head -1 "$HUB_WORK/err")"

# 3. statvfs says too little is free: both the snapshot's up-front check (file sizes from the listing)
#    and the single-file path (X-Linked-Size) refuse before fetching anything.
rm -rf "$HF_HUB_CACHE"
before=$(hub_stat body_bytes)
if LD_PRELOAD=$FAULT_FS FT_FAULT_FREE_BYTES=1048576 \
  "$FTHOST" download bench/big --quiet >"$HUB_WORK/out" 2>"$HUB_WORK/err"; then
  fail "up-front check (snapshot): the download succeeded"
fi
expect_in "up-front check (snapshot)" "disk full: downloading 2 files of 'bench/big' needs 16.0 MiB ($((size + 3)) bytes) more; 1.0 MiB (1048576 bytes) is free in '$repo/blobs'" "$HUB_WORK/err"
if LD_PRELOAD=$FAULT_FS FT_FAULT_FREE_BYTES=1048576 \
  "$FTHOST" download bench/big model.bin --quiet >"$HUB_WORK/out" 2>"$HUB_WORK/err"; then
  fail "up-front check (one file): the download succeeded"
fi
expect_in "up-front check (one file)" "disk full: downloading 'bench/big/model.bin' needs 16.0 MiB ($size bytes) more; 1.0 MiB (1048576 bytes) is free in '$repo/blobs'" "$HUB_WORK/err"
[[ $(hub_stat body_bytes) -eq $before ]] || fail "up-front check: body bytes were fetched"
no_corrupt_entries "up-front check"
echo "PASS: up-front checks: $(head -1 "$HUB_WORK/err")"
