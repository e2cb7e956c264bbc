#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: nothing acknowledged is lost, and commits do not overwrite other people's work.
#
# Usage: write_recovery_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# 1. kill -9 of the daemon after `cp` returned and before the commit: the next mount with the
#    same cache dir commits the changes, and every byte matches.
# 2. A remote commit on other paths lands first: ours goes on top of it (no conflict).
# 3. A remote commit on the same path lands first: fsync fails, the other commit survives, our
#    change stays staged and `hf-mount status` reports it.
source "$(dirname "$0")/lib.sh"
e2e_init write_recovery "$@"

ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/rec
TOKEN=hf_e2e_recovery_token

mkdir -p "$W/seed" "$W/src/sub"
python3 - "$W" <<'EOF2'
import random, sys
w = sys.argv[1]
r = random.Random(11)
open(f"{w}/seed/README.md", "w").write("# recovery\n")
open(f"{w}/seed/shared.txt", "w").write("original\n")
open(f"{w}/seed/other.txt", "w").write("other\n")
for i in range(20):
    open(f"{w}/src/sub/s{i}.txt", "wb").write(r.randbytes(r.randrange(1, 5000)))
with open(f"{w}/src/big.bin", "wb") as f:
    f.write(r.randbytes(30 << 20))
EOF2
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m seed "$W/seed" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --token "$TOKEN=alice:write" || abort "hf-hubd serve" "did not start"
AUTH=(-H "Authorization: Bearer $TOKEN")
commits() { api_json "api/models/$REPO/commits/main" 'len(d)' "${AUTH[@]}"; }
head_sha() { api_json "api/models/$REPO/revision/main" 'd["sha"]' "${AUTH[@]}"; }
raw() { curl -sSL --max-time 20 "${AUTH[@]}" "$HUBD_URL/$REPO/resolve/main/$1"; }
# remote_commit PATH TEXT: another client commits one file over HTTP.
remote_commit() {
  local b64
  b64=$(printf '%s' "$2" | base64 -w0)
  printf '{"key":"header","value":{"summary":"remote edit","description":""}}\n{"key":"file","value":{"path":"%s","content":"%s","encoding":"base64"}}\n' \
    "$1" "$b64" | curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "${AUTH[@]}" \
    -H "Content-Type: application/x-ndjson" --data-binary @- "$HUBD_URL/api/models/$REPO/commit/main"
}
export HF_TOKEN=$TOKEN
C0=$(commits)

# --- 1. kill -9 before the commit ----------------------------------------------------------------
mount_hf "$MNT" --endpoint "$HUBD_URL" --commit-delay 3600 || abort "mount" "$MOUNT_OUT"
V="$MNT/models/$REPO@main"
timeout 120 cp -r "$W/src/." "$V/" && ok "cp -r returned" || nok "cp -r" "failed"
cp "$W/mnt.log" "$W/mnt-before-kill.log" 2>/dev/null; kill -9 "$MOUNT_PID"
forget_pid "$MOUNT_PID"
fusermount3 -u -z "$MNT" 2>/dev/null
expect "nothing committed before the kill" "$(commits)" "$C0"
mount_hf "$MNT" --endpoint "$HUBD_URL" --commit-delay 1 || abort "remount" "$MOUNT_OUT"
for i in $(seq 1 120); do [ "$(commits)" -gt "$C0" ] && break; sleep 0.5; done
expect "the next mount committed what the killed one left" "$(commits)" "$((C0 + 1))"
fails=0
for f in $(cd "$W/src" && find . -type f | sed 's|^\./||'); do
  [ "$(raw "$f" | sha256sum | cut -d' ' -f1)" = "$(sha256sum <"$W/src/$f" | cut -d' ' -f1)" ] ||
    { fails=$((fails + 1)); note "differs: $f"; }
done
expect "every byte survived the kill" "$fails" "0"
unmount_hf "$MNT" "$MOUNT_PID"

# --- 2. a remote commit on other paths ---------------------------------------------------------
mount_hf "$MNT" --endpoint "$HUBD_URL" --commit-delay 3600 || abort "mount" "$MOUNT_OUT"
V="$MNT/models/$REPO@main"
ls "$V" >/dev/null
echo "ours" >"$V/ours.txt"
expect "remote commit on another path" "$(remote_commit other.txt "remote other")" "200"
if timeout 60 python3 -c "import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))" "$V/ours.txt"; then
  ok "fsync after a remote commit on other paths"
else
  nok "fsync" "failed"
fi
expect "ours landed" "$(raw ours.txt)" "ours"
expect "theirs survived" "$(raw other.txt)" "remote other"

# --- 3. a remote commit on the same path --------------------------------------------------------
echo "our version" >"$V/shared.txt"
expect "remote commit on the same path" "$(remote_commit shared.txt "their version")" "200"
out=$(errno_of "os.fsync(os.open('$V/shared.txt', os.O_RDONLY))")
expect "fsync reports the conflict" "$out" "EIO"
expect "their commit survived" "$(raw shared.txt)" "their version"
expect "our change is still staged (visible in the mount)" "$(cat "$V/shared.txt")" "our version"
sleep 1.5  # the daemon refreshes its status record every second
status=$("$HFM" status 2>&1)
if printf '%s' "$status" | grep -q "conflict"; then ok "status reports the conflict"
else nok "status" "$status"; fi
unmount_hf "$MNT" "$MOUNT_PID"

finish
