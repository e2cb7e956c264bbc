#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: peak anonymous memory of the daemon under concurrent reads and a large upload.
#
# Usage: memory_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# One mount with --memory-limit $MEMORY_LIMIT_MIB MiB. At the same time:
# - 8 readers of 8 different uncached files of $MEMORY_FILE_MIB MiB each: 4 read them with read(2)
#   (sha256sum), 4 map them and hash the mapping (python mmap);
# - one writer copies a $MEMORY_UPLOAD_MIB MiB file into a branch view and fsyncs it, which
#   uploads it through LFS and commits it.
# The daemon's RssAnon (anonymous resident memory: heap, buffers, thread stacks; not the LMDB map
# or the page cache, which are file-backed) is sampled every 10 ms from /proc/PID/status. Checks:
# every sha256 is right, the upload landed with the right LFS sha256 in one commit, and the peak
# RssAnon stays under the limit. VmHWM (all resident memory) is reported too.
#
# CI form: 8 x 128 MiB files and a 512 MiB upload (about 40 s). The issue's form:
#   MEMORY_FILE_MIB=1024 MEMORY_UPLOAD_MIB=4096 (about 13 GiB of disk under $TMPDIR).
# MEMORY_XET=1 imports the files as Xet and makes hf-hubd offer Xet, so the reads and the upload
# go through the CAS (ctest e2e_memory_xet: 8 x 64 MiB and 256 MiB).
source "$(dirname "$0")/lib.sh"
e2e_init memory "$@"

FILE_MIB=${MEMORY_FILE_MIB:-128}
UPLOAD_MIB=${MEMORY_UPLOAD_MIB:-512}
LIMIT_MIB=${MEMORY_LIMIT_MIB:-256}
READERS=${MEMORY_READERS:-8}
ROOT="$W/root"
TOKEN=hf_e2e_memory_token
REPO=alice/memory

# Random bytes, written 16 MiB at a time so that the generator itself stays small.
gen() {  # gen PATH MIB SEED
  python3 - "$@" <<'EOF'
import random, sys
path, mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
with open(path, "wb") as f:
    for _ in range(0, mib, 16):
        f.write(r.randbytes(16 << 20))
EOF
}
mkdir -p "$W/src"
for ((i = 0; i < READERS; i++)); do
  gen "$W/src/f$i.bin" "$FILE_MIB" "$i" || abort "source data" "python failed"
done
echo seed >"$W/src/README.md"
gen "$W/upload.bin" "$UPLOAD_MIB" 99 || abort "upload data" "python failed"
sha256sum "$W"/src/f*.bin "$W/upload.bin" | sed "s#$W/src/##; s#$W/##" >"$W/want.sha"
XET=()  # MEMORY_XET=1: the files and the upload go through Xet
[ "${MEMORY_XET:-0}" = 1 ] && XET=(--xet)
"$HUBD" import "${XET[@]}" --root "$ROOT" --repo "models/$REPO" -m source "$W/src" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
rm -f "$W"/src/f*.bin  # the disk space goes to the upload
start_hubd "$ROOT" --token "$TOKEN=alice:write" ${XET:+--xet-default} || abort "hf-hubd serve" "$(cat "$W/hubd.$HUBD_N.err")"
export HF_TOKEN=$TOKEN

MNT="$W/mnt"
mount_hf "$MNT" --endpoint "$HUBD_URL" --memory-limit "${LIMIT_MIB}M" --commit-delay 3600 ||
  abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
PID=$MOUNT_PID
V="$MNT/models/$REPO@main"
[ -n "$PID" ] || abort "daemon pid" "$MOUNT_OUT"
ls "$V" >/dev/null || abort "listing" "cannot list $V"

# Samples RssAnon and VmHWM (kB) until $W/stop.sampler exists; prints "peak_rss_anon vm_hwm".
python3 - "$PID" "$W/stop.sampler" >"$W/sampler.out" 2>&1 <<'EOF' &
import os, sys, time
pid, stop = sys.argv[1], sys.argv[2]
peak = hwm = samples = 0
while not os.path.exists(stop):
    try:
        fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    except OSError:
        break
    peak = max(peak, int(fields["RssAnon"].split()[0]))
    hwm = int(fields["VmHWM"].split()[0])
    samples += 1
    time.sleep(0.01)
print(peak, hwm, samples)
EOF
SAMPLER=$!
E2E_PIDS+=("$SAMPLER")
BASE_ANON=$(awk '/^RssAnon/ {print $2}' "/proc/$PID/status")

t0=$(now)
pids=()
for ((i = 0; i < READERS; i++)); do
  if [ $((i % 2)) = 0 ]; then
    (cd "$V" && timeout 600 sha256sum "f$i.bin") >"$W/read$i.out" 2>&1 &
  else
    timeout 600 python3 - "$V/f$i.bin" >"$W/read$i.out" 2>&1 <<'EOF' &
import hashlib, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
h = hashlib.sha256()
for off in range(0, len(m), 4 << 20):
    h.update(m[off:off + (4 << 20)])
print(h.hexdigest(), " ", os.path.basename(sys.argv[1]), sep="")
EOF
  fi
  pids+=($!)
done
(timeout 900 cp "$W/upload.bin" "$V/upload.bin" &&
  timeout 900 python3 -c "import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))" "$V/upload.bin") \
  >"$W/upload.out" 2>&1 &
UPLOADER=$!
pids+=("$UPLOADER")
E2E_PIDS+=("${pids[@]}")
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); forget_pid "$p"; done
elapsed=$(since "$t0")
touch "$W/stop.sampler"
wait "$SAMPLER"
forget_pid "$SAMPLER"
read -r PEAK_ANON HWM SAMPLES <"$W/sampler.out" || true

expect "readers and the upload finished without error" "$failed" 0
bad=0
for ((i = 0; i < READERS; i++)); do
  got=$(tr -s ' ' <"$W/read$i.out" | cut -d' ' -f1)
  want=$(grep " f$i.bin\$" "$W/want.sha" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { bad=$((bad + 1)); note "f$i.bin: got '$(head -c 200 "$W/read$i.out")'"; }
done
expect "all $READERS readers saw the right sha256" "$bad" 0

# The upload: one commit on main whose upload.bin has the LFS sha256 of the source.
hcurl() { curl -sS --max-time 30 -H "Authorization: Bearer $TOKEN" "$@"; }
head_sha=$(hcurl "$HUBD_URL/api/models/$REPO/revision/main" | python3 -c 'import json, sys; print(json.load(sys.stdin)["sha"])')
got_lfs=$(hcurl --data-urlencode "paths=upload.bin" "$HUBD_URL/api/models/$REPO/paths-info/$head_sha" |
  python3 -c 'import json, sys
e = json.load(sys.stdin)
print(e[0]["lfs"]["oid"] if e and e[0].get("lfs") else "none")')
expect "the upload landed with its LFS sha256" "$got_lfs" "$(grep ' upload.bin$' "$W/want.sha" | cut -d' ' -f1)"
ncommits=$(hcurl "$HUBD_URL/api/models/$REPO/commits/main" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
expect "one commit after the import's" "$ncommits" 2

if [ -n "${PEAK_ANON:-}" ] && [ "$SAMPLES" -gt 10 ]; then
  limit_kb=$((LIMIT_MIB * 1024))
  check "peak RssAnon under --memory-limit: $((PEAK_ANON / 1024)) MiB of $LIMIT_MIB MiB" \
    "over the limit" test "$PEAK_ANON" -lt "$limit_kb"
  note "RssAnon at start $((BASE_ANON / 1024)) MiB, peak $((PEAK_ANON / 1024)) MiB; VmHWM $((HWM / 1024)) MiB ($SAMPLES samples)"
else
  nok "RssAnon sampled" "$(cat "$W/sampler.out")"
fi
total_mib=$((READERS * FILE_MIB))
note "read $total_mib MiB with $READERS readers and uploaded $UPLOAD_MIB MiB in $elapsed s"
unmount_hf "$MNT" "$PID"
finish
