#!/usr/bin/python3
"""The cost of QAT per method: bench_quantizers' training-step rows against FP32, paired pass
by pass, as a Markdown table.

    build/bench_quantizers --benchmark_filter='_step/.*threads:1' \\
        --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true \\
        --benchmark_min_time=1 --benchmark_out=runs/qat-steps.json
    scripts/qat_step_ratios.py runs/qat-steps.json

Rows are <net>_step/<method>_w<W>a<A>/threads:<t> (lenet5_step/none/threads:<t> is the network
without quantizers; resnet20_step likewise). When APT's W8A8G8 rows are present
(<net>_step/apt_w8a8g8_integer and _fake-quant), a second table gives issue 17's three speed
ratios, each paired per pass: FP32 step / APT integer step (the paper's "252%" read as 2.52×;
goal 1.5× on ResNet-20), APT fake-quant step / APT integer step, and FP32 / APT fake-quant. A method's cost is its step time over the plain
FP32 step's time, minus one: "+4.1% (+1.0..+7.3)". With interleaved repetitions, repetition i
of every row ran in the same shuffled pass, so the ratio is taken per pass and the median of
the passes is printed with their range. Timing medians alone spread ±15% on a shared host,
which hides a 5% cost; pairing by pass cancels the drift the two rows share.
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_json import read_passes  # noqa: E402

NAME = re.compile(r"^(\w+)_step/([^/]+)/threads:(\d+)")


def load(paths):
    """{(net, variant, threads): {pass: seconds per step}}; rows that failed are left out."""
    def key_of(name):
        m = NAME.match(name)
        return (m[1], m[2], int(m[3])) if m else None

    return read_passes(paths, key_of, lambda b: b["real_time"])[0]


def cost(row, base):
    """row/base − 1 in percent, paired per pass when they share two or more passes."""
    common = row.keys() & base.keys()
    if len(common) < 2:
        r = statistics.median(row.values()) / statistics.median(base.values())
        return f"{100 * (r - 1):+.1f}%"
    per_pass = sorted(100 * (row[k] / base[k] - 1) for k in common)
    return (f"{statistics.median(per_pass):+.1f}% ({per_pass[0]:+.1f}..{per_pass[-1]:+.1f}, "
            f"{len(per_pass)} passes)")


def speedup(slow, fast):
    """slow/fast as a factor, paired per pass when they share two or more passes."""
    common = slow.keys() & fast.keys()
    if len(common) < 2:
        return f"{statistics.median(slow.values()) / statistics.median(fast.values()):.2f}×"
    per_pass = sorted(slow[k] / fast[k] for k in common)
    return (f"{statistics.median(per_pass):.2f}× ({per_pass[0]:.2f}..{per_pass[-1]:.2f}, "
            f"{len(per_pass)} passes)")


def apt_table(rows):
    """Issue 17's ratios for each (net, threads) holding the three rows, as Markdown lines."""
    lines = []
    for net, threads in sorted({(k[0], k[2]) for k in rows}):
        fp32 = rows.get((net, "none", threads))
        integer = rows.get((net, "apt_w8a8g8_integer", threads))
        fake = rows.get((net, "apt_w8a8g8_fake-quant", threads))
        if not (fp32 and integer and fake):
            continue
        lines.append(f"| {net} | {threads} | {speedup(fp32, integer)} | {speedup(fake, integer)} "
                     f"| {speedup(fp32, fake)} |")
    if not lines:
        return []
    return ["", "| net | threads | FP32 / APT integer | APT fake-quant / APT integer "
            "| FP32 / APT fake-quant |", "|---|---|---|---|---|"] + lines


def main(paths):
    rows = load(paths)
    print("| net | threads | method | ms per step (median) | cost vs FP32, paired |")
    print("|---|---|---|---|---|")
    for net, threads in sorted({(k[0], k[2]) for k in rows}):
        base = rows.get((net, "none", threads))
        if not base:
            continue
        for (n, variant, t), row in sorted(rows.items()):
            if (n, t) != (net, threads) or variant == "none":
                continue
            ms = statistics.median(row.values())
            print(f"| {net} | {threads} | {variant} | {ms:.2f} | {cost(row, base)} |")
    for line in apt_table(rows):
        print(line)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
