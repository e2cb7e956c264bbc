#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets of tests/fuzz with clang (ASan+UBSan) in build-fuzz, then runs
# each for FUZZ_SECONDS (default 15) on a copy of its seed corpus in tests/fuzz/corpus/, two at
# a time (FUZZ_JOBS). Prints per target the executions, the coverage (cov: edges) and the
# crashes; exits non-zero when a target crashed, leaked, hung or broke an invariant, and keeps
# the inputs that did so in the temporary directory it names. The repo's corpus is never written.
# `scripts/fuzz.sh --build-only` only builds the targets.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-15}
jobs=${FUZZ_JOBS:-2}
build=build-fuzz

echo "fuzz: building in $build"
# -g1 (line tables and inlined frames) is all a crash report needs; see scripts/sanitize.sh.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DHFM_FUZZ=ON -DHFM_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
if ! ninja -C "$build" -j 2 hfm_fuzzers >"$build/fuzz-build.log" 2>&1; then
  cat "$build/fuzz-build.log" >&2
  echo "fuzz: build failed" >&2
  exit 1
fi
[ "${1:-}" = --build-only ] && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/hfm-fuzz.XXXXXX")
targets=()
for src in tests/fuzz/*_fuzz.cpp; do
  targets+=("$(basename "$src" .cpp)")
done

run() {
  local t=$1 dir="$work/$1"
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  local rc=0
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run "$t" &
  running=$((running + 1))
done
wait

status=0
printf '%-22s %12s %8s %8s\n' target executions cov crashes
for t in "${targets[@]}"; do
  dir="$work/$t"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | cut -d' ' -f2)
  crashes=$(find "$dir/crashes" -type f | wc -l)
  rc=$(cat "$dir/rc")
  printf '%-22s %12s %8s %8s\n' "$t" "${execs:-?}" "${cov:-?}" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    echo "  FAILED (exit $rc); log: $dir/log" >&2
    grep -m 3 -E 'ERROR: |runtime error|invariant broken' "$dir/log" | sed 's/^/  /' >&2 || true
  fi
done
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAIL; crash inputs kept in $work/<target>/crashes/" >&2
else
  rm -rf "$work"
  echo "fuzz: PASS"
fi
exit "$status"
