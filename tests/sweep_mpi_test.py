#!/usr/bin/python3
"""`mpirun -n 2 qbench sweep --mpi` gives the same cells, with the same results, as a local run.
Run by CTest (only when CMake found MPI):
    tests/sweep_mpi_test.py build/qbench mpirun
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py

QBENCH, MPIRUN = os.path.abspath(sys.argv[1]), sys.argv[2]
CONFIG = {
    "name": "mpi-test", "dataset": "synthetic", "networks": ["lenet5"], "seeds": [1],
    "fp32": {"epochs": 1, "lr": 0.05}, "finetune": {"epochs": 1, "lr": 0.01},
    "wbits": [8, 4], "abits": [8, 4],
    "methods": [{"name": "fp32", "wbits": 32, "abits": 32}, {"name": "minmax"}],
    "exclude": [{"wbits": 8, "abits": 4}, {"wbits": 4, "abits": 8}],
}


def table(path):
    with h5py.File(path, "r") as f:
        s = f["summary"]
        return {k.decode(): a for k, a in zip(s["key"][()], s["test_acc"][()])}


failures = []
with tempfile.TemporaryDirectory() as tmp:
    cfg = os.path.join(tmp, "sweep.json")
    with open(cfg, "w") as f:
        json.dump(CONFIG, f)
    local, mpi = os.path.join(tmp, "local"), os.path.join(tmp, "mpi")
    runs = [
        [QBENCH, "sweep", cfg, "--out", local, "--threads", "1", "--quiet"],
        [MPIRUN, "-n", "2", "--allow-run-as-root", "--oversubscribe", QBENCH, "sweep", cfg,
         "--out", mpi, "--threads", "1", "--quiet", "--mpi"],
    ]
    for cmd in runs:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
        if r.returncode != 0:
            failures.append("%s: exit %d: %s" % (cmd[0], r.returncode, r.stderr[-2000:]))
    for d in (local, mpi):
        r = subprocess.run([QBENCH, "merge", d, "-o", d + ".h5"], capture_output=True, text=True)
        if r.returncode != 0:
            failures.append("merge %s: %s" % (d, r.stderr))
    if not failures:
        a, b = table(local + ".h5"), table(mpi + ".h5")
        if len(a) != 3 or a != b:
            failures.append("MPI cells differ from the local run's: %s vs %s" % (a, b))

print("sweep_mpi_test: %s" % ("ok" if not failures else "FAILED"))
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
