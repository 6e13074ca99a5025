#!/usr/bin/env bash
# The CPU forward pass against llama.cpp's tools on the same weights and
# thread count, each pair run in turn (ours, theirs, ours, theirs ...):
# perplexity (prefill) and decode tokens/s, BF16 and Q4_K_M. The GGUF files
# are our own exports of the checkpoint; llama.cpp reads them unchanged.
#
#   LLAMA_BIN=/path/to/llama.cpp/build/bin bash bench/forward_vs_llama.sh [MODEL_DIR] [THREADS]
#
# MODEL_DIR defaults to ../shared/models/small-llama; a synthetic shape made by
# `llm-quantize synth` works too. LLAMA_BIN: a llama.cpp build of your own,
# outside this repository (llama-perplexity, llama-bench). Results go to stdout
# and $WORK/forward-results.txt; docs/performance.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_BIN:?set LLAMA_BIN to the bin folder of a llama.cpp build}"
BIN=${BIN:-build/llm-quantize}
M=${1:-../shared/models/small-llama}
THREADS=${2:-2}
WORK=${WORK:-/tmp/llmq-forward-bench}
DATA=${DATA:-../shared/data/wikitext2_test.txt}
CHUNKS=${CHUNKS:-20}
RUNS=${RUNS:-3}
mkdir -p "$WORK"
name=$(basename "$M")
log() { echo "$*" | tee -a "$WORK/forward-results.txt"; }

# seconds CMD...: wall seconds of one run, its output kept in $WORK/last.out
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >"$WORK/last.out" 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for q in BF16 Q4_K_M; do
  f="$WORK/$name-$q.gguf"
  [ -f "$f" ] || "$BIN" quantize "$M" gguf -q "$q" -o "$f" --quiet
  # Prefill: perplexity over CHUNKS windows of 512 tokens.
  ours=() theirs=()
  for _ in $(seq "$RUNS"); do
    ours+=("$(seconds "$BIN" quality perplexity "$f" --data "$DATA" --chunks "$CHUNKS" --ctx 512 --threads "$THREADS" --quiet)")
    theirs+=("$(seconds "$LLAMA_BIN/llama-perplexity" -m "$f" -f "$DATA" --chunks "$CHUNKS" -c 512 -b 512 -t "$THREADS")")
  done
  a=$(printf '%s\n' "${ours[@]}" | median) b=$(printf '%s\n' "${theirs[@]}" | median)
  log "$name $q perplexity ${CHUNKS}x512, $THREADS threads: ours $a s, llama-perplexity $b s, time ratio ours/theirs $(echo "scale=3; $a / $b" | bc)"
  # Decode: tokens/s of one-token forward passes after a short prompt.
  ours=() theirs=()
  for _ in $(seq "$RUNS"); do
    ours+=("$("$BIN" generate "$f" --prompt "The kernel" -n 128 --threads "$THREADS" --format json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["timings"]["decode_tokens_per_second"])')")
    theirs+=("$("$LLAMA_BIN/llama-bench" -m "$f" -p 0 -n 128 -t "$THREADS" -o json |
      python3 -c 'import json,sys; print([r for r in json.load(sys.stdin) if r["n_gen"] > 0][0]["avg_ts"])')")
  done
  a=$(printf '%s\n' "${ours[@]}" | median) b=$(printf '%s\n' "${theirs[@]}" | median)
  log "$name $q decode tok/s, $THREADS threads: ours $a, llama-bench $b, time ratio ours/theirs $(echo "scale=3; $b / $a" | bc)"
done

# Calibration: an importance matrix over CHUNKS windows of 512 (our analyze
# from the checkpoint, llama-imatrix from the BF16 GGUF of the same weights).
CALIB=${CALIB:-../shared/data/calibration.txt}
ours=() theirs=()
for _ in $(seq "$RUNS"); do
  ours+=("$(seconds "$BIN" analyze "$M" --calibration-data "$CALIB" --calibration-samples "$CHUNKS" --ctx 512 \
    -o "$WORK/ours.imatrix" --restart --threads "$THREADS" --quiet)")
  theirs+=("$(seconds "$LLAMA_BIN/llama-imatrix" -m "$WORK/$name-BF16.gguf" -f "$CALIB" --chunks "$CHUNKS" -c 512 -b 512 \
    -t "$THREADS" -o "$WORK/theirs.imatrix")")
done
a=$(printf '%s\n' "${ours[@]}" | median) b=$(printf '%s\n' "${theirs[@]}" | median)
log "$name imatrix ${CHUNKS}x512, $THREADS threads: ours $a s, llama-imatrix $b s, time ratio ours/theirs $(echo "scale=3; $a / $b" | bc)"
rm -f "$WORK/ours.imatrix" "$WORK/theirs.imatrix"
