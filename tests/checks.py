"""What the Python tests share: the tally (named checks, the refusal rule, the summary), and
the small sweep the sweep tests run with the readers of what it writes.

A failed check is recorded, not raised, so one run reports every failure; finish() prints
them and exits non-zero when there were any.
"""
import hashlib
import json
import os
import sys

failures = []
passed = 0


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append("%s: %s" % (name, detail))


def refused(name, result, *needles):
    """Bad input: non-zero exit and one line on stderr that names each of `needles`."""
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    check(name + " exits non-zero", result.returncode != 0, "exit %d" % result.returncode)
    check(name + " prints one line", len(lines) == 1, repr(result.stderr))
    for n in needles:
        check(name + " mentions " + n, n in result.stderr, repr(result.stderr))


def refused_with(name, result, line):
    """Bad input: exit status 1 (a user error) and exactly `line` on stderr."""
    check(name + " exits 1", result.returncode == 1, "exit %d" % result.returncode)
    check(name + " says exactly", result.stderr == "qbench: error: %s\n" % line,
          "%r, expected %r" % (result.stderr, line))


def asan_instrumented(path):
    """True for a binary built with AddressSanitizer (scripts/test-sanitizers' build)."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def finish(label, note=""):
    print("%s: %d checks passed, %d failed%s" % (label, passed, len(failures), note))
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


def write(path, obj):
    """Writes `obj` to `path`, as JSON unless it is a string; returns `path`."""
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def synthetic_sweep(name, **changes):
    """A sweep config of 10 cells on the synthetic dataset: LeNet-5, seeds 1 and 2, fp32, and
    minmax and alt at W8A8 and W4A4; `changes` replace whole top-level keys."""
    config = {
        "name": name,
        "dataset": "synthetic",
        "networks": ["lenet5"],
        "seeds": [1, 2],
        "fp32": {"epochs": 2, "lr": 0.05},
        "finetune": {"epochs": 1, "lr": 0.01},
        "wbits": [8, 4], "abits": [8, 4],
        "methods": [{"name": "fp32", "wbits": 32, "abits": 32}, {"name": "minmax"},
                    {"name": "alt"}],
        "exclude": [{"wbits": 8, "abits": 4}, {"wbits": 4, "abits": 8}],
    }
    config.update(changes)
    return config


def cell_digests(out):
    """{cell file: sha256} of the finished cells of sweep folder `out` (only complete files
    carry the .h5 name); {} before the first is written."""
    d = os.path.join(out, "cells")
    if not os.path.isdir(d):
        return {}
    return {n: digest(os.path.join(d, n)) for n in sorted(os.listdir(d)) if n.endswith(".h5")}


def summary(path):
    """The merged file's summary as {key: {column: value}}, read as docs/results-format.md
    says."""
    import h5py  # here, so that the tests that never read a results file do not need it

    with h5py.File(path, "r") as f:
        assert f.attrs["format"] in (b"qbench-results", "qbench-results")
        assert f.attrs["schema_version"] == 1
        s = f["summary"]
        rows = {name: s[name][()] for name in s}
        rows = {k: [x.decode() for x in v] if v.dtype.kind == "S" else list(v)
                for k, v in rows.items()}
        return {rows["key"][i]: {k: rows[k][i] for k in rows} for i in range(len(rows["key"]))}
