#!/usr/bin/env python3
"""APT's training speed: one epoch of APT W8A8G8 on the integer path, on its fake-quant path and
FP32, timed in one run with the binaries alternated, and the Markdown table the README quotes.

  scripts/apt_epoch_times.py [--qbench build/qbench] [--base OLD_QBENCH] [--rounds 2]
                             [--nets resnet20 lenet5] [--avx2] [--out FILE.json]
  scripts/apt_epoch_times.py --from FILE.json      (the table again, from stored runs)

Each round runs, per network and ISA setting, the integer path of --base (when given), then
the integer path, the fake-quant path and FP32 of --qbench: `qbench train --epochs 1 --threads 1
--lr 0.05` (ResNet-20 on the first 6,400 training images, 1,000 held out). --avx2 adds rows with
every library capped at AVX2 on the same machine (QB_MAX_ISA=avx2, ONEDNN_MAX_CPU_ISA=AVX2,
OPENBLAS_CORETYPE=Haswell), a stand-in for an AVX2-only CPU. The epoch's seconds are the
training loop's own ("seconds" of the run's history), not the process's. Time nothing else
meanwhile: on two cores a second process moves a ratio by 20-50%.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

AVX2_ENV = {"QB_MAX_ISA": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
MODES = {
    "integer": ["--method", "apt", "--wbits", "8", "--abits", "8", "--gbits", "8",
                "--opt", "gemm=integer"],
    "fake-quant": ["--method", "apt", "--wbits", "8", "--abits", "8", "--gbits", "8",
                   "--opt", "gemm=fake-quant"],
    "fp32": ["--method", "fp32"],
}
NET_ARGS = {"resnet20": ["--train-limit", "6400", "--val-size", "1000"], "lenet5": []}
NET_NAMES = {"resnet20": "ResNet-20", "lenet5": "LeNet-5"}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def epoch(binary, net, mode, env, tmp):
    out = os.path.join(tmp, "run.h5")
    cmd = [binary, "train", "--net", net, *MODES[mode], "--epochs", "1", "--threads", "1",
           "--lr", "0.05", *NET_ARGS[net], "--out", out]
    run = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    j = json.loads(run.stdout)
    return {"seconds": j["history"][0]["seconds"], "test_accuracy": j["test_accuracy"],
            "test_loss": j["test_loss"]}


def measure(args):
    settings = [("native", {})] + ([("avx2", AVX2_ENV)] if args.avx2 else [])
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for net in args.nets:
                for setting, env in settings:
                    jobs = ([("base", args.base, "integer")] if args.base else []) + [
                        ("qbench", args.qbench, m) for m in ("integer", "fake-quant", "fp32")]
                    for which, binary, mode in jobs:
                        res = epoch(binary, net, mode, env, tmp)
                        res.update(round=r, net=net, isa=setting, binary=which, mode=mode)
                        print(f"round {r + 1} {net} {setting} {which} {mode}: "
                              f"{res['seconds']:.2f} s", file=sys.stderr)
                        runs.append(res)
    return {"cpu": cpu_name(), "qbench": args.qbench, "base": args.base, "runs": runs}


def table(data):
    runs = data["runs"]

    def secs(net, isa, binary, mode):
        return [x["seconds"] for x in runs
                if (x["net"], x["isa"], x["binary"], x["mode"]) == (net, isa, binary, mode)]

    def fmt(v):
        return ", ".join(f"{s:.1f}" for s in v) if v else "–"

    has_base = any(x["binary"] == "base" for x in runs)
    head = ["", *(["APT integer, before"] if has_base else []), "APT integer", "APT fake-quant",
            "FP32", "integer vs FP32", "integer vs fake-quant"]
    lines = ["| " + " | ".join(head).lstrip() + " |", "|" + "---|" * len(head)]
    keys = []
    for x in runs:
        if (x["net"], x["isa"]) not in keys:
            keys.append((x["net"], x["isa"]))
    for net, isa in keys:
        integer, fq, fp32 = (secs(net, isa, "qbench", m) for m in ("integer", "fake-quant", "fp32"))
        # Speed ratios of runs in the same round (time of the peer / time of the integer path).
        vs_fp32 = [b / a for a, b in zip(integer, fp32)]
        vs_fq = [b / a for a, b in zip(integer, fq)]
        label = f"{NET_NAMES.get(net, net)}, {'capped to AVX2' if isa == 'avx2' else 'native'}"
        row = [label, *([fmt(secs(net, isa, "base", "integer"))] if has_base else []),
               fmt(integer), fmt(fq), fmt(fp32),
               f"{min(vs_fp32):.2f}–{max(vs_fp32):.2f}×", f"{min(vs_fq):.2f}–{max(vs_fq):.2f}×"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + f"\n\nSeconds per epoch, 1 thread, {data['cpu']}.\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--qbench", default="build/qbench")
    p.add_argument("--base", help="an older qbench whose integer path is timed alongside")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--nets", nargs="+", default=["resnet20", "lenet5"], choices=list(NET_ARGS))
    p.add_argument("--avx2", action="store_true", help="also time with every library at AVX2")
    p.add_argument("--out", help="write the measurements here (JSON)")
    p.add_argument("--from", dest="source", help="print the table of stored measurements")
    args = p.parse_args()
    if args.source:
        with open(args.source) as f:
            data = json.load(f)
    else:
        data = measure(args)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(data, f, indent=1)
                f.write("\n")
    print(table(data), end="")


if __name__ == "__main__":
    main()
