# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the end-to-end tests (real FUSE mounts against a real hf-hubd).
#
# A test script does:
#   source "$(dirname "$0")/lib.sh"      # with "$@" = HF_MOUNT HF_HUBD
#   e2e_init NAME "$@"
# and then uses start_hubd / mount_hf / ok / nok / expect ..., and ends with `finish`.
#
# e2e_init skips the test (exit 77) when /dev/fuse or fusermount3 is missing, makes the work dir
# $W (mktemp -d) and installs an EXIT trap that always: lazily unmounts every mountpoint the test
# made (fusermount3 -u -z), stops every process it started by PID (SIGTERM, wait, SIGKILL after a
# timeout), and removes $W. Nothing is ever killed by name.

set -uo pipefail

E2E_PIDS=()
E2E_MOUNTS=()
PASS=0
FAIL=0
W=""

e2e_init() {
  E2E_NAME=$1
  shift
  if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: ${E2E_NAME}_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD" >&2
    exit 2
  fi
  HFM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  HUBD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
  if [ ! -e /dev/fuse ]; then
    echo "skip: /dev/fuse is missing"
    exit 77
  fi
  if ! command -v fusermount3 >/dev/null 2>&1; then
    echo "skip: fusermount3 is missing"
    exit 77
  fi
  for tool in python3 curl sha256sum timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "skip: $tool is missing"
      exit 77
    fi
  done
  W=$(mktemp -d "${TMPDIR:-/tmp}/hfm_e2e_${E2E_NAME}.XXXXXX")
  E2E_T0=$(date +%s.%N)
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  # Never let the user's own token or endpoint leak into a test.
  unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_ENDPOINT
  export HF_HOME="$W/hf_home"
}

# --- process bookkeeping ----------------------------------------------------------------------

# True while PID exists and is not a zombie.
pid_alive() {
  local pid=$1 state
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# stop_pid PID [SIGNAL] [TIMEOUT_S]: signal (TERM by default), wait up to TIMEOUT_S (10) for the
# process to end, then SIGKILL. Works for children (reaped with wait) and for daemons.
stop_pid() {
  local pid=$1 sig=${2:-TERM} limit=${3:-10} i
  if pid_alive "$pid"; then
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      echo "# pid $pid still alive after ${limit}s: SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  wait "$pid" 2>/dev/null || true
  return 0
}

forget_pid() {
  local pid=$1 i
  for i in "${!E2E_PIDS[@]}"; do
    [ "${E2E_PIDS[$i]}" = "$pid" ] && unset 'E2E_PIDS[i]'
  done
  E2E_PIDS=("${E2E_PIDS[@]}")
}

e2e_cleanup() {
  local rc=$? m pid c conns=()
  trap - EXIT
  cd / || true
  for m in "${E2E_MOUNTS[@]}"; do
    if grep -qs " $m fuse" /proc/mounts; then
      # The FUSE connection id of this mount, to abort it below if its daemon hangs.
      c=$(awk -v m="$m" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -n1)
      [ -n "$c" ] && conns+=("$c")
      fusermount3 -u -z "$m" 2>/dev/null || true
    fi
  done
  for pid in "${E2E_PIDS[@]}"; do
    stop_pid "$pid" TERM 10
  done
  # A daemon stuck in the kernel (even SIGKILL waits) is released by aborting its connection.
  for c in "${conns[@]}"; do
    if [ -e "/sys/fs/fuse/connections/$c/abort" ]; then
      echo "# aborting FUSE connection $c" >&2
      echo 1 >"/sys/fs/fuse/connections/$c/abort" 2>/dev/null || true
    fi
  done
  if [ -n "${E2E_KEEP:-}" ]; then
    echo "# work dir kept: $W" >&2
  elif [ -n "$W" ]; then
    rm -rf "$W"
  fi
  exit "$rc"
}

# --- checks -----------------------------------------------------------------------------------

ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
nok() { echo "not ok - $1: $2"; FAIL=$((FAIL + 1)); }
# expect NAME GOT WANT [DETAILS]
expect() {
  if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got '$2', want '$3'${4:+ ($4)}"; fi
}
# check NAME DETAILS CMD...: ok when CMD succeeds.
check() {
  local name=$1 details=$2
  shift 2
  if "$@"; then ok "$name"; else nok "$name" "$details"; fi
}
# abort NAME DETAILS: a failure the rest of the script cannot run without.
abort() {
  nok "$1" "$2"
  finish
}
note() { echo "# $*"; }
finish() {
  local t1
  t1=$(date +%s.%N)
  note "$(basename "$0"): $(python3 -c "print(f'{$t1 - $E2E_T0:.1f}')") s"
  echo "$PASS passed, $FAIL failed"
  if [ "$FAIL" -gt 0 ]; then exit 1; fi
  exit 0
}

# Seconds since the epoch with a fraction, and elapsed seconds since T0.
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
# lt A B: true when A < B (floats).
lt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

# --- hf-hubd ----------------------------------------------------------------------------------

# start_hubd ROOT [serve args...]: starts `hf-hubd serve` in the background and sets HUBD_URL and
# HUBD_PID. Its stdout/stderr go to $W/hubd.N.{out,err}.
HUBD_N=0
start_hubd() {
  local root=$1 i
  shift
  HUBD_N=$((HUBD_N + 1))
  local out="$W/hubd.$HUBD_N.out" err="$W/hubd.$HUBD_N.err"
  "$HUBD" serve --root "$root" "$@" >"$out" 2>"$err" &
  HUBD_PID=$!
  E2E_PIDS+=("$HUBD_PID")
  HUBD_URL=""
  for ((i = 0; i < 200; i++)); do
    HUBD_URL=$(head -n1 "$out" 2>/dev/null || true)
    [ -n "$HUBD_URL" ] && break
    pid_alive "$HUBD_PID" || break
    sleep 0.05
  done
  if [ -z "$HUBD_URL" ]; then
    echo "# hf-hubd did not start: $(cat "$err")" >&2
    return 1
  fi
  return 0
}

# stop_hubd: SIGTERM the last started server and wait for it.
stop_hubd() {
  stop_pid "$HUBD_PID" TERM 10
  forget_pid "$HUBD_PID"
}

# stats_get KEY...: a counter of GET $HUBD_URL/_hubd/stats, e.g. `stats_get bytes_sent cdn`.
stats_get() {
  curl -sS --max-time 10 "$HUBD_URL/_hubd/stats" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1:]:
    d = d[k]
print(d)' "$@"
}

# api_json PATH PYEXPR [curl args]: evaluates PYEXPR with d = JSON of GET $HUBD_URL/PATH.
api_json() {
  local path=$1 expr=$2
  shift 2
  curl -sS --max-time 10 "$@" "$HUBD_URL/$path" | python3 -c "import json, sys
d = json.load(sys.stdin)
print($expr)"
}

# --- hf-mount ---------------------------------------------------------------------------------

# mount_hf MNT [mount args...]: (MNT absolute, under $W) daemon-mode mount with --log-file $W/<basename MNT>.log (unless
# given) and its own --cache-dir default $W/cache. Sets MOUNT_PID; the output of the command is in
# MOUNT_OUT, its exit status in MOUNT_RC. Returns MOUNT_RC.
mount_hf() {
  local mnt=$1
  shift
  mkdir -p "$mnt"
  local args=("$@") has_log=0 has_cache=0 a
  for a in "${args[@]}"; do
    [ "$a" = --log-file ] && has_log=1
    [ "$a" = --cache-dir ] && has_cache=1
  done
  [ $has_log = 1 ] || args+=(--log-file "$W/$(basename "$mnt").log")
  [ $has_cache = 1 ] || args+=(--cache-dir "$W/cache")
  E2E_MOUNTS+=("$mnt")
  MOUNT_RC=0
  MOUNT_OUT=$(timeout 60 "$HFM" mount "$mnt" "${args[@]}" 2>&1) || MOUNT_RC=$?
  MOUNT_PID=$(printf '%s\n' "$MOUNT_OUT" | sed -n 's/.*(pid \([0-9][0-9]*\)).*/\1/p' | tail -n1)
  if [ -n "$MOUNT_PID" ]; then
    E2E_PIDS+=("$MOUNT_PID")
  fi
  return "$MOUNT_RC"
}

# unmount_hf MNT: `hf-mount unmount`, falling back to a lazy unmount; then waits for the daemon.
unmount_hf() {
  local mnt=$1 pid=${2:-}
  if ! timeout 60 "$HFM" unmount "$mnt" >/dev/null 2>"$W/unmount.err"; then
    echo "# hf-mount unmount $mnt failed: $(cat "$W/unmount.err")" >&2
    fusermount3 -u -z "$mnt" 2>/dev/null || true
  fi
  if [ -n "$pid" ]; then
    stop_pid "$pid" TERM 10
    forget_pid "$pid"
  fi
}

is_mounted() { grep -qs " $1 fuse" /proc/mounts; }

# errno_of PYTHON_STMT: runs the statement with os imported (under a timeout) and prints the
# errno name it raised (e.g. ENOENT), or OK when it raised nothing, or TIMEOUT.
errno_of() {
  local rc=0 out
  out=$(timeout 60 python3 -c "import os, errno, sys
try:
    $1
    print('OK')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))" 2>&1) || rc=$?
  if [ $rc = 124 ]; then echo TIMEOUT; else printf '%s\n' "$out" | tail -n1; fi
}

# xattr NAME FILE: the value of an extended attribute (or getfattr's error message).
xattr() { timeout 20 getfattr --only-values --absolute-names -n "$1" "$2" 2>&1; }
