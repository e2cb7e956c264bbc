#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: uploads through the mount into Xet repositories, and Xet interop with
# @huggingface/hub (a client nobody here wrote).
#
# Usage: xet_write_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#        XET_MIB=N sets the checkpoint size (CI: 64; the issue's form: 1024)
#
# 1. cp of a checkpoint into a Xet repo's branch view commits it through the CAS (no LFS PUT);
#    @huggingface/hub downloads it through its Xet path, byte-exact.
# 2. The checkpoint is read once through the mount, then 1% of it is changed in scattered 64 KiB
#    regions and committed again: at most 5% of the file goes to hf-hubd, and reading the new
#    revision through the same mount fetches at most 5% of it.
# 3. A file @huggingface/hub uploaded through Xet reads back byte-exact through the mount.
# 4. A damaged chunk in a stored xorb is caught by its hash: the read fails with EIO, and no
#    byte of the damaged chunk reaches the reader.
# 5. A repository without Xet still takes uploads, through LFS.
source "$(dirname "$0")/lib.sh"
e2e_init xet_write "$@"

HERE="$(cd "$(dirname "$0")" && pwd)"
HUBJS="$HERE/../integration/hubjs"
ROOT="$W/root"
MNT="$W/mnt"
TOKEN=hf_e2e_xet_write
MIB=${XET_MIB:-64}
SIZE=$((MIB << 20))
mkdir -p "$W/plain"

# A repository created before the server runs with --xet-default: plain LFS.
head -c $((12 << 20)) /dev/urandom >"$W/plain/seed.bin"
"$HUBD" import --root "$ROOT" --repo models/alice/plain -m seed "$W/plain" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --xet-default --token "$TOKEN=alice:write" || abort "hf-hubd serve" "did not start"
AUTH=(-H "Authorization: Bearer $TOKEN")
curl -sS --max-time 10 -o /dev/null "${AUTH[@]}" -H "Content-Type: application/json" \
  -d '{"name":"ckpt","organization":"alice","type":"model"}' "$HUBD_URL/api/repos/create" ||
  abort "create repo" "failed"
tree_field() {  # tree_field REV PATH FIELD
  api_json "api/models/alice/ckpt/paths-info/$1" "([e.get('$3') for e in d] + [None])[0] or ''" "${AUTH[@]}" -d "paths=$2"
}
commits() { api_json "api/models/alice/ckpt/commits/main" 'len(d)' "${AUTH[@]}"; }
flush_view() {  # fsync returns once the pending changes are committed
  timeout 600 python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" "$1"
}

python3 "$(dirname "$0")/xet_data.py" make "$W/ckpt.bin" "$SIZE"
SHA1=$(sha256sum "$W/ckpt.bin" | cut -d' ' -f1)

export HF_TOKEN=$TOKEN
mount_hf "$MNT" --endpoint "$HUBD_URL" --commit-delay 1 || abort "mount" "$MOUNT_OUT"
V="$MNT/models/alice/ckpt@main"

# --- 1. upload through Xet -------------------------------------------------------------------------
cas0=$(stats_get bytes_received cas)
up0=$(stats_get bytes_received upload)
C0=$(commits)
T0=$(now)
cp "$W/ckpt.bin" "$V/ckpt.bin" && flush_view "$V/ckpt.bin" || nok "cp + fsync" "failed"
note "cp + fsync of $MIB MiB: $(since "$T0") s"
expect "one commit" "$(commits)" "$((C0 + 1))"
sent1=$(($(stats_get bytes_received cas) - cas0))
note "first upload: $sent1 bytes to the CAS for $SIZE"
check "the bytes went to the CAS" "$sent1 bytes" [ "$sent1" -gt $((SIZE / 4)) ]
expect "nothing went through LFS PUTs" "$(stats_get bytes_received upload)" "$up0"
check "the file has a Xet hash" "none" [ -n "$(tree_field main ckpt.bin xetHash)" ]
expect "its LFS oid is the SHA-256" "$(api_json "api/models/alice/ckpt/paths-info/main" '[e["lfs"]["oid"] for e in d][0]' "${AUTH[@]}" -d paths=ckpt.bin)" "$SHA1"

js_sha=$(cd "$HUBJS" && timeout 300 node --input-type=module -e '
import { downloadFile } from "@huggingface/hub";
import { createHash } from "node:crypto";
const [url, token] = process.argv.slice(1);
const blob = await downloadFile({ repo: "alice/ckpt", path: "ckpt.bin", hubUrl: url, accessToken: token });
if (!blob.constructor.name.includes("Xet")) throw new Error("not read through Xet: " + blob.constructor.name);
const h = createHash("sha256");
for await (const part of blob.stream()) h.update(part);
console.log(h.digest("hex"));
' "$HUBD_URL" "$TOKEN" 2>&1 | tail -n1)
expect "@huggingface/hub reads the mount's upload through Xet" "$js_sha" "$SHA1"

# --- 2. 1% changed: little goes up, little comes down ---------------------------------------------
# Read through the commit's own view: the branch view may still serve the local copy.
V1=$(api_json "api/models/alice/ckpt/revision/main" 'd["sha"]' "${AUTH[@]}")
expect "the checkpoint reads back" "$(sha256sum <"$MNT/models/alice/ckpt@$V1/ckpt.bin" | cut -d' ' -f1)" "$SHA1"
python3 "$(dirname "$0")/xet_data.py" edit "$W/ckpt.bin"
SHA2=$(sha256sum "$W/ckpt.bin" | cut -d' ' -f1)
cas1=$(stats_get bytes_received cas)
T0=$(now)
cp "$W/ckpt.bin" "$V/ckpt.bin" && flush_view "$V/ckpt.bin" || nok "second cp + fsync" "failed"
note "second cp + fsync: $(since "$T0") s"
sent2=$(($(stats_get bytes_received cas) - cas1))
note "second upload: $sent2 bytes to the CAS ($(python3 -c "print(f'{100*$sent2/$SIZE:.2f}')")% of the file)"
check "the second upload sent at most 5% of the file" "$sent2 bytes" [ "$sent2" -le $((SIZE / 20)) ]
V2=$(api_json "api/models/alice/ckpt/revision/main" 'd["sha"]' "${AUTH[@]}")
got0=$(stats_get bytes_sent cas)
expect "revision 2 reads back" "$(sha256sum <"$MNT/models/alice/ckpt@$V2/ckpt.bin" | cut -d' ' -f1)" "$SHA2"
got=$(($(stats_get bytes_sent cas) - got0))
note "reading revision 2: $got bytes from the CAS ($(python3 -c "print(f'{100*$got/$SIZE:.2f}')")%)"
check "reading revision 2 fetched at most 5% of the file" "$got bytes" [ "$got" -le $((SIZE / 20)) ]
# The daemon's record is rewritten every second.
sleep 1.5
xet_status=$(timeout 30 "$HFM" status | grep -F "$MNT" -A6 | grep '^  xet: ' || true)
note "status: ${xet_status# }"
check "hf-mount status counts the Xet reads and uploads" "'$xet_status'" \
  grep -qE 'chunks read \([0-9]+ from the cache, [1-9][0-9]* fetched.* [1-9][0-9]* files uploaded \([1-9]' <<<"$xet_status"

# --- 3. a file @huggingface/hub uploaded -----------------------------------------------------------
head -c $((5 << 20)) /dev/urandom >"$W/js.bin"
printf '\0' | dd of="$W/js.bin" conv=notrunc status=none
JS_SHA=$(sha256sum "$W/js.bin" | cut -d' ' -f1)
js_up=$(cd "$HUBJS" && timeout 300 node --input-type=module -e '
import { uploadFiles } from "@huggingface/hub";
import { readFileSync } from "node:fs";
const [url, token, file] = process.argv.slice(1);
await uploadFiles({ repo: "alice/ckpt", hubUrl: url, accessToken: token,
                    files: [{ path: "from-js.bin", content: new Blob([readFileSync(file)]) }] });
console.log("uploaded");
' "$HUBD_URL" "$TOKEN" "$W/js.bin" 2>&1 | tail -n1)
expect "@huggingface/hub uploaded a file" "$js_up" "uploaded"
V3=$(api_json "api/models/alice/ckpt/revision/main" 'd["sha"]' "${AUTH[@]}")
check "it is stored in Xet" "none" [ -n "$(tree_field "$V3" from-js.bin xetHash)" ]
expect "the mount reads it byte-exact" "$(sha256sum <"$MNT/models/alice/ckpt@$V3/from-js.bin" | cut -d' ' -f1)" "$JS_SHA"

# --- 4. a damaged xorb ------------------------------------------------------------------------------
# A fresh file, uploaded through the mount, whose chunks are raw (random bytes): the mount knows
# every chunk's hash from the upload. The server's copy of one chunk is then damaged.
head -c $((8 << 20)) /dev/urandom >"$W/victim.bin"
printf '\0' | dd of="$W/victim.bin" conv=notrunc status=none  # binary, so LFS, so Xet
cp "$W/victim.bin" "$V/victim.bin" && flush_view "$V/victim.bin" || nok "victim upload" "failed"
V4=$(api_json "api/models/alice/ckpt/revision/main" 'd["sha"]' "${AUTH[@]}")
[ -n "$(tree_field "$V4" victim.bin xetHash)" ] || abort "victim upload" "victim.bin is not in Xet"
victim_xorb=$(python3 - "$ROOT" "$(tree_field "$V4" victim.bin xetHash)" <<'EOF'
import os, sys
root, file_hash = sys.argv[1], sys.argv[2]
# The file's record is a one-file shard: 48-byte header, 48-byte file header, then its terms,
# each starting with the raw xorb hash. Its text form prints each 8-byte group reversed.
record = open(f"{root}/xet/files/{file_hash[:2]}/{file_hash}", "rb").read()
raw = record[96:128]
xorb = "".join(raw[i:i + 8][::-1].hex() for i in range(0, 32, 8))
path = f"{root}/xet/xorbs/{xorb[:2]}/{xorb}"
size = os.path.getsize(path)
with open(path, "r+b") as f:  # damaged in its middle, inside a raw chunk's bytes
    f.seek(size // 2)
    b = f.read(1)
    f.seek(size // 2)
    f.write(bytes([b[0] ^ 0xFF]))
print(xorb)
EOF
)
note "damaged xorb $victim_xorb"
result=$(timeout 120 python3 - "$MNT/models/alice/ckpt@$V4/victim.bin" "$W/victim.bin" <<'EOF'
import errno, sys
view, src = sys.argv[1], sys.argv[2]
good = open(src, "rb").read()
got = bytearray()
try:
    with open(view, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            got += b
    print("read all" if bytes(got) == good else "WRONG BYTES")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno) if got == good[:len(got)] else "WRONG BYTES before the error")
EOF
)
expect "the damaged chunk fails the read with EIO, after only right bytes" "$result" "EIO"
check "the log names the hash mismatch" "$(tail -n 3 "$W/mnt.log")" grep -q "does not match its hash\|hashes to" "$W/mnt.log"

# --- 5. no Xet: LFS ------------------------------------------------------------------------------------
cas2=$(stats_get bytes_received cas)
up2=$(stats_get bytes_received upload)
head -c $((11 << 20)) /dev/urandom >"$W/lfs.bin"
cp "$W/lfs.bin" "$MNT/models/alice/plain@main/lfs.bin" &&
  flush_view "$MNT/models/alice/plain@main/lfs.bin" || nok "plain upload" "failed"
check "a repo without Xet gets an LFS upload" "$(($(stats_get bytes_received upload) - up2)) bytes" \
  [ $(($(stats_get bytes_received upload) - up2)) -ge $((11 << 20)) ]
expect "and nothing goes to the CAS" "$(stats_get bytes_received cas)" "$cas2"
unmount_hf "$MNT" "$MOUNT_PID"
finish
