#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: where the token may go, and who may read a mount.
#
# Usage: security_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
#
# 1. A mount with a distinctive token (HF_TOKEN) and --log-level debug reads a private repo
#    (regular and LFS files), writes and commits a file: the token appears in none of the log
#    files, the daemon's argv (/proc/PID/cmdline), the status records (under
#    $XDG_RUNTIME_DIR/hf-mount or /tmp/hf-mount-UID) or the cache folder, and hf-hubd counted no
#    CDN request with an Authorization header.
# 2. `hf-mount login` (token on stdin) stores the token at HF_TOKEN_PATH with mode 0600, and the
#    file is never created readable by others (its creation is traced with strace when present);
#    a mount that takes the token from that file leaks it nowhere either.
# 3. Without --allow-other, another user (uid 65534, through setpriv) gets "Permission denied" on
#    `ls` and `cat` in the mount; with --allow-other they can list and read. Needs root (as root,
#    allow_other does not need user_allow_other in /etc/fuse.conf); skipped otherwise.
#
# CI form: the defaults (about 15 s); there is no longer form.
source "$(dirname "$0")/lib.sh"
e2e_init security "$@"

ROOT="$W/root"
TOKEN=hf_SeCrEt_e2e_7c1d9a4f5b3e28a6d0
LOGIN_TOKEN=hf_LoGiN_e2e_91b2c3d4e5f60718aa
REPO=alice/private
RUNTIME_DIR=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/hf-mount}
RUNTIME_DIR=${RUNTIME_DIR:-/tmp/hf-mount-$(id -u)}

mkdir -p "$W/src/sub"
echo "private text" >"$W/src/sub/p.txt"
head -c $((12 << 20)) /dev/urandom >"$W/src/weights.bin"
"$HUBD" import --root "$ROOT" --repo "models/$REPO" --private -m source "$W/src" >"$W/import.out" 2>&1 ||
  abort "import" "$(cat "$W/import.out")"
start_hubd "$ROOT" --token "$TOKEN=alice:write" --token "$LOGIN_TOKEN=alice:read" ||
  abort "hf-hubd serve" "$(cat "$W/hubd.$HUBD_N.err")"
URL=$HUBD_URL

# leaks_in TOKEN PATH...: the files under PATH that contain TOKEN (binary files included).
leaks_in() {
  local t=$1
  shift
  grep -rlaF -- "$t" "$@" 2>/dev/null | sed "s|^$W/||" | tr '\n' ' '
}

# --- 1. the token in logs, argv, status records, cache ----------------------------------------------
MNT="$W/mnt"
HF_TOKEN=$TOKEN mount_hf "$MNT" --endpoint "$URL" --log-level debug --commit-delay 3600 ||
  abort "mount with a token" "rc=$MOUNT_RC: $MOUNT_OUT"
PID=$MOUNT_PID
V="$MNT/models/$REPO@main"
expect "private file reads" "$(timeout 20 cat "$V/sub/p.txt" 2>&1)" "private text"
expect "private LFS file reads" "$(timeout 60 sha256sum "$V/weights.bin" 2>&1 | cut -d' ' -f1)" \
  "$(sha256sum "$W/src/weights.bin" | cut -d' ' -f1)"
echo "written" >"$V/new.txt"
if timeout 60 python3 -c "import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))" "$V/new.txt"; then
  ok "a write is committed (fsync)"
else
  nok "a write is committed (fsync)" "fsync failed"
fi
sleep 1.2  # the daemon rewrites its status record every second
if [ -d "$RUNTIME_DIR" ] && [ -n "$(ls -A "$RUNTIME_DIR" 2>/dev/null)" ]; then
  ok "status records exist in $RUNTIME_DIR ($(ls "$RUNTIME_DIR" | wc -l) files)"
else
  nok "status records exist" "$RUNTIME_DIR is missing or empty"
fi
expect "the token is not in the status records" "$(leaks_in "$TOKEN" "$RUNTIME_DIR")" ""
expect "the token is not in the daemon's argv" "$(tr '\0' ' ' <"/proc/$PID/cmdline" | grep -cF -- "$TOKEN")" 0
status_out=$("$HFM" status 2>&1)
expect "the token is not in \`hf-mount status\`" "$(printf '%s' "$status_out" | grep -cF -- "$TOKEN")" 0
unmount_hf "$MNT" "$PID"
nlog=$(ls "$W"/*.log 2>/dev/null | wc -l)
debug_lines=$(cat "$W"/*.log 2>/dev/null | wc -l)
if [ "$debug_lines" -gt 20 ]; then ok "debug logs written ($nlog files, $debug_lines lines)"
else nok "debug logs written" "$debug_lines lines in $nlog files"; fi
expect "the token is not in the log files" "$(leaks_in "$TOKEN" "$W"/*.log)" ""
expect "the token is not in the cache folder" "$(leaks_in "$TOKEN" "$W/cache")" ""
expect "no CDN request carried Authorization" "$(stats_get cdn_requests_with_authorization)" 0
note "CDN requests: $(stats_get requests cdn)"

# --- 2. hf-mount login ---------------------------------------------------------------------------
export HF_HOME="$W/login_home"
export HF_TOKEN_PATH="$HF_HOME/secret/token"
TRACE=()
if command -v strace >/dev/null 2>&1; then
  TRACE=(strace -f -qq -e trace=open,openat,creat,chmod,fchmod,fchmodat,rename,renameat,renameat2 -o "$W/login.trace")
fi
rc=0
out=$(umask 022 && printf '%s\n' "$LOGIN_TOKEN" | timeout 30 "${TRACE[@]}" "$HFM" login --endpoint "$URL" 2>&1) || rc=$?
expect "hf-mount login succeeds" "$rc" 0 "$out"
expect "login stored the token at HF_TOKEN_PATH" "$(cat "$HF_TOKEN_PATH" 2>&1)" "$LOGIN_TOKEN"
expect "the token file has mode 0600" "$(stat -c %a "$HF_TOKEN_PATH" 2>&1)" 600
expect "the token is not in login's output" "$(printf '%s' "$out" | grep -cF -- "$LOGIN_TOKEN")" 0
if [ ${#TRACE[@]} -gt 0 ]; then
  # Every file created in the token's folder (the file itself or a temporary one renamed over it)
  # must be created without permissions for group and others.
  created=$(grep -E 'O_CREAT|creat\(' "$W/login.trace" | grep -F "$HF_HOME/secret/" || true)
  modes=$(printf '%s\n' "$created" | grep -oE ', 0[0-7]+\) = ' | grep -oE '0[0-7]+' | tr '\n' ' ')
  loose=""
  for m in $modes; do
    (( (8#$m & 8#077) != 0 )) && loose+="$m "
  done
  if [ -z "$modes" ]; then
    nok "the token file is created private" "no creation found in the trace: $(tail -n5 "$W/login.trace")"
  elif [ -n "$loose" ]; then
    nok "the token file is created private" "created with mode $loose(then chmod 0600): readable by others meanwhile"
  else
    ok "the token file is created private (mode $modes)"
  fi
else
  note "strace is missing: the creation mode of the token file is not checked"
fi
# A mount that reads the token from the file: still nowhere.
L="$W/mnt_login"
mount_hf "$L" --endpoint "$URL" --log-level debug --log-file "$W/login_mount.log" --cache-dir "$W/cache_login" ||
  abort "mount with the stored token" "rc=$MOUNT_RC: $MOUNT_OUT"
expect "the stored token reads the private repo" "$(timeout 20 cat "$L/models/$REPO@main/sub/p.txt" 2>&1)" "private text"
expect "the stored token reads the private LFS file" "$(timeout 60 sha256sum "$L/models/$REPO@main/weights.bin" 2>&1 | cut -d' ' -f1)" \
  "$(sha256sum "$W/src/weights.bin" | cut -d' ' -f1)"
sleep 1.2
expect "the stored token is not in the daemon's argv" "$(tr '\0' ' ' <"/proc/$MOUNT_PID/cmdline" | grep -cF -- "$LOGIN_TOKEN")" 0
expect "the stored token is not in the status records" "$(leaks_in "$LOGIN_TOKEN" "$RUNTIME_DIR")" ""
unmount_hf "$L" "$MOUNT_PID"
expect "the stored token is not in the log" "$(leaks_in "$LOGIN_TOKEN" "$W/login_mount.log")" ""
expect "the stored token is not in the cache folder" "$(leaks_in "$LOGIN_TOKEN" "$W/cache_login")" ""
expect "no CDN request carried Authorization (stored token)" "$(stats_get cdn_requests_with_authorization)" 0
unset HF_TOKEN_PATH
export HF_HOME="$W/hf_home"

# --- 3. other users and --allow-other ---------------------------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
  note "skip: the other-user checks need root and setpriv (util-linux)"
  finish
fi
# as_nobody CMD...: runs CMD as uid/gid 65534 with no supplementary groups.
as_nobody() { timeout 20 setpriv --reuid 65534 --regid 65534 --clear-groups "$@" 2>&1; }
# The work dir is 0700: let the other user walk to the mountpoints, so only the mount decides.
chmod 755 "$W"
for opt in none allow-other; do
  P="$W/mnt_$opt"
  args=(--endpoint "$URL" --cache-dir "$W/cache_$opt")
  [ $opt = allow-other ] && args+=(--allow-other)
  HF_TOKEN=$TOKEN mount_hf "$P" "${args[@]}" || abort "mount ($opt)" "rc=$MOUNT_RC: $MOUNT_OUT"
  chmod 755 "$P" 2>/dev/null
  expect "the owner reads the mount ($opt)" "$(timeout 20 cat "$P/models/$REPO@main/sub/p.txt" 2>&1)" "private text"
  ls_out=$(as_nobody ls "$P/models/$REPO@main/sub")
  cat_out=$(as_nobody cat "$P/models/$REPO@main/sub/p.txt")
  if [ $opt = none ]; then
    case "$ls_out" in
      *"ermission denied"*) ok "without --allow-other: ls by uid 65534 is denied ($ls_out)" ;;
      *) nok "without --allow-other: ls by uid 65534 is denied" "got: $ls_out" ;;
    esac
    case "$cat_out" in
      *"ermission denied"*) ok "without --allow-other: cat by uid 65534 is denied" ;;
      *) nok "without --allow-other: cat by uid 65534 is denied" "got: $cat_out" ;;
    esac
  else
    expect "with --allow-other: ls by uid 65534" "$ls_out" "p.txt"
    expect "with --allow-other: cat by uid 65534" "$cat_out" "private text"
  fi
  unmount_hf "$P" "$MOUNT_PID"
done
finish
