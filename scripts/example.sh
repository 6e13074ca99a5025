#!/usr/bin/env bash
# One command: install dependencies, build, and run the main job on the
# bundled example model (models/tiny-llama): inspect it, measure its
# perplexity, quantize it to GGUF Q4_K_M, and measure the quantized file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BIN=build/llm-quantize
MODEL=models/tiny-llama
DATA=models/tiny-llama/sample.txt   # the first 40 kB of WikiText-2 test
OUT=build/example
mkdir -p $OUT
$BIN inspect $MODEL
$BIN generate $MODEL --prompt "The kernel" -n 24
$BIN quality perplexity $MODEL --data $DATA --chunks 0
if $BIN quantize --help >/dev/null 2>&1; then
  $BIN quantize $MODEL gguf -q Q4_K_M -o $OUT/tiny-llama-Q4_K_M.gguf
  $BIN quality perplexity $OUT/tiny-llama-Q4_K_M.gguf --data $DATA --chunks 0
  $BIN generate $OUT/tiny-llama-Q4_K_M.gguf --prompt "The kernel" -n 24
fi
