#!/usr/bin/env python3
"""The markdown table the quality benchmarks print: one row per file of a
`llm-quantize quality compare --format json` report, with KLD, perplexity,
its change against the original (dPPL), same-top-1 and the mean next-token
entropy (a file more or less confident than the original), sorted by file
name unless --keep-order.

    python3 bench/quality_table.py compare.json [--keep-order]
"""
import json
import sys

path = sys.argv[1]
rows = json.load(open(path))
rows = rows["rows"] if isinstance(rows, dict) else rows
base = next(r for r in rows if r["is_base"])
files = [r for r in rows if not r["is_base"]]
if "--keep-order" not in sys.argv[2:]:
    files.sort(key=lambda r: r["model"])
print(f"| file | bytes | KLD | PPL (base {base['perplexity']:.3f}) | dPPL | same top-1 % "
      f"| entropy (base {base.get('entropy', 0):.4f}) |")
print("|---|---|---|---|---|---|---|")
for r in files:
    d = 100 * (r["perplexity"] / base["perplexity"] - 1)
    print(f"| {r['model']} | {r['file_bytes']} | {r['kld_mean']:.5f} | {r['perplexity']:.3f} | {d:+.2f}% "
          f"| {100 * r['top1_agreement']:.2f} | {r.get('entropy', 0):.4f} |")
