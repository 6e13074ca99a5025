#!/usr/bin/env bash
# DWQ against the other MLX 4/3/2-bit files of the same group size (docs/dwq.md):
# RTN, GPTQ and AWQ (all with MLX's affine grid, --asym) and DWQ started from RTN
# and from GPTQ, each scored by `llm-quantize quality compare` on the same
# windows of held-out wikitext-2 (KLD, perplexity, same top-1). DWQ's training
# speed (tokens/s) and peak memory come from its JSON report.
#
#   bash bench/dwq.sh [WORK_DIR]
#
# MODEL (default small-llama), BITS (default "4 3 2"), GROUP (64), CHUNKS (60
# windows of 512), DWQ_ARGS (extra dwq options) and LLMQ_BIN override the
# defaults. Files are kept in WORK_DIR (default /tmp/llmq-dwq) between runs;
# the teacher's logits are cached in WORK_DIR/targets.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/quality_env.sh
work="${1:-/tmp/llmq-dwq}"
chunks="${CHUNKS:-60}"
group="${GROUP:-64}"
mkdir -p "$work"
files=()
for bits in ${BITS:-4 3 2}; do
  for m in rtn gptq awq; do
    out="$work/$m-w${bits}"
    [ -d "$out" ] || "$bin" quantize "$model" "$m" --format-out mlx --asym --bits "$bits" --group-size "$group" -o "$out" --quiet
    files+=("$out")
  done
  for init in rtn gptq; do
    out="$work/dwq-$init-w${bits}"
    if [ ! -d "$out" ]; then
      # shellcheck disable=SC2086
      "$bin" quantize "$model" dwq --init "$init" --bits "$bits" --group-size "$group" --targets-dir "$work/targets" \
        ${DWQ_ARGS:-} -o "$out" --format json >"$out.json"
    fi
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(f\"{sys.argv[2]}: valid KL {j['initial_valid_kl']:.5f} -> {j['best_valid_kl']:.5f} (step {j['best_step']} of {j['steps_done']}), {j['train_seconds']:.0f} s, {j['tokens_per_second']:.0f} tokens/s, peak {j['peak_anonymous_mib']:.0f} MiB anonymous / {j['peak_resident_mib']:.0f} MiB resident\")" "$out.json" "$(basename "$out")"
    files+=("$out")
  done
done
"$bin" quality compare "$model" "${files[@]}" --data "$data" --ctx 512 --chunks "$chunks" \
  --base-logits "$work/base-$chunks.logits" --format json --quiet >"$work/compare.json"
python3 bench/quality_table.py "$work/compare.json" | tee "$work/table.md"
