#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: hf-mount read paths against references measured in the same run (DESIGN.md §5, §10).
#
#   a. cold sequential read of a large LFS file      vs curl -sL of its resolve URL and
#                                                       libfuse passthrough_ll (-o cache=always)
#   b. warm re-read after remount (page cache dropped) vs a local read, page cache dropped
#      hot re-read in the same mount                  vs a hot local read
#   c. mmap of one 4 MiB tensor of a safetensors file: wall time and CDN bytes fetched
#                                                       vs curl of the whole file
#   d. random 4 KiB preads, cold and warm             vs the same preads on a local copy
#                                                       (and ranged GETs on one connection)
#   e. ls -lR of a 2,000-file repo at a commit sha, cold and warm: time and HTTP requests
#   f. peak RssAnon of the mount daemon during one cold read and during 8 concurrent cold reads
#
# Env: BENCH_SIZE_MB (1024), BENCH_RUNS (5), BENCH_OUT (write .json, else TSV, there),
#      BENCH_PREADS (2000), BENCH_TREE_FILES (2000), BENCH_READERS (8),
#      BENCH_CONC_MODE (auto|files|offsets: 8 different files, or 8 readers of one file at
#      different starting offsets; auto picks files when the disk has room),
#      BENCH_MEMORY_LIMIT (512M, passed to --memory-limit), BENCH_TMP (/tmp),
#      HF_MOUNT, HUBD (default build/bin/…).
# Needs root (drop_caches), fuse3, gcc, pkg-config, curl, python3. Prints a markdown table and
# PASS/FAIL target lines on stdout, progress on stderr. Exits 0 even on FAIL; non-zero only if
# something broke. Everything it starts is stopped by pid and every mount unmounted on exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZE_MB="${BENCH_SIZE_MB:-1024}"
PREADS="${BENCH_PREADS:-2000}"
TREE_FILES="${BENCH_TREE_FILES:-2000}"
READERS="${BENCH_READERS:-8}"
CONC_MODE="${BENCH_CONC_MODE:-auto}"

bench_check_tools
check_positive SIZE_MB RUNS PREADS TREE_FILES READERS
(( SIZE_MB >= 16 )) || die "BENCH_SIZE_MB must be at least 16 (files > 10 MiB become LFS)"
[[ "$CONC_MODE" =~ ^(auto|files|offsets)$ ]] || die "BENCH_CONC_MODE must be auto, files or offsets"
MEMLIMIT_MIB="$(python3 -c "
import re,sys; m=re.fullmatch(r'(\d+)([KMGkmg]?)i?[Bb]?', sys.argv[1]) or sys.exit('bad size')
print(int(m[1]) * {'':1/2**20,'K':1/1024,'M':1,'G':1024}[m[2].upper()])" "$MEMLIMIT")"

bench_init read


# curl_gbps URL: follows the redirect; prints GB/s.
curl_gbps() {
  local out
  out="$(curl -sL --fail -o /dev/null -w '%{size_download} %{time_total}' "$1")"
  [[ "${out% *}" == "$2" ]] || { echo "error: curl $1: $out" >&2; return 1; }
  calc "${out% *} / ${out#* } / 1e9"
}

# ---- 1. Data ------------------------------------------------------------------------------------
size_bytes=$((SIZE_MB * 1024 * 1024))
if [[ "$CONC_MODE" == auto ]]; then
  free_mb=$(( $(df --output=avail -k "$tmp" | tail -n 1) / 1024 ))
  # files mode keeps READERS files in the hub and READERS more in the cache at once.
  need_mb=$(( (2 * READERS + 4) * SIZE_MB ))
  if (( free_mb > need_mb * 3 / 2 )); then CONC_MODE=files; else CONC_MODE=offsets; fi
fi
CACHE_SIZE="$(( (READERS + 4) * SIZE_MB ))M"

log "creating ${SIZE_MB} MiB random file, ${SIZE_MB} MiB safetensors, $TREE_FILES small files"
mkdir -p "$tmp/src_big" "$tmp/src_st" "$tmp/src_tree"
head -c "$size_bytes" /dev/urandom >"$tmp/src_big/big.bin"
n_tensors="$("${HELP[@]}" gen-safetensors "$tmp/src_st/model.safetensors" "$SIZE_MB")"
st_bytes="$(stat -c %s "$tmp/src_st/model.safetensors")"
tree_n="$("${HELP[@]}" gen-tree "$tmp/src_tree" "$TREE_FILES")"
import big "$tmp/src_big"
import st "$tmp/src_st"
import tree "$tmp/src_tree"
if [[ "$CONC_MODE" == files ]]; then
  log "creating $((READERS - 1)) more ${SIZE_MB} MiB files for the concurrent-reader scenario"
  mkdir -p "$tmp/src_multi"
  ln "$tmp/src_big/big.bin" "$tmp/src_multi/r0.bin"
  for i in $(seq 1 $((READERS - 1))); do
    head -c "$size_bytes" /dev/urandom >"$tmp/src_multi/r$i.bin"
  done
  import multi "$tmp/src_multi"
  rm -rf "$tmp/src_multi"
fi
rm -rf "$tmp/src_big" "$tmp/src_st"   # the hub's objects are the local copies from here on

# ---- 2. hf-hubd ---------------------------------------------------------------------------------
# shellcheck disable=SC2119  # no extra serve options
hubd_start

# object_of REPO FILE: the hub's stored object (the LFS sha256) for that file.
object_of() {
  local sha
  sha="$(curl -sf "$api/api/models/bench/$1?blobs=true" | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(next(s['lfs']['sha256'] for s in d['siblings'] if s['rfilename'] == sys.argv[1]))" "$2")"
  echo "$tmp/root/objects/${sha:0:2}/$sha"
}
commit_of() { curl -sf "$api/api/models/bench/$1" | "${HELP[@]}" json-get sha; }
big_obj="$(object_of big big.bin)"
st_obj="$(object_of st model.safetensors)"
[[ -f "$big_obj" && -f "$st_obj" ]] || die "objects not found under $tmp/root/objects"
big_url="$api/bench/big/resolve/main/big.bin"
st_url="$api/bench/st/resolve/main/model.safetensors"
tree_sha="$(commit_of tree)"

# ---- 3. passthrough_ll (the FUSE ceiling) -------------------------------------------------------
mkdir -p "$tmp/local"
ln "$big_obj" "$tmp/local/big.bin"
if [[ "$CONC_MODE" == files ]]; then
  for i in $(seq 0 $((READERS - 1))); do
    ln "$(object_of multi "r$i.bin")" "$tmp/local/r$i.bin"
  done
fi
pt_mount "$tmp/local" "$tmp/mnt_pt"

# ---- 4. Correctness (untimed) -------------------------------------------------------------------
log "checking that the mount serves the right bytes"
want="$(basename "$big_obj")"
hfm_mount "$tmp/mnt" "$tmp/cache_check" models/bench/big
got="$(sha256sum "$tmp/mnt/big.bin" | cut -d' ' -f1)"
hfm_unmount "$tmp/mnt" "$MPID"
rm -rf "$tmp/cache_check"
[[ "$got" == "$want" ]] || die "hf-mount served sha256 $got, want $want"
got="$(sha256sum "$tmp/mnt_pt/big.bin" | cut -d' ' -f1)"
[[ "$got" == "$want" ]] || die "passthrough_ll served sha256 $got, want $want"

# ---- a, b, f(1): sequential reads ---------------------------------------------------------------
SA="a. cold sequential"; SBW="b. warm re-read (remount)"; SBH="b. hot re-read"
SF1="f. 1 cold reader"; SF8="f. $READERS cold readers"
target "{\"kind\":\"ratio\",\"scenario\":\"$SA\",\"metric\":\"read\",\"unit\":\"GB/s\",\"refs\":[\"curl\",\"passthrough_ll\"],\"min_ratio\":0.8}"
target "{\"kind\":\"ratio\",\"scenario\":\"$SBW\",\"metric\":\"read\",\"unit\":\"GB/s\",\"refs\":[\"local\"],\"min_ratio\":0.8}"
target "{\"kind\":\"ratio\",\"scenario\":\"$SBH\",\"metric\":\"read\",\"unit\":\"GB/s\",\"refs\":[\"local\"],\"min_ratio\":0.8}"
for run in $(seq 1 "$RUNS"); do
  subjects=(curl passthrough_ll hf-mount local)
  # Rotate the order so no subject always follows another.
  k=$(( (run - 1) % ${#subjects[@]} ))
  subjects=("${subjects[@]:k}" "${subjects[@]:0:k}")
  for s in "${subjects[@]}"; do
    case "$s" in
      curl)
        drop_caches; v="$(curl_gbps "$big_url" "$size_bytes")"; record "$SA" curl read GB/s "$v" ;;
      passthrough_ll)
        drop_caches; v="$(dd_gbps "$tmp/mnt_pt/big.bin")"; record "$SA" passthrough_ll read GB/s "$v"
        # Informational: the hot page-cache read through a FUSE mount (not part of b's target).
        v="$(dd_gbps "$tmp/mnt_pt/big.bin")"; record "$SBH" passthrough_ll read GB/s "$v" ;;
      local)
        drop_caches
        v="$(dd_gbps "$big_obj")"; record "$SBW" local read GB/s "$v"
        v="$(dd_gbps "$big_obj")"; record "$SBH" local read GB/s "$v" ;;
      hf-mount)
        cache="$tmp/cache_a"; rm -rf "$cache"
        hfm_mount "$tmp/mnt" "$cache" models/bench/big
        drop_caches
        rss_start "$MPID"
        v="$(dd_gbps "$tmp/mnt/big.bin")"
        rss_stop
        record "$SF1" hf-mount "peak RssAnon" MiB "$RSS_MIB"
        record "$SA" hf-mount read GB/s "$v"
        hfm_unmount "$tmp/mnt" "$MPID"
        hfm_mount "$tmp/mnt" "$cache" models/bench/big
        drop_caches
        v="$(dd_gbps "$tmp/mnt/big.bin")"; record "$SBW" hf-mount read GB/s "$v"
        v="$(dd_gbps "$tmp/mnt/big.bin")"; record "$SBH" hf-mount read GB/s "$v"
        hfm_unmount "$tmp/mnt" "$MPID"
        rm -rf "$cache" ;;
    esac
  done
  log "a/b run $run/$RUNS done"
done

# ---- c. mmap one tensor -------------------------------------------------------------------------
SC="c. mmap one 4 MiB tensor"
target "{\"kind\":\"ref\",\"scenario\":\"$SC\",\"metric\":\"wall\",\"refs\":[\"curl (whole file)\"]}"
target "{\"kind\":\"ref\",\"scenario\":\"$SC\",\"metric\":\"fetched\",\"refs\":[\"curl (whole file)\"]}"
for run in $(seq 1 "$RUNS"); do
  idx=$(( (n_tensors / 2 + run * 7) % n_tensors ))   # a different middle-ish tensor each run
  cache="$tmp/cache_c"; rm -rf "$cache"
  drop_caches
  s0="$(stats)"
  hfm_mount "$tmp/mnt" "$cache" models/bench/st
  out="$("${HELP[@]}" mmap-tensor "$tmp/mnt/model.safetensors" "$idx")"
  read -r secs tbytes hbytes _ <<<"$out"
  s1="$(stats)"
  hfm_unmount "$tmp/mnt" "$MPID"
  rm -rf "$cache"
  fetched=$(( $(stat_of "$s1" bytes_sent cdn) - $(stat_of "$s0" bytes_sent cdn) ))
  record "$SC" hf-mount wall s "$secs"
  v="$(calc "$fetched / 1048576")"; record "$SC" hf-mount fetched MiB "$v"
  drop_caches
  out="$(curl -sL --fail -o /dev/null -w '%{size_download} %{time_total}' "$st_url")"
  [[ "${out% *}" == "$st_bytes" ]] || die "curl $st_url: $out"
  record "$SC" "curl (whole file)" wall s "${out#* }"
  v="$(calc "$st_bytes / 1048576")"; record "$SC" "curl (whole file)" fetched MiB "$v"
  log "c run $run/$RUNS: tensor $idx ($tbytes bytes, header $hbytes) fetched $fetched bytes in ${secs}s"
done
note "c: $n_tensors F32 tensors of 4 MiB; wall = open + header read + mmap + touching every page of one tensor (mount time excluded); fetched = CDN bytes sent from mount to unmount."

# ---- d. random 4 KiB preads ---------------------------------------------------------------------
SDC="d. random 4K pread cold"; SDW="d. random 4K pread warm"
target "{\"kind\":\"ref\",\"scenario\":\"$SDC\",\"metric\":\"preads\",\"refs\":[\"local\"]}"
target "{\"kind\":\"ref\",\"scenario\":\"$SDW\",\"metric\":\"preads\",\"refs\":[\"local\"]}"
# preads_ops FILE SEED: ops/s of the random preads; http_ops URL SEED: the same as ranged GETs.
preads_ops() { local out o; out="$("${HELP[@]}" pread "$1" "$PREADS" "$2")"; read -r -a o <<<"$out"; calc "${o[0]} / ${o[1]}"; }
http_ops() { local out o; out="$("${HELP[@]}" http-range "$1" "$size_bytes" "$PREADS" "$2")"; read -r -a o <<<"$out"; calc "${o[0]} / ${o[1]}"; }
for run in $(seq 1 "$RUNS"); do
  seed=$((1000 + run))
  cache="$tmp/cache_d"; rm -rf "$cache"
  hfm_mount "$tmp/mnt" "$cache" models/bench/big
  drop_caches
  v="$(preads_ops "$tmp/mnt/big.bin" "$seed")"; record "$SDC" hf-mount preads ops/s "$v"
  hfm_unmount "$tmp/mnt" "$MPID"
  hfm_mount "$tmp/mnt" "$cache" models/bench/big
  drop_caches
  v="$(preads_ops "$tmp/mnt/big.bin" "$seed")"; record "$SDW" hf-mount preads ops/s "$v"
  hfm_unmount "$tmp/mnt" "$MPID"
  rm -rf "$cache"
  drop_caches
  v="$(preads_ops "$big_obj" "$seed")"
  record "$SDC" local preads ops/s "$v"
  record "$SDW" local preads ops/s "$v"
  drop_caches
  v="$(http_ops "$big_url" "$seed")"; record "$SDC" "ranged GETs (1 conn)" preads ops/s "$v"
  log "d run $run/$RUNS done"
done
note "d: $PREADS preads at random 4 KiB-aligned offsets (same seed for cold, warm and local in a run); local = the hub's object file, page cache dropped, counted once and shown under both rows; ranged GETs = the same 4 KiB ranges fetched from the CDN URL over one keep-alive connection."

# ---- e. ls -lR ----------------------------------------------------------------------------------
SEC="e. ls -lR cold"; SEW="e. ls -lR warm (remount)"
target "{\"kind\":\"ref\",\"scenario\":\"$SEC\",\"metric\":\"ls -lR\",\"refs\":[\"local\"]}"
target "{\"kind\":\"ref\",\"scenario\":\"$SEW\",\"metric\":\"ls -lR\",\"refs\":[\"local\"]}"
target "{\"kind\":\"max\",\"scenario\":\"$SEW\",\"subject\":\"hf-mount\",\"metric\":\"HTTP requests\",\"unit\":\"requests\",\"limit\":0,\"why\":\"a warm remount at a commit makes no listing requests\"}"
ls_secs() {
  local t0 t1 n
  t0=$(date +%s%N)
  # shellcheck disable=SC2012
  n="$(ls -lR "$1" | wc -l)"
  t1=$(date +%s%N)
  (( n > TREE_FILES )) || { echo "error: ls -lR $1 printed only $n lines" >&2; return 1; }
  calc "($t1 - $t0) / 1e9"
}
reqs() { echo $(( $(stat_of "$2" requests api) + $(stat_of "$2" requests resolve) \
  - $(stat_of "$1" requests api) - $(stat_of "$1" requests resolve) )); }
for run in $(seq 1 "$RUNS"); do
  cache="$tmp/cache_e"; rm -rf "$cache"
  for phase in cold warm; do
    s0="$(stats)"
    hfm_mount "$tmp/mnt" "$cache" "models/bench/tree@$tree_sha"
    drop_caches
    v="$(ls_secs "$tmp/mnt")"
    s1="$(stats)"
    hfm_unmount "$tmp/mnt" "$MPID"
    if [[ $phase == cold ]]; then sc="$SEC"; else sc="$SEW"; fi
    record "$sc" hf-mount "ls -lR" s "$v"
    v="$(reqs "$s0" "$s1")"; record "$sc" hf-mount "HTTP requests" requests "$v"
  done
  rm -rf "$cache"
  drop_caches
  v="$(ls_secs "$tmp/src_tree")"
  record "$SEC" local "ls -lR" s "$v"
  record "$SEW" local "ls -lR" s "$v"
  log "e run $run/$RUNS done"
done
note "e: $tree_n files in 100 folders under 10, mounted at commit $tree_sha; HTTP requests = api + resolve requests from mount to end of ls (mount included); local = the source folder, caches dropped."

# ---- f. concurrent cold readers -----------------------------------------------------------------
target "{\"kind\":\"max\",\"scenario\":\"$SF1\",\"subject\":\"hf-mount\",\"metric\":\"peak RssAnon\",\"unit\":\"MiB\",\"limit\":$MEMLIMIT_MIB,\"why\":\"--memory-limit $MEMLIMIT\"}"
target "{\"kind\":\"max\",\"scenario\":\"$SF8\",\"subject\":\"hf-mount\",\"metric\":\"peak RssAnon\",\"unit\":\"MiB\",\"limit\":$MEMLIMIT_MIB,\"why\":\"--memory-limit $MEMLIMIT\"}"
target "{\"kind\":\"ref\",\"scenario\":\"$SF8\",\"metric\":\"read (aggregate)\",\"refs\":[\"curl\",\"passthrough_ll\"]}"
if [[ "$CONC_MODE" == files ]]; then
  repo_f=models/bench/multi
  f_file() { echo "r$1.bin"; }
  f_frac() { echo 0; }
  f_url() { echo "$api/bench/multi/resolve/main/r$1.bin"; }
else
  repo_f=models/bench/big
  f_file() { echo big.bin; }
  f_frac() { calc "$1 / $READERS"; }
  f_url() { echo "$big_url"; }
fi
# readers_gbps file DIR | url: READERS concurrent whole-file reads; sets RG (aggregate GB/s).
# Not run in a subshell, so the readers are this shell's children and in PIDS.
readers_gbps() {
  local kind="$1" base="${2:-}" i t0 t1 pids=() rc=0
  t0=$(date +%s%N)
  for i in $(seq 0 $((READERS - 1))); do
    if [[ $kind == file ]]; then
      "${HELP[@]}" seqread "$base/$(f_file "$i")" "$(f_frac "$i")" >"$tmp/reader.$i" &
    else
      # curl cannot start in the middle and wrap; it reads the whole file from 0.
      curl -sL --fail -o /dev/null -w '%{size_download} 0\n' "$(f_url "$i")" >"$tmp/reader.$i" &
    fi
    pids+=($!)
    PIDS+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  t1=$(date +%s%N)
  (( rc == 0 )) || { echo "error: a reader failed" >&2; return 1; }
  for i in $(seq 0 $((READERS - 1))); do
    [[ "$(cut -d' ' -f1 "$tmp/reader.$i")" == "$size_bytes" ]] || { echo "error: short read by reader $i" >&2; return 1; }
  done
  RG="$(calc "$READERS * $size_bytes / (($t1 - $t0) / 1e9) / 1e9")"
}
for run in $(seq 1 "$RUNS"); do
  cache="$tmp/cache_f"; rm -rf "$cache"
  hfm_mount "$tmp/mnt" "$cache" "$repo_f"
  drop_caches
  rss_start "$MPID"
  readers_gbps file "$tmp/mnt"
  rss_stop
  record "$SF8" hf-mount "peak RssAnon" MiB "$RSS_MIB"
  record "$SF8" hf-mount "read (aggregate)" GB/s "$RG"
  hfm_unmount "$tmp/mnt" "$MPID"
  rm -rf "$cache"
  drop_caches
  readers_gbps file "$tmp/mnt_pt"; record "$SF8" passthrough_ll "read (aggregate)" GB/s "$RG"
  drop_caches
  readers_gbps url; record "$SF8" curl "read (aggregate)" GB/s "$RG"
  log "f run $run/$RUNS done"
done
if [[ "$CONC_MODE" == files ]]; then
  note "f: $READERS readers of $READERS different ${SIZE_MB} MiB files, each read whole with 1 MiB reads; RssAnon of the mount daemon sampled every 50 ms; f(1) is sampled during the cold read of a."
else
  note "f: $READERS readers of the same ${SIZE_MB} MiB file, reader i starting at i/$READERS of it and wrapping (curl readers all start at 0); RssAnon sampled every 50 ms; f(1) is sampled during the cold read of a."
fi
note "hf-mount mounts the branch (models/bench/NAME, revision main) except in e; --memory-limit $MEMLIMIT, --cache-size $CACHE_SIZE; a fresh cache dir for every cold run."

# ---- Report -------------------------------------------------------------------------------------
bench_summarize "hf-mount read benchmark" "readers=$READERS" "concurrency_mode=$CONC_MODE" \
  "memory_limit=$MEMLIMIT"
