#!/usr/bin/env python3
"""Checks a checkpoint written by llm-quantize with Hugging Face transformers, on the CPU.

  python3 scripts/check_with_transformers.py OUT_DIR --data ../shared/data/wikitext2_test.txt [--ctx 256] [--chunks 8]

transformers loads OUT_DIR exactly as a user's `AutoModelForCausalLM.from_pretrained()`
would (its quantization_config picks the backend) and computes perplexity, in --dtype
(fp32 by default, as we do), with our protocol (windows of --ctx tokens, the second half
of each scored); the same is computed by `llm-quantize quality perplexity`. The two must
agree within --tolerance, and the load must be clean: any missing or unexpected weight
(transformers' load report) fails the check whatever the perplexity. The JSON line also
counts the leaf module classes: GPTQ/AWQ linears show up under their kernel's class
(TorchAtenLinear, TorchAtenAwqLinear, ...); compressed-tensors ones are decompressed into
plain Linear at load.

What runs on a CPU (tested with torch 2.15, transformers 5.25, compressed-tensors 0.20.1,
gptqmodel 7.7.0, optimum 2.3.0; transformers 5 reads our transformers-5 style configs):
- compressed-tensors (pack-quantized int): compressed-tensors alone. transformers 5 fuses
  MoE experts into 3-D tensors and dequantizes per-expert packed weights into them at load
  time, in the dtype of the stored scales (bf16), not in --dtype.
- gptq: transformers' GPTQ path needs optimum AND gptqmodel (auto-gptq is gone from
  transformers 5). gptqmodel 7.x is pure Python (kernels are torch code, no CUDA build),
  so a plain `pip install gptqmodel optimum` works; it picks its TorchAtenLinear kernel.
- awq (gemm): gptqmodel (transformers 5 has no autoawq path), TorchAtenAwqLinear kernel.
- gptq/awq MoE: AutoModelForCausalLM fuses the experts into 3-D tensors that the GPTQ path
  does not convert, so the per-expert qweight/qzeros/scales/g_idx come back unexpected
  and the fused experts stay randomly initialised (the check fails on the load report).
  --loader gptqmodel loads through GPTQModel.load() instead, which unfuses the experts
  (defuser) into one quantized linear per expert; that is what a user of a GPTQ MoE
  checkpoint has to do on transformers 5. (gptqmodel reads quantize_config.json before
  config.json; ours carries the same `dynamic` "-:" router rules and
  modules_in_block_to_quantize. On transformers 5 the router is a Qwen3MoeTopKRouter,
  not a Linear, so nothing tries to quantize it anyway.)
transformers 4.x (4.57.6 + optimum 1.27 + gptqmodel 4.2.5) is not used: it cannot read the
fixtures' tokenizer_config.json (`TokenizersBackend`) and needs autoawq for AWQ. (Our
outputs carry `rope_theta` and `num_experts` beside the transformers 5 spellings, which
transformers 4 would otherwise read as 10000 and 128.)

The packages are installed on first use into a virtual environment
(LLMQ_TRANSFORMERS_VENV, default ~/.cache/llm-quantize/transformers-venv); nothing
else needs them. torch comes from the CPU wheel index when it can be reached, else from
PyPI (then with its CUDA libraries, about 5 GB of the 6 GB venv, unused here).
"""
import argparse
import json
import math
import os
import subprocess
import sys

from upstream_check import add_common_arguments, our_perplexity, run_in_venv, windows

VENV = os.environ.get("LLMQ_TRANSFORMERS_VENV", os.path.expanduser("~/.cache/llm-quantize/transformers-venv"))
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PACKAGES = ["transformers>=5.20.2", "compressed-tensors>=0.15", "gptqmodel>=7.7", "optimum>=2.3"]


def install(py):
    print(f"check_with_transformers: installing torch {' '.join(PACKAGES)} into {VENV}", file=sys.stderr)
    pip = [py, "-m", "pip", "install", "-q"]
    if subprocess.call([*pip, "torch", "--index-url", TORCH_CPU_INDEX]) != 0:
        print(f"check_with_transformers: {TORCH_CPU_INDEX} not reachable; torch from PyPI", file=sys.stderr)
    subprocess.check_call([*pip, *PACKAGES])


def load(path, dtype, loader):
    """The model as transformers' from_pretrained (or GPTQModel.load) gives it, and what it reports."""
    import torch

    if loader == "gptqmodel":
        from gptqmodel import GPTQModel

        return GPTQModel.load(path, device="cpu", dtype=getattr(torch, dtype)).model, {}
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), output_loading_info=True)
    return model, {k: sorted(v) for k, v in info.items() if k != "error_msgs" and v}


def transformers_perplexity(path, text, ctx, chunks, dtype, loader):
    import collections

    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    tok = AutoTokenizer.from_pretrained(path)
    model, report = load(path, dtype, loader)
    model.eval()
    # Which module classes carry the weights: quantized linears show up under their backend's class names.
    modules = collections.Counter(type(m).__name__ for m in model.modules() if not list(m.children()))
    ids = tok(text, add_special_tokens=False)["input_ids"]
    nll, n = 0.0, 0
    with torch.inference_mode():
        for window, targets in windows(ids, ctx, chunks):
            logits = model(torch.tensor([window])).logits[0, ctx // 2:].float()
            logp = torch.log_softmax(logits, dim=-1)
            nll -= logp.gather(1, torch.tensor(targets)[:, None]).sum().item()
            n += len(targets)
    return math.exp(nll / n), n, type(model).__name__, dict(modules), report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap, "a directory written by llm-quantize (compressed-tensors, gptq, awq) or any HF model")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                    help="dtype transformers computes in")
    ap.add_argument("--loader", default="transformers", choices=["transformers", "gptqmodel"],
                    help="AutoModelForCausalLM.from_pretrained, or GPTQModel.load (GPTQ/AWQ; unfuses MoE experts)")
    a = ap.parse_args()
    run_in_venv(VENV, install)
    with open(a.data, encoding="utf-8") as f:
        text = f.read()
    theirs, scored, cls, modules, report = transformers_perplexity(a.model, text, a.ctx, a.chunks, a.dtype, a.loader)
    ours = our_perplexity(a.cli, a.model, a.data, a.ctx, a.chunks)
    rel = abs(theirs - ours) / ours
    # Weights the checkpoint has but the model did not take, or the reverse, mean the load is wrong
    # whatever the perplexity says.
    ok = rel <= a.tolerance and not report
    print(json.dumps({"model": a.model, "loader": a.loader, "class": cls, "dtype": a.dtype, "modules": modules,
                      "load_report": {k: v[:8] + ([f"... {len(v)} in all"] if len(v) > 8 else []) for k, v in
                                      report.items()},
                      "transformers_perplexity": theirs, "llm_quantize_perplexity": ours, "tokens_scored": scored,
                      "relative_difference": rel, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
