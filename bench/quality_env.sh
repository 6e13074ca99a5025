# Sourced by the quality benchmarks (dwq.sh, gguf_gptq.sh, quality_table.sh)
# from the repository root: the model, the held-out text and the binary they
# use, each overridable (MODEL, DATA, LLMQ_BIN); stops when the binary is missing.
model="${MODEL:-../shared/models/small-llama}"
data="${DATA:-../shared/data/wikitext2_test.txt}"
bin="${LLMQ_BIN:-build/llm-quantize}"
[ -x "$bin" ] || { echo "no $bin: build it first (bash scripts/build.sh)" >&2; exit 1; }
