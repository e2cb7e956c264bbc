#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: revisions and consistency of a whole-Hub mount.
#
# Usage: revisions_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# A repo with a `dev` branch, the whole Hub mounted with --revision-ttl 2. A reader opens a file of
# the branch view and keeps its fd; a commit over HTTP changes that file and adds one. Checks: the
# view at the old commit sha is unchanged; after the TTL the branch view shows the new file and
# content; the fd opened before keeps returning the old bytes (page cache dropped in between); a
# pull request made with ?create_pr=1 is browsable as name@refs%2Fpr%2F1.
source "$(dirname "$0")/lib.sh"
e2e_init revisions "$@"

ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/rev
TOKEN=hf_e2e_rev_write_token

mkdir -p "$W/src_main" "$W/src_dev"
python3 - "$W" <<'EOF'
import random, sys
w = sys.argv[1]
def text(seed, n):
    r = random.Random(seed)
    return "".join(r.choice("abcdefghij klmnop\n") for _ in range(n)).encode()
open(f"{w}/src_main/README.md", "wb").write(b"# rev test\n")
open(f"{w}/src_main/data.txt", "wb").write(b"MAIN\n" + text(1, 2 << 20))
open(f"{w}/src_dev/data.txt", "wb").write(b"DEV1\n" + text(2, 2 << 20))   # 2 MiB, a regular file
open(f"{w}/src_dev/dev-only.txt", "wb").write(b"only on dev\n")
open(f"{w}/data_v2.txt", "wb").write(b"DEV2\n" + text(3, 2 << 20))
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO" "$W/src_main" >"$W/import.out" 2>&1 &&
  "$HUBD" import --root "$ROOT" --repo "models/$REPO" --branch dev "$W/src_dev" >>"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --token "$TOKEN=alice:write" || abort "hf-hubd serve" "did not start"
MAIN_SHA=$(api_json "api/models/$REPO/revision/main" 'd["sha"]')
OLD=$(api_json "api/models/$REPO/revision/dev" 'd["sha"]')
note "hub $HUBD_URL, main $MAIN_SHA, dev $OLD"

mount_hf "$MNT" --endpoint "$HUBD_URL" --revision-ttl 2 || abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
ok "mount of the whole Hub with --revision-ttl 2"
B="$MNT/models/$REPO@dev"
sha_file() { timeout 60 sha256sum "$1" 2>&1 | cut -d' ' -f1; }
OLD_SUM=$(sha256sum "$W/src_dev/data.txt" | cut -d' ' -f1)
NEW_SUM=$(sha256sum "$W/data_v2.txt" | cut -d' ' -f1)
expect "branch view: data.txt" "$(timeout 20 head -c 5 "$B/data.txt" 2>&1)" "DEV1"
expect "main view: data.txt" "$(timeout 20 head -c 5 "$MNT/models/$REPO@main/data.txt" 2>&1)" "MAIN"
expect "branch view listing" "$(timeout 20 ls "$B" 2>&1 | tr '\n' ' ')" "README.md data.txt dev-only.txt "

# --- a reader keeps an fd of the branch file open across the commit ---------------------------------
timeout 180 python3 - "$B/data.txt" "$W" <<'EOF' >"$W/holder.out" 2>&1 &
import hashlib, os, sys, time
path, w = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
first = os.pread(fd, 4096, 0)
ino = os.fstat(fd).st_ino
open(f"{w}/holder.ready", "w").write(str(ino))
while not os.path.exists(f"{w}/holder.go"):
    time.sleep(0.05)
h = hashlib.sha256()
off = 0
while True:
    b = os.pread(fd, 1 << 20, off)
    if not b:
        break
    h.update(b)
    off += len(b)
print(f"first={first[:4].decode()} ino_before={ino} ino_after={os.fstat(fd).st_ino} size={off} sha={h.hexdigest()}")
EOF
HOLDER=$!
E2E_PIDS+=("$HOLDER")
for ((i = 0; i < 200; i++)); do [ -e "$W/holder.ready" ] && break; sleep 0.05; done
[ -e "$W/holder.ready" ] || abort "reader opened the branch file" "$(cat "$W/holder.out")"
ok "reader opened $B/data.txt and read its start"

# --- commit a change of that file and a new file over HTTP ---------------------------------------------
python3 - "$W/data_v2.txt" >"$W/commit.ndjson" <<'EOF'
import base64, json, sys
def line(key, value): print(json.dumps({"key": key, "value": value}))
line("header", {"summary": "e2e: change data.txt, add new.txt"})
line("file", {"path": "data.txt", "content": base64.b64encode(open(sys.argv[1], "rb").read()).decode(), "encoding": "base64"})
line("file", {"path": "new.txt", "content": base64.b64encode(b"a new file\n").decode(), "encoding": "base64"})
EOF
code=$(curl -sS --max-time 30 -o "$W/commit.out" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-ndjson" \
  --data-binary @"$W/commit.ndjson" "$HUBD_URL/api/models/$REPO/commit/dev")
t_commit=$(now)
expect "commit over HTTP" "$code" 200 "$(head -c 300 "$W/commit.out")"
NEW=$(api_json "api/models/$REPO/revision/dev" 'd["sha"]')
note "dev moved from $OLD to $NEW"
[ "$NEW" != "$OLD" ] || abort "the branch moved" "dev is still at $OLD"

# --- the view at the old commit sha is unchanged ------------------------------------------------------
O="$MNT/models/$REPO@$OLD"
expect "old-sha view: listing" "$(timeout 20 ls "$O" 2>&1 | tr '\n' ' ')" "README.md data.txt dev-only.txt "
expect "old-sha view: data.txt content" "$(sha_file "$O/data.txt")" "$OLD_SUM"
expect "old-sha view: new.txt is absent" "$(errno_of "os.stat('$O/new.txt')")" ENOENT
expect "old-sha view: user.hf.commit" "$(xattr user.hf.commit "$O/data.txt" 2>&1)" "$OLD"

# --- after the TTL the branch view shows the commit ----------------------------------------------------
left=$(python3 -c "import sys; print(max(0.0, 2.5 - (float(sys.argv[2]) - float(sys.argv[1]))))" "$t_commit" "$(now)")
sleep "$left"
seen_after() {  # polls until the branch view shows new.txt; prints the seconds since the commit
  local i
  for ((i = 0; i < 300; i++)); do
    if [ "$(timeout 10 cat "$B/new.txt" 2>/dev/null)" = "a new file" ]; then since "$t_commit"; return 0; fi
    sleep 0.1
  done
  echo never
  return 1
}
if [ "$(timeout 10 cat "$B/new.txt" 2>&1)" = "a new file" ]; then
  ok "branch view shows new.txt 2.5 s after the commit"
else
  nok "branch view shows new.txt 2.5 s after the commit" "seen after $(seen_after) s (--revision-ttl 2)"
fi
expect "branch view: data.txt has the new content" "$(sha_file "$B/data.txt")" "$NEW_SUM"
expect "branch view: listing" "$(timeout 20 ls "$B" 2>&1 | tr '\n' ' ')" "README.md data.txt dev-only.txt new.txt "
expect "branch view: user.hf.commit is the new commit" "$(xattr user.hf.commit "$B/data.txt" 2>&1)" "$NEW"
expect "branch view: size of data.txt" "$(timeout 20 stat -c %s "$B/data.txt" 2>&1)" "$(stat -c %s "$W/data_v2.txt")"
expect "main view is unchanged" "$(timeout 20 head -c 5 "$MNT/models/$REPO@main/data.txt" 2>&1)" "MAIN"

# --- the fd opened before keeps the old bytes ---------------------------------------------------------
NEW_INO=$(timeout 20 stat -c %i "$B/data.txt" 2>&1)
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || note "cannot drop the page cache"
touch "$W/holder.go"
wait "$HOLDER"
hrc=$?
forget_pid "$HOLDER"
out=$(cat "$W/holder.out")
note "reader: $out"
case "$out" in
  *"sha=$OLD_SUM"*) ok "the fd opened before the commit reads the old bytes" ;;
  *"sha=$NEW_SUM"*) nok "the fd opened before the commit reads the old bytes" "it reads the NEW content (rc=$hrc)" ;;
  *) nok "the fd opened before the commit reads the old bytes" "rc=$hrc: $out" ;;
esac
old_ino=$(printf '%s' "$out" | sed -n 's/.*ino_before=\([0-9]*\).*/\1/p')
if [ -n "$old_ino" ] && [ "$old_ino" != "$NEW_INO" ]; then
  ok "the changed file has a new inode number ($old_ino -> $NEW_INO)"
else
  nok "the changed file has a new inode number" "old fd inode '$old_ino', new lookup inode '$NEW_INO'"
fi

# --- a pull request -------------------------------------------------------------------------------------
python3 >"$W/pr.ndjson" <<'EOF'
import base64, json
def line(key, value): print(json.dumps({"key": key, "value": value}))
line("header", {"summary": "e2e: a pull request"})
line("file", {"path": "pr.txt", "content": base64.b64encode(b"from the pull request\n").decode(), "encoding": "base64"})
EOF
code=$(curl -sS --max-time 30 -o "$W/pr.out" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-ndjson" \
  --data-binary @"$W/pr.ndjson" "$HUBD_URL/api/models/$REPO/commit/main?create_pr=1")
expect "commit with ?create_pr=1" "$code" 200 "$(head -c 300 "$W/pr.out")"
PR_SHA=$(api_json "api/models/$REPO/revision/refs%2Fpr%2F1" 'd["sha"]')
P="$MNT/models/$REPO@refs%2Fpr%2F1"
expect "PR view: listing" "$(timeout 20 ls "$P" 2>&1 | tr '\n' ' ')" "README.md data.txt pr.txt "
expect "PR view: pr.txt" "$(timeout 20 cat "$P/pr.txt" 2>&1)" "from the pull request"
expect "PR view: data.txt is main's" "$(timeout 20 head -c 5 "$P/data.txt" 2>&1)" "MAIN"
expect "PR view: user.hf.commit" "$(xattr user.hf.commit "$P/pr.txt" 2>&1)" "$PR_SHA"
expect "PR view: user.hf.revision" "$(xattr user.hf.revision "$P/pr.txt" 2>&1)" "refs/pr/1"
expect "main view has no pr.txt" "$(errno_of "os.stat('$MNT/models/$REPO@main/pr.txt')")" ENOENT
expect "a missing PR is ENOENT" "$(errno_of "os.listdir('$MNT/models/$REPO@refs%2Fpr%2F9')")" ENOENT

unmount_hf "$MNT" "$MOUNT_PID"
finish
