# SPDX-License-Identifier: Apache-2.0
# Helpers of crash_test.sh: the readers and the writer that run while the daemon is killed, and
# the check of the Hub against the model of acknowledged writes.
#
#   crash_helper.py read MODE MANIFEST SEED          MODE read|mmap; MANIFEST lines "path sha256"
#   crash_helper.py write VIEW PHASE SEED LOG PATHS...
#   crash_helper.py settle URL TOKEN REPO MODEL LOG  checks the Hub, updates MODEL (JSON)
#   crash_helper.py duplicates URL TOKEN REPO        commits whose tree equals their parent's
import hashlib
import json
import mmap
import os
import random
import sys
import time
import urllib.error
import urllib.request


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read_mode(mode, manifest, seed):
    """Hashes the manifest's files (through the mount) until the mount dies or 20 s pass."""
    entries = [l.split(" ", 1) for l in open(manifest).read().splitlines() if l]
    r = random.Random(int(seed))
    verified = 0
    deadline = time.time() + 20
    while entries and time.time() < deadline:
        path, want = r.choice(entries)
        try:
            with open(path, "rb") as f:
                if mode == "mmap" and os.fstat(f.fileno()).st_size > 0:
                    with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
                        got = sha(m)
                else:
                    got = sha(f.read())
        except OSError:
            break  # the daemon is gone
        if got != want:
            print(f"MISMATCH {path} {got} {want}", flush=True)
        verified += 1
    print(f"VERIFIED {verified}", flush=True)


def content(path, seed):
    r = random.Random(f"{seed}/{path}")
    if path.endswith(".bin"):  # binary: hf-hubd's preupload sends it to LFS
        return r.randbytes(r.choice([1, 2, 3, 5]) << 20)
    line = f"seed {seed} path {path} {r.random()}\n"
    return (line * r.randrange(1, 200)).encode()


def write_mode(view, phase, seed, log_path, paths):
    """Writes each path (the last ones with fsync); logs S (started), F (fsync called) and A
    (acknowledged: close or fsync returned) lines, each on disk before the next step."""
    log = open(log_path, "a")

    def note(kind, path, digest):
        log.write(f"{kind} {path} {digest}\n")
        log.flush()
        os.fsync(log.fileno())

    synced = {"read": 0, "upload": 1, "commit": 2}[phase]
    for i, path in enumerate(paths):
        data = content(path, seed)
        digest = sha(data)
        full = os.path.join(view, path)
        synced_path = None
        note("S", path, digest)
        try:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                for off in range(0, len(data), 1 << 20):
                    os.write(fd, data[off:off + (1 << 20)])
                if i >= len(paths) - synced:
                    note("F", path, digest)
                    os.fsync(fd)
                    note("A", path, digest)  # a commit carrying it landed
                    synced_path = path
            finally:
                os.close(fd)
            if synced_path != path:
                note("A", path, digest)  # close returned: the journal has it
        except OSError:
            return  # the daemon is gone (or the commit failed): not acknowledged


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def hub_sha(url, token, repo, path):
    data = get(f"{url}/{repo}/resolve/main/{path}", token)
    return None if data is None else sha(data)


def settle_mode(url, token, repo, model_path, log_path):
    """The round's writes against the Hub: an acknowledged write must be there; any other is
    either absent (the path keeps its earlier content) or complete. Prints one line per finding and
    a summary "SETTLED acked=N unacked=N landed_unacked=N bad=N"."""
    model = json.load(open(model_path))
    started, acked = {}, {}
    for line in open(log_path).read().splitlines():
        kind, path, digest = line.split(" ")
        if kind == "S":
            started[path] = digest
        elif kind == "A":
            acked[path] = digest
    bad = landed_unacked = 0
    for path, new in started.items():
        got = hub_sha(url, token, repo, path)
        old = model.get(path)
        if path in acked:
            if got != new:
                print(f"LOST {path}: acknowledged {new}, hub has {got}", flush=True)
                bad += 1
        elif got not in (old, new):
            print(f"TORN {path}: hub has {got}, want {old} or {new}", flush=True)
            bad += 1
        elif got == new and got != old:
            landed_unacked += 1
        model[path] = got
    # Paths not written this round keep their content (the seed files, never written, are checked
    # by the readers and at the end).
    for path, want in model.items():
        if path.startswith("w/") and path not in started and hub_sha(url, token, repo, path) != want:
            print(f"CHANGED {path}: hub differs from {want}", flush=True)
            bad += 1
    json.dump(model, open(model_path, "w"), indent=0, sort_keys=True)
    print(f"SETTLED acked={len(acked)} unacked={len(started) - len(acked)} "
          f"landed_unacked={landed_unacked} bad={bad}", flush=True)


def duplicates_mode(url, token, repo):
    commits = json.loads(get(f"{url}/api/models/{repo}/commits/main", token))
    trees = []
    for c in commits:
        listing = json.loads(get(f"{url}/api/models/{repo}/tree/{c['id']}?recursive=true", token))
        trees.append(sorted((e["path"], e.get("oid", "")) for e in listing if e["type"] == "file"))
    same = sum(1 for a, b in zip(trees, trees[1:]) if a == b)
    print(f"COMMITS {len(commits)} UNCHANGED {same}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "read":
        read_mode(*args)
    elif cmd == "write":
        write_mode(args[0], args[1], args[2], args[3], args[4:])
    elif cmd == "settle":
        settle_mode(*args)
    elif cmd == "duplicates":
        duplicates_mode(*args)
