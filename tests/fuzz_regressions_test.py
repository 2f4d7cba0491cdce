#!/usr/bin/python3
"""Every input the fuzzers found (tests/fuzz/regressions/<harness>/), replayed through the
qbench command that reads that kind of file: it must be read or refused — exit status 0 or 1,
a refusal in one line naming the file — never a crash, a hang or an internal error.
tests/fuzz/regressions/hdf5-crashes/ holds inputs that crashed HDF5 1.10.8 itself, from the
format without metadata checksums that qbench now refuses before libhdf5 opens a file; they are
replayed as checkpoints. Run by CTest:
    tests/fuzz_regressions_test.py build/qbench SOURCE_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

from checks import check, finish

QBENCH, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
REGRESSIONS = os.path.join(SOURCE, "tests", "fuzz", "regressions")
RESULTS = os.path.join(SOURCE, "results", "lenet5-paper.h5")  # a real merged results file
QUICK = ["--net", "lenet5", "--epochs", "1", "--threads", "1", "--val-size", "2"]


def fashion_folder(tmp, images):
    """A Fashion-MNIST folder whose training images are `images` (the others empty-valid)."""
    import gzip
    import struct
    d = tempfile.mkdtemp(dir=tmp)
    idx = lambda dims: bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims)
    files = {"train-labels-idx1-ubyte.gz": gzip.compress(idx([4]) + bytes(4)),
             "t10k-images-idx3-ubyte.gz": gzip.compress(idx([2, 28, 28]) + bytes(2 * 784)),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx([2]) + bytes(2))}
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    shutil.copy(images, os.path.join(d, "train-images-idx3-ubyte.gz"))
    return d


def cifar_folder(tmp, batch):
    d = tempfile.mkdtemp(dir=tmp)
    for name in ["data_batch_%d.bin" % i for i in range(2, 6)] + ["test_batch.bin"]:
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes(3073))
    shutil.copy(batch, os.path.join(d, "data_batch_1.bin"))
    return d


# harness → the commands that read its input (`@` is the input file).
REPLAY = {
    "idx": lambda tmp, p: [["train", "--data-dir", fashion_folder(tmp, p), *QUICK]],
    "idx_gzip": lambda tmp, p: [["train", "--data-dir", fashion_folder(tmp, p), *QUICK]],
    "cifar": lambda tmp, p: [["train", "--data", "cifar10", "--data-dir", cifar_folder(tmp, p),
                              *QUICK]],
    "sweep_config": lambda tmp, p: [["sweep", p, "--dry-run"]],
    "probe": lambda tmp, p: [["probe", "--input", p]],
    "table_spec": lambda tmp, p: [["report", RESULTS, "--spec", p]],
    "checkpoint": lambda tmp, p: [["infer", p], ["train", "--data", "synthetic", *QUICK,
                                                 "--resume", p]],
    "results": lambda tmp, p: [["report", p]],
}
REPLAY["hdf5-crashes"] = REPLAY["checkpoint"]

replayed = 0
with tempfile.TemporaryDirectory() as tmp:
    for harness in sorted(os.listdir(REGRESSIONS)):
        folder = os.path.join(REGRESSIONS, harness)
        if not os.path.isdir(folder):
            continue
        check("a replay for %s" % harness, harness in REPLAY)
        for name in sorted(n for n in os.listdir(folder) if n != "README.md"):
            path = os.path.join(folder, name)
            for args in REPLAY.get(harness, lambda t, p: [])(tmp, path):
                label = "%s/%s: qbench %s" % (harness, name, args[0])
                try:
                    r = subprocess.run([QBENCH, *args], capture_output=True, text=True,
                                       timeout=120)
                except subprocess.TimeoutExpired:
                    check(label + " returns", False, "timeout")
                    continue
                lines = r.stderr.splitlines()
                replayed += 1
                check(label + " reads or refuses (exit 0 or 1)", r.returncode in (0, 1),
                      "exit %d: %s" % (r.returncode, r.stderr[-500:]))
                if r.returncode == 1:
                    check(label + " refuses in one line", lines and
                          lines[-1].startswith("qbench: error: ") and "internal" not in lines[-1],
                          r.stderr[-500:])
check("some inputs replayed", replayed > 0)

finish("fuzz_regressions_test", " (%d replays)" % replayed)
