#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers for scripts/bench/read.sh and scripts/bench/write.sh (stdlib only).

Subcommands:
  gen-safetensors PATH SIZE_MB      F32 [1024,1024] tensors (4 MiB each) filling about SIZE_MB
  gen-tree DIR COUNT [MIN MAX]      COUNT small text files of MIN..MAX bytes (default 16..2048) in
                                    nested folders (d00/s00/f000.txt ...)
  seqread FILE START_FRAC           read the whole file in 1 MiB reads starting at START_FRAC of it
                                    (wrapping around); prints "bytes seconds"
  pread FILE COUNT SEED             COUNT random 4 KiB-aligned 4 KiB preads; prints "ops seconds"
  http-range URL SIZE COUNT SEED    the same offsets as ranged GETs over one keep-alive connection
                                    (the first redirect is followed once); prints "ops seconds"
  mmap-tensor FILE INDEX            parse the safetensors header, mmap the file and touch every page
                                    of tensor INDEX; prints "seconds tensor_bytes header_bytes name"
  rss-sample PID STOP OUT READY     sample RssAnon of PID every 50 ms (creating READY after the
                                    first sample) until STOP exists or PID exits; writes the peak
                                    in KiB to OUT
  json-get KEY...                   read JSON on stdin, print d[KEY][KEY]...
  json-eval EXPR                    read JSON on stdin into d, print the Python expression EXPR
  fsync FILE                        open FILE read-only and fsync it; prints "seconds"
  summarize RESULTS TARGETS META    print the markdown report; write BENCH_OUT (.json or TSV)
"""
import http.client
import json
import mmap
import os
import random
import statistics
import struct
import sys
import time
import urllib.parse

MiB = 1 << 20


def gen_safetensors(path, size_mb):
    rows, cols = 1024, 1024
    tensor_bytes = rows * cols * 4
    count = max(1, (size_mb * MiB) // tensor_bytes)
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for i in range(count):
        header[f"model.layers.{i}.weight"] = {
            "dtype": "F32", "shape": [rows, cols], "data_offsets": [off, off + tensor_bytes]}
        off += tensor_bytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _ in range(count):
            f.write(os.urandom(tensor_bytes))
    print(count)


def gen_tree(root, count, lo=16, hi=2048):
    rnd = random.Random(1234)
    n = 0
    for d in range(10):
        for s in range(10):
            folder = os.path.join(root, f"d{d:02d}", f"s{s:02d}")
            os.makedirs(folder, exist_ok=True)
            per = count // 100 + (1 if d * 10 + s < count % 100 else 0)
            for i in range(per):
                body = "".join(rnd.choice("abcdefghij\n") for _ in range(rnd.randint(lo, hi)))
                with open(os.path.join(folder, f"f{i:03d}.txt"), "w") as f:
                    f.write(body)
                n += 1
    print(n)


def seqread(path, start_frac):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        start = (int(size * start_frac) // MiB) * MiB
        buf = bytearray(MiB)
        mv = memoryview(buf)
        total = 0
        t0 = time.monotonic()
        for a, b in ((start, size), (0, start)):
            pos = a
            while pos < b:
                n = os.preadv(fd, [mv[: min(MiB, b - pos)]], pos)
                if n <= 0:
                    raise SystemExit(f"short read at {pos} of {path}")
                pos += n
                total += n
        dt = time.monotonic() - t0
    finally:
        os.close(fd)
    if total != size:
        raise SystemExit(f"read {total} of {size} bytes")
    print(total, f"{dt:.6f}")


def offsets(size, count, seed):
    rnd = random.Random(seed)
    blocks = size // 4096
    return [rnd.randrange(blocks) * 4096 for _ in range(count)]


def pread(path, count, seed):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        offs = offsets(size, count, seed)
        t0 = time.monotonic()
        for o in offs:
            if len(os.pread(fd, 4096, o)) != 4096:
                raise SystemExit(f"short pread at {o}")
        dt = time.monotonic() - t0
    finally:
        os.close(fd)
    print(count, f"{dt:.6f}")


def http_range(url, size, count, seed):
    # Resolve the redirect once (as hf-mount remembers the final URL), then ranged GETs.
    for _ in range(3):
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port)
        c.request("HEAD", u.path + ("?" + u.query if u.query else ""))
        r = c.getresponse()
        r.read()
        c.close()
        if r.status in (301, 302, 307, 308):
            url = urllib.parse.urljoin(url, r.getheader("Location"))
            continue
        break
    u = urllib.parse.urlsplit(url)
    target = u.path + ("?" + u.query if u.query else "")
    c = http.client.HTTPConnection(u.hostname, u.port)
    offs = offsets(size, count, seed)
    t0 = time.monotonic()
    for o in offs:
        c.request("GET", target, headers={"Range": f"bytes={o}-{o + 4095}"})
        r = c.getresponse()
        body = r.read()
        if r.status != 206 or len(body) != 4096:
            raise SystemExit(f"ranged GET: status {r.status}, {len(body)} bytes")
    dt = time.monotonic() - t0
    c.close()
    print(count, f"{dt:.6f}")


def mmap_tensor(path, index):
    t0 = time.monotonic()
    with open(path, "rb") as f:
        hlen = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(hlen))
        names = [k for k in header if k != "__metadata__"]
        names.sort(key=lambda k: header[k]["data_offsets"][0])
        name = names[index % len(names)]
        a, b = header[name]["data_offsets"]
        base = 8 + hlen
        mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        try:
            acc = 0
            page = mmap.PAGESIZE
            for p in range(base + a, base + b, page):
                acc ^= mm[p]
            _ = mm[base + b - 1]
        finally:
            mm.close()
    dt = time.monotonic() - t0
    print(f"{dt:.6f}", b - a, 8 + hlen, name)


def rss_sample(pid, stopfile, out, ready):
    peak = 0
    path = f"/proc/{pid}/status"
    first = True
    while True:
        stop = os.path.exists(stopfile)
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]))
                        break
        except OSError:
            break
        if first:
            open(ready, "w").close()
            first = False
        if stop:
            break
        time.sleep(0.05)
    with open(out, "w") as f:
        f.write(f"{peak}\n")


def json_get(keys):
    d = json.load(sys.stdin)
    for k in keys:
        d = d[k]
    print(d)


def json_eval(expr):
    d = json.load(sys.stdin)
    print(eval(expr, {"d": d}))


def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        t0 = time.monotonic()
        os.fsync(fd)
        dt = time.monotonic() - t0
    finally:
        os.close(fd)
    print(f"{dt:.6f}")


# ---- summary --------------------------------------------------------------------------------------

def load_results(path):
    """RESULTS: tab-separated scenario, subject, metric, unit, value, load1 (one line per run)."""
    rows = {}
    order = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            scen, subj, metric, unit, value, load = line.rstrip("\n").split("\t")
            key = (scen, subj, metric)
            if key not in rows:
                rows[key] = {"scenario": scen, "subject": subj, "metric": metric, "unit": unit,
                             "values": [], "load1": []}
                order.append(key)
            rows[key]["values"].append(float(value))
            rows[key]["load1"].append(float(load))
    out = []
    for k in order:
        r = rows[k]
        v = r["values"]
        r["median"] = statistics.median(v)
        r["min"] = min(v)
        r["max"] = max(v)
        r["runs"] = len(v)
        out.append(r)
    return out


def fmt(x, unit):
    if unit in ("GB/s",):
        return f"{x:.2f}"
    if unit in ("MB/s",):
        return f"{x:.1f}" if x < 100 else f"{x:.0f}"
    if unit in ("s",):
        return f"{x:.3f}"
    if unit in ("requests", "commits") and x == int(x):
        return f"{int(x)}"
    if unit in ("ops/s", "MiB", "requests", "commits"):
        return f"{x:.1f}" if x < 100 else f"{x:.0f}"
    return f"{x:.3g}"


def summarize(results_path, targets_path, meta_path):
    rows = load_results(results_path)
    # Scenario letter order, hf-mount first within a scenario, otherwise order of first record.
    first = {}
    for i, r in enumerate(rows):
        first.setdefault(r["scenario"], i)
    rows = sorted(enumerate(rows), key=lambda ir: (ir[1]["scenario"].split(".")[0],
                                                   first[ir[1]["scenario"]],
                                                   ir[1]["subject"] != "hf-mount", ir[0]))
    rows = [r for _, r in rows]
    by = {(r["scenario"], r["subject"], r["metric"]): r for r in rows}
    with open(meta_path) as f:
        meta = json.load(f)
    targets = []
    with open(targets_path) as f:
        for line in f:
            if line.strip():
                targets.append(json.loads(line))

    # ratio column: an hf-mount row against the reference named in its "ref" target spec.
    refs = {}
    for t in targets:
        if t.get("kind") in ("ratio", "ref"):
            refs[(t["scenario"], t["metric"])] = t["refs"]

    def med(scen, subj, metric):
        r = by.get((scen, subj, metric))
        return None if r is None else r["median"]

    lines = []
    lines.append(f"{meta.get('title', 'hf-mount read benchmark')} — {meta['date']}; "
                 f"file {meta['size_mb']} MiB; "
                 f"runs {meta['runs']}; GB = 1e9 bytes, MB = 1e6 bytes; load average at start "
                 f"{meta['load_start']}, at end {meta['load_end']}")
    lines.append("")
    lines.append("| scenario | subject | metric | median | min | max | runs | vs ref | load1 |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = ""
        if r["subject"] == "hf-mount":
            rs = refs.get((r["scenario"], r["metric"]))
            if rs:
                vals = [med(r["scenario"], s, r["metric"]) for s in rs]
                vals = [v for v in vals if v]
                if vals and r["unit"] == "s":
                    ratio = f"{r['median'] / min(vals):.2f}× (time)"
                elif vals:
                    ratio = f"{r['median'] / min(vals):.2f}×"
        unit = r["unit"]
        lines.append(
            f"| {r['scenario']} | {r['subject']} | {r['metric']} ({unit}) | "
            f"{fmt(r['median'], unit)} | {fmt(r['min'], unit)} | {fmt(r['max'], unit)} | "
            f"{r['runs']} | {ratio} | {statistics.median(r['load1']):.2f} |")
    lines.append("")

    verdicts = []
    for t in targets:
        kind = t["kind"]
        if kind == "ratio":
            h = med(t["scenario"], "hf-mount", t["metric"])
            vals = {s: med(t["scenario"], s, t["metric"]) for s in t["refs"]}
            if h is None or any(v is None for v in vals.values()):
                verdicts.append({**t, "result": "n/a"})
                lines.append(f"target {t['scenario']} {t['metric']}: n/a (missing data)")
                continue
            ref_name = min(vals, key=vals.get)
            ref = vals[ref_name]
            ratio = h / ref
            ok = ratio >= t["min_ratio"]
            refs_txt = ", ".join(f"{s} {v:.2f}" for s, v in vals.items())
            lines.append(
                f"target {t['scenario']} {t['metric']}: hf-mount {h:.2f} {t['unit']} >= "
                f"{t['min_ratio']:.2f} × min({refs_txt}) = {t['min_ratio'] * ref:.2f} "
                f"[ratio {ratio:.2f}]: {'PASS' if ok else 'FAIL'}")
            verdicts.append({**t, "value": h, "ref": ref_name, "ref_value": ref, "ratio": ratio,
                             "result": "PASS" if ok else "FAIL"})
        elif kind == "max":
            v = med(t["scenario"], t["subject"], t["metric"])
            if v is None:
                verdicts.append({**t, "result": "n/a"})
                continue
            ok = v <= t["limit"]
            lines.append(f"target {t['scenario']} {t['subject']} {t['metric']}: median {fmt(v, t['unit'])} "
                         f"{t['unit']} <= {t['limit']:g} ({t['why']}): {'PASS' if ok else 'FAIL'}")
            verdicts.append({**t, "value": v, "result": "PASS" if ok else "FAIL"})
        elif kind == "min":
            v = med(t["scenario"], t["subject"], t["metric"])
            if v is None:
                verdicts.append({**t, "result": "n/a"})
                continue
            ok = v >= t["limit"]
            lines.append(f"target {t['scenario']} {t['subject']} {t['metric']}: median {fmt(v, t['unit'])} "
                         f"{t['unit']} >= {t['limit']:g} ({t['why']}): {'PASS' if ok else 'FAIL'}")
            verdicts.append({**t, "value": v, "result": "PASS" if ok else "FAIL"})
        elif kind == "exact":
            # Every run, not the median: one run with a second commit is a failure.
            r = by.get((t["scenario"], t["subject"], t["metric"]))
            if r is None:
                verdicts.append({**t, "result": "n/a"})
                continue
            ok = all(v == t["value"] for v in r["values"])
            got = ", ".join(fmt(v, t["unit"]) for v in r["values"])
            lines.append(f"target {t['scenario']} {t['subject']} {t['metric']}: every run "
                         f"{t['value']:g} {t['unit']} (got {got}; {t['why']}): "
                         f"{'PASS' if ok else 'FAIL'}")
            verdicts.append({**t, "values": r["values"], "result": "PASS" if ok else "FAIL"})
    for n in meta.get("notes", []):
        lines.append(f"note: {n}")
    print("\n".join(lines))

    out = os.environ.get("BENCH_OUT")
    if out:
        if out.endswith(".json"):
            with open(out, "w") as f:
                json.dump({"meta": meta, "results": rows, "targets": verdicts}, f, indent=1)
        else:
            with open(out, "w") as f:
                f.write("scenario\tsubject\tmetric\tunit\tmedian\tmin\tmax\truns\tvalues\n")
                for r in rows:
                    f.write("\t".join([r["scenario"], r["subject"], r["metric"], r["unit"],
                                       f"{r['median']:.6g}", f"{r['min']:.6g}", f"{r['max']:.6g}",
                                       str(r["runs"]),
                                       ",".join(f"{v:.6g}" for v in r["values"])]) + "\n")
                for t in verdicts:
                    f.write("#target\t" + json.dumps(t) + "\n")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen-safetensors":
        gen_safetensors(args[0], int(args[1]))
    elif cmd == "gen-tree":
        gen_tree(args[0], int(args[1]), *(int(a) for a in args[2:4]))
    elif cmd == "seqread":
        seqread(args[0], float(args[1]))
    elif cmd == "pread":
        pread(args[0], int(args[1]), int(args[2]))
    elif cmd == "http-range":
        http_range(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "mmap-tensor":
        mmap_tensor(args[0], int(args[1]))
    elif cmd == "rss-sample":
        rss_sample(int(args[0]), args[1], args[2], args[3])
    elif cmd == "json-get":
        json_get(args)
    elif cmd == "json-eval":
        json_eval(args[0])
    elif cmd == "fsync":
        fsync_file(args[0])
    elif cmd == "summarize":
        summarize(args[0], args[1], args[2])
    else:
        raise SystemExit(f"unknown subcommand {cmd}")


if __name__ == "__main__":
    main()
