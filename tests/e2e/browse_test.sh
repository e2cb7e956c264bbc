#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: browse and read a repository with > 2,000 files through a real FUSE mount.
#
# Usage: browse_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# Imports a repo of 40 folders x 52 small text files, a 250-file folder, files 2-3 levels deep and
# 3 LFS files (12, 20 and 40 MiB of random data) into hf-hubd, serves it with
# --tree-page-size 100 (so every listing is paginated), mounts the whole Hub and checks: the file
# tree, sizes and sha256 of every file against the source; random preads and 8 concurrent readers
# of the LFS files; the default-branch symlink; the xattrs; EROFS on writes; statfs; status.
source "$(dirname "$0")/lib.sh"
e2e_init browse "$@"

SRC="$W/src"
ROOT="$W/root"
MNT="$W/mnt"
REPO=alice/browse

# --- the source tree --------------------------------------------------------------------------
python3 - "$SRC" <<'EOF'
import os, random, sys
src = sys.argv[1]
rnd = random.Random(1234)
def put(rel, data):
    p = os.path.join(src, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
def text(rel):
    n = rnd.randrange(0, 3000)
    body = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz \n") for _ in range(n))
    return f"{rel}\n{body}".encode()
for d in range(40):
    for i in range(52):
        rel = f"dir{d:02d}/file{i:02d}.txt"
        put(rel, text(rel))
for i in range(250):
    rel = f"wide/w{i:03d}.txt"
    put(rel, text(rel))
put("README.md", b"# browse test\n")
put("empty.txt", b"")
put("deep/a/b/c.txt", text("deep/a/b/c.txt"))
put("deep/a/b/d.json", b'{"k": 1}\n')
put("deep/a/e.txt", text("deep/a/e.txt"))
put("deep/x/y/z.txt", text("deep/x/y/z.txt"))
put("dir00/with space.txt", b"a name with a space\n")
put("dir01/\u00fcnicode-\u00e9.txt", "non-ascii name\n".encode())
for rel, mib in (("lfs/w12.bin", 12), ("lfs/sub/w20.bin", 20), ("big40.bin", 40)):
    put(rel, os.urandom(mib << 20))
EOF
NFILES=$(cd "$SRC" && find . -type f | wc -l)
note "source: $NFILES files"

"$HUBD" import --root "$ROOT" --repo "models/$REPO" "$SRC" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --tree-page-size 100 || abort "hf-hubd serve" "did not start"
SHA=$(api_json "api/models/$REPO" 'd["sha"]')
note "hub $HUBD_URL, commit $SHA"

mount_hf "$MNT" --endpoint "$HUBD_URL" --read-only || abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
ok "mount (daemon pid $MOUNT_PID)"
V="$MNT/models/$REPO@main"

# --- 8 threads read the 40 MiB file concurrently (cold) ----------------------------------------
out=$(timeout 180 python3 - "$V/big40.bin" "$SRC/big40.bin" <<'EOF' 2>&1
import os, random, sys, threading
view, src = sys.argv[1], sys.argv[2]
size = os.path.getsize(src)
ref = open(src, "rb").read()
errors = []
count = [0]
lock = threading.Lock()
def worker(seed):
    rnd = random.Random(seed)
    fd = os.open(view, os.O_RDONLY)   # 4 threads own an fd each, 4 share one
    try:
        for _ in range(40):
            n = rnd.choice([1, 4096, 65536, 1 << 20, 3 << 20])
            off = rnd.randrange(0, size - n + 1)
            f = fd if seed % 2 == 0 else shared
            got = os.pread(f, n, off)
            if got != ref[off:off + n]:
                with lock:
                    errors.append(f"thread {seed}: {n} bytes at {off}: mismatch (got {len(got)} bytes)")
            with lock:
                count[0] += 1
    except OSError as e:
        with lock:
            errors.append(f"thread {seed}: {e}")
    finally:
        os.close(fd)
shared = os.open(view, os.O_RDONLY)
ts = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(f"{count[0]} reads, {len(errors)} errors")
for e in errors[:5]: print(e)
sys.exit(1 if errors else 0)
EOF
) && ok "8 threads read big40.bin concurrently ($out)" || nok "8 threads read big40.bin concurrently" "$out"

# --- 200 random preads of the LFS files ---------------------------------------------------------
out=$(timeout 180 python3 - "$V" "$SRC" <<'EOF' 2>&1
import os, random, sys
view, src = sys.argv[1], sys.argv[2]
files = ["lfs/w12.bin", "lfs/sub/w20.bin", "big40.bin"]
rnd = random.Random(42)
fds = {f: (os.open(os.path.join(view, f), os.O_RDONLY), os.open(os.path.join(src, f), os.O_RDONLY)) for f in files}
bad = []
for i in range(200):
    f = rnd.choice(files)
    size = os.path.getsize(os.path.join(src, f))
    n = rnd.choice([1, 17, 4096, 100000, 1 << 20, (1 << 20) + 3])
    off = rnd.randrange(0, size)       # may run past the end: a short read must match too
    v, s = fds[f]
    try:
        got = os.pread(v, n, off)
    except OSError as e:
        bad.append(f"{f} {n}@{off}: {e}")
        continue
    if got != os.pread(s, n, off):
        bad.append(f"{f} {n}@{off}: mismatch ({len(got)} bytes)")
# reads at and past the end of file
for f in files:
    v, s = fds[f]
    size = os.path.getsize(os.path.join(src, f))
    if os.pread(v, 10, size) != b"" or os.pread(v, 10, size + 12345) != b"":
        bad.append(f"{f}: read past the end is not empty")
    if os.pread(v, 10, size - 3) != os.pread(s, 10, size - 3):
        bad.append(f"{f}: short read at the end differs")
print(f"{len(bad)} bad of 200")
for b in bad[:5]: print(b)
sys.exit(1 if bad else 0)
EOF
) && ok "200 random preads of LFS files ($out)" || nok "200 random preads of LFS files" "$out"

# --- tree, types, sizes, content ----------------------------------------------------------------
listing() { (cd "$1" && timeout 120 find . -mindepth 1 -printf '%y %p\n' | LC_ALL=C sort); }
listing "$SRC" >"$W/src.find"
listing "$V" >"$W/view.find" 2>"$W/view.find.err"
if cmp -s "$W/src.find" "$W/view.find"; then
  ok "find of the view equals the source ($(wc -l <"$W/view.find") entries)"
else
  nok "find of the view equals the source" "$(diff "$W/src.find" "$W/view.find" | head -n 8 | tr '\n' '|') $(head -c 300 "$W/view.find.err")"
fi

sizes() { (cd "$1" && find . -type f -print0 | timeout 120 xargs -0 stat -c '%s %n' | LC_ALL=C sort -k2); }
sizes "$SRC" >"$W/src.sizes"
sizes "$V" >"$W/view.sizes" 2>"$W/view.sizes.err"
if [ -s "$W/view.sizes" ] && cmp -s "$W/src.sizes" "$W/view.sizes"; then
  ok "stat sizes equal the source"
else
  nok "stat sizes equal the source" "$(diff "$W/src.sizes" "$W/view.sizes" | head -n 6 | tr '\n' '|')"
fi

t0=$(now)
sums() { (cd "$1" && find . -type f -print0 | timeout 240 xargs -0 -P4 -n 64 sha256sum | LC_ALL=C sort -k2); }
sums "$SRC" >"$W/src.sha"
sums "$V" >"$W/view.sha" 2>"$W/view.sha.err"
if [ "$(wc -l <"$W/view.sha")" = "$NFILES" ] && cmp -s "$W/src.sha" "$W/view.sha"; then
  ok "sha256 of all $NFILES files equals the source ($(since "$t0") s)"
else
  nok "sha256 of all files equals the source" "$(diff "$W/src.sha" "$W/view.sha" | head -n 6 | tr '\n' '|') $(head -c 300 "$W/view.sha.err")"
fi

# --- the default-branch symlink ------------------------------------------------------------------
link="$MNT/models/$REPO"
out=$(timeout 20 ls -l "$link" 2>&1)
case "$out" in
  l*" $link -> browse@main") ok "ls -l of the symlink ($out)" ;;
  *) nok "ls -l of the symlink" "got '$out'" ;;
esac
expect "readlink of the symlink" "$(timeout 20 readlink "$link" 2>&1)" "browse@main"
expect "the symlink leads to the branch view" "$(timeout 20 cat "$link/README.md" 2>&1)" "# browse test"
expect "ls of the namespace" "$(timeout 20 ls "$MNT/models/alice" 2>&1 | tr '\n' ' ')" "browse browse@main "

# --- xattrs --------------------------------------------------------------------------------------
expect "user.hf.commit equals the API sha" "$(xattr user.hf.commit "$V/dir03/file07.txt")" "$SHA"
expect "user.hf.commit of an LFS file" "$(xattr user.hf.commit "$V/big40.bin")" "$SHA"
expect "user.hf.repo" "$(xattr user.hf.repo "$V/big40.bin")" "models/$REPO"
expect "user.hf.revision" "$(xattr user.hf.revision "$V/big40.bin")" "main"
for f in lfs/w12.bin lfs/sub/w20.bin big40.bin; do
  expect "user.hf.lfs.sha256 of $f equals its sha256" "$(xattr user.hf.lfs.sha256 "$V/$f")" \
    "$(sha256sum "$SRC/$f" | cut -d' ' -f1)"
done
# the git blob oid of a regular file: sha1("blob <size>\0<content>")
want_oid=$(python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read()
print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$SRC/dir03/file07.txt")
expect "user.hf.oid of a regular file is its git blob id" "$(xattr user.hf.oid "$V/dir03/file07.txt")" "$want_oid"
out=$(timeout 20 getfattr --absolute-names -n user.hf.lfs.sha256 "$V/README.md" 2>&1)
case "$out" in
  *"No such attribute"*) ok "no user.hf.lfs.sha256 on a regular file" ;;
  *) nok "no user.hf.lfs.sha256 on a regular file" "$out" ;;
esac

# --- writes fail with EROFS (--read-only) -----------------------------------------------------------------
erofs() {  # NAME CMD...: the command fails with "Read-only file system"
  local name=$1 out rc=0
  shift
  out=$(timeout 20 "$@" 2>&1) || rc=$?
  if [ $rc != 0 ] && [[ $out == *"Read-only file system"* ]]; then ok "$name: EROFS"; else nok "$name: EROFS" "rc=$rc: $out"; fi
}
erofs "touch a new file" touch "$V/new.txt"
erofs "touch an existing file" touch "$V/README.md"
erofs "mkdir" mkdir "$V/newdir"
erofs "rm" rm -f "$V/README.md"
erofs "rmdir" rmdir "$V/deep/x/y"
erofs "echo > file" bash -c "echo hi > '$V/README.md'"
erofs "mv" mv "$V/README.md" "$V/README2.md"
erofs "chmod" chmod 644 "$V/README.md"
erofs "setfattr" setfattr -n user.x -v 1 "$V/README.md"
expect "open(O_RDWR) of an existing file" "$(errno_of "os.open('$V/README.md', os.O_RDWR)")" EROFS
expect "the file is unchanged after the write attempts" "$(timeout 20 cat "$V/README.md")" "# browse test"

# --- statfs --------------------------------------------------------------------------------------
out=$(timeout 20 stat -f -c '%b %f %a %c %d %S' "$V" 2>&1) && ok "stat -f works ($out)" || nok "stat -f works" "$out"
read -r blocks bfree bavail files ffree bsize <<<"$out"
if [[ $blocks =~ ^[0-9]+$ ]] && [ "$bfree" -le "$blocks" ] && [ "$bavail" -le "$bfree" ] && [ "$bsize" -gt 0 ]; then
  ok "statfs blocks are consistent (total $blocks, free $bfree, avail $bavail, bsize $bsize)"
else
  nok "statfs blocks are consistent" "total $blocks, free $bfree, avail $bavail, bsize $bsize"
fi
if [[ $files =~ ^[0-9]+$ ]] && [ "$ffree" -le "$files" ]; then
  ok "statfs inodes are consistent (total $files, free $ffree)"
else
  nok "statfs inodes are consistent" "free inodes ($ffree) > total inodes ($files) (stat -f $V)"
fi

# --- hf-mount status -----------------------------------------------------------------------------
out=$(timeout 20 "$HFM" status 2>&1)
if printf '%s\n' "$out" | grep -qx "$MNT" && printf '%s\n' "$out" | grep -q "pid $MOUNT_PID, endpoint $HUBD_URL"; then
  ok "hf-mount status lists the mount"
else
  nok "hf-mount status lists the mount" "$(printf '%s' "$out" | tr '\n' '|')"
fi

# --- unmount -------------------------------------------------------------------------------------
unmount_hf "$MNT" "$MOUNT_PID"
if is_mounted "$MNT"; then nok "hf-mount unmount" "still mounted"; else ok "hf-mount unmount"; fi
finish
