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


# cold_run SCENARIO KIND METRIC UNIT COMMAND...: mounts models/bench/KIND at $tmp/mnt-KIND on
# an empty cache with the page cache dropped, runs COMMAND (which prints the METRIC value), and
# records that value and the MB the server sent for it (class cas for Xet, cdn for LFS).
cold_run() {
  local scen=$1 kind=$2 metric=$3 unit=$4 mnt="$tmp/mnt-$2" subject cls before after value fetched
  shift 4
  subject=$([[ $kind == xet ]] && echo hf-mount || echo "hf-mount, LFS")
  cls=$([[ $kind == xet ]] && echo cas || echo cdn)
  rm -rf "$tmp/cache-$kind"
  hfm_mount "$mnt" "$tmp/cache-$kind" "models/bench/$kind"
  drop_caches
  before="$(stats)"
  value="$("$@")"
  after="$(stats)"
  record "$scen" "$subject" "$metric" "$unit" "$value"
  fetched="$(calc "($(stat_of "$after" bytes_sent "$cls") - $(stat_of "$before" bytes_sent "$cls")) / 1e6")"
  record "$scen" "$subject" fetched MB "$fetched"
  hfm_unmount "$mnt" "$MPID"
  log "$scen, $kind: $metric $value $unit, $fetched MB from $cls"
}
# pread_ops FILE SEED: ops/s of $PREADS random 4 KiB preads.
pread_ops() { local o; read -r -a o <<<"$("${HELP[@]}" pread "$1" "$PREADS" "$2")"; calc "${o[0]} / ${o[1]}"; }

SA="a. cold sequential read"
SR="b. random 4K pread cold"
for run in $(seq 1 "$RUNS"); do
  for kind in xet lfs; do
    cold_run "$SA" "$kind" read GB/s dd_gbps "$tmp/mnt-$kind/big.bin"
  done
done
for run in $(seq 1 "$RUNS"); do
  for kind in xet lfs; do
    cold_run "$SR" "$kind" preads ops/s pread_ops "$tmp/mnt-$kind/big.bin" $((2000 + run))
  done
done
target "{\"kind\":\"ref\",\"scenario\":\"$SA\",\"metric\":\"read\",\"refs\":[\"hf-mount, LFS\"]}"
target "{\"kind\":\"ref\",\"scenario\":\"$SR\",\"metric\":\"preads\",\"refs\":[\"hf-mount, LFS\"]}"
note "a: the same ${SIZE_MB} MiB of random bytes; Xet reads go through reconstruction and xorb ranges from the CAS, LFS reads through the CDN"
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
