#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: mmap of a >= 1 GiB safetensors file through the mount, the flagship workload.
#
# Usage: mmap_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# Writes a safetensors file of 257 F32 tensors of 1024x1024 (4 MiB each, just over 1 GiB), imports
# it, mounts the repo with --repo at its commit sha and, with python's mmap: parses the header and
# reads one tensor in the middle. Checks the bytes, and that the CDN sent at most
# 8 MiB + header + 1 MiB for it. Then reads the whole file once, unmounts, remounts on the same
# --cache-dir, drops the page cache and re-reads the tensor and the whole file: the warm pass must
# fetch nothing from the CDN and make no API requests.
source "$(dirname "$0")/lib.sh"
e2e_init mmap "$@"

SRC="$W/src"
ROOT="$W/root"
MNT="$W/mnt"
CACHE="$W/cache"
REPO=alice/big
NTENSORS=257
mkdir -p "$SRC"

# --- a safetensors file of 4 MiB tensors ---------------------------------------------------------
python3 - "$SRC/model.safetensors" "$NTENSORS" <<'EOF'
import json, os, struct, sys
path, count = sys.argv[1], int(sys.argv[2])
rows = cols = 1024
nbytes = rows * cols * 4
header = {"__metadata__": {"format": "pt"}}
for i in range(count):
    header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [rows, cols],
                                    "data_offsets": [i * nbytes, (i + 1) * nbytes]}
raw = json.dumps(header, separators=(",", ":")).encode()
raw += b" " * (-len(raw) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(raw)))
    f.write(raw)
    for i in range(count):
        f.write(os.urandom(nbytes))
EOF
printf '{"architectures":["DemoModel"],"hidden_size":1024}\n' >"$SRC/config.json"
SIZE=$(stat -c %s "$SRC/model.safetensors")
SRC_SHA=$(sha256sum "$SRC/model.safetensors" | cut -d' ' -f1)
note "model.safetensors: $SIZE bytes, sha256 $SRC_SHA"

"$HUBD" import --root "$ROOT" --repo "models/$REPO" "$SRC" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" || abort "hf-hubd serve" "did not start"
SHA=$(api_json "api/models/$REPO" 'd["sha"]')
note "hub $HUBD_URL, commit $SHA"

# The reader: mmap, parse the header, read tensor NAME, compare with the source.
cat >"$W/read_tensor.py" <<'EOF'
import hashlib, json, mmap, os, struct, sys
view, src, name = sys.argv[1], sys.argv[2], sys.argv[3]
fd = os.open(view, os.O_RDONLY)
mm = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
(n,) = struct.unpack("<Q", mm[:8])
header = json.loads(mm[8:8 + n])
start, end = header[name]["data_offsets"]
base = 8 + n
data = mm[base + start:base + end]
with open(src, "rb") as f:
    f.seek(base + start)
    ref = f.read(end - start)
print(f"header={8 + n} offset={base + start} len={len(data)} equal={data == ref} "
      f"sha256={hashlib.sha256(data).hexdigest()[:16]}")
sys.exit(0 if data == ref else 1)
EOF
# Whole-file sha256 through the mount with 1 MiB reads.
sha_of() {
  timeout 300 python3 -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb", buffering=0) as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        h.update(b)
print(h.hexdigest())' "$1" 2>&1
}
drop_caches() {
  sync
  if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then return 0; fi
  note "cannot drop the page cache (not root?)"
  return 1
}
# snap N sets apiN resN cdnrN cdnN resbN: API requests, resolve requests, CDN requests, CDN
# bytes sent, resolve bytes sent. Older hf-hubd builds count the stats GET itself as an `api`
# request: then the API count leaves out every stats request made so far, so deltas are the
# mount's requests only.
SNAPS=0
SELF=$(( $(stats_get requests api) - $(stats_get requests api) ))
SELF=$(( -SELF ))  # 1 when a stats GET counts itself, else 0
snap() {
  SNAPS=$((SNAPS + 1))
  read -r "api$1" "res$1" "cdnr$1" "cdn$1" "resb$1" < <(curl -sS --max-time 10 "$HUBD_URL/_hubd/stats" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["requests"]["api"] - int(sys.argv[1]), d["requests"]["resolve"], d["requests"]["cdn"],
      d["bytes_sent"]["cdn"], d["bytes_sent"]["resolve"])' "$(((SNAPS + 2) * SELF))")
}

# --- cold: one tensor through mmap --------------------------------------------------------------
snap 0
mount_hf "$MNT" --endpoint "$HUBD_URL" --repo "models/$REPO@$SHA" --cache-dir "$CACHE" \
  --log-file "$W/mount1.log" || abort "mount --repo at the commit sha" "rc=$MOUNT_RC: $MOUNT_OUT"
ok "mount --repo models/$REPO@$SHA"
F="$MNT/model.safetensors"
expect "size through the mount" "$(timeout 20 stat -c %s "$F" 2>&1)" "$SIZE"

MID="layers.$((NTENSORS / 2)).weight"
drop_caches
t0=$(now)
out=$(timeout 120 python3 "$W/read_tensor.py" "$F" "$SRC/model.safetensors" "$MID" 2>&1) &&
  ok "mmap: tensor $MID equals the source ($out, $(since "$t0") s)" ||
  nok "mmap: tensor $MID equals the source" "$out"
HDR=$(printf '%s' "$out" | sed -n 's/.*header=\([0-9]*\).*/\1/p')
snap 1
fetched=$((cdn1 - cdn0 + resb1 - resb0))
limit=$(((8 << 20) + ${HDR:-0} + (1 << 20)))
note "mmap of one 4 MiB tensor: CDN sent $((cdn1 - cdn0)) bytes ($(python3 -c "print(f'{($cdn1 - $cdn0) / 1048576:.2f}')") MiB) in $((cdnr1 - cdnr0)) requests; resolve sent $((resb1 - resb0)) bytes in $((res1 - res0)) requests; API requests $((api1 - api0)) (mount included)"
if [ -n "$HDR" ] && [ "$fetched" -le "$limit" ]; then
  ok "mmap of one tensor fetched $fetched bytes <= $limit (8 MiB + header $HDR + 1 MiB)"
else
  nok "mmap of one tensor fetched <= 8 MiB + header + 1 MiB" "fetched $fetched bytes, limit $limit"
fi

# --- a full read once -----------------------------------------------------------------------------
t0=$(now)
got=$(sha_of "$F")
el=$(since "$t0")
expect "sha256 of the whole file through the mount (cold, $el s, $(python3 -c "print(f'{$SIZE / 1048576 / max($el, 0.001):.0f}')") MiB/s)" "$got" "$SRC_SHA"
snap 2
note "full cold read: CDN sent $((cdn2 - cdn1)) bytes in $((cdnr2 - cdnr1)) requests"

unmount_hf "$MNT" "$MOUNT_PID"
if is_mounted "$MNT"; then nok "unmount" "still mounted"; else ok "unmount"; fi

# --- warm: remount on the same cache, page cache dropped -----------------------------------------
snap 3
mount_hf "$MNT" --endpoint "$HUBD_URL" --repo "models/$REPO@$SHA" --cache-dir "$CACHE" \
  --log-file "$W/mount2.log" --log-level debug || abort "remount on the same cache" "rc=$MOUNT_RC: $MOUNT_OUT"
ok "remount on the same --cache-dir"
snap 4
note "remount itself: API requests $((api4 - api3)), resolve $((res4 - res3)), CDN $((cdnr4 - cdnr3))"
if drop_caches; then ok "page cache dropped"; else nok "page cache dropped" "echo 3 > /proc/sys/vm/drop_caches failed"; fi
t0=$(now)
out=$(timeout 120 python3 "$W/read_tensor.py" "$F" "$SRC/model.safetensors" "$MID" 2>&1) &&
  ok "warm mmap: tensor $MID equals the source ($out, $(since "$t0") s)" ||
  nok "warm mmap: tensor $MID equals the source" "$out"
t0=$(now)
got=$(sha_of "$F")
el=$(since "$t0")
expect "warm sha256 of the whole file ($el s, $(python3 -c "print(f'{$SIZE / 1048576 / max($el, 0.001):.0f}')") MiB/s)" "$got" "$SRC_SHA"
snap 5
note "warm pass (tensor + whole file): CDN bytes $((cdn5 - cdn4)) in $((cdnr5 - cdnr4)) requests, resolve requests $((res5 - res4)), API requests $((api5 - api4)); remount + warm pass: API requests $((api5 - api3))"
expect "warm pass: 0 bytes from the CDN" "$((cdn5 - cdn4))" 0
expect "warm pass: 0 resolve requests" "$((res5 - res4))" 0
expect "warm pass: API requests delta (tree listings of the commit-sha view)" "$((api5 - api4))" 0
# The remount may make one API request, the revision probe that fails a mount of a missing repo at
# once; it must not list the tree again (a listing is what the metadata cache is for).
if [ $((api5 - api3)) -le 1 ] && [ $((api4 - api3)) -le 1 ]; then
  ok "remount + warm pass: $((api5 - api3)) API request(s) (at most the revision probe, no listing)"
else
  nok "remount + warm pass: at most the revision probe" "$((api5 - api3)) API requests (remount $((api4 - api3)), reads $((api5 - api4)))"
fi

unmount_hf "$MNT" "$MOUNT_PID"
finish
