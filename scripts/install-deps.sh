#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian and npm package the build, tests, demo and benchmarks need.
# Idempotent: a second run only refreshes the package lists.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  clang clang-format clang-tidy libclang-rt-14-dev
  libcpp-httplib-dev nlohmann-json3-dev libcurl4-openssl-dev liblmdb-dev lmdb-utils
  libspdlog-dev libfmt-dev libfuse3-dev fuse3 libcli11-dev libssl-dev liblz4-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nginx-light b3sum python3 python3-numpy hyperfine attr gnuplot-nox
)

export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # The machine image ships Node.js with npm; Debian's own packages only when they are absent.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "install-deps: not root, skipping apt-get (packages must already be installed)" >&2
fi

# The npm client used as an independent reference in the integration tests.
if [ -f tests/integration/hubjs/package.json ]; then
  (cd tests/integration/hubjs && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi)
fi
echo "install-deps: done"
