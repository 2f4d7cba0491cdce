#!/usr/bin/python3
"""bench_int8_gemm's JSON files (scripts/bench-int8 writes one per ISA run) as Markdown tables.

    scripts/int8_ratios.py runs/bench-int8/*.json

Rows are named <impl>/<isa>/<shape>/threads:<t>; the GOPS counter counts 2 operations per
multiply-add. Ratios are qbench GOPS / peer GOPS: above 1, qbench is faster. Repeated rows
count by their median GOPS, peak rows by their maximum. A ratio of two rows from the same
process with interleaved repetitions (scripts/bench-int8) pairs their repetitions pass by pass
— repetition i of every row ran in the same shuffled pass — and prints the median of the
per-pass ratios with their range, "0.96 (0.88-1.04)"; other ratios divide the medians. Rows that
skipped with an error print as ERR.

Table 1, same ISA: qbench/<isa> against onednn/<isa> (oneDNN capped to that ISA), and where
they exist qbench_narrow/<isa> (weights in [-64, 63]) and qbench_a7/<isa> (activations in
[0, 127] promised u7: the very data oneDNN's avx2/avx512bw rows get), both the vpmaddubsw
kernels.
Table 2, the other peers: qbench's best ISA against gemmlowp/default, openblas_sgemm/default
(fp32 on the same values) and onednn/default (oneDNN's own choice, AMX where it has it).
Table 3, 16-bit accumulation: qbench_acc16/avx2 against qbench/avx2 (exact int32 sums).
Table 4, share of the measured peak: each kernel's GOPS over threads × the peak/<isa>/<sequence>
row of the instruction sequence its inner loop is made of (one core's throughput, measured in
the same process; threads are one per core here).

Why this is not `qbench report --bench` (analysis/bench.h), which also turns Google Benchmark
JSON into ratios: that one is the general tool, one file and one peer per row, mean times. This
script is bench-int8's study and needs what the general tool has no place for: several files
(one process per ISA cap) read as one, ratios paired pass by pass across interleaved
repetitions, medians and fastest repetitions, several peers per row and the peak shares. Both
stay, each for its job; results/int8-gemm-avx2-zen3.md comes from this one.
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_json import read_passes  # noqa: E402

ISAS = ["avx2", "avxvnni", "avx512bw", "avx512vnni"]
SHAPE_ORDER = ["sq256", "sq512", "sq1024", "r20s1", "r20s1_img", "r20s2", "r20s3"]
NAME = re.compile(r"^([^/]+)/([^/]+)/([^/]+)/threads:(\d+)")
PEAK = re.compile(r"^peak/([^/]+)/([^/]+)$")
# The instruction sequence under each kernel: (impl, isa) -> peak/<isa>/<sequence>.
SEQUENCE = {
    ("qbench", "avx2"): "vpmaddwd", ("qbench", "avx512bw"): "vpmaddwd",
    ("qbench", "avxvnni"): "vpdpbusd", ("qbench", "avx512vnni"): "vpdpbusd",
    ("qbench_narrow", "avx2"): "vpmaddubsw", ("qbench_narrow", "avx512bw"): "vpmaddubsw",
    ("qbench_a7", "avx2"): "vpmaddubsw", ("qbench_a7", "avx512bw"): "vpmaddubsw",
    ("qbench_acc16", "avx2"): "vpmaddubsw_acc16",
    ("onednn", "avx2"): "vpmaddubsw", ("onednn", "avx512bw"): "vpmaddubsw",
    ("onednn", "avxvnni"): "vpdpbusd", ("onednn", "avx512vnni"): "vpdpbusd",
}


def load(paths):
    """{(impl, isa, shape, threads): (median GOPS or None for errors, label, passes)}, with the
    peak rows as ("peak", isa, sequence, 1) holding their maximum; passes maps (file, repetition
    index) to that repetition's GOPS."""
    def key_of(name):
        m, p = NAME.match(name), PEAK.match(name)
        if m:
            return (m[1], m[2], m[3], int(m[4]))
        return ("peak", p[1], p[2], 1) if p else None

    gops, errors, labels = read_passes(paths, key_of, lambda b: b["GOPS"])
    # A peak is the best the core did: interference (a shared host, frequency drift) only ever
    # slows a run down, so the fastest repetition is its estimate, not the median.
    rows = {k: ((max if k[0] == "peak" else statistics.median)(v.values()), labels.get(k, ""), v)
            for k, v in gops.items()}
    for k in errors.keys() - rows.keys():
        rows[k] = (None, errors[k], {})
    return rows


def fmt(x):
    return "ERR" if x is None else f"{x:.1f}"


def ratio(rows, a, b):
    """rows[a] / rows[b]: paired by pass when both have the same two or more passes."""
    ra, rb = rows.get(a), rows.get(b)
    if not ra or not rb or ra[0] is None or rb[0] is None or rb[0] == 0:
        return "–"
    common = ra[2].keys() & rb[2].keys()
    # Rows run without repetitions are keyed by their own position in the file, so two of
    # them never share a pass and fall through to the medians.
    if len(common) < 2:
        return f"{ra[0] / rb[0]:.2f}"
    per_pass = [ra[2][k] / rb[2][k] for k in common]
    return f"{statistics.median(per_pass):.2f} ({min(per_pass):.2f}-{max(per_pass):.2f})"


def cell(rows, key):
    return fmt(rows[key][0]) if key in rows else "–"


def main(paths):
    if not paths:
        sys.exit("usage: int8_ratios.py FILE.json...")
    rows = load(paths)
    shapes = sorted({k[2] for k in rows if k[0] != "peak"},
                    key=lambda s: (SHAPE_ORDER.index(s) if s in SHAPE_ORDER else 99, s))
    threads = sorted({k[3] for k in rows if k[0] != "peak"})
    get = lambda *k: rows.get(k, (None, "", {}))[0]

    print("### qbench vs oneDNN at the same ISA cap (GOPS; ratio = qbench / oneDNN)\n")
    print("| shape | threads | isa | qbench | oneDNN | qbench/oneDNN | qbench_narrow | "
          "narrow/oneDNN | qbench_a7 | a7/oneDNN | oneDNN implementation |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in shapes:
        for t in threads:
            for isa in ISAS:
                q, o = ("qbench", isa, s, t), ("onednn", isa, s, t)
                qn, qa = ("qbench_narrow", isa, s, t), ("qbench_a7", isa, s, t)
                if q not in rows and o not in rows:
                    continue
                impl = rows[o][1] if o in rows else ""
                print(f"| {s} | {t} | {isa} | {cell(rows, q)} | {cell(rows, o)} | "
                      f"{ratio(rows, q, o)} | {cell(rows, qn)} | "
                      f"{ratio(rows, qn, o)} | {cell(rows, qa)} | "
                      f"{ratio(rows, qa, o)} | {impl} |")

    print("\n### qbench's best ISA vs the other peers (GOPS; ratios = qbench best / peer)\n")
    print("| shape | threads | qbench best | gemmlowp | best/gemmlowp | openblas_sgemm | "
          "best/openblas | oneDNN default | best/oneDNN default |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for s in shapes:
        for t in threads:
            ours = [(get("qbench", i, s, t), i) for i in ISAS if get("qbench", i, s, t)]
            best, best_isa = max(ours) if ours else (None, "")
            q = ("qbench", best_isa, s, t)
            g, b = ("gemmlowp", "default", s, t), ("openblas_sgemm", "default", s, t)
            od = ("onednn", "default", s, t)
            od_cell = cell(rows, od) + (f" ({rows[od][1]})" if od in rows and rows[od][1] else "")
            best_cell = f"{fmt(best)} ({best_isa})" if ours else "–"
            print(f"| {s} | {t} | {best_cell} | {cell(rows, g)} | {ratio(rows, q, g)} | "
                  f"{cell(rows, b)} | {ratio(rows, q, b)} | {od_cell} | {ratio(rows, q, od)} |")
    print("\n### 16-bit against 32-bit accumulation, AVX2 (GOPS; ratio = acc16 / int32)\n")
    print("| shape | threads | qbench_acc16 | qbench | acc16/int32 |")
    print("|---|---:|---:|---:|---:|")
    for s in shapes:
        for t in threads:
            a16, a32 = ("qbench_acc16", "avx2", s, t), ("qbench", "avx2", s, t)
            if a16 in rows:
                print(f"| {s} | {t} | {cell(rows, a16)} | {cell(rows, a32)} | "
                      f"{ratio(rows, a16, a32)} |")
    peaks = {(k[1], k[2]): v[0] for k, v in rows.items() if k[0] == "peak" and v[0]}
    if peaks:
        print("\n### Share of the measured peak (GOPS / (threads × one core's peak of the "
              "kernel's instruction sequence))\n")
        print("| isa | sequence | peak GOPS per core | kernel | " +
              " | ".join(f"{s} t{t}" for s in shapes for t in threads) + " |")
        print("|---|---|---:|---|" + "---:|" * (len(shapes) * len(threads)))
        for (impl, isa), seq in SEQUENCE.items():
            peak = peaks.get((isa, seq))
            if peak is None or not any((impl, isa, s, t) in rows for s in shapes for t in threads):
                continue
            shares = [(f"{100 * get(impl, isa, s, t) / (peak * t):.0f}%"
                       if get(impl, isa, s, t) else "–") for s in shapes for t in threads]
            print(f"| {isa} | {seq} | {peak:.1f} | {impl} | " + " | ".join(shares) + " |")
    print("gemmlowp packs its weights inside every call (no prepacked API); qbench and oneDNN "
          "pack once, outside the timed loop.")
    print("oneDNN's avx2 and avx512bw rows and qbench_a7 use activations in [0, 127] "
          "(vpmaddubsw saturates pairs to int16 beyond); all other rows use [0, 255].")


if __name__ == "__main__":
    main(sys.argv[1:])
