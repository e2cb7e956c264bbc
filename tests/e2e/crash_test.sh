#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: kill -9 of the daemon at random points during reads, LFS uploads and commits.
#
# Usage: crash_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# 1. CRASH_ROUNDS rounds (default 20; seeded by CRASH_SEED). Each round mounts with the same
#    --cache-dir, waits until what the killed daemon left is committed, and checks the Hub against
#    the model: every acknowledged write (close or fsync returned) is there, every other one is
#    absent or complete (old or new bytes, never torn), nothing else changed. Then two readers (read()
#    and mmap) hash the seed files and the files earlier rounds wrote (cached and not yet cached)
#    through the mount, a writer writes text and binary (LFS) files into the branch view, and the
#    daemon gets SIGKILL after a random delay. The phase the kill aims at rotates:
#      read   - while only reads (and close-only writes) run;
#      upload - after fsync of a 1-5 MiB LFS file started (hf-hubd adds 250 ms to every upload);
#      commit - after fsync of a small text file started: preupload, the commit POST, the snapshot
#               of the new head (hf-hubd adds 40 ms to every API call).
#    Then the dead mount is lazily unmounted. A reader that gets a wrong hash fails the test.
# 2. A last mount commits what is left and unmounts cleanly; the Hub equals the model, a fresh mount
#    at the head reads every file right, and no commit repeats its parent's tree (a change
#    committed twice).
# 3. The journal is damaged between mounts while a change is pending (DESIGN.md §6, docs/caching.md):
#    truncated, then deleted. The next mount starts, logs the problem, `hf-mount status` shows it,
#    and the staging file is kept; with the journal put back, the change is committed.
# Notes count kills by phase, recoveries (a mount that committed what the killed one left),
# commits that landed but whose fsync never returned, and the time.
#
# CI form: the defaults (20 rounds in about 80 s, 100 s in all, on 2 busy cores). Longer local form:
#   CRASH_ROUNDS=200 CRASH_SEED=7 crash_test.sh ...
source "$(dirname "$0")/lib.sh"
e2e_init crash "$@"

CRASH_ROUNDS=${CRASH_ROUNDS:-20}
CRASH_SEED=${CRASH_SEED:-20261126}
HELPER="$(cd "$(dirname "$0")" && pwd)/crash_helper.py"
FAULTS="upload:latency=250ms;api:latency=40ms"
ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/crash
TOKEN=hf_e2e_crash_write_token
CACHE="$W/cache"

python3 - "$W" <<'EOF' || abort "seed data" "python failed"
import os, random, sys
w = sys.argv[1]
r = random.Random(5)
os.makedirs(f"{w}/seed/s", exist_ok=True)
open(f"{w}/seed/README.md", "w").write("# crash\n")
for i in range(8):
    open(f"{w}/seed/s/t{i}.txt", "w").write(f"seed text {i}\n" * r.randrange(1, 3000))
for i, mib in enumerate((2, 6, 12)):
    open(f"{w}/seed/s/b{i}.bin", "wb").write(r.randbytes(mib << 20))
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m seed "$W/seed" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --token "$TOKEN=alice:write" --faults "$FAULTS" --seed "$CRASH_SEED" ||
  abort "hf-hubd serve" "did not start: $(cat "$W/hubd.$HUBD_N.err")"
export HF_TOKEN=$TOKEN
AUTH=(-H "Authorization: Bearer $TOKEN")
commits() { api_json "api/models/$REPO/commits/main" 'len(d)' "${AUTH[@]}"; }
note "hub $HUBD_URL, faults '$FAULTS', seed $CRASH_SEED, $CRASH_ROUNDS rounds"

# The model: path -> sha256 the Hub must hold (null: absent). The seed files are never written.
python3 - "$W" <<'EOF'
import hashlib, json, os, sys
w = sys.argv[1]
model = {}
for d, _, names in os.walk(f"{w}/seed"):
    for n in names:
        p = os.path.join(d, n)
        model[os.path.relpath(p, f"{w}/seed")] = hashlib.sha256(open(p, "rb").read()).hexdigest()
json.dump(model, open(f"{w}/model.json", "w"))
EOF
WPATHS=(w/t0.txt w/t1.txt w/t2.txt w/t3.txt w/t4.txt w/t5.txt w/d/t6.txt w/d/t7.txt
  w/b0.bin w/b1.bin w/b2.bin w/d/b3.bin)

# settle LOG: once the daemon has taken up what earlier runs left (its log says "journals
# checked"), `hf-mount commit` of the view: an fsync of its folder, which returns once a commit
# round that started after it is done, or fails; then checks the Hub against the model and the
# round's writer log LOG. Fails the test on a lost, torn or stuck change.
settle() {
  local log=$1 i out
  for ((i = 0; i < 600; i++)); do
    grep -q "journals checked" "$W/mnt.$r.log" && break
    sleep 0.05
  done
  for ((i = 0; i < 5; i++)); do
    timeout 60 "$HFM" commit "$V" >"$W/commit.out" 2>&1 && break
    sleep 1
  done
  if [ $i = 5 ]; then
    nok "round $r: what the killed daemon left is committed" \
      "$(cat "$W/commit.out"); $("$HFM" status 2>&1 | grep -A3 "^$MNT\$" | tail -n 2)"
    return 1
  fi
  out=$(python3 "$HELPER" settle "$HUBD_URL" "$TOKEN" "$REPO" "$W/model.json" "$log" 2>&1)
  printf '%s\n' "$out" | grep -v '^SETTLED' | sed 's/^/# /'
  SETTLED=$(printf '%s\n' "$out" | grep '^SETTLED')
  case "$SETTLED" in
    *" bad=0") return 0 ;;
    *) nok "round $r: the Hub holds every acknowledged write and nothing torn" "$out"; return 1 ;;
  esac
}

# count_recovery LOG (right after settle, before this round writes): a mount that committed what
# the killed daemon left, or found that the commit it had sent landed.
count_recovery() {
  grep -q "\] models/$REPO@main: committed " "$1" && RECOVERIES=$((RECOVERIES + 1))
  grep -q "sent by an earlier run landed" "$1" && FOUND_LANDED=$((FOUND_LANDED + 1))
  return 0
}

# --- 1. kill -9 rounds ------------------------------------------------------------------------------
T_ROUNDS=$(now)
KILLS_READ=0 KILLS_UPLOAD=0 KILLS_COMMIT=0 RECOVERIES=0 FOUND_LANDED=0 LANDED_UNACKED=0 READS=0 BAD_ROUNDS=0
C_START=$(commits)
: >"$W/writes.0"
for ((r = 1; r <= CRASH_ROUNDS; r++)); do
  if ! mount_hf "$MNT" --endpoint "$HUBD_URL" --cache-dir "$CACHE" --commit-delay 2 \
    --log-file "$W/mnt.$r.log"; then
    nok "round $r: mount after kill -9" "rc=$MOUNT_RC: $MOUNT_OUT"
    BAD_ROUNDS=$((BAD_ROUNDS + 1))
    break
  fi
  V="$MNT/models/$REPO@main"
  settle "$W/writes.$((r - 1))" || BAD_ROUNDS=$((BAD_ROUNDS + 1))
  count_recovery "$W/mnt.$r.log"
  LANDED_UNACKED=$((LANDED_UNACKED + $(printf '%s' "$SETTLED" | sed -n 's/.*landed_unacked=\([0-9]*\).*/\1/p')))

  # This round: the phase, the paths to write, and what the readers may read meanwhile.
  PHASES=(read upload commit)
  phase=${PHASES[$((r % 3))]}
  mapfile -t picked < <(python3 - "$CRASH_SEED" "$r" "$phase" "${WPATHS[@]}" <<'EOF'
import random, sys
seed, rnd, phase, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
r = random.Random(f"{seed}/{rnd}")
texts = [p for p in paths if p.endswith(".txt")]
bins = [p for p in paths if p.endswith(".bin")]
if phase == "upload":
    out = r.sample(texts, 2) + r.sample(bins, 1)
elif phase == "commit":
    out = r.sample(texts, 4)
else:
    out = r.sample(texts, 1) + r.sample(bins, 1)
print("\n".join(out))
EOF
  )
  python3 - "$W/model.json" "$V" "$W/manifest" "${picked[@]}" <<'EOF'
import json, sys
model, view, out, busy = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], set(sys.argv[4:])
with open(out, "w") as f:
    for path, digest in sorted(model.items()):
        if digest and path not in busy:
            f.write(f"{view}/{path} {digest}\n")
EOF
  python3 "$HELPER" read read "$W/manifest" "$r" >"$W/reader1.$r" 2>&1 &
  R1=$!
  python3 "$HELPER" read mmap "$W/manifest" "$((r + 1000))" >"$W/reader2.$r" 2>&1 &
  R2=$!
  : >"$W/writes.$r"
  python3 "$HELPER" write "$V" "$phase" "$CRASH_SEED/$r" "$W/writes.$r" "${picked[@]}" \
    >"$W/writer.$r" 2>&1 &
  WR=$!
  E2E_PIDS+=("$R1" "$R2" "$WR")
  delay=$(python3 -c "import random, sys; r = random.Random(sys.argv[1]); d = {'read': (0.1, 1.0), 'upload': (0.0, 0.9), 'commit': (0.0, 0.35)}[sys.argv[2]]; print(f'{r.uniform(*d):.3f}')" "$CRASH_SEED/kill/$r" "$phase")
  if [ "$phase" != read ]; then
    for ((i = 0; i < 1500; i++)); do  # until fsync of the round's synced file started
      grep -q '^F ' "$W/writes.$r" && break
      pid_alive "$WR" || break
      sleep 0.02
    done
  fi
  sleep "$delay"
  kill -9 "$MOUNT_PID"
  stop_pid "$MOUNT_PID" KILL 5
  forget_pid "$MOUNT_PID"
  # The dead mount fails every call (ENOTCONN); the clients stop before the unmount, so that none
  # writes into the bare mountpoint.
  # (An mmap reader may die of SIGBUS: the pages of a dead mount cannot be read.)
  for p in "$R1" "$R2" "$WR"; do stop_pid "$p" TERM 10 2>/dev/null; forget_pid "$p"; done
  fusermount3 -u -z "$MNT" 2>/dev/null
  case $phase in
    read) KILLS_READ=$((KILLS_READ + 1)) ;;
    upload) KILLS_UPLOAD=$((KILLS_UPLOAD + 1)) ;;
    commit) KILLS_COMMIT=$((KILLS_COMMIT + 1)) ;;
  esac
  if grep -q MISMATCH "$W/reader1.$r" "$W/reader2.$r"; then
    nok "round $r: reads through the mount" "$(grep -h MISMATCH "$W/reader1.$r" "$W/reader2.$r" | head -n 3)"
    BAD_ROUNDS=$((BAD_ROUNDS + 1))
  fi
  READS=$((READS + $(cat "$W/reader1.$r" "$W/reader2.$r" | awk '/^VERIFIED/ { n += $2 } END { print n + 0 }')))
  note "round $r: $phase, kill after ${delay}s, $(grep -c '^A' "$W/writes.$r") acks of ${#picked[@]} writes"
done
T_ROUNDS=$(since "$T_ROUNDS")
expect "every round remounted, drained its journal, lost nothing and read right" "$BAD_ROUNDS" 0

# --- 2. the last mount, a clean unmount and a fresh look -----------------------------------------------
r=$((CRASH_ROUNDS + 1))
mount_hf "$MNT" --endpoint "$HUBD_URL" --cache-dir "$CACHE" --commit-delay 2 \
  --log-file "$W/mnt.$r.log" || abort "last mount" "rc=$MOUNT_RC: $MOUNT_OUT"
settle "$W/writes.$CRASH_ROUNDS" && ok "the last mount committed what the last kill left"
count_recovery "$W/mnt.$r.log"
unmount_hf "$MNT" "$MOUNT_PID"
mount_hf "$MNT" --endpoint "$HUBD_URL" --cache-dir "$W/fresh-cache" --read-only ||
  abort "fresh mount" "rc=$MOUNT_RC: $MOUNT_OUT"
V="$MNT/models/$REPO@main"
fails=$(python3 - "$W/model.json" "$V" <<'EOF'
import hashlib, json, os, sys
model, view = json.load(open(sys.argv[1])), sys.argv[2]
bad = 0
for path, want in model.items():
    p = os.path.join(view, path)
    got = hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.exists(p) else None
    if got != want:
        print(f"# {path}: {got} != {want}", file=sys.stderr)
        bad += 1
print(bad)
EOF
)
expect "a fresh mount at the head reads the model" "$fails" 0
unmount_hf "$MNT" "$MOUNT_PID"
dup=$(python3 "$HELPER" duplicates "$HUBD_URL" "$TOKEN" "$REPO")
expect "no commit repeats its parent's tree" "$(printf '%s' "$dup" | sed 's/.*UNCHANGED //')" 0
C_END=$(commits)
note "rounds $CRASH_ROUNDS in ${T_ROUNDS}s; kills: $KILLS_READ during reads, $KILLS_UPLOAD during LFS uploads, $KILLS_COMMIT around the commit"
note "mounts that committed what the killed one left: $RECOVERIES; that found its commit had landed: $FOUND_LANDED"
note "commits $((C_END - C_START)); landed but fsync unanswered: $LANDED_UNACKED; verified reads $READS"

# --- 3. a damaged journal -----------------------------------------------------------------------------
JCACHE="$W/jcache"
# pend NAME TEXT: writes a file (close returned: acknowledged) and kills the daemon before a commit.
pend() {
  mount_hf "$MNT" --endpoint "$HUBD_URL" --cache-dir "$JCACHE" --commit-delay 3600 \
    --log-file "$W/j.$1.log" || abort "journal: mount" "$MOUNT_OUT"
  printf '%s' "$2" >"$MNT/models/$REPO@main/$1" || nok "journal: write $1" "failed"
  kill -9 "$MOUNT_PID"
  stop_pid "$MOUNT_PID" KILL 5
  forget_pid "$MOUNT_PID"
  fusermount3 -u -z "$MNT" 2>/dev/null
}
raw() { curl -sSL --max-time 20 "${AUTH[@]}" "$HUBD_URL/$REPO/resolve/main/$1"; }
# damaged_mount NAME HOW: the next mount after the journal was damaged (HOW: what was done).
damaged_mount() {
  local name=$1 how=$2 st
  mount_hf "$MNT" --endpoint "$HUBD_URL" --cache-dir "$JCACHE" --commit-delay 1 \
    --log-file "$W/j.$name.2.log"
  expect "journal $how: the next mount starts" "$MOUNT_RC" 0
  ls "$MNT/models/$REPO@main" >/dev/null 2>&1
  sleep 1.5  # recoverPending runs, and the status record is refreshed every second
  if grep -qi "journal" "$W/j.$name.2.log" && grep -q "ERROR\|error" "$W/j.$name.2.log"; then
    ok "journal $how: the log says so"
  else
    nok "journal $how: log" "$(tail -n 5 "$W/j.$name.2.log")"
  fi
  st=$("$HFM" status 2>&1)
  if printf '%s' "$st" | grep -qi "journal"; then ok "journal $how: status reports it"
  else nok "journal $how: status" "$st"; fi
  note "status: $(printf '%s' "$st" | grep -i journal | head -n 1)"
  expect "journal $how: nothing is committed from a journal that cannot be read" \
    "$(curl -sS -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$HUBD_URL/$REPO/resolve/main/$name")" 404
  STAGED=$(find "$JCACHE/staging" -type f | wc -l)
  check "journal $how: the staging file is kept" "none left in $JCACHE/staging" test "$STAGED" -ge 1
  unmount_hf "$MNT" "$MOUNT_PID"
  check "journal $how: still kept after unmount" "gone" test "$(find "$JCACHE/staging" -type f | wc -l)" -ge 1
}
JDIR() { find "$JCACHE/journal" -mindepth 1 -maxdepth 1 -type d | head -n 1; }

pend j1.txt "pending one"
J=$(JDIR)
cp -a "$J" "$W/journal.saved"
truncate -s 4096 "$J/data.mdb"
damaged_mount j1.txt truncated
# Put back: the change is committed.
rm -rf "$J" && cp -a "$W/journal.saved" "$J"
mount_hf "$MNT" --endpoint "$HUBD_URL" --cache-dir "$JCACHE" --commit-delay 1 \
  --log-file "$W/j.j1.3.log" || nok "journal put back: mount" "$MOUNT_OUT"
for ((i = 0; i < 60; i++)); do [ "$(raw j1.txt)" = "pending one" ] && break; sleep 0.5; done
expect "journal put back: the pending change is committed" "$(raw j1.txt)" "pending one"
unmount_hf "$MNT" "$MOUNT_PID"

pend j2.txt "pending two"
rm -rf "$(JDIR)"
damaged_mount j2.txt deleted

finish
