#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: bad server input. One read-only mount of a hostile Hub (hostile_server.py, python3
# stdlib) that misbehaves differently in every repository of the namespace `hostile`.
#
# Usage: hostile_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD   (hf-hubd is not used)
#
# 1. Listings (revision info and recursive tree): malformed JSON, a non-array, missing or
#    mistyped fields, paths with `..`, `.`, a leading `/`, an empty segment, a trailing `/`, a NUL
#    or control characters, a segment over 255 bytes, duplicates, a path that is both a file and a
#    folder, negative, fractional and over-2^53 sizes, a bad oid, JSON nested 200000 deep, a
#    redirect loop on the API, a bad date, Link pagination that loops, leaves the origin or never
#    ends, a 429 asking to wait a day, a 500 with an 8 MiB body and control characters in
#    X-Error-Message. Each view either fails with EIO or lists only its good siblings (ok.txt,
#    sub): no bad name is ever shown, and the daemon log has a line naming the problem.
# 2. Reads (the listing is fine, resolve misbehaves): Content-Range for other bytes, Content-Length
#    that disagrees with Content-Range, a body longer than its range, bodies cut short (connection
#    closed; chunked and complete), gzip on a range, Range ignored (200) for a read mid-file, a
#    file shorter than its listed size (also 2^53), a redirect loop, a redirect to file://. Each
#    read gives EIO or the true bytes (a prefix of them before EIO): never a wrong byte, with a
#    log line naming the problem.
# 3. A namespace whose repository list holds invalid ids (`..`, `a/b`, empty, NUL, 300 bytes).
# 4. Nothing visible outside the view: no `..`/absolute name appears in any listing, nothing is
#    created outside the mountpoint and the cache dir (a sentinel dir stays empty, no file of a
#    hostile name anywhere in the work dir or at its absolute path).
# 5. The control repository hostile/good reads correctly before and after all of it, the daemon
#    is still alive at the end, and its log holds no control character, no line over 2000 bytes
#    and no crash trace.
# The cases of 1 and of 2 run in parallel; --read-timeout 3 bounds the retried ones. About 45 s
# on a busy 2-core machine.
source "$(dirname "$0")/lib.sh"
e2e_init hostile "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
SERVER="$HERE/hostile_server.py"
MNT="$W/mnt"
LOG="$W/mnt.log"

# --- the hostile server (ephemeral port, first stdout line = its URL) -------------------------
python3 "$SERVER" >"$W/server.out" 2>"$W/server.err" &
SERVER_PID=$!
E2E_PIDS+=("$SERVER_PID")
URL=""
for ((i = 0; i < 100; i++)); do
  URL=$(head -n1 "$W/server.out" 2>/dev/null || true)
  [ -n "$URL" ] && break
  pid_alive "$SERVER_PID" || break
  sleep 0.1
done
[ -n "$URL" ] || abort "hostile server" "did not start: $(cat "$W/server.err")"
note "hostile server $URL (pid $SERVER_PID)"

mkdir -p "$W/sentinel" "$W/truth"
touch "$W/sentinel/.keep"

mount_hf "$MNT" --endpoint "$URL" --read-only --read-timeout 3 --log-file "$LOG" ||
  abort "mount" "rc=$MOUNT_RC: $MOUNT_OUT"
DPID=$MOUNT_PID
[ -n "$DPID" ] || abort "daemon pid" "not in: $MOUNT_OUT"
NS="$MNT/models/hostile"

# Elapsed time without a python3 start (slow on a loaded machine): microseconds from bash.
us_now() { echo "${EPOCHREALTIME/./}"; }
secs_since() { local d=$(($(us_now) - $1)); printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000)); }

# truth REPO PATH: a file holding the server's true bytes of REPO/PATH.
truth() {
  local f="$W/truth/$1.$(echo "$2" | tr '/' '_')"
  [ -f "$f" ] || python3 "$SERVER" --dump-content "$1" "$2" >"$f"
  echo "$f"
}

# listing DIR: the names in DIR (one a line, sorted), or ERR:<errno name>.
listing() {
  timeout 60 python3 -c "import errno, os, sys
try:
    print('\n'.join(sorted(os.listdir(sys.argv[1]))))
except OSError as e:
    print('ERR:' + errno.errorcode.get(e.errno, str(e.errno)))" "$1" 2>&1 || echo "ERR:TIMEOUT"
}

# read_check FILE TRUTH [OFFSET]: reads FILE from OFFSET to its end (or the first error) and
# prints SAME (all bytes equal TRUTH from OFFSET), EIO+PREFIX (an error after correct bytes only),
# or WRONG / another errno / TIMEOUT.
read_check() {
  timeout 60 python3 -c "import errno, os, sys
path, truth, off = sys.argv[1], open(sys.argv[2], 'rb').read(), int(sys.argv[3])
got, err = b'', None
try:
    fd = os.open(path, os.O_RDONLY)
    while True:
        d = os.pread(fd, 1 << 16, off + len(got))
        if not d:
            break
        got += d
except OSError as e:
    err = errno.errorcode.get(e.errno, str(e.errno))
want = truth[off:]
if got != want[:len(got)]:
    print('WRONG (%d bytes, first difference at %d)' % (len(got), next(i for i in range(len(got)) if i >= len(want) or got[i] != want[i])))
elif err:
    print(err + '+PREFIX' if err == 'EIO' else err)
elif got == want:
    print('SAME')
else:
    print('SHORT (%d of %d bytes)' % (len(got), len(want)))" "$1" "$2" "${3:-0}" 2>&1 || echo TIMEOUT
}

# log_says REPO FRAGMENT: queues a check that a daemon log line names REPO and contains FRAGMENT
# (run by check_logs at the end: the daemon flushes its log once a second).
LOG_CHECKS=()
log_says() { LOG_CHECKS+=("$1|$2"); }
check_logs() {
  local c repo frag
  sleep 1.5
  for c in "${LOG_CHECKS[@]}"; do
    repo=${c%%|*}
    frag=${c#*|}
    if grep -F "$repo" "$LOG" | grep -qF -- "$frag"; then
      ok "$repo: log says '$frag'"
    else
      nok "$repo: log says '$frag'" "no such line in $(basename "$LOG")"
    fi
  done
}

good_check() {
  local when=$1 V="$NS/good@main"
  expect "$when: good repo lists" "$(listing "$V" | tr '\n' ' ')" "README.md dir small.bin "
  expect "$when: good README.md" "$(timeout 20 cat "$V/README.md" 2>&1)" "good repo"
  expect "$when: good dir/data.big (1.5 MiB)" "$(read_check "$V/dir/data.big" "$(truth good dir/data.big)")" SAME
  expect "$when: good small.bin" "$(read_check "$V/small.bin" "$(truth good small.bin)")" SAME
  expect "$when: good dir/data.big from 1.2 MB" \
    "$(read_check "$V/dir/data.big" "$(truth good dir/data.big)" 1200000)" SAME
}

T0=$(us_now)
python3 "$SERVER" --dump-all "$W/truth" good:dir/data.big good:small.bin wrong-content-range:data.bin \
  range-length-mismatch:data.bin long-body:data.bin short-body:data.bin short-chunked:data.bin \
  gzip-range:data.bin ignored-range:data.big size-mismatch:data.bin max-size:data.bin \
  redirect-loop:data.bin redirect-bad:data.bin || abort "true contents" "--dump-all failed"
good_check "before"
ns_list=$(listing "$NS")
if [ "$(echo "$ns_list" | grep -c .)" -ge 30 ] && echo "$ns_list" | grep -qx good; then
  ok "namespace hostile lists its $(echo "$ns_list" | grep -c .) repositories"
else
  nok "namespace hostile lists its repositories" "$(echo "$ns_list" | head -3)"
fi

note "listings at $(secs_since "$T0") s"
# --- 1. listings ------------------------------------------------------------------------------
# REPO|FRAGMENT of the log line
LIST_CASES=(
  'bad-json|malformed JSON'
  'not-array|malformed JSON (expected an array'
  'missing-fields|file without "oid"'
  'missing-size|"size" is missing, negative'
  'dotdot|invalid path'
  'dot|invalid path'
  'absolute|invalid path'
  'empty-segment|invalid path'
  'trailing-slash|invalid path'
  'duplicate|duplicate entry "ok.txt"'
  'file-and-dir|"ok.txt" is listed as a file and as a folder'
  'long-name|invalid path'
  'nul|invalid path'
  'control|invalid path'
  'negative-size|"size" is missing, negative'
  'huge-size|above 2^53'
  'float-size|not an integer'
  'bad-oid|"oid" is not a 40 or 64 digit hex id'
  'wrong-type|no string "path"'
  'deep-json|entry 0 is not an object'
  'redirect-api|more than 10 redirects'
  'bad-revision|malformed JSON (expected an object)'
  'revision-no-sha|"sha" is missing'
  'bad-date|"lastModified" is not an ISO 8601 date'
  'link-loop|points back to an earlier page'
  'link-offsite|points to another origin'
  'link-endless|empty page'
  'retry-after|HTTP 429'
  'error-flood|HTTP 500'
)
NCASES=0
# The cases run in parallel (each waits on its own server answers and retries); results are
# checked in order.
mkdir -p "$W/res"
jobs_pids=()
for c in "${LIST_CASES[@]}"; do
  repo=${c%%|*}
  (t0=$(us_now); got=$(listing "$NS/$repo@main"); printf '%s\n%s' "$(secs_since "$t0")" "$got" >"$W/res/case.$repo") &
  jobs_pids+=($!)
done
for pid in "${jobs_pids[@]}"; do wait "$pid"; done
for c in "${LIST_CASES[@]}"; do
  repo=${c%%|*}
  frag=${c#*|}
  NCASES=$((NCASES + 1))
  el=$(head -n1 "$W/res/case.$repo")
  got=$(tail -n +2 "$W/res/case.$repo")
  case "$got" in
    ERR:EIO) ok "$repo: listing refused with EIO ($el s)" ;;
    "ok.txt"$'\n'"sub") ok "$repo: only the good siblings are listed ($el s)" ;;
    *) nok "$repo: listing fails with EIO or shows only good names" "$(printf '%s' "$got" | tr '\n' ' ' | cut -c1-200) ($el s)" ;;
  esac
  log_says "hostile/$repo" "$frag"
done
# A bad name looked up directly is never found either.
for p in dotdot@main/escape.txt absolute@main/etc nul@main/ok.txt long-name@main/LLLL; do
  e=$(errno_of "os.stat('$NS/$p')")
  case "$e" in
    EIO | ENOENT) ok "lookup of $p: $e" ;;
    *) nok "lookup of $p is EIO or ENOENT" "$e" ;;
  esac
done

note "reads at $(secs_since "$T0") s"
# --- 2. reads ---------------------------------------------------------------------------------
# REPO|PATH|OFFSET|FRAGMENT
READ_CASES=(
  'wrong-content-range|data.bin|0|does not match the requested bytes'
  'range-length-mismatch|data.bin|0|disagrees with Content-Range'
  'long-body|data.bin|0|body longer than its Content-Range'
  'short-body|data.bin|0|bytes remaining to read'
  'short-chunked|data.bin|0|body shorter than its Content-Range'
  'gzip-range|data.bin|0|compressed body (Content-Encoding: gzip)'
  'ignored-range|data.big|1200000|server ignored Range'
  'size-mismatch|data.bin|0|where the listing promised 6000'
  'max-size|data.bin|0|where the listing promised'
  'redirect-loop|data.bin|0|more than 10 redirects'
  'redirect-bad|data.bin|0|redirect to a malformed or non-http(s) URL'
)
jobs_pids=()
for c in "${READ_CASES[@]}"; do
  IFS='|' read -r repo path off frag <<<"$c"
  (t0=$(us_now); got=$(read_check "$NS/$repo@main/$path" "$(truth "$repo" "$path")" "$off")
   printf '%s\n%s' "$(secs_since "$t0")" "$got" >"$W/res/case.$repo") &
  jobs_pids+=($!)
done
for pid in "${jobs_pids[@]}"; do wait "$pid"; done
for c in "${READ_CASES[@]}"; do
  IFS='|' read -r repo path off frag <<<"$c"
  NCASES=$((NCASES + 1))
  el=$(head -n1 "$W/res/case.$repo")
  got=$(tail -n +2 "$W/res/case.$repo")
  case "$got" in
    SAME | EIO+PREFIX) ok "$repo: read gives $got, no wrong byte ($el s)" ;;
    *) nok "$repo: read gives EIO or the true bytes" "$got ($el s)" ;;
  esac
  log_says "hostile/$repo" "$frag"
done

note "a repository at $(secs_since "$T0") s"
# --- 3. a repository list with invalid ids ----------------------------------------------------
NCASES=$((NCASES + 1))
got=$(listing "$MNT/models/badlist")
case "$got" in
  ERR:EIO | ok-repo) ok "badlist: namespace listing is EIO or only the valid id ($(echo "$got" | tr '\n' ' '))" ;;
  *) nok "badlist: namespace listing is EIO or only the valid id" "$(printf '%s' "$got" | tr '\n' ' ' | cut -c1-200)" ;;
esac
log_says "badlist" "invalid repository id"

check_logs

note "nothing outside at $(secs_since "$T0") s"
# --- 4. nothing outside the view --------------------------------------------------------------
bad_names=$( (listing "$MNT"; listing "$MNT/models"; listing "$NS"; listing "$MNT/models/badlist") |
  grep -E '(^|/)\.\.?($|/)|^/|escape|hostile-absolute|[[:cntrl:]]' || true)
expect "no escaping name in the mount's top listings" "$bad_names" ""
expect "sentinel dir untouched" "$(ls -A "$W/sentinel" | tr '\n' ' ')" ".keep "
stray=$(find "$W" -path "$MNT" -prune -o \( -name 'escape*' -o -name 'hostile-absolute*' -o -name 'nul*' -o -name 'L*LLLL' \) -print 2>/dev/null)
expect "no file of a hostile name in the work dir" "$stray" ""
expect "no /etc/hostile-absolute.txt" "$([ -e /etc/hostile-absolute.txt ] && echo exists)" ""
top=$(ls -A "$W" | grep -vxE 'cache|hf_home|mnt|mnt\.log|sentinel|server\.(err|out)|truth|res|unmount\.err' | tr '\n' ' ')
expect "work dir holds only the test's own files" "$top" ""

note "the control at $(secs_since "$T0") s"
# --- 5. the control repository and the daemon ----------------------------------------------------
good_check "after"
if pid_alive "$DPID" && is_mounted "$MNT"; then
  ok "daemon (pid $DPID) alive and mounted after $NCASES hostile cases"
else
  nok "daemon alive and mounted after the hostile cases" "pid $DPID alive: $(pid_alive "$DPID" && echo yes || echo no)"
fi
# Server text reaches the log sanitized: no control character (X-Error-Message, paths).
ctl=$(LC_ALL=C grep -cP '[\x00-\x08\x0b-\x1f\x7f]' "$LOG")
expect "no control character in the daemon log" "$ctl" 0
long=$(awk 'length($0) > 2000' "$LOG" | wc -l)
expect "no log line over 2000 bytes (8 MiB error body, 5000-byte X-Error-Message)" "$long" 0
if grep -qiE 'terminate called|segmentation|abort|sanitizer' "$LOG"; then
  nok "no crash trace in the daemon log" "$(grep -iE 'terminate called|segmentation|abort|sanitizer' "$LOG" | head -3)"
else
  ok "no crash trace in the daemon log"
fi
note "$NCASES hostile cases in $(secs_since "$T0") s; server answered $(grep -c '"' "$W/server.err") requests"
unmount_hf "$MNT" "$DPID"
expect "unmounted" "$(is_mounted "$MNT" && echo mounted || echo gone)" gone
finish
