#!/usr/bin/env bash
# One command: install dependencies, build, and run the main job on the
# bundled example model (models/tiny-llama): inspect it, measure perplexity,
# generate, then quantize it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BIN=build/llm-quantize
MODEL=models/tiny-llama
DATA=${DATA:-models/tiny-llama/sample.txt}
$BIN inspect $MODEL
$BIN generate $MODEL --prompt "The kernel" -n 24
$BIN quality perplexity $MODEL --data "$DATA" --chunks 8
