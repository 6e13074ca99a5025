#!/usr/bin/env bash
# Distributed runs (docs/distributed.md): each step as one process and as
# `mpirun -np N` ranks on this machine, with wall time, rank 0's peak
# anonymous memory, and a byte comparison of the outputs (they must match).
#
#   bash bench/distributed.sh [MODEL_DIR...]   # default: small-llama and a 4-layer 1B-shape synthetic
#   RANKS="2 3" STEPS="analyze gptq iq2xxs" bash bench/distributed.sh
#
# One process runs with every core (-t 0); each rank of N gets what mpirun
# binds it to (one core each here). WORK (default /work/bench-mpi) holds outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/build/llm-quantize}
WORK=${WORK:-/work/bench-mpi}
RANKS=${RANKS:-2}
STEPS=${STEPS:-analyze gptq iq2xxs}
SAMPLES=${SAMPLES:-32}
CTX=${CTX:-256}
mkdir -p "$WORK"
MPIRUN="mpirun --oversubscribe --allow-run-as-root"

models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  [ -d "$WORK/synth-1b-4l" ] || "$BIN" synth --preset llama-1b --layers 4 -o "$WORK/synth-1b-4l" --quiet
  models=(../shared/models/small-llama "$WORK/synth-1b-4l")
fi

# timed NAME OUT CMD...: "NAME  wall s  anon MiB" (rank 0's peak, from --format json)
timed() {
  local name=$1 out=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$@" --format json >"$WORK/$name.json"
  t1=$(date +%s.%N)
  local anon
  anon=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['peak_memory']['anonymous_bytes']/1048576))" "$WORK/$name.json")
  printf '%-40s wall %8.2f s   anon %6s MiB\n' "$name" "$(echo "$t1 - $t0" | bc)" "$anon" | tee -a "$WORK/results.txt"
}

same() {  # same A B: byte comparison of two files or two directories' files
  if [ -d "$1" ]; then
    for f in "$1"/*; do cmp -s "$f" "$2/$(basename "$f")" || { echo "DIFFERENT: $f"; return 1; }; done
  else
    cmp -s "$1" "$2" || { echo "DIFFERENT: $1 $2"; return 1; }
  fi
  echo "  identical: $(basename "$2")" | tee -a "$WORK/results.txt"
}

for model in "${models[@]}"; do
  m=$(basename "$model")
  im="$WORK/$m.imatrix"
  [ -f "$im" ] || "$BIN" analyze "$model" --calibration-samples 8 -c "$CTX" -o "$im" --quiet >/dev/null
  for step in $STEPS; do
    case $step in
      analyze) args=(analyze "$model" --calibration-samples "$SAMPLES" -c "$CTX" --restart --quiet); ext=.imatrix ;;
      gptq)    args=(quantize "$model" gptq --samples "$SAMPLES" --ctx "$CTX" --quiet --restart); ext= ;;
      iq2xxs)  args=(quantize "$model" gguf -q IQ2_XXS --imatrix "$im" --quiet); ext=.gguf ;;
      *) echo "unknown step $step" >&2; exit 2 ;;
    esac
    base="$WORK/$m-$step"
    rm -rf "$base"-*
    timed "$m $step 1 process" "$base-1$ext" "$BIN" "${args[@]}" -o "$base-1$ext"
    for n in $RANKS; do
      timed "$m $step $n ranks" "$base-$n$ext" $MPIRUN -np "$n" "$BIN" "${args[@]}" -o "$base-$n$ext"
      same "$base-1$ext" "$base-$n$ext"
    done
  done
done
