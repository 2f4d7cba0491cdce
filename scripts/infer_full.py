#!/usr/bin/env python3
"""Integer inference of kept sweep checkpoints against the exact simulation on every test image.

    scripts/infer_full.py --out DIR [--qbench build/qbench] [--acc int32 ...] [--threads 1]
                          [NAME=CHECKPOINT ...]

A sweep checks its cells' integer engine against the simulation on the first images only
(`integer.simulate`: the simulation is scalar and slow); this runs `qbench infer
--simulate-limit 0` on the checkpoints a sweep kept (<out>/qat/<cell key>.h5), so that every
one of the 10,000 test images is compared, layer by layer, code by code. One thread by default:
the run can share the machine with a sweep, and results do not depend on the thread count. Each result is written
to DIR/NAME.<acc>.json (NAME: a label such as resnet20-alt-w8a8-s1); results already there are
not computed again. Then, from every JSON in DIR, a Markdown table on stdout: images simulated,
images whose codes or logits differ from the simulation, top-1 of the engine and of the
fake-quant network, and their agreement (disagreements counted).
"""
import argparse
import glob
import json
import os
import subprocess
import sys


def run(qbench, checkpoint, acc, threads, path):
    r = subprocess.run([qbench, "infer", checkpoint, "--acc", acc, "--simulate-limit", "0",
                        "--threads", str(threads)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"infer_full: {checkpoint} ({acc}): {r.stderr.strip().splitlines()[-1]}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(r.stdout)
    os.replace(tmp, path)  # a killed run leaves no half-written result


def table(out):
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        d = json.load(open(path))
        q = d["quantization"]
        name = os.path.basename(path)[: -len(".json")].rsplit(".", 1)[0]
        bits = f"W{q['wbits']}A{q['abits']}"
        ref, agree = d["reference"], d["agreement"]
        rows.append(
            f"| {name} | {d['net']} | {q['method']} {bits} | {d['acc']} | {ref['images']:,} | "
            f"{ref['mismatches']} | {'yes' if ref['overflow_counts_equal'] else 'no'} | "
            f"{100 * d['accuracy']:.2f} | {100 * d['fake_quant_accuracy']:.2f} | "
            f"{100 * agree['fraction']:.2f} ({agree['disagreements']}) |")
    print("| checkpoint | net | method | accumulator | images simulated | ≠ simulation | "
          "overflow counts equal | integer top-1 (%) | fake-quant top-1 (%) | "
          "agreement (%) (disagreements) |")
    print("|---|---|---|---|---:|---:|---|---:|---:|---:|")
    print("\n".join(rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--qbench", default="build/qbench")
    ap.add_argument("--acc", nargs="+", default=["int32"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("checkpoints", nargs="*", metavar="NAME=CHECKPOINT")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for item in a.checkpoints:
        name, sep, checkpoint = item.partition("=")
        if not sep or not name or not checkpoint:
            sys.exit(f"infer_full: '{item}': expected NAME=CHECKPOINT")
        for acc in a.acc:
            path = os.path.join(a.out, f"{name}.{acc}.json")
            if not os.path.exists(path):
                print(f"infer_full: {name} ({acc}) ...", file=sys.stderr)
                run(a.qbench, checkpoint, acc, a.threads, path)
    table(a.out)


if __name__ == "__main__":
    main()
