#!/usr/bin/python3
"""Issue 20's classes of bad input, each walked over everything it applies to, the lists taken
from qbench itself rather than written here: every key the sweep config validator knows (it
lists them when refusing an unknown key) and every method option (`qbench methods --json`)
given numbers beyond its type; the same key twice at every depth of a config; and a
directory, a FIFO and an unreadable file given for every file argument of every command.
Each is refused with exit status 1 and one stderr line naming the file and the key path.
Run by CTest:
    tests/input_classes_test.py build/qbench
"""
import copy
import json
import os
import re
import stat
import subprocess
import sys
import tempfile

from checks import check, finish, refused_with, write

QBENCH = os.path.abspath(sys.argv[1])


def run(*args, stdin=None):
    try:
        return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=120,
                              input=stdin)
    except subprocess.TimeoutExpired:
        check("%s returns (no hang)" % " ".join(args), False)
        return subprocess.CompletedProcess(args, 99, "", "timeout\n")


def one_line_at(name, r, prefix):
    """Exit status 1 and exactly one stderr line, starting with `prefix`."""
    lines = r.stderr.splitlines()
    check(name + " exits 1", r.returncode == 1, "exit %d: %r" % (r.returncode, r.stderr))
    check(name + " says one line at its key",
          len(lines) == 1 and lines[0].startswith(prefix), "%r, expected %r..." % (r.stderr, prefix))


RECIPE = {"epochs": 1, "batch": 32, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "wd": 0.0,
          "schedule": "cosine", "warmup": 0.0}
RULE = {"method": "minmax", "net": "lenet5", "seed": 1, "wbits": 4, "abits": 4, "gbits": 32,
        "first_last": "same", "granularity": "tensor"}
# A valid config holding every key the validator reads; the walk below fails when the
# validator knows a key this sample lacks, so a new key cannot escape the checks.
SAMPLE = {
    "schema": 1, "name": "classes", "networks": ["lenet5"], "width": 1.0, "seeds": [1],
    "dataset": {"name": "synthetic", "data_dir": "", "train_limit": 0, "test_limit": 0,
                "val_size": 20},
    "fp32": dict(RECIPE), "finetune": dict(RECIPE),
    "methods": [{"name": "minmax", "options": {}, "init": "fp32", "recipe": dict(RECIPE),
                 "wbits": [8, 4],
                 "abits": [8, 4], "gbits": [32], "first_last": ["same"],
                 "granularity": ["tensor"]}],
    "wbits": [8], "abits": [8], "gbits": [32], "first_last": ["same"], "granularity": ["tensor"],
    "exclude": [dict(RULE, abits=8)], "include": [dict(RULE, wbits=2, abits=2)], "max_cells": 100,
    "integer": {"acc": ["int32"], "simulate": 1000},
}
# Where the validator reads an object: path in the config → the object there.
OBJECTS = {"": lambda c: c, "dataset": lambda c: c["dataset"], "fp32": lambda c: c["fp32"],
           "finetune": lambda c: c["finetune"], "methods[0]": lambda c: c["methods"][0],
           "methods[0].recipe": lambda c: c["methods"][0]["recipe"],
           "integer": lambda c: c["integer"], "exclude[0]": lambda c: c["exclude"][0],
           "include[0]": lambda c: c["include"][0]}
TWO_64, TWO_70 = 1 << 64, 1 << 70
# Beyond a float and every integer type; for integer keys also beyond 64 bits, negative and
# fractional.
ANY_NUMBER = ["1e39", "-1e39"]
INTEGER = ANY_NUMBER + [str(TWO_64), str(TWO_70), "-1", "0.5"]


def join(path, key):
    return key if not path else path + "." + key


with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sample.json"), SAMPLE)
    r = run("sweep", cfg, "--dry-run")
    check("the sample config is valid", r.returncode == 0, r.stderr)

    # --- The validator's keys: an unknown key is refused with the valid ones listed. ---
    keys = []
    for path, at in OBJECTS.items():
        config = copy.deepcopy(SAMPLE)
        at(config)["zzzzzzzzzzzz"] = 1
        r = run("sweep", write(os.path.join(tmp, "probe.json"), config), "--dry-run")
        m = re.search(r"%s: unknown key \(valid: ([^)]*)\)" % re.escape(join(path, "zzzzzzzzzzzz")),
                      r.stderr)
        check("validator lists the keys of %r" % path, m, r.stderr)
        for key in (m.group(1).split(", ") if m else []):
            check("sample holds %s" % join(path, key), key in at(SAMPLE))
            if key in at(SAMPLE):
                keys.append((path, key))
    check("every object has keys", len(keys) > 40, keys)

    # --- Numbers beyond their type at every key. ---
    for path, key in keys:
        sample = OBJECTS[path](SAMPLE)[key]
        first = sample[0] if isinstance(sample, list) and sample else sample
        is_int = isinstance(first, int) and not isinstance(first, bool)
        for number in INTEGER if is_int else ANY_NUMBER:
            config = copy.deepcopy(SAMPLE)
            OBJECTS[path](config)[key] = "@NUMBER@"
            text = json.dumps(config).replace('"@NUMBER@"', number)
            p = write(os.path.join(tmp, "number.json"), text)
            one_line_at("%s = %s" % (join(path, key), number), run("sweep", p, "--dry-run"),
                        "qbench: error: %s: %s: " % (p, join(path, key)))

    # --- Method options, from the registry: a number beyond the type the option is read as. ---
    methods = json.loads(run("methods", "--json").stdout)
    numeric = [(m["name"], k, o["default"]) for m in methods for k, o in m["options"].items()
               if isinstance(o["default"], (int, float)) and not isinstance(o["default"], bool)]
    check("methods have numeric options", len(numeric) >= 10, numeric)
    for method, key, default in numeric:
        if isinstance(default, int):
            cases = [(str(TWO_70), "1.1805916207174113e+21"), ("2147483648", "2147483648"),
                     ("-2147483649", "-2147483649"), ("2.5", "2.5")]
            why = "expected an integer in -2^31 .. 2^31-1, got "
        else:
            cases = [("1e39", "1e+39"), ("-1e39", "-1e+39"), ("1e300", "1e+300")]
            why = "expected a number of magnitude at most 3.4e38 (a float), got "
        for number, shown in cases:
            config = {"name": "o", "dataset": "synthetic", "networks": ["lenet5"],
                      "fp32": {"epochs": 1},
                      "methods": [{"name": method, "options": {key: "@N@"}}],
                      "wbits": [4], "abits": [4]}
            p = write(os.path.join(tmp, "option.json"),
                      json.dumps(config).replace('"@N@"', number))
            refused_with("%s option %s = %s" % (method, key, number), run("sweep", p, "--dry-run"),
                         "%s: methods[0].options.%s: %s%s" % (p, key, why, shown))

    # --- The same key twice, at every depth: the second is refused at its byte offset. ---
    def duplicated(obj, path):
        """(key path, key, value) of every key of `obj` and below."""
        if isinstance(obj, list):
            for i, x in enumerate(obj):
                yield from duplicated(x, "%s[%d]" % (path, i))
        if not isinstance(obj, dict):
            return
        for key, value in obj.items():
            yield join(path, key), key, value
            yield from duplicated(value, join(path, key))

    for path, key, value in duplicated(SAMPLE, ""):
        marker = '"@DUP@": 0'
        parent = path[:-len(key)].rstrip(".")
        config = copy.deepcopy(SAMPLE)
        # A marker key after the key in its object, replaced by the key and its value again.
        node = config
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", parent):
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        node["@DUP@"] = 0
        text = json.dumps(config)
        second_at = text.index(marker)  # the duplicate is written where the marker was
        text = text.replace(marker, "%s: %s" % (json.dumps(key), json.dumps(value)))
        p = write(os.path.join(tmp, "dup.json"), text)
        r = run("sweep", p, "--dry-run")
        m = re.match(r"qbench: error: %s: %s: duplicate key at byte (\d+) \(first at byte (\d+)\)\n$"
                     % (re.escape(p), re.escape(path)), r.stderr)
        check("duplicate %s exits 1" % path, r.returncode == 1, r.returncode)
        check("duplicate %s refused at its key" % path, m, r.stderr)
        if m:
            second, first = int(m.group(1)), int(m.group(2))
            check("duplicate %s: the offsets point at the two keys" % path,
                  second == second_at and first < second and
                  text[first:].startswith(json.dumps(key) + ":"), (first, second, text))

    # --- A directory, a FIFO or an unreadable file for every file argument of every command.
    # Outputs are refused before any work when they name a directory or a FIFO (a rename
    # would fail at the end, or silently replace the FIFO). ---
    sweep = write(os.path.join(tmp, "one.json"),
                  {"name": "one", "dataset": {"name": "synthetic", "val_size": 20},
                   "networks": ["lenet5"], "fp32": {"epochs": 1},
                   "methods": [{"name": "fp32"}]})
    out = os.path.join(tmp, "one")
    r = run("sweep", sweep, "--out", out, "--threads", "1", "--quiet")
    results = os.path.join(tmp, "one.h5")
    r = run("merge", out, "-o", results)
    check("fixture results file", r.returncode == 0, r.stderr)
    folder = os.path.join(tmp, "a-folder")
    os.mkdir(folder)
    fifo = os.path.join(tmp, "a-fifo")
    os.mkfifo(fifo)
    unreadable = "/proc/self/mem"  # regular, its first byte unreadable (root ignores modes)
    quick = ["--data", "synthetic", "--net", "lenet5", "--epochs", "1", "--threads", "1",
             "--val-size", "20"]
    inputs = [(["train", *quick, "--resume", "@"], "an HDF5 file"),
              (["train", *quick, "--init", "@"], "an HDF5 file"),
              (["infer", "@"], "an HDF5 file"),
              (["h5-upgrade", "@"], "an HDF5 file"),
              (["sweep", "@", "--dry-run"], "a sweep config file"),
              (["probe", "--input", "@"], "a probe request file"),
              (["report", "@"], "an HDF5 file"),
              (["report", results, "--spec", "@"], "a table spec file"),
              (["report", "--bench", "@", "--peer", "x"], "a benchmark JSON file")]
    outputs = [(["train", *quick, "--out", "@"], "a checkpoint file to write"),
               (["merge", out, "-o", "@"], "an HDF5 file to write")]
    folders = [(["report", results, "--plots", "@"], "a folder for the plots"),
               (["report", results, "--claims", "--claims-dir", "@"], "a folder of claims")]

    def refused_as(args, path, line):
        argv = [path if a == "@" else a for a in args]
        refused_with(" ".join(argv), run(*argv), line)

    fifo_why = ": is not a regular file (a FIFO, device or socket), expected "
    for args, what in inputs:
        # --init's refusals say whose file it is.
        prefix = "initial weights: " if "--init" in args else ""
        refused_as(args, folder, prefix + folder + ": is a directory, expected " + what)
        refused_as(args, fifo, prefix + fifo + fifo_why + what)
        refused_as(args, unreadable, prefix + unreadable +
                   ": cannot read (Input/output error), expected " + what)
    for args, what in outputs:
        refused_as(args, folder, folder + ": is a directory, expected " + what)
        refused_as(args, fifo, fifo + fifo_why + what)
        check("the FIFO is still one", stat.S_ISFIFO(os.stat(fifo).st_mode))
    for args, what in folders:
        refused_as(args, fifo, fifo + ": is not a directory, expected " + what)
        refused_as(args, sweep, sweep + ": is not a directory, expected " + what)
    # The CIFAR-10 batch files a dataset folder holds.
    cifar = os.path.join(tmp, "cifar")
    os.mkdir(cifar)
    for name in ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]:
        with open(os.path.join(cifar, name), "wb") as f:
            f.write(bytes(3073 * 2))
    batch = os.path.join(cifar, "data_batch_3.bin")
    train_cifar = ["train", "--data", "cifar10", "--data-dir", cifar, "--net", "lenet5",
                   "--epochs", "1", "--threads", "1", "--val-size", "2"]
    for make, why in [(os.mkdir, ": is a directory, expected "), (os.mkfifo, fifo_why),
                      (lambda p: os.symlink(unreadable, p),
                       ": cannot read (Input/output error), expected ")]:
        os.remove(batch) if not os.path.isdir(batch) else os.rmdir(batch)
        make(batch)
        refused_with("CIFAR batch: " + why.split(",")[0], run(*train_cifar),
                     batch + why + "a CIFAR-10 batch file")

finish("input_classes_test")
