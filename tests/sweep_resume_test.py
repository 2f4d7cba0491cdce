#!/usr/bin/python3
"""A sweep cell killed mid-training resumes from its last checkpoint (experiments/runner.cpp):
one minmax W4A4 fine-tune of 3 epochs is SIGKILLed once its checkpoint holds epoch 1, and the
rerun must say it resumed and end with the bits of an uninterrupted run (test accuracy, loss and
every curve compared exactly). A checkpoint written under another thread count is not resumed:
the cell trains from its start. Run by CTest:
    tests/sweep_resume_test.py build/qbench
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py

from checks import check, finish, summary, synthetic_sweep, write

QBENCH = os.path.abspath(sys.argv[1])
CONFIG = synthetic_sweep("resume-test", seeds=[1], fp32={"epochs": 1, "lr": 0.05},
                         finetune={"epochs": 3, "lr": 0.01}, wbits=4, abits=4,
                         methods=[{"name": "minmax"}], exclude=[])


def sweep(cfg, out, threads=1, quiet=True):
    # Not quiet where the test reads what the cell said (resumed, or trained from the start).
    return [QBENCH, "sweep", cfg, "--out", out, "--threads", str(threads)] + (
        ["--quiet"] if quiet else [])


def checkpoint_epoch(out):
    """The epoch of the one QAT checkpoint under `out`, or 0 while there is none."""
    d = os.path.join(out, "qat")
    for n in os.listdir(d) if os.path.isdir(d) else []:
        if n.endswith(".h5"):
            try:
                with h5py.File(os.path.join(d, n), "r") as f:
                    return int(f["scalars/epoch"][()])
            except Exception:
                return 0  # being replaced
    return 0


def kill_after_epoch_1(cfg, out, threads=1):
    p = subprocess.Popen(sweep(cfg, out, threads), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while checkpoint_epoch(out) < 1 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return checkpoint_epoch(out)


def curves(merged):
    with h5py.File(merged, "r") as f:
        return {k: f["curves/" + k][()].tolist() for k in f["curves"]}


with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sweep.json"), CONFIG)
    ref = os.path.join(tmp, "ref")
    r = subprocess.run(sweep(cfg, ref), capture_output=True, text=True, timeout=600)
    check("uninterrupted run succeeds", r.returncode == 0, r.stderr)

    out = os.path.join(tmp, "killed")
    epoch = kill_after_epoch_1(cfg, out)
    check("killed with epoch 1 or 2 of 3 checkpointed", epoch in (1, 2), "epoch %d" % epoch)
    r = subprocess.run(sweep(cfg, out, quiet=False), capture_output=True, text=True, timeout=600)
    check("rerun succeeds", r.returncode == 0, r.stderr)
    check("rerun resumed the cell", "resumed from its last checkpoint" in r.stderr, r.stderr)

    other = os.path.join(tmp, "other-threads")
    kill_after_epoch_1(cfg, other)
    r = subprocess.run(sweep(cfg, other, threads=2, quiet=False), capture_output=True, text=True,
                       timeout=600)
    check("rerun with 2 threads succeeds", r.returncode == 0, r.stderr)
    check("a checkpoint of 1 thread is not resumed with 2", "training from the start" in r.stderr
          and "resumed from its last checkpoint" not in r.stderr, r.stderr)

    for d in (ref, out):
        r = subprocess.run([QBENCH, "merge", d, "-o", d + ".h5"], capture_output=True, text=True)
        check("merge " + d, r.returncode == 0, r.stderr)
    a, b = summary(ref + ".h5"), summary(out + ".h5")
    check("one cell each", len(a) == 1 and sorted(a) == sorted(b), "%s %s" % (a, b))
    for key in a:
        for col in ("test_acc", "val_acc", "test_loss"):
            check("resumed %s equals the uninterrupted run's" % col, a[key][col] == b[key][col],
                  "%s vs %s" % (a[key][col], b[key][col]))
    cells = [os.path.join(d, "cells", n) for d in (ref, out)
             for n in os.listdir(os.path.join(d, "cells")) if n.endswith(".h5")]
    ca, cb = curves(cells[0]), curves(cells[1])
    for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        check("resumed curve %s equals the uninterrupted run's" % k, ca[k] == cb[k],
              "%s vs %s" % (ca[k], cb[k]))

finish("sweep_resume_test")
