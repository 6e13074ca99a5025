#!/usr/bin/env python3
"""Copy a Llama-style bf16 checkpoint with activation outlier channels injected.

Used by the SmoothQuant measurement in docs/lowbit.md: small test models have no
outlier channels (largest / median channel maximum ~3), real LLMs have channels
10-100x the median. For the chosen hidden channels j, every layer's
input_layernorm and post_attention_layernorm weight j is multiplied by FACTOR
and column j of q/k/v_proj and gate/up_proj is divided by it. FACTOR must be a
power of two, so both changes are exact in bf16 and the model computes the same
function; only the inputs of q/k/v and gate/up now carry outlier channels.

Standard library only (the machine has no numpy).
usage: inject_outlier_channels.py SRC_DIR DST_DIR [--channels 7,100,201] [--factor 64]
"""
import argparse
import json
import math
import os
import re
import shutil
import struct
import sys


def fail(msg):
    print(f"inject_outlier_channels: {msg}", file=sys.stderr)
    sys.exit(1)


def scale_bf16(buf, index, factor):
    """Multiply the bf16 value at element `index` of `buf` by `factor` (exactly)."""
    (bits,) = struct.unpack_from("<H", buf, 2 * index)
    (value,) = struct.unpack("<f", struct.pack("<I", bits << 16))
    (scaled,) = struct.unpack("<I", struct.pack("<f", value * factor))
    if scaled & 0xFFFF:
        fail(f"element {index}: {value} * {factor} is not exact in bf16")
    struct.pack_into("<H", buf, 2 * index, scaled >> 16)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--channels", default="7,100,201")
    p.add_argument("--factor", type=float, default=64.0)
    a = p.parse_args()
    channels = [int(c) for c in a.channels.split(",")]
    if a.factor <= 0 or math.log2(a.factor) != int(math.log2(a.factor)):
        fail(f"--factor {a.factor} is not a power of two (the change would not be exact)")
    src_file = os.path.join(a.src, "model.safetensors")
    if not os.path.isfile(src_file):
        fail(f"{src_file}: not found (single-file bf16 checkpoints only)")
    if os.path.exists(a.dst):
        fail(f"{a.dst}: exists; choose a new output directory")

    with open(src_file, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header_bytes = f.read(n)
        header = json.loads(header_bytes)
        data = bytearray(f.read())

    norm = re.compile(r"model\.layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight$")
    linear = re.compile(r"model\.layers\.\d+\.(self_attn\.[qkv]_proj|mlp\.(gate|up)_proj)\.weight$")
    touched = 0
    for name, t in header.items():
        if name == "__metadata__" or not (norm.match(name) or linear.match(name)):
            continue
        if t["dtype"] != "BF16":
            fail(f"{src_file}: {name} is {t['dtype']}, expected BF16")
        begin, end = t["data_offsets"]
        view = memoryview(data)[begin:end]
        cols = t["shape"][-1]
        rows = 1 if len(t["shape"]) == 1 else t["shape"][0]
        for j in channels:
            if j >= cols:
                fail(f"{src_file}: channel {j} is outside {name}'s {cols} columns")
            for r in range(rows):
                scale_bf16(view, r * cols + j, a.factor if rows == 1 else 1.0 / a.factor)
        touched += 1
    if touched == 0:
        fail(f"{src_file}: no Llama-style norm or q/k/v/gate/up weights found")

    tmp = a.dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for entry in os.listdir(a.src):
        if entry != "model.safetensors" and os.path.isfile(os.path.join(a.src, entry)):
            shutil.copyfile(os.path.join(a.src, entry), os.path.join(tmp, entry))
    with open(os.path.join(tmp, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", n))
        f.write(header_bytes)  # tensors keep their places: only values change
        f.write(data)
    os.rename(tmp, a.dst)
    print(f"wrote {a.dst}: channels {channels} x{a.factor:g} in {touched} tensors")


if __name__ == "__main__":
    main()
