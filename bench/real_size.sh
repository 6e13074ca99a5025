#!/usr/bin/env bash
# Real-size runs on random-weight checkpoints made by `llm-quantize synth`:
# each command to completion with its wall time, our peak anonymous memory
# (peak_memory.anonymous_bytes of --format json) and the kernel's peak resident
# set with mapped file pages (/usr/bin/time -v). Results go to docs/performance.md.
#
#   bash bench/real_size.sh depth            # 1B width at 8, 16, 32 layers: memory must stay flat
#   bash bench/real_size.sh 7b [STEP...]     # Llama-2-7B shape; steps: inspect ppl generate analyze q4km ppl_q4km
#                                            #   iq2xxs dynamic gptq ppl_gptq awq fp8 vs_llama (default: the first six)
#   bash bench/real_size.sh 70b-width        # Llama-3-70B width cut to 2 layers: the per-layer memory of 70B
#
# WORK (default /work/bench-real) holds the checkpoints (13.5 GB for 7B).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/llm-quantize}
WORK=${WORK:-/work/bench-real}
DATA=${DATA:-../shared/data/wikitext2_test.txt}
CALIB=${CALIB:-../shared/data/calibration.txt}
mkdir -p "$WORK"

# run NAME CMD...: one line "NAME  wall s  anon MiB  rss MiB"
run() {
  local name=$1; shift
  local out="$WORK/$name.json" tv="$WORK/$name.time"
  /usr/bin/time -v -o "$tv" "$@" --format json >"$out"
  local wall rss anon
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$tv")
  rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$tv")
  anon=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['peak_memory']['anonymous_bytes']/1048576))" "$out")
  printf '%-28s wall %-10s anon %6s MiB   rss %6s MiB\n' "$name" "$wall" "$anon" "$rss" | tee -a "$WORK/results.txt"
}

synth() {  # synth DIR ARGS...
  local dir=$1; shift
  [ -d "$dir" ] || "$BIN" synth -o "$dir" "$@" --quiet
}

case "${1:-}" in
  depth)
    for L in 8 16 32; do
      M="$WORK/w2048-L$L"
      synth "$M" --preset llama-1b --vocab 32000 --layers "$L"
      run "depth-L$L-ppl-1x512" "$BIN" quality perplexity "$M" --data "$DATA" --chunks 1 --ctx 512
      run "depth-L$L-analyze-2x512" "$BIN" analyze "$M" --calibration-data "$CALIB" --calibration-samples 2 --ctx 512 \
          -o "$WORK/w2048-L$L.imatrix" --restart
      rm -f "$WORK/w2048-L$L.imatrix"
    done ;;
  7b)
    shift
    M="$WORK/llama-7b"
    synth "$M" --preset llama-7b
    steps=${*:-inspect ppl generate analyze q4km ppl_q4km}
    for s in $steps; do
      case $s in
        inspect) run 7b-inspect "$BIN" inspect "$M" ;;
        ppl) run 7b-ppl-2x512 "$BIN" quality perplexity "$M" --data "$DATA" --chunks 2 --ctx 512 ;;
        generate) run 7b-generate-16 "$BIN" generate "$M" --prompt "The kernel" -n 16 ;;
        analyze) run 7b-analyze-8x512 "$BIN" analyze "$M" --calibration-data "$CALIB" --calibration-samples 8 --ctx 512 \
                     -o "$WORK/llama-7b.imatrix" --restart ;;
        q4km) run 7b-gguf-q4km "$BIN" quantize "$M" gguf -q Q4_K_M --imatrix "$WORK/llama-7b.imatrix" \
                  -o "$WORK/llama-7b-Q4_K_M.gguf" ;;
        ppl_q4km) run 7b-q4km-ppl-2x512 "$BIN" quality perplexity "$WORK/llama-7b-Q4_K_M.gguf" --data "$DATA" --chunks 2 --ctx 512 ;;
        iq2xxs) run 7b-gguf-iq2xxs "$BIN" quantize "$M" gguf -q IQ2_XXS --imatrix "$WORK/llama-7b.imatrix" \
                    -o "$WORK/llama-7b-IQ2_XXS.gguf" ;;
        dynamic) run 7b-gguf-dynamic-3.5 "$BIN" quantize "$M" gguf -q dynamic --target-bpw 3.5 --sensitivity fast \
                     --imatrix "$WORK/llama-7b.imatrix" -o "$WORK/llama-7b-dyn3.5.gguf" ;;
        # GPTQ/AWQ calibrate on GPTQ_SAMPLES windows of 512 (default 2: hours on 2 cores otherwise; see docs/performance.md).
        gptq) run 7b-gptq-w4g128 "$BIN" quantize "$M" gptq --calibration "$CALIB" --samples "${GPTQ_SAMPLES:-2}" --ctx 512 \
                  --format-out gptq -o "$WORK/llama-7b-gptq" --restart ;;
        ppl_gptq) run 7b-gptq-ppl-2x512 "$BIN" quality perplexity "$WORK/llama-7b-gptq" --data "$DATA" --chunks 2 --ctx 512 ;;
        awq) run 7b-awq-w4g128 "$BIN" quantize "$M" awq --calibration "$CALIB" --samples "${GPTQ_SAMPLES:-2}" --ctx 512 \
                 -o "$WORK/llama-7b-awq" --restart ;;
        fp8) run 7b-fp8-dynamic "$BIN" quantize "$M" fp8 -o "$WORK/llama-7b-fp8" --restart ;;
        # Q4_K_M from the same bf16 weights against llama-quantize (LLAMA_QUANTIZE: a llama.cpp build of
        # your own, outside this repository), which reads our BF16 GGUF export of the checkpoint.
        vs_llama)
          : "${LLAMA_QUANTIZE:?set LLAMA_QUANTIZE to a llama-quantize binary}"
          [ -f "$WORK/llama-7b-BF16.gguf" ] || "$BIN" quantize "$M" gguf -q BF16 -o "$WORK/llama-7b-BF16.gguf" --quiet
          for who in ours llama ours llama; do
            if [ $who = ours ]; then
              cmd=("$BIN" quantize "$M" gguf -q Q4_K_M -o "$WORK/ours-Q4_K_M.gguf" --threads 2 --quiet)
            else
              cmd=("$LLAMA_QUANTIZE" "$WORK/llama-7b-BF16.gguf" "$WORK/llama-Q4_K_M.gguf" Q4_K_M 2)
            fi
            /usr/bin/time -f "$who Q4_K_M: %e s wall, %U s user, %M KB peak RSS" "${cmd[@]}" >/dev/null 2>"$WORK/vs-$who.err" ||
              { cat "$WORK/vs-$who.err" >&2; exit 1; }
            tail -1 "$WORK/vs-$who.err" | tee -a "$WORK/results.txt"
          done ;;
        *) echo "unknown step $s" >&2; exit 2 ;;
      esac
    done ;;
  70b-width)
    M="$WORK/w8192-L2"
    synth "$M" --preset llama-70b --layers 2
    run 70bw-L2-ppl-1x512 "$BIN" quality perplexity "$M" --data "$DATA" --chunks 1 --ctx 512
    # RTN: one 70B-width layer in fp32 (3.4 GB) is the bound. (GPTQ's float64 Hessian of the 28672-wide
    # down_proj input is 6.6 GB per copy: see docs/performance.md.)
    run 70bw-L2-rtn "$BIN" quantize "$M" rtn -o "$WORK/w8192-L2-rtn" --restart
    rm -rf "$WORK/w8192-L2-rtn" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
