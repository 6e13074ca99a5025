#!/usr/bin/env bash
# One command: install dependencies, build, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
# Idle OpenMP threads must sleep, not spin: on 2 cores spinning starves OpenBLAS (10x slower).
# (The test programs and the CLI also restart themselves with this and a fitting OPENBLAS_CORETYPE.)
export OMP_WAIT_POLICY=passive
ctest --output-on-failure -j "$(nproc)" --timeout 1200
