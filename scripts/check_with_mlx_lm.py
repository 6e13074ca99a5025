#!/usr/bin/env python3
"""Checks an MLX output of llm-quantize with mlx-lm itself, on the CPU.

  python3 scripts/check_with_mlx_lm.py OUT_DIR --data ../shared/data/wikitext2_test.txt [--ctx 256] [--chunks 8]

mlx-lm loads OUT_DIR exactly as a user's `mlx_lm.load()` would (sanitize,
quantization predicate, stacked MoE experts) and computes perplexity with our
protocol (windows of --ctx tokens, the second half of each scored); the same
is computed by `llm-quantize quality perplexity`. The two must agree within
--tolerance (mlx-lm runs in bf16, we in fp32). mlx[cpu] and mlx-lm are
installed on first use into a virtual environment (LLMQ_UPSTREAM_VENV,
default ~/.cache/llm-quantize/upstream-venv); nothing else needs them.
"""
import argparse
import json
import math
import os
import subprocess
import sys

from upstream_check import add_common_arguments, our_perplexity, run_in_venv, windows

VENV = os.environ.get("LLMQ_UPSTREAM_VENV", os.path.expanduser("~/.cache/llm-quantize/upstream-venv"))
PACKAGES = ["mlx[cpu]", "mlx-lm"]


def install(py):
    print(f"check_with_mlx_lm: installing {' '.join(PACKAGES)} into {VENV}", file=sys.stderr)
    subprocess.check_call([py, "-m", "pip", "install", "-q", *PACKAGES])


def mlx_lm_perplexity(path, text, ctx, chunks):
    import mlx.core as mx
    from mlx_lm import load

    model, tok = load(path)
    ids = tok.encode(text, add_special_tokens=False)
    nll, n = 0.0, 0
    for window, targets in windows(ids, ctx, chunks):
        logits = model(mx.array([window])).astype(mx.float32)
        logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        picked = mx.take_along_axis(logp[0, ctx // 2:], mx.array(targets)[:, None], axis=-1)
        nll -= picked.sum().item()
        n += len(targets)
    return math.exp(nll / n), n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap, "an MLX directory written by llm-quantize --format-out mlx")
    a = ap.parse_args()
    run_in_venv(VENV, install)
    with open(a.data, encoding="utf-8") as f:
        text = f.read()
    theirs, scored = mlx_lm_perplexity(a.model, text, a.ctx, a.chunks)
    ours = our_perplexity(a.cli, a.model, a.data, a.ctx, a.chunks)
    rel = abs(theirs - ours) / ours
    print(json.dumps({"model": a.model, "mlx_lm_perplexity": theirs, "llm_quantize_perplexity": ours,
                      "tokens_scored": scored, "relative_difference": rel, "ok": rel <= a.tolerance}))
    sys.exit(0 if rel <= a.tolerance else 1)


if __name__ == "__main__":
    main()
