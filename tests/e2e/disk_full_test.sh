#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the cache directory on a small filesystem that fills up (a tmpfs mounted by the
# test; root only, else skipped).
#
# Usage: disk_full_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# The repo (DF_FILES LFS files of DF_MB MiB of random bytes) is larger than the tmpfs
# (DF_TMPFS_MB MiB).
# 1. Cache that cannot store: --cache-size far above the tmpfs. Reading every file gives the
#    right sha256 although the tmpfs fills up (blocks go uncached), and the daemon lives on.
# 2. Eviction: a fresh cache dir with --cache-size DF_CACHE_MB (below the tmpfs): every file read
#    twice gives the right sha256, and the blocks data file (du) stays within --cache-size plus a
#    little (LMDB's tree and free pages), as does `hf-mount status`'s cache use.
# 3. Writer on a full disk (mount 2 with a write token, branch view @main; staging is in the
#    cache dir): a small file is written and closed; a large file's write() fails with ENOSPC and
#    its close() too; fsync of the view's folder commits the small file only (the half-written
#    file is held back, docs/SEMANTICS.md "Full disk"); rewriting it with O_TRUNC makes it
#    commit; another failed file that is removed is never committed and its space comes back.
#    The daemon never dies (no SIGBUS: LMDB is never opened with MDB_WRITEMAP).
#
# CI form: the defaults (6 x 16 MiB on a 48 MiB tmpfs; about 30 s). Longer local form:
#   DF_FILES=16 DF_MB=64 DF_TMPFS_MB=256 DF_CACHE_MB=96 disk_full_test.sh ...
source "$(dirname "$0")/lib.sh"
e2e_init disk_full "$@"

NFILES=${DF_FILES:-6}
MB=${DF_MB:-16}
TMPFS_MB=${DF_TMPFS_MB:-48}
CACHE_MB=${DF_CACHE_MB:-16}
ROOT="$W/root"
REPO=alice/full
TOKEN=hf_e2e_disk_full_token
T="$W/tmpfs"

[ "$(id -u)" = 0 ] || { echo "skip: mounting a tmpfs needs root"; exit 77; }
mkdir -p "$T"
mount -t tmpfs -o "size=${TMPFS_MB}m" tmpfs "$T" || { echo "skip: cannot mount a tmpfs"; exit 77; }
# Teardown: FUSE mounts and daemons first (lib.sh's steps), then the tmpfs, then lib.sh's cleanup.
df_teardown() {
  local m pid
  for m in "${E2E_MOUNTS[@]}"; do
    is_mounted "$m" && fusermount3 -u -z "$m" 2>/dev/null
  done
  for pid in "${E2E_PIDS[@]}"; do
    stop_pid "$pid" TERM 10
  done
  umount "$T" 2>/dev/null || umount -l "$T" 2>/dev/null || true
}
trap 'rc=$?; df_teardown; (exit $rc); e2e_cleanup' EXIT

mkdir -p "$W/src"
python3 - "$W/src" "$NFILES" "$MB" <<'EOF' || abort "source data" "python failed"
import random, sys
src, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(11)
for i in range(n):
    with open(f"{src}/f{i}.bin", "wb") as f:
        f.write(r.randbytes((mb << 20) + 777))
open(f"{src}/README.md", "w").write("# full disk\n")
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m source "$W/src" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --token "$TOKEN=alice:write" || abort "hf-hubd serve" "$(cat "$W/hubd.$HUBD_N.err")"
(cd "$W/src" && sha256sum ./*.bin) >"$W/want.sha"
note "repo: $NFILES x $MB MiB on a ${TMPFS_MB} MiB tmpfs"

tmpfs_used_mb() { df -m --output=used "$T" | tail -n1 | tr -d ' '; }
alive() {
  if pid_alive "$1" && is_mounted "$2"; then ok "$3: daemon alive, still mounted"
  else nok "$3: daemon alive, still mounted" "log: $(tail -n5 "$W/$(basename "$2").log")"; fi
}
read_all() {
  local got
  got=$(cd "$1" && timeout 120 sha256sum ./f*.bin 2>&1)
  expect "$2: every sha256 right" "$got" "$(cat "$W/want.sha")"
}
status_of() { "$HFM" status 2>/dev/null | grep -A12 "$1" ; }

# --- 1. a cache that cannot store -----------------------------------------------------------------
A="$W/mnt_a"
mount_hf "$A" --endpoint "$HUBD_URL" --cache-dir "$T/c1" --cache-size 4G --memory-limit 16M ||
  abort "mount A" "rc=$MOUNT_RC: $MOUNT_OUT"
A_PID=$MOUNT_PID
t0=$(now)
read_all "$A/models/$REPO@main" "full tmpfs, cache too big for it"
note "read of $((NFILES * MB)) MiB: $(since "$t0") s; tmpfs used $(tmpfs_used_mb) of $TMPFS_MB MiB, blocks $(du -sm "$T/c1/blocks" | cut -f1) MiB"
if [ "$(tmpfs_used_mb)" -ge $((TMPFS_MB - 2)) ]; then ok "the tmpfs filled up"
else nok "the tmpfs filled up" "only $(tmpfs_used_mb) MiB used"; fi
sent0=$(stats_get bytes_sent cdn)
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
read_all "$A/models/$REPO@main" "full tmpfs, second read"
note "second read: $(($(stats_get bytes_sent cdn) - sent0)) bytes fetched again (uncached blocks)"
alive "$A_PID" "$A" "full tmpfs"
unmount_hf "$A" "$A_PID"
rm -rf "${T:?}/c1"

# --- 2. eviction within --cache-size ----------------------------------------------------------------
export HF_TOKEN=$TOKEN
B="$W/mnt_b"
mount_hf "$B" --endpoint "$HUBD_URL" --cache-dir "$T/c2" --cache-size "${CACHE_MB}M" --memory-limit 16M \
  --commit-delay 3600 || abort "mount B" "rc=$MOUNT_RC: $MOUNT_OUT"
B_PID=$MOUNT_PID
V="$B/models/$REPO@main"
read_all "$V" "--cache-size ${CACHE_MB}M, first read"
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
read_all "$V" "--cache-size ${CACHE_MB}M, second read"
sleep 1.5  # the status record is refreshed every second
data_mb=$(du -sm "$T/c2/blocks/data.mdb" | cut -f1)
line=$(status_of "$B" | grep -i "MiB used of" | head -n1 | sed 's/^ *//')
used_mb=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) MiB used of.*/\1/p')
note "blocks data file: $data_mb MiB (du); status: $line"
if [ -n "$used_mb" ] && lt "$used_mb" $((CACHE_MB + 1)); then
  ok "pages in use within --cache-size ${CACHE_MB}M ($used_mb MiB)"
else
  nok "pages in use within --cache-size ${CACHE_MB}M" "status: $line"
fi
# The data file (what the disk holds) may exceed the budget by one write transaction (up to
# 16 MiB of blocks): LMDB reuses the pages eviction frees only two transactions later.
if [ "$data_mb" -le $((CACHE_MB + 16 + 2)) ]; then
  ok "blocks data file within --cache-size ${CACHE_MB}M plus one write batch ($data_mb MiB)"
else
  nok "blocks data file within --cache-size plus one batch" "$data_mb MiB for --cache-size ${CACHE_MB}M"
fi
alive "$B_PID" "$B" "eviction"

# --- 3. a writer on a full disk --------------------------------------------------------------------
tree() { api_json "api/models/$REPO/tree/main" '" ".join(sorted(e["path"] for e in d))' \
  -H "Authorization: Bearer $TOKEN"; }
commits() { api_json "api/models/$REPO/commits/main" 'len(d)' -H "Authorization: Bearer $TOKEN"; }
remote() { curl -sSL --max-time 20 -H "Authorization: Bearer $TOKEN" "$HUBD_URL/$REPO/resolve/main/$1"; }
C0=$(commits)
echo "small and whole" >"$V/ok.txt" || nok "write ok.txt" "cp failed"
free_mb=$(df -m --output=avail "$T" | tail -n1 | tr -d ' ')
note "free on the tmpfs before the large write: $free_mb MiB"
# fill FILE MIB: writes MIB MiB in 1 MiB write() calls; prints "<errno of the first failed write>
# <MiB written> <errno of close>" (OK when none failed).
fill() {
  timeout 120 python3 - "$1" "$2" <<'EOF'
import errno, os, sys
path, mib = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
chunk = os.urandom(1 << 20)
werr, n = "OK", 0
for i in range(mib):
    try:
        os.write(fd, chunk)
        n += 1
    except OSError as e:
        werr = errno.errorcode.get(e.errno, str(e.errno))
        break
try:
    os.close(fd)
    cerr = "OK"
except OSError as e:
    cerr = errno.errorcode.get(e.errno, str(e.errno))
print(werr, n, cerr)
EOF
}
read -r werr wrote cerr <<<"$(fill "$V/big.bin" $((TMPFS_MB * 2)))"
note "big.bin: $wrote MiB written before $werr; close: $cerr"
expect "full disk: write() of big.bin fails with ENOSPC" "$werr" ENOSPC
expect "full disk: close() of big.bin reports ENOSPC" "$cerr" ENOSPC
expect "full disk: fsync of big.bin reports ENOSPC" \
  "$(errno_of "fd = os.open('$V/big.bin', os.O_WRONLY); os.fsync(fd)")" ENOSPC
alive "$B_PID" "$B" "full disk writer"
expect "fsync of the view folder commits" "$(errno_of "os.fsync(os.open('$V', os.O_RDONLY))")" OK
expect "one commit" "$(commits)" $((C0 + 1))
files=$(tree)
case " $files " in
  *" ok.txt "*) ok "ok.txt committed" ;;
  *) nok "ok.txt committed" "tree: $files" ;;
esac
case " $files " in
  *" big.bin "*) nok "the half-written big.bin is not committed" "tree: $files" ;;
  *) ok "the half-written big.bin is not committed" ;;
esac
expect "ok.txt bytes on the hub" "$(remote ok.txt)" "small and whole"
for ((i = 0; i < 50; i++)); do grep -q "held back from commits" "$W/mnt_b.log" && break; sleep 0.1; done
grep -q "held back from commits" "$W/mnt_b.log" && ok "the log says big.bin is held back" ||
  nok "the log says big.bin is held back" "$(grep -i big.bin "$W/mnt_b.log" | tail -n2)"

# Rewritten with O_TRUNC: the mark is cleared and the new content commits.
echo "rewritten after ENOSPC" >"$V/big.bin" || nok "rewrite big.bin" "write failed"
expect "rewritten big.bin: fsync commits it" "$(errno_of "fd = os.open('$V/big.bin', os.O_RDONLY); os.fsync(fd)")" OK
expect "rewritten big.bin on the hub" "$(remote big.bin)" "rewritten after ENOSPC"

# Failed and then removed: never committed, and the space comes back.
read -r werr wrote cerr <<<"$(fill "$V/big2.bin" $((TMPFS_MB * 2)))"
expect "full disk again: write() of big2.bin fails with ENOSPC" "$werr" ENOSPC
used_full=$(tmpfs_used_mb)
rm -f "$V/big2.bin" || nok "rm big2.bin" "rm failed"
expect "fsync of the view after rm" "$(errno_of "os.fsync(os.open('$V', os.O_RDONLY))")" OK
files=$(tree)
case " $files " in
  *" big2.bin "*) nok "removed big2.bin is never committed" "tree: $files" ;;
  *) ok "removed big2.bin is never committed" ;;
esac
sleep 0.5
used_after=$(tmpfs_used_mb)
if [ "$used_after" -lt $((used_full - wrote / 2)) ]; then ok "space of big2.bin came back ($used_full -> $used_after MiB)"
else nok "space of big2.bin came back" "$used_full -> $used_after MiB used"; fi
# Reads still right after all that, and a later write that fits commits.
echo "after the storm" >"$V/later.txt"
expect "later.txt: fsync commits it" "$(errno_of "fd = os.open('$V/later.txt', os.O_RDONLY); os.fsync(fd)")" OK
expect "later.txt on the hub" "$(remote later.txt)" "after the storm"
read_all "$V" "after the full-disk writes"
alive "$B_PID" "$B" "after the full-disk writes"
grep -E "SIGBUS|terminate called|Aborted" "$W/mnt_b.log" "$W/mnt_a.log" && nok "no crash in the logs" "see above" || ok "no crash in the logs"
unmount_hf "$B" "$B_PID"
finish
