#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed, builds, and runs every test: unit, integration and e2e on the Release
# build, then the unit and integration suites again under ASan+UBSan, and the suites of the
# concurrent layers under TSan, then the fuzz targets for 10 s each. Exits non-zero on any failure.
#
# The e2e tests run one at a time (RUN_SERIAL) and spend most of their time waiting on FUSE,
# HTTP and timers, so they start as soon as the binaries they run are built, and the other
# builds (the Release tests, ASan+UBSan, TSan, the fuzz targets) run meanwhile in the
# background at the lowest CPU and I/O priority, so the e2e tests keep the CPU they ask for. The
# background builds write only to a log; each build is run again in the foreground before its
# tests (a no-op when it succeeded), so a build error is printed where its tests would run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

echo "== install-deps"
scripts/install-deps.sh

echo "== build (Release): what the e2e tests run"
BUILD_TARGETS="hf-mount hf-hubd hfm-fsx" scripts/build.sh

bg_log=$(mktemp "${TMPDIR:-/tmp}/hfm-builds.XXXXXX")
# Its own process group (setsid), so its priority can be raised and it can be stopped as a whole.
setsid nice -n 19 ionice -c 3 bash -c '
  scripts/build.sh || echo "background build failed: Release"
  scripts/sanitize.sh address --build-only || echo "background build failed: ASan+UBSan"
  scripts/sanitize.sh thread --build-only || echo "background build failed: TSan"
  scripts/fuzz.sh --build-only || echo "background build failed: fuzz targets"
' >"$bg_log" 2>&1 &
bg_pid=$!
trap 'kill -- -"$bg_pid" 2>/dev/null || true' EXIT

echo "== tests (Release): e2e (the other builds run in the background)"
status=0
ctest --test-dir build --output-on-failure -L e2e || status=1

# Nothing else runs now: what is left of the builds gets the normal priority back (as root).
renice -n 0 -g "$bg_pid" >/dev/null 2>&1 || true
ionice -c 2 -n 4 -P "$bg_pid" >/dev/null 2>&1 || true
bg_wait_start=$(date +%s)
wait "$bg_pid" || true
trap - EXIT
echo "== background builds: waited $(( $(date +%s) - bg_wait_start )) s for them after the e2e tests"
if grep -q '^background build failed' "$bg_log"; then
  grep '^background build failed' "$bg_log"
  echo "   (full log: $bg_log; each build runs again below and shows its errors)"
else
  rm -f "$bg_log"
fi

echo "== build (Release): everything"
scripts/build.sh

echo "== tests (Release): unit and integration"
ctest --test-dir build --output-on-failure -j 2 -LE e2e || status=1

echo "== tests under ASan+UBSan"
scripts/sanitize.sh address || status=1

echo "== concurrent layers under TSan"
scripts/sanitize.sh thread || status=1

echo "== fuzz targets (clang, ASan+UBSan)"
FUZZ_SECONDS=10 scripts/fuzz.sh || status=1

echo "== done in $(( $(date +%s) - start )) s: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
