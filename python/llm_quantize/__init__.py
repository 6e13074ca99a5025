"""llm-quantize from Python.

    from llm_quantize import load_quantized_model, quantize, analyze, quality_report

    quantize("models/Qwen3-4B", "gguf", q="Q4_K_M", output="qwen3-4b-q4_k_m.gguf")
    model, tokenizer = load_quantized_model("qwen3-4b-q4_k_m.gguf")
    print(model.generate("The kernel", max_tokens=32))

Every command of the CLI is a function taking its options as keyword
arguments (`group_size=128` is `--group-size 128`); each returns the object
`--format json` prints, as a dict. Bad input raises LlmQuantizeError with the
CLI's one-line message; nothing calls exit().
"""
import os

# The math libraries read these once, when they load (the CLI restarts itself
# to set them; a Python process cannot): OpenBLAS runs on our OpenMP threads,
# which should spin briefly before sleeping.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")

from ._api import (  # noqa: E402
    LlmQuantizeError,
    QualityGateError,
    analyze,
    inspect,
    profile,
    quality_compare,
    quality_perplexity,
    quality_report,
    quality_tasks,
    quantize,
    run,
    synth,
)
from ._model import Model, Tokenizer, load_quantized_model  # noqa: E402

__all__ = [
    "LlmQuantizeError", "QualityGateError", "Model", "Tokenizer", "load_quantized_model", "run", "quantize",
    "analyze", "inspect", "profile", "quality_perplexity", "quality_report", "quality_compare", "quality_tasks",
    "synth",
]
