#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A hostile Hub for hostile_test.sh: just enough of the Hub API for a read-only mount, with one
misbehaviour per repository of the namespace `hostile` (and a bad repository list in `badlist`).

Usage: hostile_server.py [--port N]   (default 0: an ephemeral port)
The first stdout line is the base URL (http://127.0.0.1:PORT). Every request is logged to stderr.

Routes (models only):
  GET  /api/models?author=NS                      repository list
  GET  /api/models/NS/NAME/revision/REV           {"sha", "lastModified"}
  GET  /api/models/NS/NAME/tree/REV[/DIR]         recursive listing
  POST /api/models/NS/NAME/paths-info/REV         []
  GET  /NS/NAME/resolve/REV/PATH                  ranged reads (206)

The true bytes of a served file are printed by `hostile_server.py --dump-content NAME PATH` (or
written by --dump-all DIR NAME:PATH...), so the test compares what a reader got with what the
server really holds.

Python 3 standard library only.
"""
import hashlib
import json
import random
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATE = "2026-01-01T00:00:00.000Z"


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def commit_of(name):
    return sha1("commit " + name)


def content(name, path):
    """The true content of a file: deterministic, and different for every repo and path."""
    if path.endswith(".big"):
        size = 1536 * 1024  # over one 1 MiB block, so a read can start mid-file
    else:
        size = 3000
    r = random.Random(f"{name}/{path}")
    return r.randbytes(size)


GOOD_FILES = {"README.md": b"good repo\n"}


def good_content(name, path):
    if path in GOOD_FILES:
        return GOOD_FILES[path]
    return content(name, path)


def file_entry(name, path, size=None, **extra):
    data = good_content(name, path)
    e = {"type": "file", "path": path, "oid": sha1(name + "\0" + path),
         "size": len(data) if size is None else size}
    e.update(extra)
    return e


def dir_entry(path):
    return {"type": "directory", "path": path, "oid": sha1("dir " + path), "size": 0}


def good_siblings(name):
    """Entries every repo of the hostile namespace lists besides its bad one."""
    return [file_entry(name, "ok.txt"), dir_entry("sub"), file_entry(name, "sub/ok2.txt")]


# name -> (tree body: list or raw text, read mode). The read mode names how resolve misbehaves.
def tree_of(name):
    s = good_siblings(name)
    long_name = "L" * 300
    trees = {
        "good": [file_entry(name, "README.md"), dir_entry("dir"), file_entry(name, "dir/data.big"),
                 file_entry(name, "small.bin")],
        "bad-json": '[{"type": "file", "path": "ok.txt", "oid": "' + sha1("x") + '", "size": 3',
        "not-array": '{"type": "file", "path": "ok.txt"}',
        "missing-fields": s + [{"type": "file", "path": "no-oid.txt", "size": 5}],
        "missing-size": s + [{"type": "file", "path": "no-size.txt", "oid": sha1("y")}],
        "dotdot": s + [file_entry(name, "../escape.txt"), file_entry(name, "sub/../../escape2.txt")],
        "dot": s + [file_entry(name, "./dot.txt")],
        "absolute": s + [file_entry(name, "/etc/hostile-absolute.txt")],
        "empty-segment": s + [file_entry(name, "sub//empty-seg.txt")],
        "trailing-slash": s + [file_entry(name, "sub/trailing/")],
        "duplicate": s + [file_entry(name, "ok.txt")],
        "file-and-dir": s + [file_entry(name, "ok.txt/inside.txt")],
        "long-name": s + [file_entry(name, long_name)],
        "nul": s + [file_entry(name, "nul\u0000.txt")],
        "control": s + [file_entry(name, "bell\u0007\nnewline.txt")],
        "negative-size": s + [file_entry(name, "negative.txt", size=-5)],
        "huge-size": s + [file_entry(name, "huge.txt", size=1 << 63)],
        "float-size": s + [file_entry(name, "float.txt", size=1.5)],
        "bad-oid": s + [dict(file_entry(name, "badoid.txt"), oid="../../etc/passwd")],
        "wrong-type": s + [dict(file_entry(name, "wrongtype.txt"), path=["a", "b"])],
        # Reads misbehave in these (listings are fine):
        "wrong-content-range": [file_entry(name, "data.bin")],
        "range-length-mismatch": [file_entry(name, "data.bin")],
        "long-body": [file_entry(name, "data.bin")],
        "short-body": [file_entry(name, "data.bin")],
        "short-chunked": [file_entry(name, "data.bin")],
        "ignored-range": [file_entry(name, "data.big")],
        "gzip-range": [file_entry(name, "data.bin")],
        "size-mismatch": [file_entry(name, "data.bin", size=6000)],
        "redirect-loop": [file_entry(name, "data.bin")],
        "redirect-bad": [file_entry(name, "data.bin")],
        "redirect-api": s,
        "bad-revision": s,
        "revision-no-sha": s,
        "bad-date": s,
        "deep-json": "[" * 200000 + "]" * 200000,
        "max-size": [file_entry(name, "data.bin", size=1 << 53)],
        "link-loop": s,
        "link-offsite": s,
        "link-endless": s,
        "retry-after": s,
        "error-flood": s,
    }
    return trees.get(name)


REPOS = ["good", "bad-json", "not-array", "missing-fields", "missing-size", "dotdot", "dot",
         "absolute", "empty-segment", "trailing-slash", "duplicate", "file-and-dir", "long-name",
         "nul", "control", "negative-size", "huge-size", "float-size", "bad-oid", "wrong-type",
         "wrong-content-range", "range-length-mismatch", "long-body", "short-body",
         "short-chunked", "ignored-range", "gzip-range", "size-mismatch", "redirect-loop",
         "redirect-bad", "redirect-api", "bad-revision", "revision-no-sha", "bad-date",
         "deep-json", "max-size", "link-loop", "link-offsite", "link-endless", "retry-after",
         "error-flood"]

BAD_LIST = [{"id": "badlist/ok-repo"}, {"id": "badlist/.."}, {"id": "badlist/a/b"},
            {"id": "badlist/"}, {"id": "badlist/nul\u0000x"}, {"id": "badlist/" + "x" * 300}]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))
        sys.stderr.flush()

    # --- helpers ---------------------------------------------------------------------------
    def reply(self, status, body=b"", headers=(), content_type="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def json(self, value, status=200):
        self.reply(status, value if isinstance(value, str) else json.dumps(value))

    def not_found(self, code="RepoNotFound"):
        self.reply(404, json.dumps({"error": code}), [("X-Error-Code", code)])

    def range_of(self, size):
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not m:
            return None
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else size - 1
        return first, min(last, size - 1)

    def chunked(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    # --- routes ----------------------------------------------------------------------------
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        self.rfile.read(length)
        if re.fullmatch(r"/api/models/[^/]+/[^/]+/paths-info/.*", urllib.parse.urlsplit(self.path).path):
            return self.json([])
        self.not_found()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        if path == "/api/models":
            author = query.get("author", [""])[0]
            if author == "hostile":
                return self.json([{"id": "hostile/" + n, "private": False} for n in REPOS])
            if author == "badlist":
                return self.json(BAD_LIST)
            return self.json([])
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/revision/(.+)", path)
        if m:
            return self.revision(m.group(1), m.group(2), m.group(3))
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/tree/([^/]+)(/.*)?", path)
        if m:
            return self.tree(m.group(1), m.group(2), m.group(3))
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self.resolve(m.group(1), m.group(2), m.group(3), m.group(4))
        if path.startswith("/loop/"):
            # A redirect loop between two URLs; both point at each other.
            other = "/loop/b" if path.startswith("/loop/a") else "/loop/a"
            return self.reply(302, "", [("Location", other)])
        self.not_found()

    def revision(self, ns, name, rev):
        if ns != "hostile" or tree_of(name) is None:
            return self.not_found()
        if rev not in ("main", commit_of(name)):
            return self.not_found("RevisionNotFound")
        if name == "bad-revision":
            return self.json('{"sha": "' + commit_of(name) + '", "lastModified": ')
        if name == "bad-date":
            return self.json({"id": "hostile/" + name, "sha": commit_of(name),
                              "lastModified": "99999-99-99T99:99:99.999Z"})
        if name == "revision-no-sha":
            return self.json({"id": "hostile/" + name, "lastModified": DATE})
        self.json({"id": "hostile/" + name, "sha": commit_of(name), "lastModified": DATE,
                   "private": False})

    def tree(self, ns, name, rev):
        tree = tree_of(name) if ns == "hostile" else None
        if tree is None:
            return self.not_found()
        if rev != commit_of(name) and rev != "main":
            return self.not_found("RevisionNotFound")
        if name == "redirect-api":
            return self.reply(302, "", [("Location", "/api/models/hostile/redirect-api/tree/" + rev +
                                         "?recursive=true&again=1")])
        base = "http://%s:%d" % self.server.server_address
        here = "/api/models/hostile/%s/tree/%s" % (name, rev)
        if name == "link-loop":
            return self.reply(200, json.dumps(tree), [("Link", '<%s%s?recursive=true>; rel="next"' % (base, here))])
        if name == "link-offsite":
            return self.reply(200, json.dumps(tree), [("Link", '<http://192.0.2.1%s?cursor=2>; rel="next"' % here)])
        if name == "link-endless":
            cursor = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("cursor", ["0"])[0])
            return self.reply(200, "[]" if cursor else json.dumps(tree),
                              [("Link", '<%s%s?recursive=true&cursor=%d>; rel="next"' % (base, here, cursor + 1))])
        if name == "retry-after":
            return self.reply(429, '{"error": "slow down"}', [("Retry-After", "86400")])
        if name == "error-flood":
            # An error answer with a huge body and a control-character message.
            return self.reply(500, "E" * (8 << 20), [("X-Error-Message", "evil\x1b[31mred\x07" + "M" * 5000)])
        self.json(tree)

    def resolve(self, ns, name, rev, path):
        tree = tree_of(name) if ns == "hostile" else None
        if tree is None or rev != commit_of(name):
            return self.not_found()
        if not any(isinstance(e, dict) and e.get("path") == path and e["type"] == "file"
                   for e in tree):
            return self.not_found("EntryNotFound")
        data = good_content(name, path)
        size = len(data)
        common = [("X-Repo-Commit", commit_of(name)), ("ETag", '"%s"' % sha1(name + path))]
        if name == "redirect-loop":
            return self.reply(302, "", common + [("Location", "/loop/a")])
        if name == "redirect-bad":
            return self.reply(302, "", common + [("Location", "file:///etc/passwd")])
        rng = self.range_of(size)
        if rng is None or name == "ignored-range":
            return self.reply(200, data, common, "application/octet-stream")
        first, last = rng
        if first >= size:
            return self.reply(416, "", common + [("Content-Range", "bytes */%d" % size)])
        part = data[first:last + 1]
        cr = "bytes %d-%d/%d" % (first, last, size)
        if name == "wrong-content-range":
            # Bytes from one further on, labelled as if they were the requested ones... and the
            # label says so: the client must refuse a range it did not ask for.
            shifted = data[first + 1:last + 2]
            cr = "bytes %d-%d/%d" % (first + 1, first + len(shifted), size)
            return self.reply(206, shifted, common + [("Content-Range", cr)],
                              "application/octet-stream")
        if name == "range-length-mismatch":
            # Content-Length (the bytes sent) larger than the Content-Range says.
            extra = part + b"X" * 100
            return self.reply(206, extra, common + [("Content-Range", cr)], "application/octet-stream")
        if name == "long-body":
            # Chunked (no Content-Length): more bytes than the Content-Range announces.
            return self.chunked(206, common + [("Content-Range", cr),
                                               ("Content-Type", "application/octet-stream")],
                                part + b"EXTRA-BYTES-NOT-IN-THE-FILE")
        if name == "short-chunked":
            # Chunked and complete, yet shorter than the Content-Range: always half of it.
            return self.chunked(206, common + [("Content-Range", cr),
                                               ("Content-Type", "application/octet-stream")],
                                part[:len(part) // 2])
        if name == "short-body":
            # Content-Length as promised, then the connection closes after 7 bytes.
            self.send_response(206)
            for k, v in common + [("Content-Range", cr), ("Content-Type", "application/octet-stream")]:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(part)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(part[:7])
            self.wfile.flush()
            self.close_connection = True
            return
        if name == "gzip-range":
            return self.reply(206, part, common + [("Content-Range", cr), ("Content-Encoding", "gzip")],
                              "application/octet-stream")
        self.reply(206, part, common + [("Content-Range", cr)], "application/octet-stream")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--dump-content"]:
        sys.stdout.buffer.write(good_content(args[1], args[2]))
        return
    if args[:1] == ["--dump-all"]:
        # --dump-all DIR REPO:PATH...: each file's true bytes to DIR/REPO.PATH ('/' as '_').
        for spec in args[2:]:
            name, path = spec.split(":", 1)
            with open("%s/%s.%s" % (args[1], name, path.replace("/", "_")), "wb") as f:
                f.write(good_content(name, path))
        return
    if args[:1] == ["--list-repos"]:
        print("\n".join(REPOS))
        return
    port = int(args[1]) if args[:1] == ["--port"] else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
