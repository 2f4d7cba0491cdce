#!/usr/bin/python3
"""Issue 17's sweep from scratch, end to end on synthetic data: fp32 and APT cells with
`"init": "scratch"` train without any FP32 pretraining, with the config's fp32 recipe; the merged
file carries `init`, APT's share of tensor-steps per width and its per-tensor widths per epoch;
`qbench report` tables APT against FP32 and plots the widths per layer. Run by CTest:
    tests/sweep_apt_test.py build/qbench
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import h5py

from checks import check, finish, summary, write

QBENCH = os.path.abspath(sys.argv[1])
EPOCHS = 2
CONFIG = {
    "name": "apt-scratch-test",
    "dataset": "synthetic",
    "networks": ["lenet5"],
    "seeds": [1],
    "fp32": {"epochs": EPOCHS, "lr": 0.05},
    "finetune": {"epochs": 1, "lr": 0.01},
    "methods": [
        {"name": "fp32", "init": "scratch", "wbits": 32, "abits": 32},
        {"name": "apt", "init": "scratch", "options": {"gemm": "integer"}, "wbits": 8,
         "abits": 8, "gbits": 8},
    ],
}
SPEC = {"schema": 1, "name": "apt-test", "network": "lenet5", "dataset": "synthetic",
        "baseline": {"label": "FP32", "method": "fp32", "init": "scratch"},
        "rows": [{"label": "APT scratch", "method": "apt", "init": "scratch"}],
        "columns": [{"label": "G8", "gbits": 8}]}


def run(*args):
    return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=600)


with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sweep.json"), CONFIG)
    out = os.path.join(tmp, "out")

    r = run("sweep", cfg, "--dry-run")
    check("dry run succeeds", r.returncode == 0, r.stderr)
    names = [l.split()[1] for l in r.stdout.splitlines()]
    check("two cells, both from scratch", len(names) == 2 and
          all(n.endswith("/scratch") for n in names), r.stdout)
    check("no FP32 pretraining planned", "0 FP32 pretrainings" in r.stderr, r.stderr)

    r = run("sweep", cfg, "--out", out, "--threads", "1", "--quiet")
    check("sweep succeeds", r.returncode == 0, r.stderr)
    fp32_dir = os.path.join(out, "fp32")
    check("nothing pretrained", not os.path.isdir(fp32_dir) or not os.listdir(fp32_dir),
          os.listdir(fp32_dir) if os.path.isdir(fp32_dir) else "")

    merged = os.path.join(tmp, "results.h5")
    r = run("merge", out, "-o", merged)
    check("merge succeeds", r.returncode == 0, r.stderr)
    rows = {row["method"]: row for row in summary(merged).values()} if r.returncode == 0 else {}
    check("both cells merged", set(rows) == {"fp32", "apt"}, rows.keys())
    apt, fp32 = rows.get("apt", {}), rows.get("fp32", {})
    check("init column says scratch", apt.get("init") == "scratch" and
          fp32.get("init") == "scratch", (apt.get("init"), fp32.get("init")))
    check("trained for the fp32 recipe's epochs", apt.get("epochs") == EPOCHS, apt.get("epochs"))
    shares = [apt.get("apt_share_%d" % b, math.nan) for b in (8, 16, 24)]
    check("APT shares are fractions summing to 1",
          all(0 <= s <= 1 for s in shares) and abs(sum(shares) - 1) < 1e-12, shares)
    check("fp32 has no APT shares", all(math.isnan(fp32.get("apt_share_%d" % b, 0))
                                        for b in (8, 16, 24)), fp32)

    # The per-tensor record behind the shares, as docs/results-format.md describes it.
    with h5py.File(merged, "r") as f:
        layers = json.loads(f["cells"][apt["key"]]["layers"][()]) if apt else []
    tensors = [(l["layer"], t, l[t]["stats"]) for l in layers for t in ("input", "weight", "grad")
               if t in l]
    check("every conv/linear layer has its three tensors", len(tensors) == 3 * len(layers) > 0,
          len(tensors))
    check("one width per epoch per tensor",
          all(len(s["epochs"]) == EPOCHS and all(e["bits"] in (8, 16, 24) for e in s["epochs"])
              for _, _, s in tensors), tensors[:1])
    total = sum(sum(s["steps_at_bits"].values()) for _, _, s in tensors)
    at8 = sum(s["steps_at_bits"]["8"] for _, _, s in tensors)
    check("the summary's share is the tensor-steps' share", total > 0 and
          abs(at8 / total - shares[0]) < 1e-12, (at8, total, shares))

    # The table: APT against the FP32 baseline.
    spec = write(os.path.join(tmp, "spec.json"), SPEC)
    plots = os.path.join(tmp, "plots")
    r = run("report", merged, "--spec", spec, "--format", "md", "--plots", plots)
    check("report succeeds", r.returncode == 0, r.stderr)
    check("table has the APT row and the FP32 baseline",
          "APT scratch" in r.stdout and "FP32" in r.stdout, r.stdout)
    if shutil.which("gnuplot"):
        written = os.listdir(plots) if os.path.isdir(plots) else []
        stem = os.path.join(plots, "apt-widths-apt-lenet5-s1-scratch")
        check("width plot written", all(os.path.exists(stem + e) and os.path.getsize(stem + e) > 0
                                        for e in (".svg", ".png")), written)
        check("no width plot for the fp32 cell",
              not any("fp32" in n for n in written if n.startswith("apt-widths")), written)
    else:
        print("sweep_apt_test: gnuplot absent, plot checks skipped")

finish("sweep_apt_test")
