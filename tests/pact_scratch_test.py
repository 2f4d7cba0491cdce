#!/usr/bin/python3
"""Issue 20's PACT case: `qbench train --net lenet5 --method pact --wbits 8 --abits 8 --lr 0.05
--epochs 1` from scratch on Fashion-MNIST learns (>= 80% test accuracy, no warning) with every
alpha in its domain, as minmax does on the same command. It stayed at chance while PACT's
DoReFa weights lost their scale (methods/pact.h says why). Run by CTest:
    tests/pact_scratch_test.py build/qbench
"""
import json
import subprocess
import sys

from checks import check, finish

QBENCH = sys.argv[1]


def train(method):
    return subprocess.run([QBENCH, "train", "--net", "lenet5", "--method", method, "--wbits", "8",
                           "--abits", "8", "--lr", "0.05", "--epochs", "1", "--threads", "2"],
                          capture_output=True, text=True, timeout=1800)


r = train("pact")
check("pact exits 0", r.returncode == 0, r.stderr[-2000:])
summary = json.loads(r.stdout) if r.returncode == 0 else {}
check("pact learns", summary.get("test_accuracy", 0) >= 0.8, r.stderr[-2000:])
check("pact: no warning", "warnings" not in summary and "warning" not in r.stderr, r.stderr)
alphas = [l["input"]["stats"]["alpha"] for l in summary.get("layers", []) if "input" in l]
# Every layer but the first (whose input, the image, stays in floating point) has a clip.
check("pact: every alpha in its domain", len(alphas) == 4 and min(alphas) >= 1e-3, alphas)

r = train("minmax")
summary = json.loads(r.stdout) if r.returncode == 0 else {}
check("minmax learns", summary.get("test_accuracy", 0) >= 0.8, r.stderr[-2000:])
check("minmax: no warning", "warnings" not in summary and "warning" not in r.stderr, r.stderr)

finish("pact_scratch_test")
