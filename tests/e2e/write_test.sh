#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: writes in a branch view become ONE Hub commit (DESIGN.md §6).
#
# Usage: write_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# 1. `cp -r` of 200 small files and two files over 100 MiB lands as exactly one commit after the
#    quiet period; the tree and bytes equal the source (hf-hubd's API and a fresh read-only
#    mount); the big files went through LFS, one of them multipart.
# 2. Edit in the middle of a 50 MiB LFS file, truncate, append, rm, mv file, mv folder,
#    mkdir/rmdir, then fsync: fsync returns after the commit exists, and every path is checked
#    byte for byte through a fresh mount.
# 3. Changes left pending at `hf-mount unmount` are committed before the daemon exits.
# 4. A read-only token gets EACCES at the first write; tag and commit views are EROFS.
source "$(dirname "$0")/lib.sh"
e2e_init write "$@"

ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/wr
TOKEN=hf_e2e_write_token
RO_TOKEN=hf_e2e_read_token

mkdir -p "$W/seed" "$W/src/small/deeper"
python3 - "$W" <<'EOF'
import os, random, sys
w = sys.argv[1]
r = random.Random(7)
open(f"{w}/seed/README.md", "w").write("# write test\n")
with open(f"{w}/seed/big50.bin", "wb") as f:
    f.write(r.randbytes(50 << 20))
os.makedirs(f"{w}/seed/olddir/sub", exist_ok=True)
open(f"{w}/seed/olddir/a.txt", "w").write("a\n")
open(f"{w}/seed/olddir/sub/b.txt", "w").write("b\n")
open(f"{w}/seed/gone.txt", "w").write("to be removed\n")
with open(f"{w}/seed/olddir/lfs12.bin", "wb") as f:
    f.write(r.randbytes(12 << 20))
open(f"{w}/seed/trunc.txt", "w").write("0123456789" * 100)
open(f"{w}/seed/append.txt", "w").write("first line\n")
for i in range(200):
    d = f"{w}/src/small" if i % 2 else f"{w}/src/small/deeper"
    open(f"{d}/f{i:03d}.txt", "w").write("".join(r.choice("abcdefgh \n") for _ in range(r.randrange(1, 3000))))
with open(f"{w}/src/large_a.bin", "wb") as f:
    f.write(r.randbytes(101 << 20))
with open(f"{w}/src/large_b.bin", "wb") as f:
    f.write(r.randbytes(120 << 20))
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m seed "$W/seed" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
"$HUBD" import --root "$ROOT" --repo "models/$REPO" --branch v1-branch -m tagbase "$W/seed" \
  >>"$W/import.out" 2>&1 || abort "import branch" "$(cat "$W/import.out")"
# Multipart above 110 MiB, in 8 MiB parts: large_b goes multipart, large_a basic.
start_hubd "$ROOT" --token "$TOKEN=alice:write" --token "$RO_TOKEN=alice:read" \
  --lfs-multipart-threshold $((110 << 20)) --lfs-part-size $((8 << 20)) ||
  abort "hf-hubd serve" "did not start"
commits() { api_json "api/models/$REPO/commits/main" 'len(d)' -H "Authorization: Bearer $TOKEN"; }
head_sha() { api_json "api/models/$REPO/revision/main" 'd["sha"]' -H "Authorization: Bearer $TOKEN"; }
received() { curl -sS --max-time 10 "$HUBD_URL/_hubd/stats" |
  python3 -c 'import json, sys; print(sum(json.load(sys.stdin)["bytes_received"].values()))'; }
C0=$(commits)
curl -sS --max-time 10 -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"tag":"v1"}' "$HUBD_URL/api/models/$REPO/tag/main" || abort "tag" "could not create tag v1"
note "hub $HUBD_URL, $C0 commits on main"

export HF_TOKEN=$TOKEN
mount_hf "$MNT" --endpoint "$HUBD_URL" --commit-delay 2 || abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
V="$MNT/models/$REPO@main"

# --- 1. cp -r: one commit ----------------------------------------------------------------------
T0=$(now)
if timeout 300 cp -r "$W/src/." "$V/"; then ok "cp -r into the branch view"; else nok "cp -r" "rc=$?"; fi
note "cp -r took $(since "$T0") s"
expect "new files are visible at once" "$(ls "$V/small" | wc -l)" "101"
for i in $(seq 1 120); do [ "$(commits)" -gt "$C0" ] && break; sleep 0.5; done
sleep 4  # the quiet period passes again: nothing more may be committed
expect "exactly one commit after cp -r" "$(commits)" "$((C0 + 1))"
C1=$(commits)
expect "large_a.bin is LFS on the hub" \
  "$(api_json "api/models/$REPO/paths-info/main" '[e.get("lfs",{}).get("size") for e in d][0]' \
    -H "Authorization: Bearer $TOKEN" -d paths=large_a.bin)" "$((101 << 20))"
UPLOADS=$(stats_get requests upload)
# large_a: one PUT; large_b: 15 parts of 8 MiB, then the completion.
if [ "$UPLOADS" -ge 16 ]; then ok "large_b.bin went multipart ($UPLOADS upload requests)"
else nok "multipart" "only $UPLOADS upload requests"; fi
expect "a small file is not LFS" \
  "$(api_json "api/models/$REPO/paths-info/main" '"lfs" in d[0]' -H "Authorization: Bearer $TOKEN" \
    -d paths=small/f001.txt)" "False"

# --- 2. edits, then fsync ------------------------------------------------------------------------
python3 - "$V" "$W" <<'EOF' && ok "edits through the mount" || nok "edits" "python failed"
import os, sys
v, w = sys.argv[1], sys.argv[2]
# Edit in the middle of the 50 MiB LFS file, and the same edit on a local copy.
import shutil
shutil.copy(f"{w}/seed/big50.bin", f"{w}/expect_big50.bin")
for path in (f"{v}/big50.bin", f"{w}/expect_big50.bin"):
    with open(path, "r+b") as f:
        f.seek(25 << 20)
        f.write(b"EDITED IN THE MIDDLE" * 1000)
os.truncate(f"{v}/trunc.txt", 15)
with open(f"{v}/append.txt", "a") as f:
    f.write("second line\n")
os.unlink(f"{v}/gone.txt")
os.rename(f"{v}/README.md", f"{v}/README2.md")
os.rename(f"{v}/olddir", f"{v}/newdir")
os.mkdir(f"{v}/emptydir")
os.mkdir(f"{v}/keptdir")
with open(f"{v}/keptdir/k.txt", "w") as f:
    f.write("kept\n")
os.rmdir(f"{v}/emptydir")
EOF
expect "symlinks are refused" "$(errno_of "os.symlink('a', '$V/l')")" "EPERM"
expect "tag view is EROFS (with a write token)" "$(errno_of "open('$V/../wr@v1/new.txt', 'w')")" "EROFS"
expect "hard links are refused" "$(errno_of "os.link('$V/append.txt', '$V/l2')")" "EPERM"
UP0=$(received)
T0=$(now)
if timeout 120 python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" "$V/append.txt"; then
  ok "fsync returned ($(since "$T0") s)"
else
  nok "fsync" "failed"
fi
expect "fsync returned after exactly one more commit" "$(commits)" "$((C1 + 1))"
UP1=$(received)
note "bytes received by the hub for the edit commit: $((UP1 - UP0))"
# The 50 MiB file was edited, so it is uploaded again; the moved 12 MiB LFS file is not.
if [ $((UP1 - UP0)) -lt $((60 << 20)) ]; then ok "the moved LFS file was not uploaded again"
else nok "moved LFS file" "$((UP1 - UP0)) bytes sent"; fi

# --- 3. pending at unmount -----------------------------------------------------------------------
echo "written just before unmount" >"$V/late.txt"
timeout 120 "$HFM" unmount "$MNT" >"$W/unmount.out" 2>&1 || nok "unmount" "$(cat "$W/unmount.out")"
expect "unmount committed the pending file" "$(commits)" "$((C1 + 2))"

# --- verify everything through a fresh read-only mount at the new head ------------------------------
HEAD=$(head_sha)
mount_hf "$W/ro" --endpoint "$HUBD_URL" --read-only --cache-dir "$W/cache2" ||
  abort "read-only mount" "$MOUNT_OUT"
R="$W/ro/models/$REPO@$HEAD"
sum() { timeout 120 sha256sum "$1" 2>&1 | cut -d' ' -f1; }
fails=0
for f in $(cd "$W/src" && find . -type f | sed 's|^\./||'); do
  [ "$(sum "$R/$f")" = "$(sum "$W/src/$f")" ] || { fails=$((fails + 1)); note "differs: $f"; }
done
expect "every copied file equals its source" "$fails" "0"
expect "edited LFS file" "$(sum "$R/big50.bin")" "$(sum "$W/expect_big50.bin")"
expect "truncated file" "$(cat "$R/trunc.txt")" "012345678901234"
expect "appended file" "$(cat "$R/append.txt")" "$(printf 'first line\nsecond line')"
expect "removed file" "$(errno_of "os.stat('$R/gone.txt')")" "ENOENT"
expect "moved file" "$(cat "$R/README2.md")" "# write test"
expect "moved file's old name" "$(errno_of "os.stat('$R/README.md')")" "ENOENT"
expect "moved folder" "$(cat "$R/newdir/a.txt" "$R/newdir/sub/b.txt" | tr '\n' ' ')" "a b "
expect "moved LFS file" "$(sum "$R/newdir/lfs12.bin")" "$(sum "$W/seed/olddir/lfs12.bin")"
expect "moved folder's old name" "$(errno_of "os.stat('$R/olddir')")" "ENOENT"
expect "folder made and removed" "$(errno_of "os.stat('$R/emptydir')")" "ENOENT"
expect "file in a new folder" "$(cat "$R/keptdir/k.txt")" "kept"
expect "file written before unmount" "$(cat "$R/late.txt")" "written just before unmount"
expect "mv of the LFS-free README made no upload" "$(sum "$R/README2.md")" "$(sum "$W/seed/README.md")"
HUBJS="$(dirname "$0")/../integration/hubjs"
if command -v node >/dev/null && [ -d "$HUBJS/node_modules/@huggingface/hub" ]; then
  if out=$(timeout 300 node "$HUBJS/verify_tree.mjs" "$HUBD_URL" "$TOKEN" "$REPO" "$HEAD" "$W/src" 2>&1); then
    ok "@huggingface/hub lists and downloads the committed files: ${out##*$'\n'}"
  else
    nok "@huggingface/hub" "$out"
  fi
else
  nok "@huggingface/hub" "node or tests/integration/hubjs/node_modules missing (scripts/install-deps.sh)"
fi
expect "read-only mount refuses writes" "$(errno_of "open('$R/x', 'w')")" "EROFS"
unmount_hf "$W/ro" "$MOUNT_PID"

# --- 4. permissions -------------------------------------------------------------------------------
HF_TOKEN=$RO_TOKEN mount_hf "$W/m2" --endpoint "$HUBD_URL" --cache-dir "$W/cache3" ||
  abort "mount with a read token" "$MOUNT_OUT"
expect "read token: first write is EACCES" \
  "$(errno_of "open('$W/m2/models/$REPO@main/new.txt', 'w')")" "EACCES"
expect "commit view is EROFS" "$(errno_of "open('$W/m2/models/$REPO@$HEAD/new.txt', 'w')")" "EROFS"
unmount_hf "$W/m2" "$MOUNT_PID"
expect "nothing was committed by the read-only token" "$(commits)" "$((C1 + 2))"

finish
