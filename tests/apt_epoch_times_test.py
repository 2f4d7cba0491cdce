#!/usr/bin/python3
"""scripts/apt_epoch_times.py with a stand-in qbench whose epoch takes a known time: the jobs run
per round (the --base binary's integer path first), --avx2 caps every library through the
environment, the ratios pair runs of one round (a round that slows everything 3x changes
none), and the committed measurements print the rows the README quotes. Run by CTest:
    tests/apt_epoch_times_test.py scripts/apt_epoch_times.py README.md results/apt-epoch-times-zen4.json
"""
import json
import os
import stat
import subprocess
import sys
import tempfile

from checks import check, finish

SCRIPT, README, STORED = (os.path.abspath(a) for a in sys.argv[1:4])

# Seconds by (binary, mode, ISA cap); the n-th call of a round-2 run takes 3x as long.
FAKE = r'''#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
mode = "fp32" if "fp32" in args else args[args.index("--opt") + 1].split("=")[1]
isa = os.environ.get("QB_MAX_ISA", "native")
assert isa == "native" or (os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
                           and os.environ["OPENBLAS_CORETYPE"] == "Haswell")
count = os.path.join(os.path.dirname(sys.argv[0]), "calls")
n = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(n + 1))
base = {"integer": 10.0, "fake-quant": 15.0, "fp32": 20.0}[mode] * (2 if isa == "avx2" else 1)
base *= 4 if os.path.basename(sys.argv[0]) == "old" else 1
slow = 3 if n >= int(os.environ["CALLS_PER_ROUND"]) else 1
with open(args[args.index("--out") + 1], "w") as f:
    f.write("h5")
print(json.dumps({"history": [{"seconds": base * slow}], "test_accuracy": 0.5,
                  "test_loss": 1.0}))
'''

with tempfile.TemporaryDirectory() as d:
    for name in ("qbench", "old"):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(FAKE)
        os.chmod(path, stat.S_IRWXU)
    out = os.path.join(d, "times.json")
    env = {**os.environ, "CALLS_PER_ROUND": "8"}  # one net, two ISA settings, 4 jobs each
    r = subprocess.run(["/usr/bin/python3", SCRIPT, "--qbench", os.path.join(d, "qbench"),
                        "--base", os.path.join(d, "old"), "--nets", "resnet20", "--avx2",
                        "--out", out], capture_output=True, text=True, env=env)
    check("script runs", r.returncode == 0, r.stderr)
    data = json.load(open(out))
    order = [(x["round"], x["isa"], x["binary"], x["mode"]) for x in data["runs"]]
    check("jobs in order", order[:4] == [(0, "native", "base", "integer"),
                                         (0, "native", "qbench", "integer"),
                                         (0, "native", "qbench", "fake-quant"),
                                         (0, "native", "qbench", "fp32")], order)
    check("two rounds, two settings", len(order) == 16, order)
    check("native row", "| ResNet-20, native | 40.0, 120.0 | 10.0, 30.0 | 15.0, 45.0 | "
          "20.0, 60.0 | 2.00–2.00× | 1.50–1.50× |" in r.stdout, r.stdout)
    check("AVX2 row", "| ResNet-20, capped to AVX2 | 80.0, 240.0 | 20.0, 60.0 | 30.0, 90.0 | "
          "40.0, 120.0 | 2.00–2.00× | 1.50–1.50× |" in r.stdout, r.stdout)

r = subprocess.run(["/usr/bin/python3", SCRIPT, "--from", STORED], capture_output=True, text=True)
check("stored table prints", r.returncode == 0, r.stderr)
readme = open(README).read()
rows = [l for l in r.stdout.splitlines() if l.startswith("| ")]
check("stored table has rows", len(rows) >= 3, r.stdout)
for row in rows:
    check("README quotes " + row[:40], row in readme, row)
finish("apt_epoch_times_test")
