#!/usr/bin/python3
"""Issue 20 end to end: every class of bad input file (a directory, a FIFO, an unreadable file,
corrupt or truncated gzip data, a header promising more memory than exists, numbers beyond
their type) is refused in one line naming the file, with exit status 1, without hanging and
without writing anything; and training health: a sweep records a diverged cell as failed and
goes on, `qbench merge` and `qbench report` carry it, and a run at chance warns. Run by CTest:
    tests/hardening_test.py build/qbench
"""
import gzip
import json
import os
import re
import resource
import struct
import subprocess
import sys
import tempfile

import h5py

from checks import (asan_instrumented, check, finish, refused, refused_with, synthetic_sweep,
                    write)

QBENCH = os.path.abspath(sys.argv[1])
ASAN = asan_instrumented(QBENCH)


def run(*args, stdin=None, memory_limit=None):
    # A reader that blocks on a FIFO would hang here: the timeout turns that into a failure.
    env = None
    if memory_limit and ASAN:
        # ASan reserves terabytes of address space for its shadow at start-up, so an RLIMIT_AS
        # kills it before main(). Its own limits stand in: one allocation over the limit, or a
        # resident size over it (many smaller ones), aborts with a report.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [
            env.get("ASAN_OPTIONS"), "allocator_may_return_null=0",
            "max_allocation_size_mb=%d" % (memory_limit >> 20),
            "hard_rss_limit_mb=%d" % (memory_limit >> 20)]))

    def limit():
        if memory_limit and not ASAN:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    try:
        return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=300,
                              input=stdin, preexec_fn=limit, env=env)
    except subprocess.TimeoutExpired:
        check("%s returns (no hang)" % " ".join(args), False)
        return subprocess.CompletedProcess(args, 99, "", "timeout\n")


def idx(dims, data=None):
    n = 1
    for d in dims:
        n *= d
    head = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + (bytes(i % 251 for i in range(n)) if data is None else data)


def fashion_folder(path, train=200, test=100, **replace):
    """A tiny Fashion-MNIST folder; `replace` maps a file name to its bytes (gzipped as given)."""
    os.makedirs(path, exist_ok=True)
    files = {"train-images-idx3-ubyte.gz": gzip.compress(idx([train, 28, 28])),
             "train-labels-idx1-ubyte.gz": gzip.compress(idx([train], bytes(i % 10 for i in range(train)))),
             "t10k-images-idx3-ubyte.gz": gzip.compress(idx([test, 28, 28])),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx([test], bytes(i % 10 for i in range(test))))}
    files.update(replace)
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
    return path


with tempfile.TemporaryDirectory() as tmp:
    quick = ["--net", "lenet5", "--epochs", "1", "--threads", "1", "--val-size", "20"]
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    not_regular = fifo + ": is not a regular file (a FIFO, device or socket), expected "

    # --- Files that are FIFOs: refused at once (opening one would wait for a writer). ---
    refused_with("sweep config is a FIFO", run("sweep", fifo, "--dry-run"),
                 not_regular + "a sweep config file")
    refused_with("probe request is a FIFO", run("probe", "--input", fifo),
                 not_regular + "a probe request file")
    refused_with("results file is a FIFO", run("report", fifo), not_regular + "an HDF5 file")
    refused("checkpoint to resume is a FIFO",
            run("train", "--data", "synthetic", *quick, "--resume", fifo), not_regular)
    refused("initial weights are a FIFO",
            run("train", "--data", "synthetic", *quick, "--init", fifo), not_regular)
    data = fashion_folder(os.path.join(tmp, "fifo-data"))
    os.remove(os.path.join(data, "t10k-labels-idx1-ubyte.gz"))
    os.mkfifo(os.path.join(data, "t10k-labels-idx1-ubyte.gz"))
    refused_with("IDX file is a FIFO", run("train", "--data-dir", data, *quick),
                 os.path.join(data, "t10k-labels-idx1-ubyte.gz") +
                 ": is not a regular file (a FIFO, device or socket), expected an IDX file")

    # --- Directories where a file goes. ---
    refused_with("results file is a directory", run("report", tmp),
                 tmp + ": is a directory, expected an HDF5 file")
    refused("checkpoint is a directory",
            run("train", "--data", "synthetic", *quick, "--resume", tmp), tmp, "is a directory")
    data = fashion_folder(os.path.join(tmp, "dir-data"))
    os.remove(os.path.join(data, "train-images-idx3-ubyte.gz"))
    os.mkdir(os.path.join(data, "train-images-idx3-ubyte.gz"))
    refused_with("IDX file is a directory", run("train", "--data-dir", data, *quick),
                 os.path.join(data, "train-images-idx3-ubyte.gz") +
                 ": is a directory, expected an IDX file")

    # --- Unreadable files: /proc/self/mem is a regular file whose byte 0 cannot be read (as
    # root, permissions stop nothing); a mode-000 file when not root. ---
    refused_with("unreadable config", run("sweep", "/proc/self/mem", "--dry-run"),
                 "/proc/self/mem: cannot read (Input/output error), expected a sweep config file")
    if os.geteuid() != 0:
        locked = write(os.path.join(tmp, "locked.json"), {})
        os.chmod(locked, 0)
        refused_with("mode 000 config", run("sweep", locked, "--dry-run"),
                     locked + ": cannot open (Permission denied), expected a sweep config file")

    # --- Corrupt and truncated compressed data, and headers promising too much. ---
    good = gzip.compress(idx([200, 28, 28]))
    corrupt = bytearray(good)
    for i in range(40, 60):
        corrupt[i] ^= 0x5A
    data = fashion_folder(os.path.join(tmp, "corrupt"),
                          **{"train-images-idx3-ubyte.gz": bytes(corrupt)})
    r = run("train", "--data-dir", data, *quick)
    refused("corrupt deflate data", r, os.path.join(data, "train-images-idx3-ubyte.gz"),
            "byte offset")
    check("corrupt deflate data exits 1", r.returncode == 1, r.returncode)
    data = fashion_folder(os.path.join(tmp, "cut"),
                          **{"train-images-idx3-ubyte.gz": good[:len(good) // 2]})
    r = run("train", "--data-dir", data, *quick)
    refused("gzip cut in the middle", r, os.path.join(data, "train-images-idx3-ubyte.gz"))
    check("gzip cut in the middle exits 1", r.returncode == 1, r.returncode)
    # Bytes after the gzip stream (zlib's gzread skipped them without a word), and a CRC that
    # does not match (the offset is the uncompressed data's end, where the check runs).
    for label, data, line in [
            ("bytes after the gzip stream", good + b"xyz",
             ": trailing bytes after the gzip stream at compressed byte offset %d" % len(good)),
            ("gzip CRC mismatch", good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:],
             ": damaged compressed stream after byte offset %d (incorrect data check)"
             % (16 + 200 * 28 * 28))]:
        data_dir = fashion_folder(os.path.join(tmp, label.replace(" ", "-")),
                                  **{"train-images-idx3-ubyte.gz": data})
        refused_with(label, run("train", "--data-dir", data_dir, *quick),
                     os.path.join(data_dir, "train-images-idx3-ubyte.gz") + line)
    # A header of 2^22 × 64 × 64 images (16 GiB) over 100 bytes of data, read under a 2 GiB
    # address-space limit: a reader that allocated what the header says would die of it.
    huge = gzip.compress(idx([1 << 22, 64, 64], bytes(100)))
    data = fashion_folder(os.path.join(tmp, "huge"), **{"train-images-idx3-ubyte.gz": huge})
    refused_with("header promising 16 GiB", run("train", "--data-dir", data, *quick,
                                                memory_limit=2 << 30),
                 os.path.join(data, "train-images-idx3-ubyte.gz") +
                 ": truncated: data ends at byte offset 116, header promises 17179869200 bytes")

    # --- Numbers beyond the type they become (the engine trains in float). ---
    for key, value, why in [("lr", "1e39", "expected a positive number (at most 3.4e38, a float)"),
                            ("wd", "-1", "expected a number >= 0 (at most 3.4e38, a float)"),
                            ("momentum", "1", "expected a number in [0, 1)")]:
        text = json.dumps(synthetic_sweep("numbers")).replace(
            '"fp32": {"epochs": 2, "lr": 0.05}',
            '"fp32": {"epochs": 2, "lr": 0.05, "%s": %s}' % (key, value) if key != "lr" else
            '"fp32": {"epochs": 2, "lr": %s}' % value, 1)
        path = write(os.path.join(tmp, "n-%s.json" % key), text)
        shown = {"1e39": "1e+39"}.get(value, value)
        refused_with("fp32.%s = %s" % (key, value), run("sweep", path, "--dry-run"),
                     "%s: fp32.%s: %s, got %s" % (path, key, why, shown))

    # A probe shape whose element count wraps around (2^32 × 2^32 = 0 mod 2^64) or an empty
    # tensor with a huge dimension: refused before anything is allocated.
    for shape in ([1 << 32, 1 << 32], [0, 1 << 40]):
        request = {"method": "minmax", "role": "weight", "bits": 4,
                   "x": {"shape": shape, "data": []}}
        r = run("probe", stdin=json.dumps(request))
        refused("probe shape %s" % shape, r, "x.shape: [%d, %d] is too large" % tuple(shape))
        check("probe shape %s exits 1" % shape, r.returncode == 1, r.returncode)

    # --- A diverging cell in a sweep: recorded as failed with its reason, the sweep goes on. ---
    config = synthetic_sweep("diverging", seeds=[1], wbits=[8], abits=[8], exclude=[],
                             methods=[{"name": "fp32", "wbits": 32, "abits": 32},
                                      {"name": "minmax", "recipe": {"lr": 1e30}}])
    cfg = write(os.path.join(tmp, "diverging.json"), config)
    out = os.path.join(tmp, "out")
    r = run("sweep", cfg, "--out", out, "--threads", "1", "--quiet")
    check("sweep with a diverging cell exits 0", r.returncode == 0, r.stderr)
    lines = r.stdout.splitlines()
    failed = [l for l in lines if " failed: " in l]
    check("one cell failed, one finished", len(lines) == 2 and len(failed) == 1, r.stdout)
    key = failed[0].split()[0] if failed else "?"
    check("failed line gives the reason",
          failed and failed[0].startswith(key + " minmax/w8a8/lenet5/synthetic/s1 failed: "
                                          "training diverged: loss is ") and
          re.search(r"\(learning rate [0-9.e+]+\)$", failed[0]), r.stdout)
    record = os.path.join(out, "cells", key + ".failed.json")
    check("failure recorded", os.path.exists(record) and
          not os.path.exists(os.path.join(out, "cells", key + ".h5")))
    with open(record) as f:
        rec = json.load(f)
    check("record names the reason", rec["reason"].startswith("training diverged: loss is ") and
          rec["key"] == key and rec["format"] == "qbench-failed-cell", rec)
    r = run("sweep", cfg, "--out", out, "--threads", "1", "--quiet")
    check("rerun does not retry the failed cell", r.returncode == 0 and r.stdout == "" and
          "1 already done, 1 failed earlier (not retried; --retry-failed runs them), 0 to run"
          in r.stderr, r.stderr)
    r = run("sweep", cfg, "--out", out, "--dry-run")
    check("dry run shows the failed cell", (key + " minmax/w8a8/lenet5/synthetic/s1 failed")
          in r.stdout, r.stdout)
    r = run("sweep", cfg, "--out", out, "--threads", "1", "--quiet", "--retry-failed")
    check("--retry-failed runs it again", r.returncode == 0 and r.stdout.startswith(
        key + " minmax/w8a8/lenet5/synthetic/s1 failed: "), r.stdout + r.stderr)
    merged = os.path.join(tmp, "merged.h5")
    r = run("merge", out, "-o", merged)
    check("merge reports the failed cell", r.returncode == 0 and
          "1 cells failed (training diverged): listed in /failed" in r.stderr, r.stderr)
    check("merge of a finished sweep with a failure is not 'unfinished'",
          "not finished" not in r.stderr, r.stderr)
    check("merged file written", os.path.exists(merged))
    if os.path.exists(merged):
        with h5py.File(merged, "r") as f:
            check("/failed holds the cell and reason",
                  [k.decode() for k in f["failed/key"][()]] == [key] and
                  f["failed/reason"][0].decode().startswith("training diverged"))
            check("/summary holds the finished cell only", len(f["summary/key"]) == 1)
    spec = write(os.path.join(tmp, "spec.json"),
                 {"schema": 1, "rows": [{"label": "minmax", "method": "minmax"}],
                  "columns": [{"label": "W8A8", "wbits": 8, "abits": 8}]})
    r = run("report", merged, "--spec", spec, "--format", "md")
    check("report shows the failed cell", r.returncode == 0 and "| minmax | failed |" in r.stdout
          and "failed: training diverged (1 of the sweep's cells)." in r.stdout, r.stdout)
    r = run("report", merged, "--spec", spec, "--format", "csv")
    check("csv marks it failed", r.stdout.rstrip().endswith(",0,,,,failed"), r.stdout)

    # --- A run at chance after its first epoch warns on stderr and in its JSON. ---
    r = run("train", "--data", "synthetic", *quick, "--lr", "1e-9", "--seed", "1")
    warning = ("warning: validation accuracy 5.00% after epoch 1 is at chance (10.00% for 10 "
               "classes): the network is not learning (learning rate? quantizer ranges?)")
    check("chance run exits 0", r.returncode == 0, r.stderr)
    check("chance warning on stderr", warning + "\n" in r.stderr, r.stderr)
    check("chance warning in JSON", r.returncode == 0 and
          json.loads(r.stdout).get("warnings") == [warning], r.stdout)
    r = run("train", "--data", "synthetic", *quick, "--lr", "0.05", "--seed", "1")
    check("a learning run has no warnings", r.returncode == 0 and
          "warnings" not in json.loads(r.stdout) and "warning" not in r.stderr, r.stderr)

finish("hardening_test")
