#!/usr/bin/python3
"""bench_infer's 16-bit accumulation rows (issue 16, "Speed") as a Markdown table.

    build/bench_infer --benchmark_filter='^infer/acc(16|32)/' --benchmark_repetitions=10 \\
        --benchmark_enable_random_interleaving=true --benchmark_min_time=0.2 \\
        --benchmark_out=acc16.json --benchmark_out_format=json
    scripts/infer_acc16_ratios.py acc16.json

Rows are infer/<acc16|acc32>/<net>/batch:<B>/threads:<T>, images per second of one overflow-free
W8A7 network (benchmarks/bench_infer.cpp): acc16 runs pair-wrap on gemm_acc16 (vpmaddubsw +
vpaddw), acc32 the exact int32 path. The ratio acc16 / acc32 above 1 is what the 16-bit
accumulator buys end to end. With interleaved repetitions, repetition i of both rows ran in the
same shuffled pass, and the ratio is the median of the per-pass ratios with their range (the
pairing of scripts/int8_ratios.py, imported from it: one definition); otherwise the medians
divide.
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_json import read_passes  # noqa: E402
from int8_ratios import ratio  # noqa: E402

NAME = re.compile(r"^infer/(acc16|acc32)/([^/]+)/batch:(\d+)/threads:(\d+)")
NETS = ["lenet5", "resnet20", "mobilenet_tiny"]


def load(paths):
    """{(acc, net, batch, threads): (median images/s or None for errors, label, passes)}."""
    def key_of(name):
        m = NAME.match(name)
        return (m[1], m[2], int(m[3]), int(m[4])) if m else None

    ips, errors, labels = read_passes(paths, key_of, lambda b: b["items_per_second"])
    rows = {k: (statistics.median(v.values()), labels.get(k, ""), v) for k, v in ips.items()}
    for k in errors.keys() - rows.keys():
        rows[k] = (None, errors[k], {})
    return rows


def main(paths):
    if not paths:
        sys.exit("usage: infer_acc16_ratios.py FILE.json...")
    rows = load(paths)
    cases = sorted({k[1:] for k in rows},
                   key=lambda c: (NETS.index(c[0]) if c[0] in NETS else 99, c[0], -c[1], c[2]))
    fmt = lambda k: ("ERR " + rows[k][1]) if k in rows and rows[k][0] is None else (
        f"{rows[k][0]:.0f}" if k in rows else "–")
    print("### End-to-end integer inference, 16-bit vs 32-bit accumulation "
          "(images/s; ratio = acc16 / acc32)\n")
    print("| net | batch | threads | acc16 | acc32 | acc16/acc32 | isa |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for net, batch, threads in cases:
        a16, a32 = ("acc16", net, batch, threads), ("acc32", net, batch, threads)
        isa = rows.get(a16, rows.get(a32))[1]
        print(f"| {net} | {batch} | {threads} | {fmt(a16)} | {fmt(a32)} | "
              f"{ratio(rows, a16, a32)} | {isa} |")


if __name__ == "__main__":
    main(sys.argv[1:])
