#!/usr/bin/env bash
# One command: install dependencies, build, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
# Idle OpenMP threads must sleep, not spin: on 2 cores spinning starves OpenBLAS (10x slower).
export OMP_WAIT_POLICY=passive
ctest --output-on-failure -j "$(nproc)" --timeout 1200
