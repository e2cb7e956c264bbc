#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: reads and writes through a mount while hf-hubd injects faults on every route class.
#
# Usage: chaos_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# Faults on every class (docs/hubd-faults.md), fixed seed: 10% 503, 5% 429 (both with
# Retry-After: 1), 5% of connections cut after 16 KiB of body, 5% short bodies, 50 ms latency.
#
# 1. Chaos reads: a repo of ~50 small files and a few LFS files of 16-40 MiB (CHAOS_MB MiB in all,
#    default 128) is read through the mount with the default --read-timeout (60 s); every sha256
#    equals the source. Meanwhile two python3 readers mmap every big file and hash it, touching
#    every page: neither may get SIGBUS (both exit 0).
# 2. Chaos writes: CHAOS_ROUNDS rounds (default 20) of `cp` of a new small file and of a changed
#    12 MiB LFS file into a branch view, then fsync of one of them. Each round lands exactly one
#    new commit on main (no duplicate from a lost answer, nothing lost), with the right bytes.
# Notes report hf-hubd's injected faults and requests and hf-mount's retries and errors.
#
# CI form: the defaults (about a minute). Longer local form:
#   CHAOS_MB=512 CHAOS_ROUNDS=50 chaos_test.sh ...
# CHAOS_SEED changes the fault seed (default 20261126).
source "$(dirname "$0")/lib.sh"
e2e_init chaos "$@"

CHAOS_MB=${CHAOS_MB:-128}
CHAOS_ROUNDS=${CHAOS_ROUNDS:-20}
CHAOS_SEED=${CHAOS_SEED:-20261126}
FAULTS="all:503=0.1,429=0.05,retry-after=1,cut=0.05:16k,short=0.05,latency=50ms"
ROOT="$W/root"
TOKEN=hf_e2e_chaos_write_token
REPO_R=alice/chaos-read
REPO_W=alice/chaos-write

# --- source data ----------------------------------------------------------------------------------
python3 - "$W" "$CHAOS_MB" <<'EOF' || abort "source data" "python failed"
import os, random, sys
w, total_mb = sys.argv[1], int(sys.argv[2])
r = random.Random(1126)
src = f"{w}/src"
os.makedirs(f"{src}/small/sub", exist_ok=True)
used = 0
# ~50 small files (a few bytes to 600 KiB) and two regular (non-LFS) files of 4 and 6 MiB.
for i in range(50):
    d = f"{src}/small" if i % 3 else f"{src}/small/sub"
    data = r.randbytes(r.choice([1, 100, 4000, 70000, 300000, 600000]))
    open(f"{d}/f{i:02d}.bin", "wb").write(data)
    used += len(data)
for name, mib in (("regular4.bin", 4), ("regular6.bin", 6)):
    data = r.randbytes(mib << 20)
    open(f"{src}/{name}", "wb").write(data)
    used += len(data)
# LFS files of 16-40 MiB up to the total.
os.makedirs(f"{src}/big", exist_ok=True)
left = (total_mb << 20) - used
sizes = [40, 16, 32, 24, 36, 20, 28]
i = 0
while left >= (16 << 20):
    size = min(sizes[i % len(sizes)] << 20, left)
    if left - size < (16 << 20):
        size = min(left, 40 << 20) if left <= (40 << 20) else size
    with open(f"{src}/big/lfs{i:02d}.bin", "wb") as f:
        f.write(r.randbytes(size))
    left -= size
    i += 1
# The write test's seed: a README and a 12 MiB LFS file changed in every round.
os.makedirs(f"{w}/wseed", exist_ok=True)
open(f"{w}/wseed/README.md", "w").write("# chaos writes\n")
open(f"{w}/wseed/lfs12.bin", "wb").write(r.randbytes(12 << 20))
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO_R" -m source "$W/src" >"$W/import.out" 2>&1 &&
  "$HUBD" import --root "$ROOT" --repo "models/$REPO_W" -m seed "$W/wseed" >>"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
NFILES=$(cd "$W/src" && find . -type f | wc -l)
NBIG=$(ls "$W/src/big" | wc -l)
note "source: $NFILES files, $(du -sm "$W/src" | cut -f1) MiB, $NBIG LFS files in big/"

start_hubd "$ROOT" --token "$TOKEN=alice:write" --faults "$FAULTS" --seed "$CHAOS_SEED" ||
  abort "hf-hubd serve" "did not start: $(cat "$W/hubd.$HUBD_N.err")"
note "hub $HUBD_URL, faults '$FAULTS', seed $CHAOS_SEED"
export HF_TOKEN=$TOKEN
AUTH=(-H "Authorization: Bearer $TOKEN")
# hcurl ARGS...: curl through the faults (injected statuses, cuts and short bodies are retried).
# The body goes through a file, which curl truncates before a retry (a pipe would keep the bytes of
# a cut attempt); the headers of the last attempt are left in $W/hcurl.head.
hcurl() {
  local rc=0
  rm -f "$W/hcurl.head" "$W/hcurl.body"
  curl -sSf --max-time 60 --retry 30 --retry-all-errors --retry-delay 1 "${AUTH[@]}" \
    -D "$W/hcurl.head" -o "$W/hcurl.body" "$@" 2>>"$W/curl.err" || rc=$?
  [ $rc = 0 ] && cat "$W/hcurl.body"
  return $rc
}

# --- 1. chaos reads ---------------------------------------------------------------------------------
MNT="$W/mnt"
mount_hf "$MNT" --endpoint "$HUBD_URL" --read-only || abort "mount under faults" "rc=$MOUNT_RC: $MOUNT_OUT"
RMOUNT_PID=$MOUNT_PID
V="$MNT/models/$REPO_R@main"

cat >"$W/mmap_reader.py" <<'EOF'
import hashlib, mmap, os, sys
# Hashes every file through a shared read-only mapping (every page is touched). A failed read of
# the mount would arrive as SIGBUS and kill the process.
bad = 0
for path, want in zip(sys.argv[1::2], sys.argv[2::2]):
    with open(path, "rb") as f:
        with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
            got = hashlib.sha256(m).hexdigest()
    if got != want:
        print(f"differs: {path}", flush=True)
        bad += 1
sys.exit(1 if bad else 0)
EOF
big_args=()
big_args_rev=()
for f in $(cd "$W/src/big" && ls); do
  s=$(sha256sum "$W/src/big/$f" | cut -d' ' -f1)
  big_args+=("$V/big/$f" "$s")
  big_args_rev=("$V/big/$f" "$s" "${big_args_rev[@]}")
done
T0=$(now)
timeout 300 python3 "$W/mmap_reader.py" "${big_args[@]}" >"$W/mmap1.out" 2>&1 &
MM1=$!
timeout 300 python3 "$W/mmap_reader.py" "${big_args_rev[@]}" >"$W/mmap2.out" 2>&1 &
MM2=$!
E2E_PIDS+=("$MM1" "$MM2")
# The reads run in the background while the write rounds below run (the CI form stays short).
read_all() {
  local fails=0 f got
  for f in $(cd "$W/src" && find . -type f | sed 's|^\./||' | sort); do
    got=$(timeout 120 sha256sum "$V/$f" 2>"$W/sum.err" | cut -d' ' -f1)
    if [ "$got" != "$(sha256sum "$W/src/$f" | cut -d' ' -f1)" ]; then
      fails=$((fails + 1))
      echo "# differs or failed: $f: $(cat "$W/sum.err")"
    fi
  done
  echo "$fails $(since "$T0")" >"$W/reads.result"
}
read_all >"$W/reads.out" 2>&1 &
READS=$!
E2E_PIDS+=("$READS")

# --- 2. chaos writes --------------------------------------------------------------------------------
commits() {  # number of commits on main (X-Total-Count of the commit list)
  hcurl "$HUBD_URL/api/models/$REPO_W/commits/main?limit=1" >/dev/null &&
    tr -d '\r' <"$W/hcurl.head" | sed -n 's/^[Xx]-[Tt]otal-[Cc]ount: *//p' | tail -n1
}
# remote_ids SHA PATH...: "PATH OID" per path at commit SHA, where OID is the LFS sha256 of an LFS
# file and the git blob id of a regular file (paths-info).
remote_ids() {
  local sha=$1 p args=()
  shift
  for p in "$@"; do args+=(--data-urlencode "paths=$p"); done
  hcurl "${args[@]}" "$HUBD_URL/api/models/$REPO_W/paths-info/$sha" | python3 -c 'import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: e["path"]):
    print(e["path"], e["lfs"]["oid"] if e.get("lfs") else e["oid"])'
}
# git_oid FILE: the git blob id of a file.
git_oid() { python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read()
print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"; }
C0=$(commits)
[ -n "$C0" ] || abort "commit count" "no X-Total-Count"
WM="$W/wmnt"
# No quiet-period commits: only the fsync of each round commits.
mount_hf "$WM" --endpoint "$HUBD_URL" --commit-delay 3600 --cache-dir "$W/wcache" ||
  abort "write mount under faults" "rc=$MOUNT_RC: $MOUNT_OUT"
WMOUNT_PID=$MOUNT_PID
WV="$WM/models/$REPO_W@main"
cp "$W/wseed/lfs12.bin" "$W/lfs12.cur"
bad_counts=0
bad_content=0
fsync_times=""
before=$C0
fsync_failures=0
TW0=$(now)
for ((i = 1; i <= CHAOS_ROUNDS; i++)); do
  printf 'round %d of the chaos writes\n' "$i" >"$W/round.txt"
  python3 - "$W/lfs12.cur" "$i" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek((int(sys.argv[2]) * 977 * 1024) % (12 << 20))
    f.write(f"round {sys.argv[2]} ".encode() * 500)
EOF
  if ! timeout 120 cp "$W/round.txt" "$WV/round$i.txt" || ! timeout 120 cp "$W/lfs12.cur" "$WV/lfs12.bin"; then
    nok "round $i: cp into the branch view" "failed"
    continue
  fi
  target=$([ $((i % 2)) = 0 ] && echo "round$i.txt" || echo "lfs12.bin")
  synced=0
  t1=$(now)
  for ((a = 1; a <= 5; a++)); do
    if timeout 120 python3 -c "import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))" "$WV/$target" 2>>"$W/fsync.err"; then
      synced=1
      break
    fi
    fsync_failures=$((fsync_failures + 1))
  done
  fsync_times+="$(since "$t1") "
  [ $synced = 1 ] || nok "round $i: fsync" "failed 5 times: $(tail -n1 "$W/fsync.err")"
  after=$(commits)  # also leaves the head commit in $W/hcurl.body
  sha=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$W/hcurl.body")
  if [ "$after" != $((before + 1)) ]; then
    bad_counts=$((bad_counts + 1))
    nok "round $i: exactly one commit" "$before -> $after commits"
  fi
  before=$after
  want="lfs12.bin $(sha256sum <"$W/lfs12.cur" | cut -d' ' -f1)
round$i.txt $(git_oid "$W/round.txt")"
  got=$(remote_ids "$sha" lfs12.bin "round$i.txt")
  if [ "$got" != "$want" ]; then
    bad_content=$((bad_content + 1))
    nok "round $i: content of commit $sha" "got '$got', want '$want'"
  fi
done
T_WRITE=$(since "$TW0")
expect "every round landed exactly one commit ($CHAOS_ROUNDS rounds, $T_WRITE s)" "$bad_counts" 0
expect "every round's commit has the right bytes" "$bad_content" 0
expect "commits on main after the rounds" "$(commits)" "$((C0 + CHAOS_ROUNDS))"
files=$(hcurl "$HUBD_URL/api/models/$REPO_W/tree/main" | python3 -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["path"].startswith("round")))')
expect "every round's file is on main" "$files" "$CHAOS_ROUNDS"
sleep 1.2
status=$("$HFM" status 2>&1)
line=$(printf '%s\n' "$status" | grep -A3 "^$WM\$" | grep -o 'requests [0-9]* (retries [0-9]*, errors [0-9]*)')
note "writes: $fsync_failures fsync calls failed and were repeated$( [ -s "$W/fsync.err" ] && echo ": $(grep -c OSError "$W/fsync.err") OSError ($(grep -o 'OSError.*' "$W/fsync.err" | sort | uniq -c | tr '\n' ' '))")"
note "writes: fsync times (s, with repeats): $fsync_times"
grep -iE "commit.*(fail|lost|error)|conflict" "$W/wmnt.log" | head -n 10 | sed 's/^/#   log: /'
note "writes: hf-mount $line"
pending=$(printf '%s\n' "$status" | awk -v m="$WM" '/^[^ ]/ { mine = ($0 == m) } mine && /pending changes:/ { print $3 }')
expect "nothing left pending after the rounds" "${pending:-0}" 0 "$status"
unmount_hf "$WM" "$WMOUNT_PID"

# --- results of the reads -----------------------------------------------------------------------------
wait "$READS"
forget_pid "$READS"
cat "$W/reads.out"
read -r fails T_READ <"$W/reads.result"
expect "every file's sha256 equals the source under faults ($NFILES files, $T_READ s)" "$fails" 0
for n in 1 2; do
  pid=$([ $n = 1 ] && echo $MM1 || echo $MM2)
  rc=0
  wait "$pid" || rc=$?
  forget_pid "$pid"
  if [ $rc = 0 ]; then
    ok "mmap reader $n hashed every page of the $NBIG LFS files"
  elif [ $rc = 135 ]; then
    nok "mmap reader $n" "SIGBUS: $(cat "$W/mmap$n.out")"
  else
    nok "mmap reader $n" "exit $rc: $(cat "$W/mmap$n.out")"
  fi
done
status=$("$HFM" status 2>&1)
line=$(printf '%s\n' "$status" | grep -A3 "^$MNT\$" | grep -o 'requests [0-9]* (retries [0-9]*, errors [0-9]*)')
note "reads: hf-mount $line"
retries=$(printf '%s' "$line" | sed -n 's/.*retries \([0-9]*\).*/\1/p')
if [ "${retries:-0}" -gt 0 ]; then ok "the read mount retried ($retries retries)"
else nok "the read mount retried" "no retries reported: '$status'"; fi
note "hf-hubd (reads and writes): faults_injected $(stats_get faults_injected), requests $(curl -sS "$HUBD_URL/_hubd/stats" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')"
unmount_hf "$MNT" "$RMOUNT_PID"
finish
