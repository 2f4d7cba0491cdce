#!/usr/bin/python3
"""Issue 20's PACT case: `qbench train --net lenet5 --method pact --wbits 8 --abits 8 --lr 0.05
--epochs 1` from scratch on Fashion-MNIST. It does not learn (see methods/pact.h: DoReFa weights,
normalised to |w| <= 1 per tensor, without BatchNorm saturate every PACT clip at its initial
alpha of 8-10, and the last hidden layer's alpha is driven to its floor), and it must say so:
alpha stays in its domain (alpha >= 1e-3), the run ends with the chance warning on stderr and
in its JSON. minmax, on the same command, learns (>= 80%) and gives no warning. Run by CTest:
    tests/pact_scratch_test.py build/qbench
"""
import json
import re
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
warning = re.compile(r"^warning: validation accuracy \d+\.\d\d% after epoch 1 is at chance "
                     r"\(10\.00% for 10 classes\): the network is not learning \(learning rate\? "
                     r"quantizer ranges\?\)$", re.M)
check("pact: the chance warning on stderr", warning.search(r.stderr), r.stderr[-2000:])
check("pact: the same warning in the JSON",
      len(summary.get("warnings", [])) == 1 and warning.match(summary["warnings"][0]), summary)
alphas = [l["input"]["stats"]["alpha"] for l in summary.get("layers", []) if "input" in l]
check("pact: every alpha in its domain", alphas and min(alphas) >= 1e-3, alphas)

r = train("minmax")
summary = json.loads(r.stdout) if r.returncode == 0 else {}
check("minmax learns", summary.get("test_accuracy", 0) >= 0.8, r.stderr[-2000:])
check("minmax: no warning", "warnings" not in summary and "warning" not in r.stderr, r.stderr)

finish("pact_scratch_test")
