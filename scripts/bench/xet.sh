#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: Xet in hf-mount, against references measured in the same run.
#
#   a. cold sequential read of a Xet file through the mount   vs the same file as plain LFS
#      through the mount (fresh cache dir and dropped page cache before every run)
#   b. random 4 KiB preads on a cold mount (ops/s and bytes fetched)  vs the same on the LFS copy
#   c. chunking and BLAKE3 throughput on one core (Google Benchmark, hfm_xet_bench): the
#      chunker, keyed BLAKE3 of 64 KiB chunks per backend, chunking + chunk hashes together
#
# Env: BENCH_SIZE_MB (1024), BENCH_RUNS (5), BENCH_PREADS (500), BENCH_OUT, BENCH_MEMORY_LIMIT (512M), BENCH_TMP,
#      HF_MOUNT, HUBD, XET_BENCH (default build/bin/hfm_xet_bench).
# Needs root (drop_caches) and fuse3. Prints a markdown table and target lines on stdout.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZE_MB="${BENCH_SIZE_MB:-1024}"
PREADS="${BENCH_PREADS:-500}"
XET_BENCH="${XET_BENCH:-$BENCH_REPO_ROOT/build/bin/hfm_xet_bench}"
bench_check_tools
check_positive SIZE_MB RUNS PREADS
[[ -x "$XET_BENCH" ]] || die "$XET_BENCH not found (ninja hfm_xet_bench)"
bench_init xet
CACHE_SIZE="$((2 * SIZE_MB + 64))M"
size_bytes=$((SIZE_MB * 1024 * 1024))

# ---- a. cold sequential reads -------------------------------------------------------------------
log "creating a ${SIZE_MB} MiB random file, imported as plain LFS and as Xet"
mkdir -p "$tmp/src"
head -c "$size_bytes" /dev/urandom >"$tmp/src/big.bin"
import lfs "$tmp/src"
"$HUBD" import --xet --root "$tmp/root" --repo models/bench/xet -m bench "$tmp/src" \
  >>"$tmp/logs/import.log" 2>&1 || { cat "$tmp/logs/import.log" >&2; exit 1; }
rm -rf "$tmp/src"
hubd_start


SA="a. cold sequential read"
for run in $(seq 1 "$RUNS"); do
  for kind in xet lfs; do
    mnt="$tmp/mnt-$kind"
    rm -rf "$tmp/cache-$kind"
    hfm_mount "$mnt" "$tmp/cache-$kind" "models/bench/$kind"
    drop_caches
    before="$(stats)"
    gbps="$(dd_gbps "$mnt/big.bin")"
    after="$(stats)"
    subject=$([[ $kind == xet ]] && echo hf-mount || echo "hf-mount, LFS")
    record "$SA" "$subject" read GB/s "$gbps"
    cls=$([[ $kind == xet ]] && echo cas || echo cdn)
    fetched="$(calc "($(stat_of "$after" bytes_sent "$cls") - $(stat_of "$before" bytes_sent "$cls")) / 1e6")"
    record "$SA" "$subject" fetched MB "$fetched"
    hfm_unmount "$mnt" "$MPID"
    log "run $run $kind: $gbps GB/s, $fetched MB from $cls"
  done
done
target "{\"kind\":\"ref\",\"scenario\":\"$SA\",\"metric\":\"read\",\"refs\":[\"hf-mount, LFS\"]}"
note "a: the same ${SIZE_MB} MiB of random bytes; Xet reads go through reconstruction and xorb ranges from the CAS, LFS reads through the CDN"

# ---- b. random preads on a cold mount -------------------------------------------------------------
SR="b. random 4K pread cold"
for run in $(seq 1 "$RUNS"); do
  for kind in xet lfs; do
    mnt="$tmp/mnt-$kind"
    rm -rf "$tmp/cache-$kind"
    hfm_mount "$mnt" "$tmp/cache-$kind" "models/bench/$kind"
    drop_caches
    before="$(stats)"
    out="$("${HELP[@]}" pread "$mnt/big.bin" "$PREADS" $((2000 + run)))"
    read -r -a o <<<"$out"
    ops="$(calc "${o[0]} / ${o[1]}")"
    after="$(stats)"
    subject=$([[ $kind == xet ]] && echo hf-mount || echo "hf-mount, LFS")
    cls=$([[ $kind == xet ]] && echo cas || echo cdn)
    record "$SR" "$subject" preads ops/s "$ops"
    fetched="$(calc "($(stat_of "$after" bytes_sent "$cls") - $(stat_of "$before" bytes_sent "$cls")) / 1e6")"
    record "$SR" "$subject" fetched MB "$fetched"
    hfm_unmount "$mnt" "$MPID"
  done
done
target "{\"kind\":\"ref\",\"scenario\":\"$SR\",\"metric\":\"preads\",\"refs\":[\"hf-mount, LFS\"]}"
note "b: $PREADS preads of 4 KiB at random offsets, one process, one mount per run"

# ---- c. chunking and hashing --------------------------------------------------------------------
SH="c. one core"
log "hfm_xet_bench, $RUNS repetitions"
taskset -c 0 "$XET_BENCH" --benchmark_repetitions="$RUNS" --benchmark_format=json \
  --benchmark_filter='BM_Chunking$|BM_ChunkingAndChunkHash|Blake3KeyedHash/.*/65536' \
  >"$tmp/xet_bench.json" 2>"$tmp/logs/xet_bench.err"
while IFS=$'\t' read -r name value; do
  record "$SH" "$name" throughput MB/s "$value"
done < <(python3 - "$tmp/xet_bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = {"BM_Chunking": "chunker", "BM_ChunkingAndChunkHash": "chunker + chunk hashes"}
for b in d["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    base = b["run_name"]
    name = names.get(base, base.replace("Blake3KeyedHash/", "BLAKE3 keyed 64 KiB, ").replace("/65536", ""))
    print(f"{name}\t{b['bytes_per_second'] / 1e6:.1f}")
PY
)
for s in "chunker" "BLAKE3 keyed 64 KiB, avx2"; do
  target "{\"kind\":\"min\",\"scenario\":\"$SH\",\"subject\":\"$s\",\"metric\":\"throughput\",\"unit\":\"MB/s\",\"limit\":1000,\"why\":\"1 GB/s per core\"}"
done
note "c: pinned to CPU 0 with taskset; bytes per second of CPU time as Google Benchmark reports it"

bench_summarize "hf-mount Xet benchmark"
