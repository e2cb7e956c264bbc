#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds with sanitizers and runs the suites under them.
#   scripts/sanitize.sh            ASan+UBSan (build-asan/): every unit and integration test
#   scripts/sanitize.sh thread     TSan (build-tsan/): the suites of the concurrent layers (hub,
#                                  cache, fs: unit and integration against hf-hubd)
#   scripts/sanitize.sh KIND --build-only   only the build (scripts/test.sh runs it early)
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"
build_only=0
[ "${2:-}" = --build-only ] && build_only=1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
# -g1: the reports need function names, file:line and inlined frames, which -g1 keeps (line tables
# and inlining records); the full -g of RelWithDebInfo (types, local variables) made the ASan
# build about twice as slow and no report uses it (to debug in gdb, use a build tree of your own).
debug_flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
case "$kind" in
  address)
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHFM_SANITIZE=address \
      "${debug_flags[@]}" >/dev/null
    cmake --build build-asan -j "$(nproc)"
    [ "$build_only" -eq 1 ] && exit 0
    ctest --test-dir build-asan -L 'unit|integration' --output-on-failure -j 2
    ;;
  thread)
    suites=(hfm_hub_tests hfm_cache_tests hfm_fs_tests hfm_hub_integration_tests
            hfm_hub_xet_integration_tests hfm_fs_integration_tests)
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHFM_SANITIZE=thread \
      "${debug_flags[@]}" >/dev/null
    cmake --build build-tsan -j "$(nproc)" --target "${suites[@]}" hf-hubd
    [ "$build_only" -eq 1 ] && exit 0
    status=0
    for suite in "${suites[@]}"; do
      echo "== TSan: $suite"
      "build-tsan/bin/$suite" --gtest_brief=1 || status=1
    done
    exit $status
    ;;
  *)
    echo "usage: $0 [address|thread]" >&2
    exit 2
    ;;
esac
