#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: hfm-fsx (tests/fsx) runs seeded random operations (pwrite, append, truncate,
# pread, mmap reads and writes, fsync, close/reopen) on files in a branch view and checks them
# against its in-memory model after every step; then every file is checked byte for byte against
# the model through a fresh read-only mount at the commit that landed.
#
# Usage: fsx_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD PATH_TO_HFM_FSX
# Environment: FSX_SEED (default 1), FSX_OPS (default 3000; the CI form stays under 90 s),
# FSX_FILES (4), FSX_MAX_SIZE (1M). A longer local run: FSX_OPS=50000 FSX_SEED=$RANDOM.
#
# 1. A repo with a README is imported; hf-hubd runs with a write token; the mount has
#    --commit-delay 2. hfm-fsx works in the folder `fsx/` of the branch view; its fsyncs (1% of
#    the operations) each wait for a commit.
# 2. `hf-mount unmount` commits what is pending. A fresh --read-only mount (new cache dir) at the
#    new head sha: `hfm-fsx --verify-only` compares every file with the model (read and mmap).
# 3. A writable remount on the first cache dir shows the same bytes at the branch, and nothing is
#    committed by it (the head stays where it was).
#
# 4. The same run on a mount with --revision-ttl 1, so that names are looked up again while
#    files are open: a file an fsync committed while still open keeps its name (and inode) until
#    it is closed. This once lost writes for every seed: the commit dropped the file's change,
#    and after the TTL a lookup made a new inode from the committed content, so truncate(path)
#    and new opens went to it while the open descriptor kept writing to the old staged file.
#    Smallest case: fd = open(f, O_RDWR|O_CREAT); pwrite(fd, 100 x 'a', 0); fsync(fd);
#    sleep(TTL); truncate(f, 50); pwrite(fd, 10 x 'b', 0); close(fd) left 50 x 'a'.
HFM_FSX=${3:-}
source "$(dirname "$0")/lib.sh"
e2e_init fsx "$@"
if [ -z "$HFM_FSX" ] || [ ! -x "$HFM_FSX" ]; then
  echo "usage: fsx_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD PATH_TO_HFM_FSX" >&2
  exit 2
fi

SEED=${FSX_SEED:-1}
OPS=${FSX_OPS:-3000}
FILES=${FSX_FILES:-4}
MAX_SIZE=${FSX_MAX_SIZE:-1M}
ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/fsx
TOKEN=hf_e2e_fsx_token
MODEL="$W/model"

mkdir -p "$W/seed"
echo "# fsx" >"$W/seed/README.md"
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m seed "$W/seed" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --token "$TOKEN=alice:write" || abort "hf-hubd serve" "did not start"
commits() { api_json "api/models/$REPO/commits/main" 'len(d)' -H "Authorization: Bearer $TOKEN"; }
head_sha() { api_json "api/models/$REPO/revision/main" 'd["sha"]' -H "Authorization: Bearer $TOKEN"; }
C0=$(commits)
H0=$(head_sha)

export HF_TOKEN=$TOKEN
# Step 1 uses the default-length TTL regime; step 4 the short one.
mount_hf "$MNT" --endpoint "$HUBD_URL" --commit-delay 2 ||
  abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
RW_PID=$MOUNT_PID
V="$MNT/models/$REPO@main"
mkdir "$V/fsx" || abort "mkdir in the branch view" "failed"

# --- 1. random operations ------------------------------------------------------------------------
note "hfm-fsx --seed $SEED --ops $OPS --files $FILES --max-size $MAX_SIZE"
T0=$(now)
rc=0
timeout 600 "$HFM_FSX" "$V/fsx" --model "$MODEL" --seed "$SEED" --ops "$OPS" --files "$FILES" \
  --max-size "$MAX_SIZE" >"$W/fsx.out" 2>&1 || rc=$?
if [ $rc = 0 ]; then
  ok "hfm-fsx: $OPS operations match the model ($(since "$T0") s)"
  grep -v '^hfm-fsx: [0-9]* operations$' "$W/fsx.out" | sed 's/^/# /'
else
  nok "hfm-fsx" "rc=$rc (seed $SEED); its report:"
  tail -n 80 "$W/fsx.out" | sed 's/^/#   /'
  note "mount log (tail):"
  tail -n 20 "$W/mnt.log" 2>/dev/null | sed 's/^/#   /'
  finish
fi

# --- 2. unmount commits; a fresh read-only mount at the new head -----------------------------------
T0=$(now)
timeout 120 "$HFM" unmount "$MNT" >"$W/unmount.out" 2>&1 || nok "unmount" "$(cat "$W/unmount.out")"
stop_pid "$RW_PID" TERM 10
forget_pid "$RW_PID"
note "unmount took $(since "$T0") s"
C1=$(commits)
H1=$(head_sha)
if [ "$C1" -gt "$C0" ] && [ "$H1" != "$H0" ]; then
  ok "the run committed: head $H0 -> $H1"
else
  nok "commits" "$C0 commits before, $C1 after; head $H0 -> $H1"
fi

mount_hf "$W/ro" --endpoint "$HUBD_URL" --read-only --cache-dir "$W/cache2" ||
  abort "read-only mount" "$MOUNT_OUT"
RO_PID=$MOUNT_PID
if out=$(timeout 120 "$HFM_FSX" "$W/ro/models/$REPO@$H1/fsx" --model "$MODEL" --verify-only 2>&1); then
  ok "fresh read-only mount at $H1: ${out##*$'\n'}"
else
  nok "fresh read-only mount at $H1" "hfm-fsx --verify-only failed:"
  printf '%s\n' "$out" | tail -n 60 | sed 's/^/#   /'
fi
expect "the README is untouched" "$(cat "$W/ro/models/$REPO@$H1/README.md")" "# fsx"
unmount_hf "$W/ro" "$RO_PID"

# --- 3. the writable remount shows the same bytes and commits nothing ------------------------------
mount_hf "$W/rw" --endpoint "$HUBD_URL" --commit-delay 2 || abort "writable remount" "$MOUNT_OUT"
RW_PID=$MOUNT_PID
if out=$(timeout 120 "$HFM_FSX" "$W/rw/models/$REPO@main/fsx" --model "$MODEL" --verify-only 2>&1); then
  ok "writable remount at main: ${out##*$'\n'}"
else
  nok "writable remount at main" "hfm-fsx --verify-only failed:"
  printf '%s\n' "$out" | tail -n 60 | sed 's/^/#   /'
fi
sleep 3  # past the commit delay: reads alone must not commit
unmount_hf "$W/rw" "$RW_PID"
expect "the remount committed nothing" "$(commits) $(head_sha)" "$C1 $H1"

# --- 4. a short revision TTL: names are looked up again while files are open ---------------------
mount_hf "$W/ttl" --endpoint "$HUBD_URL" --commit-delay 2 --revision-ttl 1 --cache-dir "$W/cache3" ||
  abort "mount with --revision-ttl 1" "$MOUNT_OUT"
TTL_PID=$MOUNT_PID
mkdir "$W/ttl/models/$REPO@main/fsx-ttl" || abort "mkdir fsx-ttl" "failed"
rc=0
timeout 300 "$HFM_FSX" "$W/ttl/models/$REPO@main/fsx-ttl" --model "$W/model-ttl" --seed "$SEED" \
  --ops "${FSX_TTL_OPS:-2000}" --files "$FILES" --max-size "$MAX_SIZE" >"$W/fsx-ttl.out" 2>&1 || rc=$?
if [ $rc = 0 ]; then
  ok "hfm-fsx with --revision-ttl 1: $(tail -n1 "$W/fsx-ttl.out" | sed 's/^hfm-fsx: //')"
else
  nok "hfm-fsx with --revision-ttl 1" "$(grep -m1 -A1 'FAILED' "$W/fsx-ttl.out" | tr '\n' ' ')"
fi
unmount_hf "$W/ttl" "$TTL_PID"

finish
