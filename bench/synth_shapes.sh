#!/usr/bin/env bash
# Writes Llama-2-7B-shaped synthetic checkpoints (13.5 GB of bf16 in 3 shards)
# with `llm-quantize synth`, once with --init zeros (sparse files: header only,
# no disk use) and once with random weights, and reports each run's wall time
# and peak resident memory (/usr/bin/time -v). Each checkpoint is deleted
# after it is measured.
#
#   bash bench/synth_shapes.sh [WORK_DIR] [PRESET]
#
# WORK_DIR (default /work/tmp-synth) needs the checkpoint's size free for the
# random run; PRESET defaults to llama-7b (any `synth --preset` name works,
# e.g. llama-70b with EXTRA="--layers 2"). LLMQ_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/work/tmp-synth}"
preset="${2:-llama-7b}"
bin="${LLMQ_BIN:-build/llm-quantize}"
[ -x "$bin" ] || { echo "no $bin: build it first (cmake --build build --target llm-quantize)" >&2; exit 1; }
mkdir -p "$work"

run() {  # run NAME ARGS...: one synth run, timed; prints a summary line
  local name="$1"; shift
  local out="$work/$preset-$name" log="$work/$preset-$name.time"
  rm -rf "$out"
  /usr/bin/time -v "$bin" synth -o "$out" --preset "$preset" ${EXTRA:-} "$@" --quiet --format json \
    >"$work/$preset-$name.json" 2>"$log"
  local size disk
  size=$(du -s --apparent-size -B1 "$out" | cut -f1)
  disk=$(du -s -B1 "$out" | cut -f1)
  python3 - "$preset" "$name" "$log" "$work/$preset-$name.json" "$size" "$disk" <<'PY'
import json, re, sys
preset, name, log, js, size, disk = sys.argv[1:]
t = open(log).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
j = json.load(open(js))
print(f"{preset:10} {name:7} wall {wall:>8}  peak RSS {rss:7.1f} MB  size {int(size)/1e9:6.2f} GB  "
      f"on disk {int(disk)/1e9:6.2f} GB  {j['parameters']/1e9:.2f} B params, {len(j['shards'])} shards, "
      f"{j['seconds']:.1f} s in synth ({j['mb_per_s']:.0f} MB/s)")
PY
  rm -rf "$out"
}

run zeros --init zeros
sync
run random --init random --seed 0
