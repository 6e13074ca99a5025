"""What scripts/check_with_mlx_lm.py and scripts/check_with_transformers.py
share: a runtime installed on first use into a virtual environment the script
re-executes itself in, our perplexity protocol (windows of ctx tokens, the
second half of each scored), and `llm-quantize quality perplexity` for the
other side of the comparison."""
import json
import os
import subprocess
import sys
import venv


def run_in_venv(path, install):
    """Returns when this interpreter is the venv's; else creates the venv on first use (install(python) fills
    it) and re-executes the running script in it with the same arguments."""
    if os.path.realpath(sys.prefix) == os.path.realpath(path):
        return
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        venv.create(path, with_pip=True)
        install(py)
    os.execv(py, [py, *sys.argv])


def add_common_arguments(ap, model_help):
    ap.add_argument("model", help=model_help)
    ap.add_argument("--data", required=True)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--tolerance", type=float, default=0.01, help="largest relative perplexity difference")
    ap.add_argument("--cli", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "llm-quantize"))


def windows(ids, ctx, chunks):
    """(window ids, target ids of its scored second half) for at most `chunks` windows: position i of window c
    predicts ids[c*ctx + i + 1] for i in [ctx/2, ctx), as `quality perplexity` scores them."""
    for c in range(min(chunks, (len(ids) - 1) // ctx)):
        yield ids[c * ctx:(c + 1) * ctx], ids[c * ctx + ctx // 2 + 1:(c + 1) * ctx + 1]


def our_perplexity(cli, path, data, ctx, chunks):
    out = subprocess.run([cli, "quality", "perplexity", path, "--data", data, "--ctx", str(ctx), "--chunks",
                          str(chunks), "--format", "json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["perplexity"]
