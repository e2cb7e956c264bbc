#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed, builds, and runs every test: unit, integration and e2e on the Release
# build, then the unit and integration suites again under ASan+UBSan, and the suites of the
# concurrent layers under TSan, then the fuzz targets for 10 s each. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

echo "== install-deps"
scripts/install-deps.sh

echo "== build (Release)"
scripts/build.sh

echo "== tests (Release)"
status=0
ctest --test-dir build --output-on-failure -j 2 || status=1

echo "== tests under ASan+UBSan"
scripts/sanitize.sh address || status=1

echo "== concurrent layers under TSan"
scripts/sanitize.sh thread || status=1

echo "== fuzz targets (clang, ASan+UBSan)"
FUZZ_SECONDS=10 scripts/fuzz.sh || status=1

echo "== done in $(( $(date +%s) - start )) s: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
