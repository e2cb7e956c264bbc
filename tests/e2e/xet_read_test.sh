#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: reading Xet-backed files through the mount.
#
# Usage: xet_read_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD      (XET_MIB=N sets the file size)
#
# A checkpoint (half random, half repetitive so LZ4 is used) is imported into a Xet repository;
# a second commit changes 1% of it in scattered 64 KiB regions (the server stores only the new
# chunks). Through the mount: whole, ranged and mmap reads of revision 1 are byte-exact and come
# from the CAS (nothing from the LFS CDN); reading revision 2 with the same cache fetches at most
# 5% of the file from the CAS; a remount on the same cache reads both with no CAS traffic.
source "$(dirname "$0")/lib.sh"
e2e_init xet_read "$@"

SRC="$W/src"
ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/xet-model
MIB=${XET_MIB:-48}
mkdir -p "$SRC"

python3 "$(dirname "$0")/xet_data.py" make "$SRC/model.bin" $((MIB << 20))
SIZE=$(stat -c %s "$SRC/model.bin")
V1_SHA=$(sha256sum "$SRC/model.bin" | cut -d' ' -f1)
"$HUBD" import --xet --root "$ROOT" --repo "models/$REPO" -m v1 "$SRC" >"$W/import1.out" 2>&1 ||
  abort "import v1" "$(cat "$W/import1.out")"

# Revision 2: 1% of the bytes changed, in 64 KiB regions spread over the file.
cp "$SRC/model.bin" "$W/model.v1"
python3 "$(dirname "$0")/xet_data.py" edit "$SRC/model.bin"
V2_SHA=$(sha256sum "$SRC/model.bin" | cut -d' ' -f1)
"$HUBD" import --xet --root "$ROOT" --repo "models/$REPO" -m v2 "$SRC" >"$W/import2.out" 2>&1 ||
  abort "import v2" "$(cat "$W/import2.out")"
start_hubd "$ROOT" || abort "hf-hubd serve" "did not start"
V2=$(api_json "api/models/$REPO" 'd["sha"]')
V1=$(api_json "api/models/$REPO/commits/main" 'd[1]["id"]')
note "file $SIZE bytes; v1 $V1, v2 $V2"

mount_hf "$MNT" --endpoint "$HUBD_URL" || abort "mount" "$MOUNT_OUT"
R1="$MNT/models/$REPO@$V1"
R2="$MNT/models/$REPO@$V2"

xet_hash=$(xattr user.hf.xet.hash "$R1/model.bin")
expect "revision 1's file carries its Xet hash" "$(api_json "api/models/$REPO/tree/$V1" '[e for e in d if e["path"]=="model.bin"][0]["xetHash"]')" "$xet_hash"

cas0=$(stats_get bytes_sent cas)
cdn0=$(stats_get bytes_sent cdn)
expect "revision 1 reads whole and byte-exact" "$(sha256sum <"$R1/model.bin" | cut -d' ' -f1)" "$V1_SHA"
cas1=$(stats_get bytes_sent cas)
note "revision 1: $((cas1 - cas0)) bytes from the CAS for a $SIZE-byte file"
check "the bytes came from the CAS" "$((cas1 - cas0)) bytes" [ $((cas1 - cas0)) -gt $((SIZE / 4)) ]
expect "nothing came from the LFS CDN" "$(stats_get bytes_sent cdn)" "$cdn0"

ranged=$(python3 - "$R1/model.bin" "$W/model.v1" <<'EOF'
import mmap, os, random, sys
view, src = sys.argv[1], sys.argv[2]
size = os.path.getsize(src)
rng = random.Random(7)
bad = 0
with open(view, "rb") as v, open(src, "rb") as s:
    for _ in range(40):
        off = rng.randrange(size)
        n = rng.choice([1, 4096, 100000, 1 << 20])
        v.seek(off); s.seek(off)
        bad += v.read(n) != s.read(n)
    m = mmap.mmap(v.fileno(), 0, prot=mmap.PROT_READ)
    for _ in range(20):
        off = rng.randrange(size)
        s.seek(off)
        bad += m[off:off + 65536] != s.read(65536)
print(bad)
EOF
)
expect "random reads and mmap of revision 1 match" "$ranged" 0

cas2=$(stats_get bytes_sent cas)
expect "revision 2 reads whole and byte-exact" "$(sha256sum <"$R2/model.bin" | cut -d' ' -f1)" "$V2_SHA"
cas3=$(stats_get bytes_sent cas)
note "revision 2 with revision 1 cached: $((cas3 - cas2)) bytes from the CAS ($(python3 -c "print(f'{100*($cas3-$cas2)/$SIZE:.2f}')")% of the file)"
check "revision 2 fetched at most 5% of the file" "$((cas3 - cas2)) bytes" [ $((cas3 - cas2)) -le $((SIZE / 20)) ]
unmount_hf "$MNT" "$MOUNT_PID"

mount_hf "$MNT" --endpoint "$HUBD_URL" || abort "remount" "$MOUNT_OUT"
sync
echo 3 >/proc/sys/vm/drop_caches
cas4=$(stats_get bytes_sent cas)
expect "warm revision 1 is right" "$(sha256sum <"$R1/model.bin" | cut -d' ' -f1)" "$V1_SHA"
expect "warm revision 2 is right" "$(sha256sum <"$R2/model.bin" | cut -d' ' -f1)" "$V2_SHA"
expect "warm reads fetch nothing from the CAS" "$(stats_get bytes_sent cas)" "$cas4"
unmount_hf "$MNT" "$MOUNT_PID"
finish
