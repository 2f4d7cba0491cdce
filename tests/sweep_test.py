#!/usr/bin/python3
"""End-to-end checks of `qbench sweep` and `qbench merge` on a small synthetic sweep: dry run,
resume, refusals (bad config, other sweep, unwritable folder), a damaged cell redone without
touching the others, shards (flag and SLURM variables) whose union is the sweep, and a merged
file read with h5py using only docs/results-format.md. Run by CTest:
    tests/sweep_test.py build/qbench
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py

from checks import cell_digests, check, finish, refused, refused_with, summary, \
    synthetic_sweep, write

QBENCH = os.path.abspath(sys.argv[1])

CONFIG = synthetic_sweep("sweep-test")
CELLS = 2 * (1 + 2 + 2)


def run(*args, env=None):
    e = dict(os.environ)
    for k in [k for k in e if k.startswith("SLURM_")]:
        del e[k]
    e.update(env or {})
    return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=600, env=e)


with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sweep.json"), CONFIG)
    out = os.path.join(tmp, "out")
    common = ["--threads", "1", "--quiet"]

    # Dry run: one line per cell with its key; nothing written.
    r = run("sweep", cfg, "--dry-run")
    lines = r.stdout.split("\n")[:-1]
    check("dry run succeeds", r.returncode == 0, r.stderr)
    check("dry run lists every cell", len(lines) == CELLS, r.stdout)
    check("dry run shows keys", all(len(l.split()[0]) == 16 for l in lines), r.stdout)
    keys = [l.split()[0] for l in lines]

    # Bad configs: one line naming the key path.
    bad = dict(CONFIG, methods=[{"name": "syq", "options": {"eta": "big"}}])
    refused("wrong option type", run("sweep", write(os.path.join(tmp, "b1.json"), bad), "--dry-run"),
            "methods[0].options.eta: expected number")
    bad = dict(CONFIG, netwroks=["lenet5"])
    refused("unknown key", run("sweep", write(os.path.join(tmp, "b2.json"), bad), "--dry-run"),
            "did you mean 'networks'")
    refused("malformed JSON", run("sweep", write(os.path.join(tmp, "b3.json"), "{\"a\": "), "--dry-run"),
            "malformed JSON at byte")
    # Hardening: what nlohmann or the C++ types would let through, refused with file and key.
    path = write(os.path.join(tmp, "h1.json"), dict(CONFIG, seeds=[2 ** 70]))
    refused_with("seed beyond uint64", run("sweep", path, "--dry-run"),
                 path + ": seeds[0]: 1180591620717411303424 is out of range (0 .. 2^64-1)")
    text = json.dumps(CONFIG).replace('"lr": 0.05', '"lr": 1e400', 1)
    path = write(os.path.join(tmp, "h2.json"), text)
    refused_with("number beyond a double", run("sweep", path, "--dry-run"),
                 path + ": fp32.lr: 1e400 at byte %d is out of range (beyond a double, ±1.8e308)"
                 % text.index("1e400"))
    text = json.dumps(CONFIG).replace('"seeds": [1, 2]', '"seeds": [1], "seeds": [1, 2]', 1)
    path = write(os.path.join(tmp, "h3.json"), text)
    refused_with("duplicate key", run("sweep", path, "--dry-run"),
                 path + ": seeds: duplicate key at byte %d (first at byte %d)"
                 % (text.index('"seeds"', text.index('"seeds"') + 1), text.index('"seeds"')))
    refused_with("config is a directory", run("sweep", tmp, "--dry-run"),
                 tmp + ": is a directory, expected a sweep config file")
    path = write(os.path.join(tmp, "h4.json"), dict(CONFIG, max_cells=5))
    refused_with("over max_cells", run("sweep", path, "--dry-run"),
                 path + ": the sweep holds 18 cells before excludes, over the limit of 5 "
                 "(raise \"max_cells\" or --max-cells to run it)")  # 2 seeds × (1 + 4 + 4)
    r = run("sweep", path, "--dry-run", "--max-cells", "18")
    check("--max-cells overrides max_cells", r.returncode == 0, r.stderr)
    huge = dict(CONFIG, seeds=list(range(10000)), wbits=[8] * 1000, abits=[8],
                methods=[{"name": "minmax"}], exclude=[])
    path = write(os.path.join(tmp, "h5.json"), huge)
    refused_with("10^7 cells", run("sweep", path, "--dry-run"),
                 path + ": the sweep holds 10000000 cells before excludes, over the limit of "
                 "100000 (raise \"max_cells\" or --max-cells to run it)")

    bad = dict(CONFIG, exclude=[{"method": ["fp32", "minmax", "alt"]}])
    refused("empty product", run("sweep", write(os.path.join(tmp, "b4.json"), bad), "--dry-run"),
            "empty")
    refused("unwritable folder", run("sweep", cfg, "--out", "/proc/qbench-results", *common),
            "/proc/qbench-results")

    # A full run, then a rerun that skips everything.
    r = run("sweep", cfg, "--out", out, *common)
    check("sweep succeeds", r.returncode == 0, r.stderr)
    check("every cell written", len(cell_digests(out)) == CELLS, os.listdir(os.path.join(out, "cells")))
    check("no partial files", not any(n.endswith(".partial") for n in os.listdir(os.path.join(out, "cells"))))
    before = cell_digests(out)
    r = run("sweep", cfg, "--out", out, *common)
    check("rerun succeeds", r.returncode == 0, r.stderr)
    check("rerun skips finished cells", r.stdout == "" and "%d already done" % CELLS in r.stderr, r.stderr)
    check("rerun leaves cells alone", cell_digests(out) == before)
    r = run("sweep", cfg, "--out", out, "--dry-run")
    check("dry run sees finished cells", r.stdout.count(" done\n") == CELLS, r.stdout)

    # A different sweep into the same folder is refused and touches nothing.
    other = write(os.path.join(tmp, "other.json"), dict(CONFIG, seeds=[3]))
    refused("different sweep", run("sweep", other, "--out", out, *common), "different sweep", out)
    check("refusal leaves cells alone", cell_digests(out) == before)

    # A cell in the HDF5 format of an older qbench (earliest, no metadata checksums) is not taken
    # for a damaged one and trained again: the sweep stops before running anything, names the
    # way out, and after `qbench h5-upgrade` resumes with every cell done.
    old_format = os.path.join(out, "cells", keys[1] + ".h5")
    with h5py.File(old_format, "r") as src, h5py.File(old_format + ".tmp", "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for k in src:
            src.copy(src[k], dst, k)
    os.replace(old_format + ".tmp", old_format)
    before_old = cell_digests(out)
    refused_with("older HDF5 format", run("sweep", cfg, "--out", out, *common),
                 "%s: 1 HDF5 file(s) of an older qbench (%s has superblock version 0); nothing "
                 "was run: upgrade them first with `find %s -name '*.h5' -exec qbench h5-upgrade "
                 "{} +`" % (out, old_format, out))
    check("older format left alone", cell_digests(out) == before_old)
    r = run("h5-upgrade", old_format)
    check("h5-upgrade succeeds", r.returncode == 0 and "upgraded" in r.stderr, r.stderr)
    r = run("sweep", cfg, "--out", out, *common)
    check("upgraded cell counts as done",
          r.returncode == 0 and "%d already done" % CELLS in r.stderr, r.stderr)
    before = cell_digests(out)

    # A damaged cell is named, redone, and the others are not touched.
    victim = os.path.join(out, "cells", keys[3] + ".h5")
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) // 2)
    r = run("sweep", cfg, "--out", out, *common)
    check("damaged cell rerun succeeds", r.returncode == 0, r.stderr)
    check("damaged cell named", victim in r.stderr and "running the cell again" in r.stderr, r.stderr)
    check("only the damaged cell ran", r.stdout.count("\n") == 1 and keys[3] in r.stdout, r.stdout)
    check("damaged cell redone identically", cell_digests(out).keys() == before.keys())
    after = cell_digests(out)
    check("other cells untouched",
          all(after[k] == before[k] for k in before if not k.startswith(keys[3])))

    # Merge, read with h5py using only docs/results-format.md.
    merged = os.path.join(tmp, "results.h5")
    r = run("merge", out, "-o", merged)
    check("merge succeeds", r.returncode == 0, r.stderr)
    full = summary(merged)
    check("one row per cell", sorted(full) == sorted(keys), sorted(full))
    with h5py.File(merged, "r") as f:
        check("cells merged attr", f.attrs["cells_merged"] == CELLS and f.attrs["cells_expected"] == CELLS)
        for key, row in full.items():
            c = f["cells"][key]
            config = json.loads(c["config"][()].decode())
            env = json.loads(c["environment"][()].decode())
            check("row matches cell metrics " + key, c["metrics/test_accuracy"][()] == row["test_acc"])
            check("row matches cell config " + key,
                  (config["method"], config["wbits"], config["abits"], config["seed"]) ==
                  (row["method"], row["wbits"], row["abits"], row["seed"]), config)
            check("curves per epoch " + key, c["curves/val_accuracy"].shape == (1,) and
                  c["curves/epoch"][0] == 1.0)
            check("environment " + key, env["threads"] == 1 and "hdf5" in env["libraries"] and
                  env["compiler"].startswith("g++"), env)
            layers = json.loads(c["layers"][()].decode())
            check("layer statistics " + key, len(layers) == 5 and layers[0]["layer"], layers)
            check("accuracy in range " + key, 0.0 <= row["test_acc"] <= 1.0)
        methods = sorted(set(r["method"] for r in full.values()))
        check("methods in summary", methods == ["alt", "fp32", "minmax"], methods)
    r = run("merge", os.path.join(tmp, "nothing"), "-o", os.path.join(tmp, "x.h5"))
    refused("merge of a non-results folder", r, "sweep.json")

    # Shards: disjoint, and their union is the sweep (by flag and by SLURM variables), with
    # results equal to the unsharded run's.
    shard_keys = []
    for i, how in enumerate(["flag", "slurm"]):
        d = os.path.join(tmp, "shard%d" % i)
        if how == "flag":
            r = run("sweep", cfg, "--out", d, "--shard", "%d/2" % i, *common)
        else:
            r = run("sweep", cfg, "--out", d, *common,
                    env={"SLURM_ARRAY_TASK_ID": str(i + 1), "SLURM_ARRAY_TASK_MIN": "1",
                         "SLURM_ARRAY_TASK_COUNT": "2"})
        check("shard %d succeeds" % i, r.returncode == 0, r.stderr)
        shard_keys.append(set(n[:-3] for n in cell_digests(d)))
    check("shards are disjoint", not (shard_keys[0] & shard_keys[1]), shard_keys)
    check("shards cover the sweep", shard_keys[0] | shard_keys[1] == set(keys), shard_keys)
    r = run("merge", os.path.join(tmp, "shard0"), os.path.join(tmp, "shard1"), "-o", merged)
    check("merge of shard folders", r.returncode == 0, r.stderr)
    sharded = summary(merged)
    check("sharded results equal the full run's",
          {k: v["test_acc"] for k, v in sharded.items()} == {k: v["test_acc"] for k, v in full.items()})
    refused("bad shard", run("sweep", cfg, "--out", out, "--shard", "2/2"), "--shard")

finish("sweep_test")
