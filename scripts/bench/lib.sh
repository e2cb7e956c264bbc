# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the mount benchmarks (scripts/bench/read.sh, scripts/bench/write.sh).
#
# A benchmark script does:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_check_tools                  # HF_MOUNT/HUBD, curl, gcc, fuse3, root ...
#   bench_init NAME                    # $tmp, traps, snapshots of the binaries in $HFM/$HUBD
#   ... import / hubd_start / pt_mount / hfm_mount / record / target / note ...
#   bench_summarize TITLE KEY=VALUE... # the markdown table and the target lines on stdout
#
# Shared knobs: BENCH_RUNS (5), BENCH_MEMORY_LIMIT (512M), BENCH_TMP (/tmp), HF_MOUNT, HUBD
# (default build/bin/...).
#
# The EXIT trap lazily unmounts every mountpoint in MOUNTS, stops every pid in PIDS, newest first
# (TERM, then KILL after 10 s), prints the tail of the logs if the script failed and removes $tmp. Nothing is
# ever killed by name.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_REPO_ROOT="$(cd "$BENCH_DIR/../.." && pwd)"
HFM="${HF_MOUNT:-$BENCH_REPO_ROOT/build/bin/hf-mount}"
HUBD="${HUBD:-$BENCH_REPO_ROOT/build/bin/hf-hubd}"
HELP=(python3 "$BENCH_DIR/read_helpers.py")
PT_SRC=/usr/share/doc/libfuse3-dev/examples
RUNS="${BENCH_RUNS:-5}"                 # runs of every scenario (medians over them)
MEMLIMIT="${BENCH_MEMORY_LIMIT:-512M}"  # hf-mount --memory-limit
MOUNTS=()   # every mountpoint we mounted (hf-mount and passthrough_ll)
PIDS=()     # every process we started (hf-hubd, passthrough_ll, mount daemons, samplers, readers)
NOTES=()
tmp=""
api=""

die() { echo "error: $*" >&2; exit 2; }

bench_check_tools() {
  local tool
  for tool in "$HFM" "$HUBD"; do [[ -x "$tool" ]] || die "$tool not found or not executable"; done
  for tool in curl python3 gcc pkg-config fusermount3 dd sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
  [[ -f "$PT_SRC/passthrough_ll.c" ]] || die "$PT_SRC/passthrough_ll.c missing (libfuse3-dev)"
  [[ $EUID -eq 0 ]] || die "must run as root (echo 3 > /proc/sys/vm/drop_caches)"
}

# check_positive VAR...: each variable holds a positive integer.
check_positive() {
  local v
  for v in "$@"; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
  done
}

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null && \
  [[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]]; }

stop_pid() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  if pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -9 "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

bench_cleanup() {
  local rc=$? m p
  set +e
  for m in "${MOUNTS[@]}"; do
    is_mounted "$m" && fusermount3 -u -z "$m" 2>/dev/null
  done
  # Newest first: mount daemons before the hf-hubd they may still be talking to.
  for (( p = ${#PIDS[@]} - 1; p >= 0; p-- )); do stop_pid "${PIDS[p]}"; done
  if [[ $rc -ne 0 && -n "$tmp" ]]; then
    for m in "$tmp"/hubd.err "$tmp"/logs/*; do
      [[ -s "$m" ]] || continue
      echo "--- $m (tail) ---" >&2
      tail -n 15 "$m" >&2
    done
  fi
  [[ -n "$tmp" ]] && rm -rf "$tmp"
  exit "$rc"
}

log() { echo "[$(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now_ns() { date +%s%N; }
# record SCENARIO SUBJECT METRIC UNIT VALUE (callers compute VALUE into a variable first, so a
# failed measurement stops the script under set -e)
record() {
  [[ "$5" =~ ^[0-9.e+-]+$ ]] || { echo "error: bad value '$5' for $1/$2/$3" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$(load1)" >>"$tmp/results.tsv"; }
target() { echo "$1" >>"$tmp/targets.jsonl"; }
note() { NOTES+=("$1"); }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# dd_gbps FILE: dd bs=1M to /dev/null; prints GB/s from dd's own byte count and time. The file
# must hold $size_bytes bytes.
dd_gbps() {
  local out bytes secs
  out="$(LC_ALL=C dd if="$1" of=/dev/null bs=1M 2>&1 >/dev/null | tail -n 1)"
  bytes="${out%% *}"
  secs="$(sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p' <<<"$out")"
  [[ "$bytes" == "$size_bytes" && -n "$secs" ]] || { echo "error: dd $1: $out" >&2; return 1; }
  calc "$bytes / $secs / 1e9"
}

# Snapshot the binaries: the build tree may be relinked while the benchmark runs.
snapshot() {
  local src="$1" dst
  dst="$tmp/bin/$(basename "$1")"
  for _ in $(seq 1 60); do
    if [[ -x "$src" ]] && cp "$src" "$dst" 2>/dev/null && "$dst" --help >/dev/null 2>&1; then
      echo "$dst"; return 0
    fi
    sleep 1
  done
  die "could not snapshot $src"
}

# bench_init NAME: the temp dir (under BENCH_TMP, default /tmp), the traps, snapshots of the
# binaries (HFM and HUBD point at them afterwards).
bench_init() {
  tmp="$(mktemp -d "${BENCH_TMP:-/tmp}/hfm-bench-$1.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$tmp/logs" "$tmp/root" "$tmp/bin"
  HFM="$(snapshot "$HFM")"
  HUBD="$(snapshot "$HUBD")"
  LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
  log "start; tmp $tmp"
}

# import NAME SRC: seeds models/bench/NAME under $tmp/root (before hubd_start: import refuses
# while a server runs on the root).
import() { "$HUBD" import --root "$tmp/root" --repo "models/bench/$1" -m bench "$2" \
  >>"$tmp/logs/import.log" 2>&1 || { cat "$tmp/logs/import.log" >&2; return 1; }; }

# hubd_start [SERVE OPTIONS...]: serves $tmp/root; sets api (no trailing slash) and hubd_pid.
hubd_start() {
  "$HUBD" serve --root "$tmp/root" "$@" >"$tmp/hubd.out" 2>"$tmp/hubd.err" &
  hubd_pid=$!
  PIDS+=("$hubd_pid")
  api=""
  for _ in $(seq 1 200); do
    api="$(head -n 1 "$tmp/hubd.out" 2>/dev/null || true)"
    [[ -n "$api" ]] && break
    pid_alive "$hubd_pid" || die "hf-hubd exited"
    sleep 0.05
  done
  [[ -n "$api" ]] || die "hf-hubd printed no URL"
  api="${api%/}"
}

stats() { curl -sf "$api/_hubd/stats"; }
stat_of() { "${HELP[@]}" json-get "$2" "$3" <<<"$1"; }   # stat_of JSON group key

# pt_mount SOURCE_DIR MNT: builds libfuse's passthrough_ll example (once) and mounts SOURCE_DIR at
# MNT with -o cache=always (the page-cache mode hf-mount uses); sets pt_pid.
pt_mount() {
  local src="$1" mnt="$2"
  if [[ ! -x "$tmp/pt/passthrough_ll" ]]; then
    mkdir -p "$tmp/pt"
    cp "$PT_SRC/passthrough_ll.c" "$tmp/pt/"
    [[ -f "$PT_SRC/passthrough_helpers.h" ]] && cp "$PT_SRC/passthrough_helpers.h" "$tmp/pt/"
    # shellcheck disable=SC2046
    gcc -O2 -o "$tmp/pt/passthrough_ll" "$tmp/pt/passthrough_ll.c" \
      $(pkg-config --cflags --libs fuse3) 2>"$tmp/logs/pt-build.log" ||
      { cat "$tmp/logs/pt-build.log" >&2; return 1; }
  fi
  mkdir -p "$mnt"
  MOUNTS+=("$mnt")
  "$tmp/pt/passthrough_ll" -f -o source="$src" -o cache=always "$mnt" \
    >"$tmp/logs/passthrough.log" 2>&1 &
  pt_pid=$!
  PIDS+=("$pt_pid")
  for _ in $(seq 1 100); do is_mounted "$mnt" && break; sleep 0.05; done
  is_mounted "$mnt" || die "passthrough_ll did not mount"
}

# hfm_mount MNT CACHE REPO [MOUNT OPTIONS...]: daemon-mode mount with --cache-size $CACHE_SIZE and
# --memory-limit $MEMLIMIT; sets MPID.
hfm_mount() {
  local mnt="$1" cache="$2" repo="$3" out
  shift 3
  mkdir -p "$mnt" "$cache"
  MOUNTS+=("$mnt")
  out="$("$HFM" mount "$mnt" --endpoint "$api" --repo "$repo" --cache-dir "$cache" \
    --cache-size "$CACHE_SIZE" --memory-limit "$MEMLIMIT" \
    --log-file "$tmp/logs/$(basename "$mnt").log" "$@" 2>&1)" || { echo "$out" >&2; return 1; }
  MPID="$(sed -n 's/.*(pid \([0-9][0-9]*\)).*/\1/p' <<<"$out" | tail -n 1)"
  [[ -n "$MPID" ]] || { echo "error: no pid in mount output: $out" >&2; return 1; }
  PIDS+=("$MPID")
}

# hfm_unmount MNT PID: `hf-mount unmount` (which waits for pending commits), then the daemon's exit.
hfm_unmount() {
  local mnt="$1" pid="$2"
  if ! "$HFM" unmount "$mnt" --timeout 600 >/dev/null 2>"$tmp/unmount.err"; then
    echo "warning: hf-mount unmount $mnt: $(cat "$tmp/unmount.err")" >&2
    fusermount3 -u -z "$mnt" 2>/dev/null || true
  fi
  for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
  pid_alive "$pid" && { echo "warning: mount daemon $pid still alive, TERM" >&2; stop_pid "$pid"; }
  return 0
}

# rss_start PID / rss_stop -> prints peak RssAnon in MiB
rss_start() {
  rm -f "$tmp/rss.stop" "$tmp/rss.out" "$tmp/rss.ready"
  "${HELP[@]}" rss-sample "$1" "$tmp/rss.stop" "$tmp/rss.out" "$tmp/rss.ready" &
  RSS_PID=$!
  PIDS+=("$RSS_PID")
  for _ in $(seq 1 200); do [[ -e "$tmp/rss.ready" ]] && break; sleep 0.01; done
}
# rss_stop: sets RSS_MIB (not in a subshell: it waits for the sampler).
# shellcheck disable=SC2034
rss_stop() {
  touch "$tmp/rss.stop"
  wait "$RSS_PID" 2>/dev/null || true
  RSS_MIB="$(calc "$(cat "$tmp/rss.out") / 1024")"
}

# bench_summarize TITLE [KEY=VALUE...]: writes $tmp/meta.json (title, date, SIZE_MB, RUNS, load
# averages, the notes, and each KEY=VALUE, VALUE as JSON when it parses) and prints the report.
bench_summarize() {
  local title="$1"
  shift
  log "done"
  printf '%s\n' "${NOTES[@]}" >"$tmp/notes.txt"
  python3 - "$tmp/meta.json" "$tmp/notes.txt" "title=$title" "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
    "size_mb=$SIZE_MB" "runs=$RUNS" "load_start=$LOAD_START" \
    "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" "$@" <<'EOF'
import json, sys
meta = {}
for item in sys.argv[3:]:
    key, value = item.split("=", 1)
    try:
        meta[key] = json.loads(value)
    except ValueError:
        meta[key] = value
meta["title"] = str(meta["title"])
meta["notes"] = [n for n in open(sys.argv[2]).read().splitlines() if n]
json.dump(meta, open(sys.argv[1], "w"))
EOF
  "${HELP[@]}" summarize "$tmp/results.tsv" "$tmp/targets.jsonl" "$tmp/meta.json"
}
