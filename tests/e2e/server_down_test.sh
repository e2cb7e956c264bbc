#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: a stalled server (SIGSTOP) and a restarted server, under live mounts.
#
# Usage: server_down_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# hf-hubd listens on fixed free ports (--listen, --cdn-listen). Two mounts: A with
# --read-timeout 3, B with the default (60 s).
# 1. Stalled server (hf-hubd stopped with SIGSTOP: connections are accepted by the kernel, nothing
#    answers): on A an uncached read (small file and LFS file) is EIO within the timeout plus a few
#    seconds, a cached file still reads, `ls` of a listed folder and stat work. On B a reader is
#    left blocked on an uncached file: `hf-mount unmount B` returns within 10 s (busy while the
#    reader holds the file open); once the reader is killed, `hf-mount unmount B` releases the
#    mountpoint and returns within 10 s although the daemon still had a request stuck on the
#    stalled server (the end of the FUSE session cancels it).
# 2. Restarted server: hf-hubd continued, stopped with SIGTERM and started again on the same
#    ports; meanwhile an uncached read on A is EIO within the timeout; after the restart a new
#    uncached read on A succeeds without a remount.
#
# CI form: the defaults (about 40 s). SERVER_DOWN_REPEAT=N repeats the stall and the restart N
# times (the longer local form).
source "$(dirname "$0")/lib.sh"
e2e_init server_down "$@"

REPEAT=${SERVER_DOWN_REPEAT:-1}
ROOT="$W/root"
TOKEN=hf_e2e_server_down_token
REPO=alice/down
RT=3           # --read-timeout of mount A
MAX_EIO=$((RT + 5))  # an EIO must come within this many seconds

mkdir -p "$W/src/cached" "$W/src/cold"
python3 - "$W/src" "$REPEAT" <<'EOF' || abort "source data" "python failed"
import random, sys
src, repeat = sys.argv[1], int(sys.argv[2])
r = random.Random(5)
open(f"{src}/cached/hot.txt", "w").write("hot\n")
open(f"{src}/cached/hot2.txt", "w").write("hot too\n")
# One set of uncached files per use: each read below must reach the server.
for i in range(4 * repeat + 4):
    open(f"{src}/cold/c{i:02d}.txt", "w").write(f"cold {i}\n")
for i in range(3 * repeat + 1):
    with open(f"{src}/cold/big{i:02d}.bin", "wb") as f:
        f.write(r.randbytes(11 << 20))
EOF
"$HUBD" import --root "$ROOT" --repo "models/$REPO" -m source "$W/src" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
read -r API_PORT CDN_PORT <<<"$(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')"
SERVE_ARGS=(--listen "127.0.0.1:$API_PORT" --cdn-listen "127.0.0.1:$CDN_PORT" --token "$TOKEN=alice:write")
start_hubd "$ROOT" "${SERVE_ARGS[@]}" || abort "hf-hubd serve" "$(cat "$W/hubd.$HUBD_N.err")"
URL=$HUBD_URL
expect "hf-hubd on the chosen API port" "$URL" "http://127.0.0.1:$API_PORT"
export HF_TOKEN=$TOKEN

A="$W/mnt_a"
mount_hf "$A" --endpoint "$URL" --read-timeout $RT --cache-dir "$W/cache_a" ||
  abort "mount A" "rc=$MOUNT_RC: $MOUNT_OUT"
A_PID=$MOUNT_PID
VA="$A/models/$REPO@main"

# errno_timed NAME WANT MAX STMT: the statement's errno and time.
expect_errno() {
  local name=$1 want=$2 max=$3 t0 e s
  t0=$(now)
  e=$(errno_of "$4")
  s=$(since "$t0")
  if [ "$e" = "$want" ] && lt "$s" "$max"; then
    ok "$name: $e in $s s"
  else
    nok "$name" "got $e in $s s, want $want in < $max s"
  fi
}

NEXT_SMALL=0
NEXT_BIG=0
# cold_small / cold_big: set f to a file no read has touched yet.
cold_small() { f=$(printf 'cold/c%02d.txt' "$NEXT_SMALL"); NEXT_SMALL=$((NEXT_SMALL + 1)); }
cold_big() { f=$(printf 'cold/big%02d.bin' "$NEXT_BIG"); NEXT_BIG=$((NEXT_BIG + 1)); }

for ((round = 1; round <= REPEAT; round++)); do
  [ "$REPEAT" = 1 ] || note "--- round $round of $REPEAT"
  # --- 1. stalled server ---------------------------------------------------------------------------
  expect "cached before the stall: hot.txt" "$(timeout 20 cat "$VA/cached/hot.txt" 2>&1)" "hot"
  expect "listed before the stall: cached/" "$(timeout 20 ls "$VA/cached" 2>&1 | tr '\n' ' ')" "hot.txt hot2.txt "
  timeout 20 ls "$VA/cold" >/dev/null 2>&1 || nok "list cold/ before the stall" "ls failed"
  B="$W/mnt_b$round"
  mount_hf "$B" --endpoint "$URL" --cache-dir "$W/cache_b$round" || abort "mount B" "rc=$MOUNT_RC: $MOUNT_OUT"
  B_PID=$MOUNT_PID
  VB="$B/models/$REPO@main"
  timeout 20 ls "$VB/cold" >/dev/null 2>&1 || nok "list cold/ on B before the stall" "ls failed"

  kill -STOP "$HUBD_PID"
  note "hf-hubd (pid $HUBD_PID) stopped with SIGSTOP"
  cold_small
  expect_errno "stalled server: uncached small file is EIO within --read-timeout $RT" EIO $MAX_EIO "open('$VA/$f').read()"
  cold_big
  expect_errno "stalled server: uncached LFS file is EIO within --read-timeout $RT" EIO $MAX_EIO "os.pread(os.open('$VA/$f', os.O_RDONLY), 4096, 3 << 20)"
  expect "stalled server: cached file still reads" "$(timeout 10 cat "$VA/cached/hot.txt" 2>&1)" "hot"
  expect "stalled server: ls of a listed folder" "$(timeout 10 ls "$VA/cached" 2>&1 | tr '\n' ' ')" "hot.txt hot2.txt "
  expect "stalled server: stat of a listed file" "$(timeout 10 stat -c %s "$VA/$f" 2>&1)" "$((11 << 20))"

  # A reader blocked on the stalled server (mount B: 60 s of retries).
  cold_big
  python3 -c "import os, sys; os.pread(os.open(sys.argv[1], os.O_RDONLY), 4096, 5 << 20)" "$VB/$f" \
    >"$W/reader.out" 2>&1 &
  READER=$!
  E2E_PIDS+=("$READER")
  sleep 1
  if pid_alive "$READER"; then ok "stalled server: a reader on B is blocked"
  else nok "stalled server: a reader on B is blocked" "it ended: $(cat "$W/reader.out")"; fi
  t0=$(now)
  rc=0
  out=$(timeout 30 "$HFM" unmount "$B" 2>&1) || rc=$?
  el=$(since "$t0")
  if lt "$el" 10; then
    ok "unmount with a blocked reader returns within 10 s (rc=$rc in $el s: $out)"
  else
    nok "unmount with a blocked reader returns within 10 s" "rc=$rc after $el s: $out"
  fi
  if is_mounted "$B"; then
    # The kernel refuses to unmount while the reader holds the file open: end the reader. A FUSE
    # request waits killably, so SIGKILL ends it although the daemon's request is still stuck.
    t0=$(now)
    kill -9 "$READER" 2>/dev/null
    for ((i = 0; i < 50; i++)); do pid_alive "$READER" || break; sleep 0.1; done
    if pid_alive "$READER"; then nok "SIGKILL ends the blocked reader" "still alive after $(since "$t0") s"
    else ok "SIGKILL ends the blocked reader ($(since "$t0") s)"; fi
    t0=$(now)
    rc=0
    out=$(timeout 30 "$HFM" unmount "$B" --timeout 10 2>&1) || rc=$?
    el=$(since "$t0")
    if ! is_mounted "$B"; then
      ok "the mountpoint is released with a request stuck on the stalled server"
    else
      nok "the mountpoint is released with a request stuck on the stalled server" "rc=$rc in $el s: $out"
    fi
    if [ $rc = 0 ] && lt "$el" 10; then
      ok "unmount with a request stuck on the stalled server succeeds in $el s"
    else
      nok "unmount with a request stuck on the stalled server succeeds within 10 s" "rc=$rc after $el s: $out"
    fi
  fi
  wait "$READER" 2>/dev/null
  forget_pid "$READER"
  for ((i = 0; i < 50; i++)); do pid_alive "$B_PID" || break; sleep 0.1; done
  if pid_alive "$B_PID"; then
    nok "daemon of B exits after the unmount" "still running $(since "$t0") s after the unmount began"
    stop_pid "$B_PID" KILL 5
  else
    ok "daemon of B exited after the unmount ($(since "$t0") s)"
  fi
  forget_pid "$B_PID"

  # --- 2. server restarted on the same ports ----------------------------------------------------
  kill -CONT "$HUBD_PID"
  t0=$(now)
  stop_hubd
  note "hf-hubd stopped with SIGTERM in $(since "$t0") s"
  cold_small
  failed=$f
  expect_errno "server gone: uncached small file is EIO within --read-timeout $RT" EIO $MAX_EIO "open('$VA/$f').read()"
  start_hubd "$ROOT" "${SERVE_ARGS[@]}" || abort "hf-hubd restarts on the same ports" "$(cat "$W/hubd.$HUBD_N.err")"
  expect "hf-hubd restarted on the same API port" "$HUBD_URL" "$URL"
  cold_small
  t0=$(now)
  expect "server back: an uncached small file reads without a remount" "$(timeout 20 cat "$VA/$f" 2>&1)" "$(cat "$W/src/$f")"
  note "first read after the restart took $(since "$t0") s"
  cold_big
  expect "server back: an uncached LFS file reads without a remount" "$(timeout 60 sha256sum "$VA/$f" 2>&1 | cut -d' ' -f1)" \
    "$(sha256sum "$W/src/$f" | cut -d' ' -f1)"
  expect "server back: the file that failed during the outage reads now" \
    "$(timeout 20 cat "$VA/$failed" 2>&1)" "$(cat "$W/src/$failed")"
done

unmount_hf "$A" "$A_PID"
expect "mount A unmounted" "$(is_mounted "$A" && echo mounted || echo gone)" gone
finish
