#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP-level integration test for hf-hubd, driven with curl only.
#
# Usage: hubd_http_test.sh PATH_TO_HF_HUBD
#
# Seeds repositories with `hf-hubd import`, starts its own servers (each on its own copy of the
# root, because a root is locked by one process), and checks the Hub behaviours described in
# shared/docs/HUB-API.md (sections 3, 4, 6, 7, 11, 13). Every check prints `ok - NAME` or
# `not ok - NAME: DETAILS`; the last line is `N passed, M failed`. Exit status is non-zero when a
# check failed. Tools used: bash, curl, python3 (stdlib, JSON only), sha256sum, coreutils.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 PATH_TO_HF_HUBD" >&2
  exit 2
fi
HUBD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

T=$(mktemp -d "${TMPDIR:-/tmp}/hubd_http_test.XXXXXX")
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$T"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
nok() { echo "not ok - $1: $2"; FAIL=$((FAIL + 1)); }
# expect NAME GOT WANT [DETAILS]
expect() {
  if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got '$2', want '$3'${4:+ ($4)}"; fi
}
# expect_true NAME DETAILS CMD...
# abort NAME DETAILS: a failure the rest of the script cannot run without.
abort() {
  nok "$1" "$2"
  echo "$PASS passed, $FAIL failed"
  exit 1
}
expect_true() {
  local name=$1 details=$2
  shift 2
  if "$@"; then ok "$name"; else nok "$name" "$details"; fi
}

# ---------------------------------------------------------------------------------------------
# HTTP helpers. `http METHOD URL [curl args]` writes headers to $T/h, body to $T/b, and sets
# CODE (final status) and RC (curl exit code).
CODE=000
RC=0
http() {
  local method=$1 url=$2
  shift 2
  local args=(-sS --max-time 10 -D "$T/h" -o "$T/b" -w '%{http_code}')
  case "$method" in
    HEAD) args+=(-I) ;;
    GET) ;;
    *) args+=(-X "$method") ;;
  esac
  : >"$T/h"
  : >"$T/b"
  RC=0
  CODE=$(curl "${args[@]}" "$@" "$url" 2>"$T/curl.err") || RC=$?
  [ -n "$CODE" ] || CODE=000
}
# Last value of a response header (case-insensitive), CR stripped.
hdr() {
  { tr -d '\r' <"$T/h" | grep -i "^$1:" | tail -n1 | sed 's/^[^:]*:[[:space:]]*//'; } || true
}
# jget FILE PYEXPR: evaluates PYEXPR with d = parsed JSON of FILE; prints the result.
jget() {
  python3 - "$1" "$2" <<'EOF' 2>/dev/null || echo "<json error>"
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
r = eval(sys.argv[2])
print(json.dumps(r) if isinstance(r, (dict, list)) else r)
EOF
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
stat_of() { # stats KEY from /_hubd/stats of base URL $1
  curl -sS --max-time 10 "$1/_hubd/stats" >"$T/stats.json" 2>/dev/null || true
  jget "$T/stats.json" "$2"
}
port_of() { echo "$1" | sed -E 's#^[a-z]+://[^/:]+:([0-9]+).*#\1#'; }

# start_server NAME ROOT [serve args]: sets SRV_URL and SRV_PID.
SRV_URL=
SRV_PID=
start_server() {
  local name=$1 root=$2
  shift 2
  "$HUBD" serve --root "$root" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  local i
  for i in $(seq 1 200); do
    if [ -s "$T/$name.out" ] && [ "$(wc -l <"$T/$name.out")" -ge 1 ]; then
      break
    fi
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      abort "start server $name" "it exited: $(tr '\n' ' ' <"$T/$name.err")"
    fi
    sleep 0.05
  done
  SRV_URL=$(head -n1 "$T/$name.out")
  case "$SRV_URL" in
    http://*) ;;
    *) abort "start server $name" "no URL on its first stdout line: $(tr '\n' ' ' <"$T/$name.err")" ;;
  esac
}

# NDJSON commit helpers.
header_line() { # SUMMARY [PARENT]
  if [ -n "${2:-}" ]; then
    printf '{"key":"header","value":{"summary":"%s","description":"","parentCommit":"%s"}}\n' "$1" "$2"
  else
    printf '{"key":"header","value":{"summary":"%s","description":""}}\n' "$1"
  fi
}
file_line() { # PATH CONTENT
  printf '{"key":"file","value":{"path":"%s","content":"%s","encoding":"base64"}}\n' \
    "$1" "$(printf '%s' "$2" | base64 -w0)"
}
lfs_line() { # PATH OID SIZE
  printf '{"key":"lfsFile","value":{"path":"%s","algo":"sha256","oid":"%s","size":%s}}\n' "$1" "$2" "$3"
}
commit() { # BASE REPO REV TOKEN BODYFILE [QUERY]
  local auth=()
  [ -z "$4" ] || auth=(-H "Authorization: Bearer $4")
  http POST "$1/api/models/$2/commit/$3${6:-}" "${auth[@]}" \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$5"
}
head_of() { # BASE REPO TOKEN -> prints sha of main
  local auth=()
  [ -z "${3:-}" ] || auth=(-H "Authorization: Bearer $3")
  curl -sS --max-time 10 "${auth[@]}" "$1/api/models/$2" >"$T/info.json" 2>/dev/null || true
  jget "$T/info.json" "d['sha']"
}
is_hex40() { [[ "$1" =~ ^[0-9a-f]{40}$ ]]; }

# ---------------------------------------------------------------------------------------------
# Seed data.
ALICE_W=tok-alice-write
ALICE_R=tok-alice-read
BOB_W=tok-bob-write
CAROL_W=tok-carol-write
TOKENS=(--token "$ALICE_W=alice:write" --token "$ALICE_R=alice:read" --token "$BOB_W=bob:write"
  --token "$CAROL_W=carol:write" --org acme=alice --grant carol=models/alice/gated)

SRC=$T/src
mkdir -p "$SRC/tiny/sub/dir" "$SRC/secret" "$SRC/gated"
printf '{"architectures": ["TinyModel"], "hidden_size": 64, "num_layers": 2, "vocab_size": 1000}\n' \
  >"$SRC/tiny/config.json"
printf -- '---\nlicense: mit\n---\n# tiny\n\nA tiny test model.\n' >"$SRC/tiny/README.md"
printf 'nested file content\n' >"$SRC/tiny/sub/dir/nested.txt"
printf 'another nested file\n' >"$SRC/tiny/sub/dir/other.txt"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$SRC/tiny/big.bin"
printf 'top secret\n' >"$SRC/secret/weights.txt"
printf 'gated content\n' >"$SRC/gated/data.txt"

CONFIG_SIZE=$(stat -c %s "$SRC/tiny/config.json")
BIG_SIZE=$(stat -c %s "$SRC/tiny/big.bin")
BIG_SHA=$(sha_of "$SRC/tiny/big.bin")
NESTED_SHA=$(sha_of "$SRC/tiny/sub/dir/nested.txt")

R1=$T/root1
import_repo() { # REPO SRC [flags]
  local repo=$1 src=$2
  shift 2
  "$HUBD" import --root "$R1" --repo "$repo" "$@" "$src" >>"$T/import.log" 2>&1 ||
    abort "import $repo" "$(tr '\n' ' ' <"$T/import.log")"
}
import_repo models/alice/tiny "$SRC/tiny" -m seed
import_repo models/bob/secret "$SRC/secret" --private
import_repo models/alice/gated "$SRC/gated" --gated
# import refuses to run while a server holds the root.
start_server lockcheck "$R1"
RC=0
"$HUBD" import --root "$R1" --repo models/alice/other "$SRC/secret" >"$T/import2.log" 2>&1 || RC=$?
expect_true "import refuses a root held by a server" "exit status $RC: $(tr '\n' ' ' <"$T/import2.log")" \
  test "$RC" -ne 0
kill "$SRV_PID"
wait "$SRV_PID" || true
# Copies for the servers that need other options (each root is locked by one server).
for r in ttl fault503 faultcut fault429; do
  cp -a "$R1" "$T/root_$r"
  rm -f "$T/root_$r/signing.key"
done

start_server main "$R1" "${TOKENS[@]}"
API=$SRV_URL
MAIN_PID=$SRV_PID
API_PORT=$(port_of "$API")
TINY=alice/tiny
H0=$(head_of "$API" "$TINY")
expect_true "seed: repo has a 40-hex head" "head '$H0'" is_hex40 "$H0"

# ---------------------------------------------------------------------------------------------
# 1. Error headers on HEAD (HEAD has no body, so errors live in X-Error-* headers).
http HEAD "$API/$TINY/resolve/main/does-not-exist.txt"
expect "1 HEAD missing file: status" "$CODE" 404
expect "1 HEAD missing file: X-Error-Code" "$(hdr X-Error-Code)" EntryNotFound
expect_true "1 HEAD missing file: X-Error-Message" "empty" test -n "$(hdr X-Error-Message)"
expect "1 HEAD missing file: X-Repo-Commit" "$(hdr X-Repo-Commit)" "$H0"
http GET "$API/$TINY/resolve/main/does-not-exist.txt"
expect "1 GET missing file: JSON error body" "$CODE:$(jget "$T/b" "'error' in d")" "404:True"

http HEAD "$API/nobody/no-such-repo/resolve/main/config.json"
expect "1 HEAD missing repo (anonymous): status" "$CODE" 401
expect "1 HEAD missing repo (anonymous): X-Error-Code" "$(hdr X-Error-Code)" RepoNotFound
expect_true "1 HEAD missing repo: X-Error-Message" "empty" test -n "$(hdr X-Error-Message)"
http GET "$API/nobody/no-such-repo/resolve/main/config.json"
expect "1 GET missing repo: JSON error body" "$CODE:$(jget "$T/b" "'error' in d")" "401:True"
http HEAD "$API/nobody/no-such-repo/resolve/main/config.json" -H "Authorization: Bearer $ALICE_W"
expect "1 HEAD missing repo (authenticated): 404 RepoNotFound" "$CODE $(hdr X-Error-Code)" "404 RepoNotFound"

http HEAD "$API/$TINY/resolve/no-such-branch/config.json"
expect "1 HEAD bad revision: status" "$CODE" 404
expect "1 HEAD bad revision: X-Error-Code" "$(hdr X-Error-Code)" RevisionNotFound
expect_true "1 HEAD bad revision: X-Error-Message" "empty" test -n "$(hdr X-Error-Message)"
http GET "$API/$TINY/resolve/no-such-branch/config.json"
expect "1 GET bad revision: JSON error body" "$CODE:$(jget "$T/b" "'error' in d")" "404:True"

# Regular file: ETag + X-Repo-Commit on HEAD.
http HEAD "$API/$TINY/resolve/main/config.json"
expect "1 HEAD regular file: 200 with X-Repo-Commit" "$CODE $(hdr X-Repo-Commit)" "200 $H0"
expect_true "1 HEAD regular file: quoted ETag" "ETag '$(hdr ETag)'" \
  bash -c '[[ "$1" =~ ^\"[0-9a-f]{40}\"$ ]]' _ "$(hdr ETag)"

# ---------------------------------------------------------------------------------------------
# 2. Ranges.
CFG=$SRC/tiny/config.json
http GET "$API/$TINY/resolve/main/config.json" -H 'Range: bytes=0-9'
expect "2 range 0-9: status" "$CODE" 206
expect "2 range 0-9: Content-Range" "$(hdr Content-Range)" "bytes 0-9/$CONFIG_SIZE"
expect_true "2 range 0-9: bytes" "body differs" cmp -s "$T/b" <(head -c 10 "$CFG")
expect "2 range: Accept-Ranges" "$(hdr Accept-Ranges)" bytes

http GET "$API/$TINY/resolve/main/config.json" -H 'Range: bytes=-5'
expect "2 suffix range -5: status+Content-Range" "$CODE $(hdr Content-Range)" \
  "206 bytes $((CONFIG_SIZE - 5))-$((CONFIG_SIZE - 1))/$CONFIG_SIZE"
expect_true "2 suffix range -5: bytes" "body differs" cmp -s "$T/b" <(tail -c 5 "$CFG")

http GET "$API/$TINY/resolve/main/config.json" -H 'Range: bytes=3-'
expect "2 open range 3-: status+Content-Range" "$CODE $(hdr Content-Range)" \
  "206 bytes 3-$((CONFIG_SIZE - 1))/$CONFIG_SIZE"
expect_true "2 open range 3-: bytes" "body differs" cmp -s "$T/b" <(tail -c +4 "$CFG")

http GET "$API/$TINY/resolve/main/config.json" -H "Range: bytes=$CONFIG_SIZE-"
expect "2 range at EOF: 416 + Content-Range" "$CODE $(hdr Content-Range)" "416 bytes */$CONFIG_SIZE"

# Same on the CDN (redirect followed by hand).
http HEAD "$API/$TINY/resolve/main/big.bin"
LOC=$(hdr Location)
BIG=$SRC/tiny/big.bin
http GET "$LOC" -H 'Range: bytes=0-9'
expect "2 CDN range 0-9: status+Content-Range" "$CODE $(hdr Content-Range)" "206 bytes 0-9/$BIG_SIZE"
expect_true "2 CDN range 0-9: bytes" "body differs" cmp -s "$T/b" <(head -c 10 "$BIG")
http GET "$LOC" -H 'Range: bytes=-5'
expect "2 CDN suffix range -5: status+Content-Range" "$CODE $(hdr Content-Range)" \
  "206 bytes $((BIG_SIZE - 5))-$((BIG_SIZE - 1))/$BIG_SIZE"
expect_true "2 CDN suffix range -5: bytes" "body differs" cmp -s "$T/b" <(tail -c 5 "$BIG")
http GET "$LOC" -H "Range: bytes=$((BIG_SIZE - 100))-"
expect "2 CDN open range: status+Content-Range" "$CODE $(hdr Content-Range)" \
  "206 bytes $((BIG_SIZE - 100))-$((BIG_SIZE - 1))/$BIG_SIZE"
expect_true "2 CDN open range: bytes" "body differs" cmp -s "$T/b" <(tail -c 100 "$BIG")
http GET "$LOC" -H "Range: bytes=$BIG_SIZE-"
expect "2 CDN range at EOF: 416 + Content-Range" "$CODE $(hdr Content-Range)" "416 bytes */$BIG_SIZE"

# ---------------------------------------------------------------------------------------------
# 3. LFS resolve: a 302 carrying the Hub headers, to a different port.
for m in GET HEAD; do
  http "$m" "$API/$TINY/resolve/main/big.bin"
  expect "3 $m LFS resolve: status" "$CODE" 302
  LOC=$(hdr Location)
  expect_true "3 $m LFS resolve: Location on another port" "Location '$LOC', API port $API_PORT" \
    bash -c '[[ "$1" =~ ^http://[^/]+:[0-9]+/lfs/ ]] && [ "$2" != "$3" ]' _ "$LOC" "$(port_of "$LOC")" "$API_PORT"
  expect "3 $m LFS resolve: X-Repo-Commit" "$(hdr X-Repo-Commit)" "$H0"
  expect "3 $m LFS resolve: X-Linked-Etag" "$(hdr X-Linked-Etag)" "\"$BIG_SHA\""
  expect "3 $m LFS resolve: X-Linked-Size" "$(hdr X-Linked-Size)" "$BIG_SIZE"
done
RC=0
curl -sS --max-time 10 -L -o "$T/big.dl" "$API/$TINY/resolve/main/big.bin" 2>"$T/curl.err" || RC=$?
expect "3 curl -L LFS file: sha256" "$RC $(sha_of "$T/big.dl")" "0 $BIG_SHA"
http GET "$LOC"
expect "3 CDN response: 200 with ETag" "$CODE $(hdr ETag)" "200 \"$BIG_SHA\""

C0=$(stat_of "$API" "d['cdn_requests_with_authorization']")
http GET "$LOC" -H "Authorization: Bearer $ALICE_W" -H 'Range: bytes=0-0'
C1=$(stat_of "$API" "d['cdn_requests_with_authorization']")
expect "3 CDN request with Authorization is counted" "$C1" "$((C0 + 1))" "status $CODE"
RC=0
curl -sS --max-time 10 -L -o "$T/big.dl2" -H "Authorization: Bearer $ALICE_W" \
  "$API/$TINY/resolve/main/big.bin" 2>"$T/curl.err" || RC=$?
C2=$(stat_of "$API" "d['cdn_requests_with_authorization']")
expect "3 curl -L with token: auth not forwarded to CDN" "$C2" "$C1"
expect "3 curl -L with token: sha256" "$RC $(sha_of "$T/big.dl2")" "0 $BIG_SHA"

# ---------------------------------------------------------------------------------------------
# 4. Signed CDN URLs.
# Flip the last hex digit of the signature (it is the last query parameter).
if [ "${LOC: -1}" = 0 ]; then BAD_LOC="${LOC%?}1"; else BAD_LOC="${LOC%?}0"; fi
http GET "$BAD_LOC"
expect "4 tampered signature: 403" "$CODE $(hdr X-Error-Code)" "403 SignatureInvalid"
http GET "${LOC%%\?*}"
expect "4 missing signature: 403" "$CODE" 403
http GET "$(printf '%s' "$LOC" | sed -E 's/&?X-Signature=[0-9a-f]*//')"
expect "4 missing X-Signature only: 403" "$CODE" 403

R_TTL=$T/root_ttl
start_server ttl "$R_TTL" "${TOKENS[@]}" --cdn-url-ttl 2 --tree-page-size 2
TTL_API=$SRV_URL
http HEAD "$TTL_API/$TINY/resolve/main/big.bin"
OLD_LOC=$(hdr Location)
TTL_T0=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
# 6b. Pagination on the page-size-2 server (done while the short-lived URL ages).
fetch_all_pages() { # URL OUTFILE -> sets PAGES, LINK_OK
  local url=$1 out=$2 n=0
  LINK_OK=1
  : >"$out.list"
  while [ -n "$url" ] && [ "$n" -lt 50 ]; do
    http GET "$url"
    [ "$CODE" = 200 ] || { LINK_OK=0; break; }
    python3 -c 'import json,sys; [print(e["type"], e["path"]) for e in json.load(open(sys.argv[1]))]' "$T/b" >>"$out.list"
    n=$((n + 1))
    local link
    link=$(hdr Link)
    if [ -z "$link" ]; then url=; break; fi
    if [[ "$link" =~ ^\<(https?://[^>]+)\>\;[[:space:]]+rel=\"next\"$ ]]; then
      url=${BASH_REMATCH[1]}
    else
      LINK_OK=0
      url=
    fi
  done
  PAGES=$n
  sort "$out.list" >"$out"
}
fetch_all_pages "$TTL_API/api/models/$TINY/tree/$H0?recursive=true" "$T/paged"
http GET "$API/api/models/$TINY/tree/$H0?recursive=true"
python3 -c 'import json,sys; [print(e["type"], e["path"]) for e in json.load(open(sys.argv[1]))]' "$T/b" | sort >"$T/full"
expect "6 pagination: Link is absolute with '; rel=\"next\"'" "$LINK_OK" 1
expect_true "6 pagination: several pages" "pages $PAGES" test "$PAGES" -ge 3
expect_true "6 pagination: all entries collected" "paged: $(tr '\n' ',' <"$T/paged") full: $(tr '\n' ',' <"$T/full")" \
  bash -c 'cmp -s "$1" "$2" && [ "$(wc -l <"$2")" -eq 7 ]' _ "$T/paged" "$T/full"

# ---------------------------------------------------------------------------------------------
# 5. Optimistic locking with parentCommit.
{ header_line "update config" "$H0"; file_line config2.json '{"a": 1}'; } >"$T/c1.ndjson"
commit "$API" "$TINY" main "$ALICE_W" "$T/c1.ndjson"
H1=$(jget "$T/b" "d.get('commitOid')")
expect "5 commit with current head: 200" "$CODE" 200 "$(cat "$T/b")"
expect_true "5 commit with current head: commitOid is 40 hex" "commitOid '$H1'" is_hex40 "$H1"
expect "5 head moved to the new commit" "$(head_of "$API" "$TINY")" "$H1"
{ header_line "stale" "$H0"; file_line stale.txt 'stale'; } >"$T/c2.ndjson"
commit "$API" "$TINY" main "$ALICE_W" "$T/c2.ndjson"
expect "5 commit with stale parentCommit: 412" "$CODE" 412 "$(cat "$T/b")"
expect "5 stale commit did not move the head" "$(head_of "$API" "$TINY")" "$H1"

# ---------------------------------------------------------------------------------------------
# 6. Revisions and tree listing.
{ header_line "pr change"; file_line pr.txt 'from the pull request'; } >"$T/pr.ndjson"
commit "$API" "$TINY" main "$ALICE_W" "$T/pr.ndjson" "?create_pr=1"
PR_URL=$(jget "$T/b" "d.get('pullRequestUrl')")
expect "6 create_pr: 200" "$CODE" 200 "$(cat "$T/b")"
expect_true "6 create_pr: pullRequestUrl ends /discussions/1" "pullRequestUrl '$PR_URL'" \
  bash -c '[[ "$1" == "$2"/* && "$1" == */discussions/1 ]]' _ "$PR_URL" "$API"
http GET "$API/$TINY/resolve/refs%2Fpr%2F1/pr.txt"
C_ENC=$CODE
B_ENC=$(cat "$T/b")
X_ENC=$(hdr X-Repo-Commit)
http GET "$API/$TINY/resolve/refs/pr/1/pr.txt"
expect "6 resolve refs%2Fpr%2F1" "$C_ENC $B_ENC" "200 from the pull request"
expect "6 resolve literal refs/pr/1" "$CODE $(cat "$T/b")" "200 from the pull request"
expect "6 both PR spellings give the same commit" "$X_ENC" "$(hdr X-Repo-Commit)"
http GET "$API/$TINY/resolve/main/pr.txt"
expect "6 PR file is not on main" "$CODE $(hdr X-Error-Code)" "404 EntryNotFound"
http GET "$API/api/models/$TINY/revision/refs%2Fpr%2F1"
expect "6 repo info at refs%2Fpr%2F1" "$CODE $(jget "$T/b" "d['sha']")" "200 $X_ENC"
http GET "$API/api/models/$TINY/revision/HEAD"
expect "6 repo info at revision HEAD = main head" "$CODE $(jget "$T/b" "d['sha']")" "200 $H1"

tree_list() { jget "$T/b" "sorted((e['type'], e['path'], e['oid']) for e in d)"; }
http GET "$API/api/models/$TINY/tree/main/sub%2Fdir"
T_ENC="$CODE $(tree_list)"
http GET "$API/api/models/$TINY/tree/main/sub/dir"
T_LIT="$CODE $(tree_list)"
expect "6 tree sub%2Fdir == sub/dir" "$T_ENC" "$T_LIT"
expect_true "6 tree sub/dir lists both files" "got $T_LIT" \
  bash -c '[[ "$1" == 200* && "$1" == *sub/dir/nested.txt* && "$1" == *sub/dir/other.txt* ]]' _ "$T_LIT"
http GET "$API/api/models/$TINY/tree/refs%2Fpr%2F1/sub%2Fdir"
expect "6 tree at refs%2Fpr%2F1 with %2F path" "$CODE $(tree_list)" "$T_LIT"
http GET "$API/api/models/$TINY/tree/main/config.json"
expect "6 tree on a file path: 404 EntryNotFound" "$CODE $(hdr X-Error-Code)" "404 EntryNotFound"
http GET "$API/api/models/$TINY/tree/main/no-such-dir"
expect "6 tree on a missing folder: 404 EntryNotFound" "$CODE $(hdr X-Error-Code)" "404 EntryNotFound"
http GET "$API/api/models/$TINY/tree/no-such-rev"
expect "6 tree on a bad revision: 404 RevisionNotFound" "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound"

# ---------------------------------------------------------------------------------------------
# 7. paths-info, form and JSON.
http POST "$API/api/models/$TINY/paths-info/main" \
  --data 'paths=config.json&paths=sub%2Fdir&paths=missing.txt&expand=false'
PI_FORM="$CODE $(jget "$T/b" "sorted((e['type'], e['path'], e['oid']) for e in d)")"
http POST "$API/api/models/$TINY/paths-info/main" -H 'Content-Type: application/json' \
  --data '{"paths":["config.json","sub/dir","missing.txt"]}'
PI_JSON="$CODE $(jget "$T/b" "sorted((e['type'], e['path'], e['oid']) for e in d)")"
expect "7 paths-info form == JSON" "$PI_FORM" "$PI_JSON"
expect "7 paths-info: missing path omitted" "$(jget "$T/b" "sorted(e['path'] for e in d)")" \
  '["config.json", "sub/dir"]'
http POST "$API/api/models/$TINY/paths-info/main" -H 'Content-Type: application/json' \
  --data '{"paths":["big.bin"]}'
expect "7 paths-info LFS entry: lfs.oid and size" "$(jget "$T/b" "[d[0]['lfs']['oid'], d[0]['size']]")" \
  "[\"$BIG_SHA\", $BIG_SIZE]"

# ---------------------------------------------------------------------------------------------
# 8. Authorization.
http GET "$API/api/models/bob/secret"
expect "8 private repo, anonymous: 401 RepoNotFound" "$CODE $(hdr X-Error-Code)" "401 RepoNotFound"
http GET "$API/api/models/bob/secret" -H "Authorization: Bearer $ALICE_W"
expect "8 private repo, other user: 404 RepoNotFound" "$CODE $(hdr X-Error-Code)" "404 RepoNotFound"
http GET "$API/api/models/bob/secret" -H "Authorization: Bearer $BOB_W"
expect "8 private repo, owner: 200" "$CODE $(jget "$T/b" "d['private']")" "200 True"
http HEAD "$API/bob/secret/resolve/main/weights.txt"
expect "8 private file, anonymous HEAD: 401 RepoNotFound" "$CODE $(hdr X-Error-Code)" "401 RepoNotFound"
http GET "$API/bob/secret/resolve/main/weights.txt" -H "Authorization: Bearer $BOB_W"
expect "8 private file, owner: 200" "$CODE $(cat "$T/b")" "200 top secret"
http GET "$API/api/models/$TINY/tree/main" -H "Authorization: Bearer not-a-token"
expect "8 unknown token: 401" "$CODE" 401

{ header_line "by reader"; file_line reader.txt 'x'; } >"$T/c3.ndjson"
commit "$API" "$TINY" main "$ALICE_R" "$T/c3.ndjson"
expect "8 read token cannot commit: 403" "$CODE" 403 "$(cat "$T/b")"
commit "$API" "$TINY" main "" "$T/c3.ndjson"
expect "8 no token cannot commit: 401" "$CODE" 401 "$(cat "$T/b")"
commit "$API" "$TINY" main "$BOB_W" "$T/c3.ndjson"
expect "8 non-member write token cannot commit: 403" "$CODE" 403 "$(cat "$T/b")"
expect "8 refused commits did not move the head" "$(head_of "$API" "$TINY")" "$H1"

http POST "$API/api/repos/create" -H "Authorization: Bearer $ALICE_W" -H 'Content-Type: application/json' \
  --data '{"name":"org-model","organization":"acme","type":"model","private":false}'
expect "8 org member creates repo in org: 200" "$CODE" 200 "$(cat "$T/b")"
expect "8 created repo url" "$(jget "$T/b" "d['url']")" "$API/acme/org-model"
http GET "$API/api/models/acme/org-model"
expect "8 created repo is visible" "$CODE" 200
http POST "$API/api/repos/create" -H "Authorization: Bearer $BOB_W" -H 'Content-Type: application/json' \
  --data '{"name":"bob-model","organization":"acme","type":"model","private":false}'
expect "8 non-member cannot create repo in org: 403" "$CODE" 403 "$(cat "$T/b")"
http POST "$API/api/repos/create" -H "Authorization: Bearer $ALICE_W" -H 'Content-Type: application/json' \
  --data '{"name":"org-model","organization":"acme","type":"model","private":false}'
expect "8 creating an existing repo: 409" "$CODE" 409

http GET "$API/api/models/alice/gated"
expect "8 gated repo: metadata readable anonymously" "$CODE $(jget "$T/b" "d['gated']")" "200 manual"
http HEAD "$API/alice/gated/resolve/main/data.txt"
expect "8 gated file, anonymous: 401 GatedRepo" "$CODE $(hdr X-Error-Code)" "401 GatedRepo"
http HEAD "$API/alice/gated/resolve/main/data.txt" -H "Authorization: Bearer $BOB_W"
expect "8 gated file, not granted: 403 GatedRepo" "$CODE $(hdr X-Error-Code)" "403 GatedRepo"
http GET "$API/alice/gated/resolve/main/data.txt" -H "Authorization: Bearer $CAROL_W"
expect "8 gated file, granted user: 200" "$CODE $(cat "$T/b")" "200 gated content"

# ---------------------------------------------------------------------------------------------
# 9. LFS batch upload.
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$T/new.bin"
NEW_SHA=$(sha_of "$T/new.bin")
NEW_SIZE=$(stat -c %s "$T/new.bin")
head -c "$NEW_SIZE" /dev/urandom >"$T/wrong.bin"
WRONG_SHA=$(sha_of "$T/wrong.bin")
batch() { # OID SIZE
  http POST "$API/$TINY.git/info/lfs/objects/batch" -H "Authorization: Bearer $ALICE_W" \
    -H 'Accept: application/vnd.git-lfs+json' -H 'Content-Type: application/vnd.git-lfs+json' \
    --data "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":[{\"oid\":\"$1\",\"size\":$2}],\"hash_algo\":\"sha256\",\"ref\":{\"name\":\"main\"}}"
}
batch "$NEW_SHA" "$NEW_SIZE"
HREF=$(jget "$T/b" "d['objects'][0]['actions']['upload']['href']")
expect "9 batch: 200 basic transfer" "$CODE $(jget "$T/b" "d['transfer']")" "200 basic"
expect_true "9 batch: upload href on the API base URL" "href '$HREF'" \
  bash -c '[[ "$1" == "$2"/* ]]' _ "$HREF" "$API"

{ header_line "lfs never uploaded" "$H1"; lfs_line new.bin "$NEW_SHA" "$NEW_SIZE"; } >"$T/c4.ndjson"
commit "$API" "$TINY" main "$ALICE_W" "$T/c4.ndjson"
expect_true "9 commit with a never-uploaded lfsFile: 4xx with a message" \
  "status $CODE body $(cat "$T/b")" \
  bash -c '[[ "$1" =~ ^4[0-9][0-9]$ ]] && grep -qi "upload" "$2"' _ "$CODE" "$T/b"
expect "9 failed LFS commit did not move the head" "$(head_of "$API" "$TINY")" "$H1"

http PUT "$HREF" --data-binary "@$T/wrong.bin"
expect "9 PUT wrong bytes: 400" "$CODE" 400 "$(cat "$T/b")"
batch "$NEW_SHA" "$NEW_SIZE"
expect "9 after a bad PUT the object is still missing" "$(jget "$T/b" "'actions' in d['objects'][0]")" True
batch "$WRONG_SHA" "$NEW_SIZE"
expect "9 the wrong bytes were not stored either" "$(jget "$T/b" "'actions' in d['objects'][0]")" True

http PUT "$HREF" --data-binary "@$T/new.bin"
expect "9 PUT without Authorization: 200" "$CODE" 200 "$(cat "$T/b")"
batch "$NEW_SHA" "$NEW_SIZE"
expect "9 batch after upload: no actions" "$(jget "$T/b" "'actions' in d['objects'][0]")" False
http POST "$API/$TINY.git/info/lfs/objects/verify" -H "Authorization: Bearer $ALICE_W" \
  -H 'Content-Type: application/vnd.git-lfs+json' --data "{\"oid\":\"$NEW_SHA\",\"size\":$NEW_SIZE}"
expect "9 verify: 200" "$CODE" 200

commit "$API" "$TINY" main "$ALICE_W" "$T/c4.ndjson"
H2=$(jget "$T/b" "d.get('commitOid')")
expect "9 commit with the uploaded oid: 200" "$CODE" 200 "$(cat "$T/b")"
RC=0
curl -sS --max-time 10 -L -o "$T/new.dl" "$API/$TINY/resolve/main/new.bin" 2>"$T/curl.err" || RC=$?
expect "9 committed LFS file resolves with the right sha256" "$RC $(sha_of "$T/new.dl")" "0 $NEW_SHA"

# ---------------------------------------------------------------------------------------------
# 12. validate-yaml and whoami.
http POST "$API/api/validate-yaml" -H 'Content-Type: application/json' \
  --data '{"content":"---\nlicense: mit\n---\n# card\n","repoType":"model"}'
expect "12 validate-yaml: 200 JSON" "$CODE $(jget "$T/b" "type(d).__name__")" "200 dict"
http GET "$API/api/whoami-v2"
expect "12 whoami-v2 without token: 401" "$CODE" 401
http GET "$API/api/whoami-v2" -H "Authorization: Bearer $ALICE_W"
expect "12 whoami-v2 with token: name" "$CODE $(jget "$T/b" "d['name']")" "200 alice"
expect "12 whoami-v2: orgs" "$(jget "$T/b" "[o['name'] for o in d['orgs']]")" '["acme"]'

# ---------------------------------------------------------------------------------------------
# 4b. Expired signature (the ttl server was started earlier; wait until 3 s have passed).
python3 -c 'import sys,time; t=float(sys.argv[1])+3.2-time.time(); time.sleep(max(0.0,t))' "$TTL_T0"
http GET "$OLD_LOC"
expect "4 expired signature: 403 SignatureExpired" "$CODE $(hdr X-Error-Code)" "403 SignatureExpired"
http HEAD "$TTL_API/$TINY/resolve/main/big.bin"
NEW_LOC=$(hdr Location)
http GET "$NEW_LOC" -H 'Range: bytes=0-9'
expect "4 a fresh Location works" "$CODE" 206

# ---------------------------------------------------------------------------------------------
# 10. Durability across kill -9.
{ header_line "durable" "$H2"; file_line durable/file.txt 'durable content'; } >"$T/c5.ndjson"
commit "$API" "$TINY" main "$ALICE_W" "$T/c5.ndjson"
H3=$(jget "$T/b" "d.get('commitOid')")
expect "10 commit before the crash: 200" "$CODE" 200
# Grouped with stderr silenced so bash does not report the "Killed" job.
{ kill -9 "$MAIN_PID" && wait "$MAIN_PID"; } 2>/dev/null || true
start_server main2 "$R1" "${TOKENS[@]}"
API2=$SRV_URL
expect_true "10 restarted server has a new URL" "'$API2'" test -n "$API2"
expect "10 acknowledged commit is the branch head after restart" "$(head_of "$API2" "$TINY")" "$H3"
http GET "$API2/$TINY/resolve/main/durable/file.txt"
expect "10 file of the last commit downloads" "$CODE $(cat "$T/b")" "200 durable content"
RC=0
curl -sS --max-time 10 -L -o "$T/new.dl3" "$API2/$TINY/resolve/main/new.bin" 2>"$T/curl.err" || RC=$?
expect "10 uploaded LFS file downloads after restart" "$RC $(sha_of "$T/new.dl3")" "0 $NEW_SHA"
curl -sS --max-time 10 -L -o "$T/big.dl3" "$API2/$TINY/resolve/main/big.bin" 2>"$T/curl.err" || RC=$?
expect "10 imported LFS file downloads after restart" "$RC $(sha_of "$T/big.dl3")" "0 $BIG_SHA"
http GET "$API2/$TINY/resolve/main/sub/dir/nested.txt"
expect "10 nested file after restart" "$(sha_of "$T/b")" "$NESTED_SHA"
http GET "$API2/$TINY/resolve/refs%2Fpr%2F1/pr.txt"
expect "10 pull request survives restart" "$CODE $(cat "$T/b")" "200 from the pull request"

# ---------------------------------------------------------------------------------------------
# 11. Fault injection.
start_server f503 "$T/root_fault503" "${TOKENS[@]}" --faults 'resolve:503=1'
F503=$SRV_URL
http GET "$F503/$TINY/resolve/main/config.json"
expect "11 resolve:503=1 -> resolve answers 503" "$CODE" 503
http GET "$F503/api/models/$TINY"
expect "11 resolve:503=1 -> /api still 200" "$CODE" 200
FI=$(stat_of "$F503" "d['faults_injected']")
expect_true "11 stats faults_injected > 0" "faults_injected '$FI'" bash -c '[ "$1" -gt 0 ] 2>/dev/null' _ "$FI"

start_server fcut "$T/root_faultcut" "${TOKENS[@]}" --faults 'cdn:cut=1:1000'
FCUT=$SRV_URL
http HEAD "$FCUT/$TINY/resolve/main/big.bin"
CUT_LOC=$(hdr Location)
expect "11 cdn:cut -> resolve still 302 with X-Linked-Size" "$CODE $(hdr X-Linked-Size)" "302 $BIG_SIZE"
RC=0
curl -sS --max-time 10 -o "$T/cut.dl" "$CUT_LOC" 2>"$T/curl.err" || RC=$?
GOT=$(stat -c %s "$T/cut.dl" 2>/dev/null || echo 0)
expect_true "11 cdn:cut=1:1000 -> download fails / is short" "curl rc $RC, $GOT of $BIG_SIZE bytes" \
  bash -c '[ "$1" -ne 0 ] && [ "$2" -lt "$3" ]' _ "$RC" "$GOT" "$BIG_SIZE"
FI=$(stat_of "$FCUT" "d['faults_injected']")
expect_true "11 cdn:cut stats faults_injected > 0" "faults_injected '$FI'" bash -c '[ "$1" -gt 0 ] 2>/dev/null' _ "$FI"

start_server f429 "$T/root_fault429" "${TOKENS[@]}" --faults 'api:429=1,retry-after=3'
F429=$SRV_URL
http GET "$F429/api/models/$TINY"
expect "11 api:429=1,retry-after=3 -> 429 + Retry-After: 3" "$CODE $(hdr Retry-After)" "429 3"
http GET "$F429/$TINY/resolve/main/config.json"
expect "11 api:429 does not affect resolve" "$CODE" 200

# ---------------------------------------------------------------------------------------------
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
