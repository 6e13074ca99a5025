#!/usr/bin/env bash
# Regenerates, from our side, the quality-per-bit table of issue 23 (small-llama,
# one importance matrix shared by every file, files of llama-quantize's preset
# sizes): mean KLD, perplexity and same-top-1 of each file over the same windows
# of wikitext-2, by `llm-quantize quality compare`.
#
#   bash bench/quality_table.sh [WORK_DIR]
#
# Rows: Q3_K_M (preset) and `-q dynamic --target-size <the Q3_K_M file's size>`
# with the default measure, --sensitivity fast and --sensitivity hybrid;
# IQ2_XXS; Q4_K_M with and without the importance matrix. MODEL, DATA, CHUNKS
# (default 100 windows of 512), SAMPLES (imatrix windows, default 16) and
# LLMQ_BIN override the defaults. The table goes to WORK_DIR/table.md and
# stdout; WORK_DIR (default /tmp/llmq-quality-table) keeps the files.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/quality_env.sh
work="${1:-/tmp/llmq-quality-table}"
chunks="${CHUNKS:-100}"
mkdir -p "$work"
imatrix="$work/model.imatrix"
[ -f "$imatrix" ] || "$bin" analyze "$model" -o "$imatrix" --calibration-samples "${SAMPLES:-16}" --quiet

quant() {  # quant NAME ARGS...: one GGUF file, kept between runs
  local name="$1"; shift
  [ -f "$work/$name.gguf" ] || "$bin" quantize "$model" gguf "$@" -o "$work/$name.gguf" --quiet
}
quant q3_k_m -q Q3_K_M --imatrix "$imatrix"
size=$(stat -c %s "$work/q3_k_m.gguf")
quant dynamic-default -q dynamic --target-size "$size" --imatrix "$imatrix"
quant dynamic-fast -q dynamic --target-size "$size" --imatrix "$imatrix" --sensitivity fast
quant dynamic-hybrid -q dynamic --target-size "$size" --imatrix "$imatrix" --sensitivity hybrid
quant iq2_xxs -q IQ2_XXS --imatrix "$imatrix"
quant q4_k_m-imatrix -q Q4_K_M --imatrix "$imatrix"
quant q4_k_m -q Q4_K_M

"$bin" quality compare "$model" "$work"/q3_k_m.gguf "$work"/dynamic-default.gguf "$work"/dynamic-fast.gguf \
  "$work"/dynamic-hybrid.gguf "$work"/iq2_xxs.gguf "$work"/q4_k_m-imatrix.gguf "$work"/q4_k_m.gguf \
  --data "$data" --ctx 512 --chunks "$chunks" --format json --quiet >"$work/compare.json"
python3 bench/quality_table.py "$work/compare.json" --keep-order | tee "$work/table.md"
