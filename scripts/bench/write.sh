#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: hf-mount writes into a branch view against references measured in the same run
# (DESIGN.md §6, §10).
#
#   1. commit phase alone: fsync of a large file already copied into the view (--commit-delay
#      86400, so nothing was committed before) = preupload + LFS upload + commit
#                                     vs curl -T of the same bytes to an hf-hubd LFS basic upload URL
#                                        (from an LFS batch call made just before, not timed)
#   2. cp of that file into the view (staging + hashing, no commit; cp's close() makes the
#      staging file durable, and that is timed)
#                                     vs cp into libfuse passthrough_ll (-o cache=always), cp to a
#                                        local folder and cp && sync there
#   3. cp -r of many small text files (1-4 KiB) into a view with --commit-delay 1: time until the
#      commit exists on the hub, the HTTP requests hf-hubd counted for it, and exactly one commit
#                                     vs cp -r into passthrough_ll and to a local folder
#   peak RssAnon of the mount daemon during the cp of 2 and during the fsync of 1.
#
# Every run writes new content (the first 8 bytes of the file are the subject and run number), so
# hf-hubd never answers "already stored". hf-hubd runs with --lfs-multipart-threshold above the
# file size, so curl and hf-mount each upload with one PUT; the table says how hf-mount uploaded.
#
# Env: BENCH_WRITE_SIZE_MB (default BENCH_SIZE_MB, else 1024), BENCH_RUNS (5),
#      BENCH_SMALL_FILES (1000), BENCH_OUT (write .json, else TSV, there),
#      BENCH_MEMORY_LIMIT (512M, passed to --memory-limit),
#      BENCH_LFS_MULTIPART_THRESHOLD_MB (file size + 1: hf-hubd's --lfs-multipart-threshold),
#      BENCH_TMP (/tmp), HF_MOUNT, HUBD (default build/bin/…).
# Needs root (drop_caches), fuse3, gcc, pkg-config, curl, python3. Prints a markdown table and
# PASS/FAIL target lines on stdout, progress on stderr. Exits 0 even on FAIL; non-zero only if
# something broke. Everything it starts is stopped by pid and every mount unmounted on exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZE_MB="${BENCH_WRITE_SIZE_MB:-${BENCH_SIZE_MB:-1024}}"
SMALL="${BENCH_SMALL_FILES:-1000}"
MULTIPART_MB="${BENCH_LFS_MULTIPART_THRESHOLD_MB:-$((SIZE_MB + 1))}"
TOKEN=hf_bench_token
QUIET=86400   # --commit-delay for 1 and 2: only the fsync commits
OP_TIMEOUT=1800

bench_check_tools
command -v timeout >/dev/null || die "timeout is required"
check_positive SIZE_MB RUNS SMALL MULTIPART_MB
(( SIZE_MB >= 16 )) || die "BENCH_WRITE_SIZE_MB must be at least 16 (files > 10 MiB become LFS)"

bench_init write
size_bytes=$((SIZE_MB * 1024 * 1024))
CACHE_SIZE="$((2 * SIZE_MB + 1024))M"
# The mount daemons take the token from the environment; it is hf-hubd's bench token only.
export HF_TOKEN="$TOKEN"
AUTH=(-H "Authorization: Bearer $TOKEN")

# ---- Data ---------------------------------------------------------------------------------------
log "creating a ${SIZE_MB} MiB random file and $SMALL small files"
mkdir -p "$tmp/src" "$tmp/seed" "$tmp/local_dst" "$tmp/pt_back"
head -c "$size_bytes" /dev/urandom >"$tmp/src/big.bin"
small_n="$("${HELP[@]}" gen-tree "$tmp/small" "$SMALL" 1024 4096)"
small_bytes="$(find "$tmp/small" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"
echo "# write benchmark" >"$tmp/seed/README.md"
import big "$tmp/seed"
import small "$tmp/seed"
hubd_start --token "$TOKEN=bench:write" \
  --lfs-multipart-threshold "$((MULTIPART_MB * 1024 * 1024))" \
  --tree-page-size "$((2 * small_n + 1000))"
pt_mount "$tmp/pt_back" "$tmp/mnt_pt"

# commits REPO: how many commits main of models/bench/REPO has (one API request).
commits() {
  curl -sf -o /dev/null -D - "${AUTH[@]}" "$api/api/models/bench/$1/commits/main?limit=1" |
    tr -d '\r' | awk 'tolower($1) == "x-total-count:" { print $2; f = 1 } END { exit !f }'
}
requests_total() { "${HELP[@]}" json-eval 'sum(d["requests"].values())' <<<"$1"; }
mbps() { calc "$size_bytes / ($1 / 1e9) / 1e6"; }   # mbps NANOSECONDS
# stamp TAG: the first 8 bytes of the big file become TAG (new content, a new sha256); then the
# page cache is dropped and the file read back in while hashing it: sets src_sha.
stamp() {
  printf '%-8.8s' "$1" | dd of="$tmp/src/big.bin" bs=8 count=1 conv=notrunc status=none
  drop_caches
  src_sha="$(sha256sum "$tmp/src/big.bin" | cut -d' ' -f1)"
}
timed_cp() { timeout "$OP_TIMEOUT" cp "$@"; }

S1="1. commit (fsync)"; S2="2. cp into the view"; S3="3. cp -r $SMALL small files"
target "{\"kind\":\"ratio\",\"scenario\":\"$S1\",\"metric\":\"upload\",\"unit\":\"MB/s\",\"refs\":[\"curl -T\"],\"min_ratio\":0.8}"
target "{\"kind\":\"exact\",\"scenario\":\"$S1\",\"subject\":\"hf-mount\",\"metric\":\"commits\",\"unit\":\"commits\",\"value\":1,\"why\":\"one fsync, one commit\"}"
target "{\"kind\":\"ratio\",\"scenario\":\"$S2\",\"metric\":\"cp\",\"unit\":\"MB/s\",\"refs\":[\"passthrough_ll\"],\"min_ratio\":0.8}"
target "{\"kind\":\"ref\",\"scenario\":\"$S3\",\"metric\":\"cp -r\",\"refs\":[\"passthrough_ll\"]}"
target "{\"kind\":\"exact\",\"scenario\":\"$S3\",\"subject\":\"hf-mount\",\"metric\":\"commits\",\"unit\":\"commits\",\"value\":1,\"why\":\"the whole cp -r lands as ONE commit\"}"

# ---- 1 and 2: one large file --------------------------------------------------------------------
# hf-mount: a fresh mount and cache; cp (scenario 2), then fsync (scenario 1), then unmount.
run_hfm() {
  local run="$1" cache="$tmp/cache_w" mnt="$tmp/mnt" name="big-$1.bin" t0 t1 v secs s0 s1 c0 c1 c2 got
  rm -rf "$cache"
  stamp "$(printf 'm%07d' "$run")"
  hfm_mount "$mnt" "$cache" models/bench/big --commit-delay "$QUIET"
  ls "$mnt" >/dev/null   # the view's first use (revision, token) is not part of the cp
  c0="$(commits big)"
  rss_start "$MPID"
  t0=$(now_ns); timed_cp "$tmp/src/big.bin" "$mnt/$name"; t1=$(now_ns)
  rss_stop
  v="$(mbps $((t1 - t0)))"; record "$S2" hf-mount cp MB/s "$v"
  record "$S2" hf-mount "peak RssAnon" MiB "$RSS_MIB"
  s0="$(stats)"
  rss_start "$MPID"
  secs="$(timeout "$OP_TIMEOUT" "${HELP[@]}" fsync "$mnt/$name")"
  rss_stop
  s1="$(stats)"
  c1="$(commits big)"
  v="$(calc "$size_bytes / $secs / 1e6")"; record "$S1" hf-mount upload MB/s "$v"
  record "$S1" hf-mount "peak RssAnon" MiB "$RSS_MIB"
  v=$(( $(stat_of "$s1" requests upload) - $(stat_of "$s0" requests upload) ))
  record "$S1" hf-mount "LFS upload requests" requests "$v"
  record "$S1" hf-mount commits commits "$((c1 - c0))"
  hfm_unmount "$mnt" "$MPID"
  c2="$(commits big)"
  (( c2 == c1 )) || log "warning: run $run: unmount after the fsync made $((c2 - c1)) more commit(s)"
  got="$(curl -sf "${AUTH[@]}" -d "paths=$name" "$api/api/models/bench/big/paths-info/main" |
    "${HELP[@]}" json-eval 'd[0].get("lfs", {}).get("oid", "not LFS") if d else "missing"')"
  [[ "$got" == "$src_sha" ]] || die "the hub has $name as $got, want sha256 $src_sha"
  rm -rf "$cache"
}

# curl: the batch call for a basic upload URL (not timed), then curl -T of the same bytes.
run_curl() {
  local run="$1" batch href out code sent secs v obj
  stamp "$(printf 'c%07d' "$run")"
  batch="$(curl -sf -X POST "${AUTH[@]}" -H 'Accept: application/vnd.git-lfs+json' \
    -H 'Content-Type: application/vnd.git-lfs+json' \
    -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$src_sha\",\"size\":$size_bytes}],\"hash_algo\":\"sha256\"}" \
    "$api/bench/big.git/info/lfs/objects/batch")"
  href="$("${HELP[@]}" json-eval \
    'd["objects"][0].get("actions", {}).get("upload", {}).get("href", "")' <<<"$batch")"
  [[ -n "$href" ]] || die "the LFS batch API gave no upload URL: $batch"
  out="$(timeout "$OP_TIMEOUT" curl -sf -T "$tmp/src/big.bin" -o /dev/null \
    -w '%{http_code} %{size_upload} %{time_total}' "$href")"
  read -r code sent secs <<<"$out"
  [[ "$code" == 200 && "$sent" == "$size_bytes" ]] || die "curl -T $href: $out"
  obj="$tmp/root/objects/${src_sha:0:2}/$src_sha"
  [[ "$(stat -c %s "$obj" 2>/dev/null)" == "$size_bytes" ]] || die "hf-hubd did not store $obj"
  rm -f "$obj"   # no commit refers to it; frees the disk
  v="$(calc "$size_bytes / $secs / 1e6")"; record "$S1" "curl -T" upload MB/s "$v"
}

run_pt() {
  local run="$1" t0 t1 v
  rm -f "$tmp/pt_back/big.bin"
  stamp "$(printf 'p%07d' "$run")"
  t0=$(now_ns); timed_cp "$tmp/src/big.bin" "$tmp/mnt_pt/big.bin"; t1=$(now_ns)
  v="$(mbps $((t1 - t0)))"; record "$S2" passthrough_ll cp MB/s "$v"
  cmp -s "$tmp/src/big.bin" "$tmp/pt_back/big.bin" || die "passthrough_ll copy differs"
  rm -f "$tmp/pt_back/big.bin"
}

run_local() {
  local run="$1" t0 t1 t2 v
  rm -f "$tmp/local_dst/big.bin"
  stamp "$(printf 'l%07d' "$run")"
  t0=$(now_ns); timed_cp "$tmp/src/big.bin" "$tmp/local_dst/big.bin"; t1=$(now_ns); sync; t2=$(now_ns)
  v="$(mbps $((t1 - t0)))"; record "$S2" local cp MB/s "$v"
  v="$(mbps $((t2 - t0)))"; record "$S2" "local (cp && sync)" cp MB/s "$v"
  rm -f "$tmp/local_dst/big.bin"
}

for run in $(seq 1 "$RUNS"); do
  subjects=(hf-mount curl passthrough_ll local)
  # Rotate the order so no subject always follows another.
  k=$(( (run - 1) % ${#subjects[@]} ))
  subjects=("${subjects[@]:k}" "${subjects[@]:0:k}")
  for s in "${subjects[@]}"; do
    case "$s" in
      hf-mount) run_hfm "$run" ;;
      curl) run_curl "$run" ;;
      passthrough_ll) run_pt "$run" ;;
      local) run_local "$run" ;;
    esac
  done
  log "1/2 run $run/$RUNS done"
done

# ---- 3. cp -r of small files --------------------------------------------------------------------
# hf-mount: a fresh mount and cache; cp -r into r<run>/, then poll the commit count until it grows.
run_small() {
  local run="$1" cache="$tmp/cache_s" mnt="$tmp/mnt_s" t0 t1 t2 v n c0 c1 c2 s0 s1 polls=0 got
  rm -rf "$cache"
  hfm_mount "$mnt" "$cache" models/bench/small --commit-delay 1
  ls "$mnt" >/dev/null
  c0="$(commits small)"
  sync
  s0="$(stats)"
  t0=$(now_ns)
  timed_cp -r "$tmp/small" "$mnt/r$run"
  t1=$(now_ns)
  while :; do
    n="$(commits small)"
    polls=$((polls + 1))
    (( n > c0 )) && break
    (( $(now_ns) - t0 < OP_TIMEOUT * 1000000000 )) || die "no commit ${OP_TIMEOUT}s after cp -r"
    sleep 0.1
  done
  t2=$(now_ns)
  s1="$(stats)"
  v="$(calc "($t1 - $t0) / 1e9")"; record "$S3" hf-mount "cp -r" s "$v"
  v="$(calc "($t2 - $t0) / 1e9")"; record "$S3" hf-mount "until committed" s "$v"
  # hf-hubd's count, less this script's own polls of the commit list.
  v=$(( $(requests_total "$s1") - $(requests_total "$s0") - polls ))
  record "$S3" hf-mount "HTTP requests" requests "$v"
  sleep 3   # the quiet period passes again: nothing more may be committed
  c1="$(commits small)"
  hfm_unmount "$mnt" "$MPID"
  c2="$(commits small)"
  (( c2 == c1 )) || log "warning: run $run: unmount made $((c2 - c1)) more commit(s)"
  record "$S3" hf-mount commits commits "$((c2 - c0))"
  got="$(curl -sf "${AUTH[@]}" "$api/api/models/bench/small/tree/main/r$run?recursive=true" |
    "${HELP[@]}" json-eval \
      '"%d %d" % (sum(e["type"] == "file" for e in d), sum(e["size"] for e in d if e["type"] == "file"))')"
  [[ "$got" == "$small_n $small_bytes" ]] ||
    die "the hub has r$run/ as files/bytes $got, want $small_n $small_bytes"
  rm -rf "$cache"
}

# run_small_ref SUBJECT DEST BACKING: cp -r to DEST (BACKING: where DEST's files are, to clean up).
run_small_ref() {
  local t0 t1 v
  sync
  t0=$(now_ns); timed_cp -r "$tmp/small" "$2"; t1=$(now_ns)
  v="$(calc "($t1 - $t0) / 1e9")"; record "$S3" "$1" "cp -r" s "$v"
  rm -rf "$3"
}

for run in $(seq 1 "$RUNS"); do
  subjects=(hf-mount passthrough_ll local)
  k=$(( (run - 1) % ${#subjects[@]} ))
  subjects=("${subjects[@]:k}" "${subjects[@]:0:k}")
  for s in "${subjects[@]}"; do
    case "$s" in
      hf-mount) run_small "$run" ;;
      passthrough_ll) run_small_ref passthrough_ll "$tmp/mnt_pt/small$run" "$tmp/pt_back/small$run" ;;
      local) run_small_ref local "$tmp/local_dst/small$run" "$tmp/local_dst/small$run" ;;
    esac
  done
  log "3 run $run/$RUNS done"
done

# ---- Report -------------------------------------------------------------------------------------
uploads="$(awk -F'\t' -v s="$S1" '$1 == s && $3 == "LFS upload requests" { print $5 }' \
  "$tmp/results.tsv" | sort -u | paste -sd, -)"
case "$uploads" in
  1) upload_mode="basic (one PUT per run)" ;;
  *,*) upload_mode="varied between runs ($uploads upload requests)" ;;
  *) upload_mode="multipart ($uploads upload requests per run: parts + completion)" ;;
esac
note "1: fsync of the ${SIZE_MB} MiB file copied just before into a fresh mount with --commit-delay $QUIET; upload MB/s = $size_bytes bytes / fsync seconds (preupload + LFS upload + commit); curl -T = one PUT of the same bytes (other first 8 bytes, so a new sha256) to the basic upload URL of an LFS batch call made just before (not timed). hf-mount uploaded $upload_mode; hf-hubd --lfs-multipart-threshold ${MULTIPART_MB} MiB."
note "2: MB/s = $size_bytes bytes / time until cp returns, source in the page cache, page cache dropped before each copy; local (cp && sync) = until sync returns. passthrough_ll runs with -o cache=always, as in read.sh."
note "3: $small_n text files of 1-4 KiB ($small_bytes bytes) in 100 folders under 10, cp -r into r<run>/ of a fresh mount with --commit-delay 1; until committed = from the start of cp -r until GET commits/main (polled every 0.1 s) shows the new commit, so it includes the 1 s quiet period; HTTP requests = all requests hf-hubd counted in that time less the polls; commits = commits from before cp -r until after unmount."
note "peak RssAnon of the mount daemon sampled every 50 ms: in 2 during cp, in 1 during fsync; --memory-limit $MEMLIMIT, --cache-size $CACHE_SIZE."
bench_summarize "hf-mount write benchmark" "small_files=$small_n" "memory_limit=$MEMLIMIT" \
  "upload_mode=$upload_mode"
