#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: errors, access control and a server outage, through real FUSE mounts.
#
# Usage: errors_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# Checks: a missing repo or revision is ENOENT, quickly; a private repo is invisible without a token
# and readable with its owner's; a gated repo's files are EACCES for a user without access and
# readable for a granted one; `mount --repo` of a missing repo and a mount of a dead endpoint fail
# at once with a message; when hf-hubd stops, an uncached read is EIO within --read-timeout while
# cached files and listed folders still work, and once hf-hubd is back on the same ports the mount
# reads again by itself. No token ever reaches a log file or the CDN.
source "$(dirname "$0")/lib.sh"
e2e_init errors "$@"

ROOT="$W/root"
TOK_ALICE=hf_e2e_alice_write_0123456789
TOK_CAROL=hf_e2e_carol_read_0123456789
TOK_EVE=hf_e2e_eve_read_0123456789
TOK_FRANK=hf_e2e_frank_read_0123456789
TOKENS=("$TOK_ALICE" "$TOK_CAROL" "$TOK_EVE" "$TOK_FRANK")
SERVE_ARGS=(--token "$TOK_ALICE=alice:write" --token "$TOK_CAROL=carol:read"
  --token "$TOK_EVE=eve:read" --token "$TOK_FRANK=frank:read" --grant "frank=models/dave/gated")

mkdir -p "$W/pub/a" "$W/pub/b" "$W/secret" "$W/gated"
echo "one" >"$W/pub/a/one.txt"
echo "two" >"$W/pub/a/two.txt"
echo "three" >"$W/pub/a/three.txt"
echo "four" >"$W/pub/b/four.txt"
echo "# public" >"$W/pub/README.md"
head -c $((12 << 20)) /dev/urandom >"$W/pub/big.bin"
echo "carol's secret" >"$W/secret/s.txt"
head -c $((11 << 20)) /dev/urandom >"$W/secret/s.bin"
echo "gated text" >"$W/gated/g.txt"
head -c $((11 << 20)) /dev/urandom >"$W/gated/g.bin"
{
  "$HUBD" import --root "$ROOT" --repo models/alice/pub "$W/pub" &&
    "$HUBD" import --root "$ROOT" --repo models/carol/secret --private "$W/secret" &&
    "$HUBD" import --root "$ROOT" --repo models/dave/gated --gated "$W/gated"
} >"$W/import.out" 2>&1 || abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" "${SERVE_ARGS[@]}" || abort "hf-hubd serve" "did not start"
URL=$HUBD_URL
API_PORT=${URL##*:}
loc=$(curl -sS --max-time 10 -o /dev/null -w '%{redirect_url}' "$URL/alice/pub/resolve/main/big.bin")
CDN_PORT=$(printf '%s' "$loc" | sed -n 's#^http://127\.0\.0\.1:\([0-9]*\)/.*#\1#p')
note "hub $URL (API port $API_PORT, CDN port $CDN_PORT)"
[ -n "$CDN_PORT" ] || abort "CDN port from a resolve redirect" "Location: '$loc'"

# errno_timed STMT: prints "ERRNO SECONDS" for a python statement run through errno_of.
errno_timed() {
  local t0 e
  t0=$(now)
  e=$(errno_of "$1")
  echo "$e $(since "$t0")"
}
# expect_errno NAME WANT MAX_SECONDS STMT
expect_errno() {
  local name=$1 want=$2 max=$3 e s
  read -r e s <<<"$(errno_timed "$4")"
  if [ "$e" = "$want" ] && lt "$s" "$max"; then
    ok "$name: $e in $s s"
  else
    nok "$name" "got $e in $s s, want $want in < $max s"
  fi
}

# --- anonymous mount -----------------------------------------------------------------------------------
A="$W/mnt_anon"
mount_hf "$A" --endpoint "$URL" --read-timeout 3 --log-level debug --cache-dir "$W/cache_anon" ||
  abort "anonymous mount" "rc=$MOUNT_RC: $MOUNT_OUT"
ANON_PID=$MOUNT_PID
ok "anonymous mount"
M="$A/models"
expect_errno "missing repo: listdir is ENOENT" ENOENT 2 "os.listdir('$M/alice/nope@main')"
out=$(timeout 10 ls "$M/alice/nope@main" 2>&1) && nok "missing repo: ls fails" "ls succeeded: $out" ||
  ok "missing repo: ls fails ($out)"
expect_errno "missing repo: its symlink is ENOENT" ENOENT 2 "os.stat('$M/alice/nope')"
expect_errno "missing namespace is ENOENT" ENOENT 2 "os.listdir('$M/nobody-here/nothing@main')"
expect_errno "missing revision is ENOENT" ENOENT 2 "os.listdir('$M/alice/pub@no-such-branch')"
expect_errno "missing commit sha is ENOENT" ENOENT 2 "os.listdir('$M/alice/pub@$(printf 'ab%.0s' {1..20})')"
expect_errno "missing file in a repo is ENOENT" ENOENT 2 "os.stat('$M/alice/pub@main/a/nope.txt')"
expect "public repo readable" "$(timeout 20 cat "$M/alice/pub@main/a/one.txt" 2>&1)" "one"
expect_errno "private repo without a token is ENOENT" ENOENT 2 "os.listdir('$M/carol/secret@main')"
expect_errno "private repo file without a token is ENOENT" ENOENT 2 "open('$M/carol/secret@main/s.txt').read()"
listing=$(timeout 20 ls "$M/carol" 2>&1)
case "$listing" in
  *secret*) nok "private repo not listed without a token" "ls $M/carol: $listing" ;;
  *) ok "private repo not listed without a token" ;;
esac
expect_errno "gated repo file without a token is EACCES" EACCES 10 "open('$M/dave/gated@main/g.txt').read()"

# --- the owner's token ---------------------------------------------------------------------------------
C="$W/mnt_carol"
HF_TOKEN=$TOK_CAROL mount_hf "$C" --endpoint "$URL" --log-level debug --cache-dir "$W/cache_carol" ||
  abort "mount with carol's token" "rc=$MOUNT_RC: $MOUNT_OUT"
ok "mount with the owner's token"
expect "private repo readable with the owner's token" "$(timeout 20 cat "$C/models/carol/secret@main/s.txt" 2>&1)" "carol's secret"
expect "private LFS file readable with the owner's token" "$(timeout 60 sha256sum "$C/models/carol/secret@main/s.bin" 2>&1 | cut -d' ' -f1)" \
  "$(sha256sum "$W/secret/s.bin" | cut -d' ' -f1)"
expect "private repo listing" "$(timeout 20 ls "$C/models/carol/secret@main" 2>&1 | tr '\n' ' ')" "s.bin s.txt "

# --- a gated repo: a user without access, and a granted one ---------------------------------------------
E="$W/mnt_eve"
HF_TOKEN=$TOK_EVE mount_hf "$E" --endpoint "$URL" --log-level debug --cache-dir "$W/cache_eve" ||
  abort "mount with eve's token" "rc=$MOUNT_RC: $MOUNT_OUT"
expect "gated repo: listing readable without access" "$(timeout 20 ls "$E/models/dave/gated@main" 2>&1 | tr '\n' ' ')" "g.bin g.txt "
expect_errno "gated repo: file is EACCES for a user without access" EACCES 10 "open('$E/models/dave/gated@main/g.txt').read()"
expect_errno "gated repo: LFS file is EACCES for a user without access" EACCES 10 "os.pread(os.open('$E/models/dave/gated@main/g.bin', os.O_RDONLY), 100, 0)"
expect_errno "private repo is ENOENT for another user" ENOENT 2 "os.listdir('$E/models/carol/secret@main')"
F="$W/mnt_frank"
HF_TOKEN=$TOK_FRANK mount_hf "$F" --endpoint "$URL" --log-level debug --cache-dir "$W/cache_frank" ||
  abort "mount with frank's token" "rc=$MOUNT_RC: $MOUNT_OUT"
expect "gated repo: file readable for a granted user" "$(timeout 20 cat "$F/models/dave/gated@main/g.txt" 2>&1)" "gated text"
expect "gated repo: LFS file readable for a granted user" "$(timeout 60 sha256sum "$F/models/dave/gated@main/g.bin" 2>&1 | cut -d' ' -f1)" \
  "$(sha256sum "$W/gated/g.bin" | cut -d' ' -f1)"

# --- mounts that must fail at once ----------------------------------------------------------------------
mount_fails() {  # NAME MAX_SECONDS PATTERN MOUNT_ARGS...
  local name=$1 max=$2 pattern=$3 t0 el mnt="$W/mnt_fail"
  shift 3
  t0=$(now)
  mount_hf "$mnt" "$@"
  el=$(since "$t0")
  if is_mounted "$mnt"; then
    nok "$name" "it mounted (rc=$MOUNT_RC)"
    unmount_hf "$mnt" "$MOUNT_PID"
  elif [ "$MOUNT_RC" = 0 ]; then
    nok "$name" "exit status 0: $MOUNT_OUT"
  elif ! lt "$el" "$max"; then
    nok "$name" "took $el s (rc=$MOUNT_RC): $MOUNT_OUT"
  elif ! printf '%s' "$MOUNT_OUT" | grep -qiE "$pattern"; then
    nok "$name" "unclear message (rc=$MOUNT_RC, want /$pattern/): $MOUNT_OUT"
  else
    ok "$name: rc=$MOUNT_RC in $el s: $MOUNT_OUT"
  fi
}
mount_fails "mount --repo of a missing repo fails" 10 "alice/nope.*(not found|does not exist|no such)" \
  --endpoint "$URL" --repo models/alice/nope --cache-dir "$W/cache_fail"
mount_fails "mount --repo of a missing revision fails" 10 "(not found|does not exist|no such)" \
  --endpoint "$URL" --repo models/alice/pub@no-such-branch --cache-dir "$W/cache_fail"
mount_fails "mount --repo of a private repo without a token fails" 10 "carol/secret" \
  --endpoint "$URL" --repo models/carol/secret --cache-dir "$W/cache_fail"
mount_fails "mount against a dead endpoint fails" 10 "127\.0\.0\.1:1" \
  --endpoint http://127.0.0.1:1 --cache-dir "$W/cache_fail"

# --- the server goes away ------------------------------------------------------------------------------
V="$M/alice/pub@main"
expect "cached before the outage: a/one.txt" "$(timeout 20 cat "$V/a/one.txt" 2>&1)" "one"
expect "listed before the outage: a/" "$(timeout 20 ls "$V/a" 2>&1 | tr '\n' ' ')" "one.txt three.txt two.txt "
expect "listed before the outage: the view" "$(timeout 20 ls "$V" 2>&1 | tr '\n' ' ')" "README.md a b big.bin "
AUTH1=$(stats_get cdn_requests_with_authorization)
expect "no CDN request carried Authorization (first server)" "$AUTH1" 0
# SIGTERM, then wait: the server must stop by itself although the mounts hold keep-alive
# connections to it (SIGKILL after 10 s, and the check fails).
t0=$(now)
kill -TERM "$HUBD_PID"
for ((i = 0; i < 100; i++)); do pid_alive "$HUBD_PID" || break; sleep 0.1; done
if pid_alive "$HUBD_PID"; then
  nok "hf-hubd exits on SIGTERM within 10 s" "still running after $(since "$t0") s with the mounts' idle keep-alive connections open: SIGKILL"
else
  ok "hf-hubd exits on SIGTERM ($(since "$t0") s)"
fi
stop_pid "$HUBD_PID" KILL 5 2>/dev/null
forget_pid "$HUBD_PID"

expect_errno "server down: uncached small file is EIO within --read-timeout 3" EIO 15 "open('$V/a/two.txt').read()"
expect_errno "server down: uncached LFS file is EIO within --read-timeout 3" EIO 15 "os.pread(os.open('$V/big.bin', os.O_RDONLY), 4096, 5 << 20)"
expect "server down: cached file still readable" "$(timeout 20 cat "$V/a/one.txt" 2>&1)" "one"
expect "server down: ls of a listed folder" "$(timeout 20 ls "$V/a" 2>&1 | tr '\n' ' ')" "one.txt three.txt two.txt "
expect "server down: ls of the view" "$(timeout 20 ls "$V" 2>&1 | tr '\n' ' ')" "README.md a b big.bin "
expect "server down: stat of a listed file" "$(timeout 20 stat -c %s "$V/big.bin" 2>&1)" "$((12 << 20))"

start_hubd "$ROOT" --listen "127.0.0.1:$API_PORT" --cdn-listen "127.0.0.1:$CDN_PORT" "${SERVE_ARGS[@]}" ||
  abort "hf-hubd restarts on the same ports" "$(cat "$W/hubd.$HUBD_N.err")"
expect "hf-hubd restarted on the same API port" "$HUBD_URL" "$URL"
t0=$(now)
got=$(timeout 30 cat "$V/a/two.txt" 2>&1)
if [ "$got" = "two" ]; then
  ok "server back: the uncached file reads again ($(since "$t0") s)"
else
  first=$got
  for ((i = 0; i < 100; i++)); do
    got=$(timeout 30 cat "$V/a/two.txt" 2>&1)
    [ "$got" = "two" ] && break
    sleep 0.2
  done
  nok "server back: the uncached file reads again at once" "first read: '$first'; $( [ "$got" = two ] && echo "read after $(since "$t0") s" || echo "still '$got' after $(since "$t0") s")"
fi
expect "server back: the LFS file reads again" "$(timeout 60 sha256sum "$V/big.bin" 2>&1 | cut -d' ' -f1)" \
  "$(sha256sum "$W/pub/big.bin" | cut -d' ' -f1)"
expect "server back: a new lookup works" "$(timeout 20 cat "$M/alice/pub@main/b/four.txt" 2>&1)" "four"
expect "no CDN request carried Authorization (second server)" "$(stats_get cdn_requests_with_authorization)" 0

# --- no token in any log ---------------------------------------------------------------------------------
leaks=""
for t in "${TOKENS[@]}"; do
  for f in "$W"/*.log; do
    grep -qF "$t" "$f" && leaks+="$(basename "$f"):${t:0:12}… "
  done
done
nlogs=$(ls "$W"/*.log | wc -l)
if [ -z "$leaks" ]; then ok "no token in the $nlogs mount logs"; else nok "no token in the mount logs" "$leaks"; fi

unmount_hf "$A" "$ANON_PID"
finish
