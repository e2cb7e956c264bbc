#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's first command: builds hf-mount and hf-hubd, seeds a local Hub with a sample
# model (about 1 GiB of safetensors weights), mounts it, and reads one tensor through mmap to
# show that only the touched bytes travel. On a terminal it keeps the mount until Enter;
# otherwise it cleans up at once. DEMO_SIZE_MB sets the size of the weights (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)

if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null || [ ! -f /usr/include/httplib.h ] \
    || [ ! -f /usr/include/fuse3/fuse_lowlevel.h ]; then
  echo "== installing dependencies (first run)"
  scripts/install-deps.sh
fi
echo "== building"
scripts/build.sh >/dev/null

WORK=$(mktemp -d /tmp/hf-demo.XXXXXX)
MNT="$WORK/mnt"
mkdir -p "$MNT"
pid=""
cleanup() {
  if grep -q " $MNT " /proc/mounts 2>/dev/null; then
    "$ROOT_DIR/build/bin/hf-mount" unmount "$MNT" >/dev/null 2>&1 || fusermount3 -u -z "$MNT" || true
  fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== seeding a sample model repo (models/demo/tiny-model)"
python3 scripts/make_sample_model.py "$WORK/model" --size-mb "${DEMO_SIZE_MB:-1024}"
build/bin/hf-hubd import --root "$WORK/root" --repo models/demo/tiny-model -m "Add demo model" "$WORK/model"

TOKEN=hf_demo_write_token
build/bin/hf-hubd serve --root "$WORK/root" --token "$TOKEN=demo:write" >"$WORK/url" 2>"$WORK/hubd.log" &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -n1 "$WORK/url")
echo "== hf-hubd is serving at $URL"

echo "== mounting the Hub at $MNT"
build/bin/hf-mount mount "$MNT" --endpoint "$URL" --cache-dir "$WORK/cache"
VIEW="$MNT/models/demo/tiny-model@main"
echo
echo "\$ ls -l $VIEW"
ls -l "$VIEW"
echo
echo "\$ getfattr -d $VIEW/model.safetensors"
getfattr -d "$VIEW/model.safetensors" 2>/dev/null || true

echo
echo "== reading one tensor through mmap"
python3 - "$VIEW/model.safetensors" "$URL" <<'PY'
import json, mmap, struct, sys, urllib.request
path, url = sys.argv[1], sys.argv[2]
def cdn_bytes():
    return json.load(urllib.request.urlopen(url + "/_hubd/stats"))["bytes_sent"]["cdn"]
before = cdn_bytes()
with open(path, "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (n,) = struct.unpack("<Q", m[:8])
    header = json.loads(m[8:8 + n])
    names = sorted(k for k in header if k != "__metadata__")
    name = names[len(names) // 2]
    start, end = header[name]["data_offsets"]
    data = m[8 + n + start:8 + n + end]
    floats = struct.unpack("<4f", data[:16])
    size = m.size()
    m.close()
fetched = cdn_bytes() - before
print(f"tensor {name}: shape {header[name]['shape']}, {len(data)} bytes, first values {floats}")
print(f"fetched {fetched / 2**20:.1f} MiB from the server for a {size / 2**30:.2f} GiB file "
      f"({100 * fetched / size:.2f}% of it)")
PY

cat <<MSG

== try it yourself
  ls $MNT/models/demo/                  # the repo symlink and the views in use
  cat $VIEW/config.json
  sha256sum $VIEW/model.safetensors     # a full read; a second one comes from the cache
  build/bin/hf-mount status             # requests, bytes fetched, cache use
  build/bin/hf-mount unmount $MNT       # when done (the demo also cleans up on exit)
MSG
if [ -t 0 ]; then
  echo
  read -r -p "The mount stays up until you press Enter. " _ || true
fi
