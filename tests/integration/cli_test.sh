#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hf-mount's commands that need no mount: --help, login/whoami/logout against hf-hubd, cache
# stats/prune/clear, status, and clear errors for bad arguments.
#   usage: cli_test.sh PATH_TO_HF_MOUNT PATH_TO_HF_HUBD
set -euo pipefail
MOUNT_BIN="$1"
HUBD_BIN="$2"
WORK=$(mktemp -d /tmp/hfm-cli.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
passed=0
failed=0
check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@" >"$WORK/last.out" 2>&1; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name: $(head -c 400 "$WORK/last.out")"
    failed=$((failed + 1))
  fi
}
fails() { ! "$@"; }

for cmd in mount unmount status login whoami logout "cache stats" "cache prune" "cache clear" prefetch; do
  # shellcheck disable=SC2086
  check "--help of $cmd" "$MOUNT_BIN" $cmd --help
done
check "no subcommand is an error" fails "$MOUNT_BIN"
check "bad cache size is an error" fails "$MOUNT_BIN" mount "$WORK" --cache-size 12Q --foreground

mkdir -p "$WORK/src"
echo hi >"$WORK/src/a.txt"
"$HUBD_BIN" import --root "$WORK/root" --repo models/alice/x "$WORK/src" >/dev/null
"$HUBD_BIN" serve --root "$WORK/root" --token hf_alice_secret=alice:write --org acme=alice \
  >"$WORK/url" 2>"$WORK/hubd.log" &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -n1 "$WORK/url")

export HF_HOME="$WORK/hfhome"
unset HF_TOKEN HF_TOKEN_PATH HUGGING_FACE_HUB_TOKEN
export HF_ENDPOINT="$URL"
check "whoami without a token fails" fails "$MOUNT_BIN" whoami
check "login with a bad token fails" fails sh -c "echo hf_wrong | '$MOUNT_BIN' login"
check "login stores the token" sh -c "echo hf_alice_secret | '$MOUNT_BIN' login | grep -q alice"
check "token file is 0600" test "$(stat -c %a "$HF_HOME/token")" = 600
check "token file holds the token" grep -qx hf_alice_secret "$HF_HOME/token"
check "whoami names the user and orgs" sh -c "'$MOUNT_BIN' whoami | grep -q 'alice (orgs: acme), token role write'"
check "HF_TOKEN wins over the file" sh -c "HF_TOKEN=hf_wrong '$MOUNT_BIN' whoami; test \$? -ne 0"
check "logout removes the token" sh -c "'$MOUNT_BIN' logout && test ! -e '$HF_HOME/token'"

check "cache stats on a new cache" sh -c "'$MOUNT_BIN' cache stats --cache-dir '$WORK/cache' | grep -q 'blocks 0'"
check "cache prune" "$MOUNT_BIN" cache prune --to 1M --cache-dir "$WORK/cache"
check "cache prune needs --to" fails "$MOUNT_BIN" cache prune --cache-dir "$WORK/cache"
check "cache clear" "$MOUNT_BIN" cache clear --cache-dir "$WORK/cache"
check "status without mounts" sh -c "XDG_RUNTIME_DIR='$WORK/run' '$MOUNT_BIN' status | grep -q 'no hf-mount mounts'"
check "mount on a missing folder fails" fails "$MOUNT_BIN" mount "$WORK/missing"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
