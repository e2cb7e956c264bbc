#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: a damaged block cache (docs/caching.md). No wrong byte may reach a reader, and the
# daemon never stops because of its cache.
#
# Usage: cache_corruption_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# A repo of LFS files of random bytes is read through a mount (so every block is cached), then
# the blocks environment's data file (<cache>/blocks/data.mdb) is damaged with the python helper
# below, which finds a block's payload by searching the file for bytes known to be in it:
# 1. Flipped bytes inside stored block values under a live mount: after dropping the page cache
#    (/proc/sys/vm/drop_caches), reads give the right sha256, hf-hubd counts the refetch (the
#    damaged blocks only, about 1 MiB each), the log says "checksum mismatch", and a third read
#    is served from the repaired cache (no request).
# 2. The same between mounts (damage while unmounted, then mount and read).
# 3. Both LMDB meta pages damaged before a mount: the mount succeeds, the log says the block
#    cache was rebuilt, and every file reads right.
# 4. A leaf page of the blocks tree damaged under a live mount (LMDB then answers MDB_CORRUPTED):
#    the daemon logs it, rebuilds the block cache at run time and keeps serving right bytes, and
#    the rebuilt cache caches again. Meta pages damaged under a live mount: reads go on, and
#    the next mount rebuilds.
# The daemon must be alive at the end of every step.
#
# CI form: the defaults (4 files of 12 MiB, one round; about 30 s). Longer local form:
#   CORRUPT_FILES=8 CORRUPT_MB=64 CORRUPT_ROUNDS=5 cache_corruption_test.sh ...
source "$(dirname "$0")/lib.sh"
e2e_init cache_corruption "$@"

NFILES=${CORRUPT_FILES:-4}
MB=${CORRUPT_MB:-12}
ROUNDS=${CORRUPT_ROUNDS:-1}
ROOT="$W/root"
REPO=alice/damaged
CACHE="$W/cache"
DATA="$CACHE/blocks/data.mdb"
MNT="$W/mnt"
LOG="$W/mnt.log"
[ -w /proc/sys/vm/drop_caches ] || { echo "skip: /proc/sys/vm/drop_caches is not writable"; exit 77; }

mkdir -p "$W/src"
python3 - "$W/src" "$NFILES" "$MB" <<'EOF' || abort "source data" "python failed"
import random, sys
src, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(5)
for i in range(n):
    with open(f"{src}/f{i}.bin", "wb") as f:
        f.write(r.randbytes((mb << 20) + 12345))  # a short last block too
open(f"{src}/README.md", "w").write("# damaged cache\n")
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m source "$W/src" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" || abort "hf-hubd serve" "$(cat "$W/hubd.$HUBD_N.err")"
(cd "$W/src" && sha256sum ./*.bin) >"$W/want.sha"

# damage.py: the one tool that damages data.mdb, in place (the file stays the same size).
cat >"$W/damage.py" <<'EOF'
import mmap, os, struct, sys

def open_map(path):
    fd = os.open(path, os.O_RDWR)
    return fd, mmap.mmap(fd, 0)

def flip_values(path, src, name, blocks):
    """Flips 64 bytes in the middle of each listed block of file `name`, found by content."""
    data = open(os.path.join(src, name), "rb").read()
    fd, m = open_map(path)
    n = 0
    for b in blocks:
        off = b * (1 << 20) + 300000
        needle = data[off:off + 64]
        at = m.find(needle)
        if at < 0:
            print(f"block {b} of {name} not in the data file", file=sys.stderr)
            continue
        m[at:at + 64] = bytes(x ^ 0xA5 for x in needle)
        n += 1
    m.flush()
    print(n)

def meta(m, psize=4096):
    """(txnid, page offset) of the newer meta page, and the main db's root page number."""
    best = None
    for p in (0, 1):
        base = p * psize
        magic, = struct.unpack_from("<I", m, base + 16)
        txnid, = struct.unpack_from("<Q", m, base + 16 + 24 + 96 + 8)
        root, = struct.unpack_from("<Q", m, base + 16 + 24 + 48 + 40)
        if best is None or txnid > best[0]:
            best = (txnid, base, root)
    return best

def leaf_of_blocks(path, psize=4096):
    """Sets the page flags of the blocks tree's root page to 0 (neither branch nor leaf)."""
    fd, m = open_map(path)
    _, _, main_root = meta(m, psize)
    page = m[main_root * psize:(main_root + 1) * psize]
    at = page.find(b"blocks")
    if at < 0:
        print("no 'blocks' record in the main tree", file=sys.stderr)
        sys.exit(1)
    root, = struct.unpack_from("<Q", page, at + 6 + 40)
    flags_at = root * psize + 10
    flags, = struct.unpack_from("<H", m, flags_at)
    struct.pack_into("<H", m, flags_at, 0)
    m.flush()
    print(f"page {root} flags {flags:#x} -> 0")

def meta_pages(path, psize=4096):
    """Overwrites the magic of both meta pages."""
    fd, m = open_map(path)
    for p in (0, 1):
        struct.pack_into("<I", m, p * psize + 16, 0xDEADBEEF)
    m.flush()
    print("both meta pages")

cmd = sys.argv[1]
if cmd == "values":
    flip_values(sys.argv[2], sys.argv[3], sys.argv[4], [int(x) for x in sys.argv[5:]])
elif cmd == "tree":
    leaf_of_blocks(sys.argv[2])
elif cmd == "meta":
    meta_pages(sys.argv[2])
EOF

# Bytes hf-hubd has sent for file contents (LFS files are redirected to its CDN).
sent() { python3 -c 'import json, sys; d = json.load(sys.stdin)["bytes_sent"]; print(sum(d.values()))' \
  < <(curl -sS --max-time 10 "$HUBD_URL/_hubd/stats"); }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
V() { echo "$MNT/models/$REPO@main"; }
# read_all LABEL: sha256 of every file through the mount must match.
read_all() {
  local got
  got=$(cd "$(V)" && timeout 120 sha256sum ./*.bin 2>&1)
  expect "$1: every sha256 right" "$got" "$(cat "$W/want.sha")"
}
read_one() { (cd "$(V)" && timeout 60 sha256sum "./$1" 2>&1); }
want_one() { grep " ./$1\$" "$W/want.sha"; }
alive() {
  if pid_alive "$MOUNT_PID" && is_mounted "$MNT"; then ok "$1: daemon alive, still mounted"
  else nok "$1: daemon alive, still mounted" "pid $MOUNT_PID gone or unmounted; log: $(tail -n5 "$LOG")"; fi
}
count_log() { grep -c -- "$1" "$LOG" 2>/dev/null || true; }
# log_grew PATTERN BEFORE: the number of new log lines with PATTERN, waiting up to 3 s for the
# daemon's log to be flushed (once a second).
log_grew() {
  local i n=0
  for ((i = 0; i < 30; i++)); do
    n=$(($(count_log "$1") - $2))
    [ "$n" -gt 0 ] && break
    sleep 0.1
  done
  echo "$n"
}
# Memory for prefetched blocks is kept small, so re-reads reach the block cache, not memory.
MOUNT_ARGS=(--endpoint "$HUBD_URL" --cache-dir "$CACHE" --memory-limit 16M --log-file "$LOG")
SIZE=$(((MB << 20) + 12345))
BLOCKS=$(((SIZE + (1 << 20) - 1) >> 20))

mount_hf "$MNT" "${MOUNT_ARGS[@]}" || abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
t0=$(now)
read_all "cold read"
note "cold read of $NFILES x $MB MiB: $(since "$t0") s, $(sent) bytes sent by hf-hubd"
[ -f "$DATA" ] || abort "data file" "$DATA is missing"
sleep 1.5  # the touch flusher runs every second; let the cache settle

for ((round = 1; round <= ROUNDS; round++)); do
  [ "$ROUNDS" = 1 ] || note "--- round $round of $ROUNDS"
  # --- 1. flipped bytes in block values, live mount ------------------------------------------
  f=f0.bin
  before=$(sent)
  mism0=$(count_log "checksum mismatch")
  n=$(python3 "$W/damage.py" values "$DATA" "$W/src" $f 0 3 $((BLOCKS - 2)))
  expect "live: damaged 3 block values of $f" "$n" 3
  drop_caches
  expect "live: $f right after damage" "$(read_one $f)" "$(want_one $f)"
  refetched=$(($(sent) - before))
  if [ "$refetched" -ge $((3 << 20)) ] && [ "$refetched" -lt $((6 << 20)) ]; then
    ok "live: only the damaged blocks were refetched ($refetched bytes)"
  else
    nok "live: only the damaged blocks were refetched" "$refetched bytes sent, want 3 to 6 MiB"
  fi
  mism=$(log_grew "checksum mismatch" "$mism0")
  check "live: the log says checksum mismatch ($mism lines)" "$(tail -n5 "$LOG")" [ "$mism" -ge 1 ]
  sleep 1.5
  drop_caches
  before=$(sent)
  expect "live: $f right again" "$(read_one $f)" "$(want_one $f)"
  expect "live: repaired blocks served from the cache (bytes sent)" "$(($(sent) - before))" 0
  alive "live value damage"

  # --- 2. flipped bytes between mounts -------------------------------------------------------
  f=f1.bin
  unmount_hf "$MNT" "$MOUNT_PID"
  n=$(python3 "$W/damage.py" values "$DATA" "$W/src" $f 1 2 $((BLOCKS - 3)))
  expect "offline: damaged 3 block values of $f" "$n" 3
  mount_hf "$MNT" "${MOUNT_ARGS[@]}" || abort "remount" "rc=$MOUNT_RC: $MOUNT_OUT"
  before=$(sent)
  mism0=$(count_log "checksum mismatch")
  expect "offline: $f right after remount" "$(read_one $f)" "$(want_one $f)"
  refetched=$(($(sent) - before))
  if [ "$refetched" -ge $((2 << 20)) ] && [ "$refetched" -lt $((6 << 20)) ]; then
    ok "offline: only the damaged blocks were refetched ($refetched bytes)"
  else
    nok "offline: only the damaged blocks were refetched" "$refetched bytes sent, want 2 to 6 MiB"
  fi
  mism=$(log_grew "checksum mismatch" "$mism0")
  check "offline: the log says checksum mismatch ($mism lines)" "$(tail -n5 "$LOG")" [ "$mism" -ge 1 ]
  before=$(sent)
  drop_caches
  read_all "offline: the other files"
  note "offline: $(($(sent) - before)) bytes sent for the other files (cached: expect few)"
  alive "offline value damage"
done

# --- 3. meta pages damaged before a mount ----------------------------------------------------
unmount_hf "$MNT" "$MOUNT_PID"
python3 "$W/damage.py" meta "$DATA" >/dev/null
rebuilt0=$(count_log "block cache was rebuilt")
t0=$(now)
mount_hf "$MNT" "${MOUNT_ARGS[@]}" || abort "mount over damaged meta pages" "rc=$MOUNT_RC: $MOUNT_OUT"
note "mount over a damaged environment: $(since "$t0") s"
rebuilt=$(log_grew "block cache was rebuilt" "$rebuilt0")
expect "damaged meta pages: the log says the block cache was rebuilt" "$rebuilt" 1
before=$(sent)
read_all "damaged meta pages"
note "damaged meta pages: $(($(sent) - before)) bytes refetched"
alive "damaged meta pages"
sleep 1.5

# --- 4. MDB_CORRUPTED under a live mount --------------------------------------------------------
drop_caches
before=$(sent)
read_all "warm before tree damage"
expect "warm before tree damage: nothing fetched" "$(($(sent) - before))" 0
rt0=$(count_log "block cache rebuilt at run time")
python3 "$W/damage.py" tree "$DATA" >"$W/tree.out" 2>&1 || nok "damage the blocks tree" "$(cat "$W/tree.out")"
note "tree damage: $(cat "$W/tree.out")"
drop_caches
before=$(sent)
t0=$(now)
read_all "MDB_CORRUPTED under a live mount"
note "read after tree damage: $(since "$t0") s, $(($(sent) - before)) bytes refetched"
alive "MDB_CORRUPTED"
expect "MDB_CORRUPTED: the log says the block cache was rebuilt at run time" \
  "$(log_grew "block cache rebuilt at run time" "$rt0")" 1
sleep 1.5
drop_caches
before=$(sent)
read_all "after the run-time rebuild"
expect "after the run-time rebuild: served from the new cache (bytes sent)" "$(($(sent) - before))" 0
alive "after the run-time rebuild"

# Meta pages damaged under a live mount: LMDB does not look at them again until the next open.
python3 "$W/damage.py" meta "$DATA" >/dev/null
drop_caches
read_all "meta pages damaged under a live mount"
alive "meta pages damaged under a live mount"
unmount_hf "$MNT" "$MOUNT_PID"
rebuilt0=$(count_log "block cache was rebuilt")
mount_hf "$MNT" "${MOUNT_ARGS[@]}" || abort "mount after live meta damage" "rc=$MOUNT_RC: $MOUNT_OUT"
expect "live meta damage: the next mount rebuilds" "$(log_grew "block cache was rebuilt" "$rebuilt0")" 1
read_all "after live meta damage and a remount"
alive "after live meta damage and a remount"
unmount_hf "$MNT" "$MOUNT_PID"
note "log lines about the cache: $(grep -ci 'cache' "$LOG")"
finish
