#!/usr/bin/python3
"""Kill safety of `qbench sweep`: SIGKILL a small synthetic sweep at several random moments,
rerun it after each kill, and prove that no finished cell was ever lost or damaged and that the
final merged table equals an uninterrupted run's, test accuracies compared exactly (same seed
and thread count => bitwise the same results). Run by CTest:
    tests/sweep_kill_test.py build/qbench [seed]
The random seed is printed; pass it back to replay a failure.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import h5py

from checks import cell_digests, check, finish, summary, synthetic_sweep, write

QBENCH = os.path.abspath(sys.argv[1])
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
rng = random.Random(SEED)

CONFIG = synthetic_sweep("kill-test", fp32={"epochs": 3, "lr": 0.05},
                         finetune={"epochs": 2, "lr": 0.01})
CELLS = 10
KILLS = 5


def sweep(cfg, out):
    return [QBENCH, "sweep", cfg, "--out", out, "--threads", "1", "--quiet"]


def readable(path):
    try:
        with h5py.File(path, "r") as f:
            return (f.attrs["format"] in (b"qbench-cell", "qbench-cell") and
                    0.0 <= f["metrics/test_accuracy"][()] <= 1.0 and
                    len(f["curves/val_accuracy"][()]) == CONFIG["finetune"]["epochs"])
    except Exception:
        return False


def accuracies(merged):
    return {k: (r["test_acc"], r["val_acc"], r["test_loss"]) for k, r in summary(merged).items()}


print("sweep_kill_test: seed %d" % SEED)
with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sweep.json"), CONFIG)

    # The uninterrupted reference, timed to place the kills.
    ref = os.path.join(tmp, "ref")
    t0 = time.monotonic()
    r = subprocess.run(sweep(cfg, ref), capture_output=True, text=True, timeout=600)
    full_time = time.monotonic() - t0
    check("reference run succeeds", r.returncode == 0, r.stderr)
    check("reference has every cell", len(cell_digests(ref)) == CELLS)

    out = os.path.join(tmp, "killed")
    seen = {}
    for k in range(KILLS):
        p = subprocess.Popen(sweep(cfg, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # A random moment within what is left to do (pretraining, a cell, a write, startup).
        left = (CELLS - len(seen)) / CELLS
        time.sleep(rng.uniform(0.02, 1.0) * full_time * max(left, 0.1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        now = cell_digests(out)
        for name, h in seen.items():
            check("kill %d kept %s" % (k, name), now.get(name) == h, "lost or changed")
        for name in now:
            check("kill %d: %s readable" % (k, name), readable(os.path.join(out, "cells", name)))
        print("kill %d after %d finished cells" % (k, len(now)))
        seen.update(now)

    r = subprocess.run(sweep(cfg, out), capture_output=True, text=True, timeout=600)
    check("final rerun succeeds", r.returncode == 0, r.stderr)
    now = cell_digests(out)
    check("every cell finished", len(now) == CELLS, sorted(now))
    for name, h in seen.items():
        check("final rerun kept " + name, now.get(name) == h, "rerun a finished cell")

    for d in (ref, out):
        r = subprocess.run([QBENCH, "merge", d, "-o", d + ".h5"], capture_output=True, text=True)
        check("merge " + d, r.returncode == 0, r.stderr)
    a, b = accuracies(ref + ".h5"), accuracies(out + ".h5")
    check("same cells as the uninterrupted run", sorted(a) == sorted(b))
    for key in a:
        check("cell %s equals the uninterrupted run's" % key, a[key] == b.get(key),
              "%s vs %s" % (a[key], b.get(key)))

finish("sweep_kill_test", " (seed %d)" % SEED)
