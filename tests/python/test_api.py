"""The Python package against ground truth: transformers' reference logits and
greedy ids for the fixtures, and the CLI's own JSON for the same commands."""
import json
import math
import struct
import subprocess

import numpy as np
import pytest

import llm_quantize as lq


def read_safetensors(path):
    """name -> numpy array, read directly (no dependency on the safetensors package)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    types = {"F32": np.float32, "I32": np.int32, "I64": np.int64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=types[t["dtype"]]).reshape(t["shape"])
    return out


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-qwen3moe"])
def test_logits_match_transformers(models, name):
    ref = read_safetensors(models / name / "reference_logits.safetensors")
    model, tokenizer = lq.load_quantized_model(str(models / name))
    sample = json.loads((models / name / "reference.json").read_text())
    assert tokenizer.encode(sample["sample_text"]) == sample["sample_ids"]
    logits = model.logits(ref["input_ids"])
    assert logits.shape == ref["logits"].shape and logits.dtype == np.float32
    assert np.max(np.abs(logits - ref["logits"])) < 2e-3


def test_generate_matches_transformers_greedy(models):
    ref = json.loads((models / "tiny-llama" / "reference.json").read_text())
    model, tokenizer = lq.load_quantized_model(str(models / "tiny-llama"))
    prompt = tokenizer.encode(ref["greedy_prompt"])
    ids = model.generate_ids(prompt, max_tokens=len(ref["greedy_ids"]) - len(prompt))
    assert ids == ref["greedy_ids"]
    assert model.generate(ref["greedy_prompt"], max_tokens=8) == tokenizer.decode(ids[len(prompt):len(prompt) + 8])


def test_quantize_then_load_gguf_agrees_with_the_cli(models, wikitext, cli, tmp_path):
    events = []
    out = tmp_path / "q4.gguf"
    r = lq.quantize(str(models / "tiny-llama"), "gguf", q="Q4_K_M", output=str(out),
                    progress=lambda label, done, total: events.append((label, done, total)))
    assert r["output"] == str(out) and out.exists()
    assert events and all(isinstance(e[0], str) for e in events)
    model, _ = lq.load_quantized_model(str(out))
    assert model.info["format"] == "gguf"
    ppl = model.perplexity(open(wikitext).read(), ctx=128, chunks=4)
    cli_json = json.loads(subprocess.run([cli, "quality", "perplexity", str(out), "--data", wikitext, "--ctx", "128",
                                          "--chunks", "4", "--format", "json"], check=True, capture_output=True,
                                         text=True).stdout)
    assert ppl == pytest.approx(cli_json["perplexity"], rel=1e-9)
    assert lq.quality_perplexity(str(out), data=wikitext, ctx=128, chunks=4)["perplexity"] == pytest.approx(ppl, rel=1e-9)


def test_mlx_output_loads_and_reports_quality(models, wikitext, tmp_path):
    out = tmp_path / "mlx"
    r = lq.quantize(str(models / "tiny-llama"), "rtn", bits=4, group_size=64, format_out="mlx", output=str(out))
    assert r["quantized_linears"] == 28
    model, tokenizer = lq.load_quantized_model(str(out))
    assert model.info["format"] == "mlx"
    text = model.generate("The kernel", max_tokens=6)
    assert isinstance(text, str) and text
    rows = lq.quality_report(str(models / "tiny-llama"), str(out), data=wikitext, ctx=128, chunks=4)
    quantized = next(r for r in rows if not r["is_base"])
    assert quantized["format"] == "mlx" and 0 < quantized["kld_mean"] < 0.5
    assert math.isfinite(quantized["perplexity"]) and quantized["top1_agreement"] > 0.5


def test_analyze_returns_the_json_the_cli_prints(models, tmp_path):
    out = tmp_path / "m.imatrix"
    r = lq.analyze(str(models / "tiny-llama"), output=str(out), calibration_samples=2, ctx=64)
    assert out.exists() and r["output"] == str(out) and r["entries"] == 28 and r["tokens"] == 128


def test_bad_input_raises_instead_of_exiting(models, tmp_path):
    with pytest.raises(lq.LlmQuantizeError) as e:
        lq.load_quantized_model(str(tmp_path / "missing"))
    assert "missing" in str(e.value)
    with pytest.raises(lq.LlmQuantizeError) as e:
        lq.quantize(str(models / "tiny-llama"), "gguf", q="Q9_X", output=str(tmp_path / "x.gguf"))
    assert e.value.exit_code in (1, 2) and "Q9_X" in e.value.message
    assert not (tmp_path / "x.gguf").exists()
    with pytest.raises(lq.LlmQuantizeError) as e:
        lq.quantize(str(models / "tiny-llama"), "gguf", no_such_option=3)
    assert e.value.exit_code == 2
    model, _ = lq.load_quantized_model(str(models / "tiny-llama"))
    with pytest.raises(lq.LlmQuantizeError):
        model.logits([model.vocab_size])  # outside the vocabulary


def test_model_ids_resolve_in_the_local_cache(models, tmp_path, monkeypatch):
    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    snap.parent.mkdir(parents=True)
    snap.symlink_to(models / "tiny-llama", target_is_directory=True)
    (tmp_path / "hub" / "models--acme--tiny" / "refs").mkdir()
    (tmp_path / "hub" / "models--acme--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    model, _ = lq.load_quantized_model("acme/tiny")
    assert model.info["parameters"] == 7342336
    with pytest.raises(lq.LlmQuantizeError) as e:
        lq.load_quantized_model("acme/absent")
    assert "Hugging Face cache" in str(e.value)
