#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds retort and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc 2>/dev/null || echo 2)" --timeout 600
