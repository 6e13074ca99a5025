#!/usr/bin/env bash
# GGUF k-quant and IQ4_XS presets with and without GPTQ's error feedback
# (`--gptq`), without and with an importance matrix, and (when LLAMA_QUANTIZE
# names a llama-quantize binary) llama-quantize's files of the same presets
# from our F32 GGUF with and without the same importance matrix; every file
# scored by `llm-quantize quality compare` on the same windows of held-out
# wikitext-2 (docs/gguf_gptq.md). (--gptq with an importance matrix made from
# the same calibration windows writes the same bytes as without: both weigh
# the scale search by the inputs' mean squares.)
#
#   bash bench/gguf_gptq.sh [WORK_DIR]
#
# MODEL (default small-llama), PRESETS (default "Q4_K_M Q4_K_S Q5_K_M Q6_K
# IQ4_XS Q3_K_M"), CHUNKS (60 windows of 512), SAMPLES (imatrix and GPTQ windows,
# default 128 of 512 tokens of the shared calibration text) and LLMQ_BIN
# override the defaults. Files are kept in WORK_DIR (default /tmp/llmq-gguf-gptq).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/quality_env.sh
work="${1:-/tmp/llmq-gguf-gptq}"
chunks="${CHUNKS:-60}"
samples="${SAMPLES:-128}"
mkdir -p "$work"
imatrix="$work/model.imatrix"
[ -f "$imatrix" ] || "$bin" analyze "$model" -o "$imatrix" --calibration-samples "$samples" --quiet

quant() {  # quant NAME ARGS...: one GGUF file, kept between runs; prints its time and peak memory
  local name="$1"; shift
  if [ ! -f "$work/$name.gguf" ]; then
    /usr/bin/time -f "$name: %e s, peak %M KB" "$bin" quantize "$model" gguf "$@" -o "$work/$name.gguf" --quiet
  fi
  files+=("$work/$name.gguf")
}
files=()
for p in ${PRESETS:-Q4_K_M Q4_K_S Q5_K_M Q6_K IQ4_XS Q3_K_M}; do
  quant "$p" -q "$p"
  quant "$p-gptq" -q "$p" --gptq --samples "$samples"
  quant "$p-imatrix" -q "$p" --imatrix "$imatrix"
  if [ -n "${LLAMA_QUANTIZE:-}" ]; then
    [ -f "$work/f32.gguf" ] || "$bin" quantize "$model" gguf -q F32 -o "$work/f32.gguf" --quiet
    for im in "" imatrix; do
      out="$work/llama-$p${im:+-$im}.gguf"
      [ -f "$out" ] || "$LLAMA_QUANTIZE" ${im:+--imatrix "$imatrix"} "$work/f32.gguf" "$out" "$p" >/dev/null 2>&1
      files+=("$out")
    done
  fi
done
"$bin" quality compare "$model" "${files[@]}" --data "$data" --ctx 512 --chunks "$chunks" \
  --base-logits "$work/base-$chunks.logits" --format json --quiet >"$work/compare.json"
python3 bench/quality_table.py "$work/compare.json" | tee "$work/table.md"
