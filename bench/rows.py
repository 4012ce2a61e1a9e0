#!/usr/bin/env python3
"""The one row format of every benchmark, and the table `make bench` (bench/run.sh) prints.

A row is one JSON line on a bench script's stdout, beginning with {"bench": ...}: one measured quantity
for vstar and its peer, both measured in the same run, the ratio and the target.

  ratio  = vstar / peer for quantities where higher is better (throughput), peer / vstar for times
           (so a ratio above 1 means vstar is faster either way), vstar / peer for memory (lower is
           better, "better": "lower").
  target = the ratio the project aims at, or null.

usage (from shell): rows.py row BENCH NAME UNIT VSTAR PEER_NAME PEER [higher|time|lower] [TARGET]
        rows.py table FILE...   (prints the table of every row in FILE..., then the rows as one JSON array)
from Python: sys.path.insert(0, bench_dir); from rows import row; row(...)
"""
import json
import math
import sys


def make(bench, name, unit, vstar, peer_name, peer, kind="higher", target=None):
    vstar, peer = float(vstar), float(peer)
    if kind == "time":
        ratio = peer / vstar if vstar > 0 else math.inf
    else:
        ratio = vstar / peer if peer > 0 else math.inf
    return {"bench": bench, "row": name, "unit": unit, "vstar": round(vstar, 4), "peer_name": peer_name,
            "peer": round(peer, 4), "ratio": round(ratio, 3), "better": "lower" if kind == "lower" else "higher",
            "target": None if target in (None, "", "null") else float(target)}


def row(*args, **kw):
    print(json.dumps(make(*args, **kw)), flush=True)


def meets(r):
    if r["target"] is None:
        return "-"
    ok = r["ratio"] >= r["target"] if r["better"] == "higher" else r["ratio"] <= r["target"]
    return "yes" if ok else "NO"


def table(files):
    rows = []
    for f in files:
        for line in open(f, encoding="utf-8"):
            if line.startswith('{"bench":'):
                rows.append(json.loads(line))
    head = ["bench", "row", "vstar", "peer", "peer value", "ratio", "target", "met"]
    body = [[r["bench"], r["row"], f'{r["vstar"]:.4g} {r["unit"]}', r["peer_name"], f'{r["peer"]:.4g}',
             f'{r["ratio"]:.2f}x', "-" if r["target"] is None else
             ("<= " if r["better"] == "lower" else ">= ") + f'{r["target"]:g}x', meets(r)] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
    for line in [head, ["-" * w for w in widths]] + body:
        print(" | ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    print(json.dumps(rows))
    return rows


if __name__ == "__main__":
    if len(sys.argv) >= 8 and sys.argv[1] == "row":
        a = sys.argv[2:]
        row(a[0], a[1], a[2], a[3], a[4], a[5], *(a[6:8]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)
