#!/usr/bin/env bash
# Installs every build and test dependency from Debian packages (Debian 12).
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config    # compiler and build system
  libopenblas-dev                     # sgemm for the fp32 forward pass, LAPACK for GPTQ/AWQ
  libopenblas-openmp-dev              # the same on OpenMP threads: one pool shared with our loops
  nlohmann-json3-dev                  # config.json, tokenizer.json, safetensors headers, --format json
  libcli11-dev                        # command-line parsing
  libfmt-dev                          # formatting of messages and tables
  libpcre2-dev                        # Unicode-class regexes of byte-level BPE pre-tokenizers
  libsentencepiece-dev                # tokenizer.model when a checkpoint has no tokenizer.json
  libgtest-dev                        # unit tests (GoogleTest via ctest)
  libbenchmark-dev                    # benchmarks under bench/
  pybind11-dev python3-dev            # the Python package llm_quantize (python/)
  python3-numpy python3-pytest        # its arrays, and its tests
  libopenmpi-dev openmpi-bin          # distributed runs (mpirun -np N llm-quantize ...) and their tests
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
