#!/usr/bin/env bash
# Start hf-hubd on ephemeral ports, run the @huggingface/hub integration test against it, stop it.
#
#   usage: run.sh [path/to/hf-hubd [TEST_FILE [SERVE_ARG...]]]
#          (defaults: <repo>/build/bin/hf-hubd, hubjs.test.mjs, no extra serve arguments)
#
# The exit code is node's. The server is stopped by PID and its temp root removed on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HUBD="${1:-$HERE/../../../build/bin/hf-hubd}"
TEST_FILE="${2:-hubjs.test.mjs}"
EXTRA_SERVE_ARGS=("${@:3}")
if [[ "$HUBD" != /* ]]; then
  HUBD="$(pwd)/$HUBD"
fi
if [[ ! -x "$HUBD" ]]; then
  echo "run.sh: hf-hubd binary not found or not executable: $HUBD" >&2
  exit 2
fi

WRITE_TOKEN=hf_alice_write
READ_TOKEN=hf_bob_read
TREE_PAGE_SIZE=2
LFS_PART_SIZE=8388608

WORK="$(mktemp -d "${TMPDIR:-/tmp}/hubjs.XXXXXX")"
ROOT="$WORK/root"
mkdir "$ROOT"
pid=""

cleanup() {
  local rc=$?
  if [[ -n "$pid" ]]; then
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ! -d "$HERE/node_modules/@huggingface/hub" ]]; then
  echo "run.sh: node_modules missing, running npm ci" >&2
  (cd "$HERE" && npm ci --no-audit --no-fund)
fi

"$HUBD" serve --root "$ROOT" \
  --listen 127.0.0.1:0 --cdn-listen 127.0.0.1:0 \
  --token "$WRITE_TOKEN=alice:write" --token "$READ_TOKEN=bob:read" \
  --tree-page-size "$TREE_PAGE_SIZE" --lfs-part-size "$LFS_PART_SIZE" \
  --lfs-multipart-threshold $((2 * LFS_PART_SIZE)) "${EXTRA_SERVE_ARGS[@]}" \
  >"$WORK/stdout" 2>"$WORK/stderr" &
pid=$!

# The first line of the server's stdout is its API base URL. Wait up to 20 s for a complete line.
url=""
for _ in $(seq 1 200); do
  if [[ -s "$WORK/stdout" ]] && [[ "$(wc -l <"$WORK/stdout")" -ge 1 ]]; then
    url="$(head -n 1 "$WORK/stdout" | tr -d '\r' | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: hf-hubd exited before printing its URL; stderr:" >&2
    cat "$WORK/stderr" >&2 || true
    exit 2
  fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "run.sh: hf-hubd did not print its URL within 20 s; stderr:" >&2
  cat "$WORK/stderr" >&2 || true
  exit 2
fi
if [[ ! "$url" =~ ^https?:// ]]; then
  echo "run.sh: first stdout line of hf-hubd is not a URL: '$url'" >&2
  exit 2
fi
echo "run.sh: hf-hubd (pid $pid) at $url, root $ROOT" >&2

export HUBD_URL="${url%/}"
export HUBD_WRITE_TOKEN="$WRITE_TOKEN"
export HUBD_READ_TOKEN="$READ_TOKEN"
export HUBD_STATS_URL="$HUBD_URL/_hubd/stats"
export HUBD_TREE_PAGE_SIZE="$TREE_PAGE_SIZE"
export HUBD_LFS_PART_SIZE="$LFS_PART_SIZE"

set +e
(cd "$HERE" && node --test "$TEST_FILE")
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "run.sh: tests failed (rc=$rc); last lines of hf-hubd stderr:" >&2
  tail -n 40 "$WORK/stderr" >&2 || true
fi
exit "$rc"
