#!/usr/bin/python3
"""End-to-end checks of a sweep's integer inference ("integer": {"acc": [...]}) on a tiny
synthetic sweep: results stored in each cell's HDF5 as docs/results-format.md says, a method
export refuses recording its reason, a resumed sweep not redoing them, a model added later
computed from the kept checkpoint without training again, a cell of 0 fine-tuning epochs (ALT
static) exported from its calibrated checkpoint, and `qbench merge` / `qbench report`
tabulating them. Run by CTest:
    tests/sweep_integer_test.py build/qbench SOURCE_DIR
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py

from checks import cell_digests, check, finish, refused_with, summary, synthetic_sweep, write

QBENCH = os.path.abspath(sys.argv[1])
SOURCE = os.path.abspath(sys.argv[2])

# fp32 and PACT W8A8 cannot be exported (no weight grid; PACT's 8-bit DoReFa weights need 9-bit
# codes); minmax W4A4 can, and so can ALT W8A8 static, calibrated without an epoch of training.
CONFIG = synthetic_sweep(
    "integer-test", seeds=[1], exclude=[],
    methods=[{"name": "fp32", "wbits": 32, "abits": 32},
             {"name": "minmax", "wbits": 4, "abits": 4},
             {"name": "pact", "wbits": 8, "abits": 8},
             {"name": "alt", "wbits": 8, "abits": 8, "options": {"mode": "static"},
              "recipe": {"epochs": 0}}],
    integer={"acc": ["int32", "wrap"], "simulate": 1})  # the simulation: first batch only


def run(*args):
    return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=600)


def text(dataset):
    v = dataset[()]
    return v.decode() if isinstance(v, bytes) else v


def cells_by_method(out):
    """{method: (cell file path, its /config as JSON)}."""
    found = {}
    for name in os.listdir(os.path.join(out, "cells")):
        path = os.path.join(out, "cells", name)
        with h5py.File(path, "r") as f:
            found[json.loads(text(f["config"]))["method"]] = path
    return found


with tempfile.TemporaryDirectory() as tmp:
    cfg = write(os.path.join(tmp, "sweep.json"), CONFIG)
    out = os.path.join(tmp, "out")
    common = ["--threads", "1", "--quiet"]

    r = run("sweep", cfg, "--out", out, *common)
    check("sweep runs", r.returncode == 0, r.stderr[-2000:])
    lines = {l.split()[1].split("/")[0]: l for l in r.stdout.splitlines()}
    check("the minmax line shows its integer top-1",
          "int_int32=0." in lines.get("minmax", "") and "int_wrap=0." in lines.get("minmax", ""),
          r.stdout)
    check("the pact line says refused", "int_wrap=refused" in lines.get("pact", ""), r.stdout)

    cells = cells_by_method(out)
    check("four cells", sorted(cells) == ["alt", "fp32", "minmax", "pact"], cells)
    with h5py.File(cells["alt"], "r") as f:
        for model in ("int32", "wrap"):
            g = f["integer"][model]
            check("ALT static, 0 epochs, " + model + ": exported, not refused",
                  "refused" not in g, text(g["result"]))
            check("ALT static " + model + ": engine equals the simulation",
                  "refused" not in g and g["mismatches"][()] == 0)
    layers_wrong = None
    with h5py.File(cells["minmax"], "r") as f:
        check("minmax cell has /integer/int32 and /integer/wrap",
              sorted(f["integer"]) == ["int32", "wrap"], list(f["integer"]))
        for model in ("int32", "wrap"):
            g = f["integer"][model]
            result = json.loads(text(g["result"]))
            check(model + ": result JSON names its model", result["acc"] == model, result)
            check(model + ": top-1 is a fraction", 0 <= g["accuracy"][()] <= 1)
            check(model + ": its top-1 is the result's", g["accuracy"][()] == result["accuracy"])
            check(model + ": engine equals the simulation", g["mismatches"][()] == 0,
                  g["mismatches"][()])
            check(model + ": simulated the first batch (256 of 500 images), ran all",
                  result["reference"]["images"] == 256 and result["images"] == 500,
                  result["reference"])
            names = [x.decode() for x in g["layers"]["layer"][()]]
            dots = list(g["layers"]["dot_products"][()])
            wrong = list(g["layers"]["wrong"][()])
            check(model + ": one entry per int8 layer of LeNet-5", len(names) == 5, names)
            check(model + ": dot products counted", all(d > 0 for d in dots), dots)
            check(model + ": wrong ≤ dot products", all(0 <= w <= d for w, d in zip(wrong, dots)))
            check(model + ": total wrong is the layers' sum", g["wrong"][()] == sum(wrong))
            check(model + ": max |sum| is the layers' max",
                  g["max_abs_sum"][()] == max(g["layers"]["max_abs_sum"][()]))
            if model == "int32":
                check("int32 is never wrong", sum(wrong) == 0, wrong)
            else:
                layers_wrong, layers_dots = wrong, dots
        check("the training's record is still there", "summary" in f and "curves" in f)
    for method in ("pact", "fp32"):
        with h5py.File(cells[method], "r") as f:
            for model in ("int32", "wrap"):
                g = f["integer"][model]
                reason = text(g["refused"])
                check(method + " " + model + ": refusal recorded", len(reason) > 10, reason)
                check(method + " " + model + ": no numbers", "accuracy" not in g, list(g))
                check(method + " " + model + ": the reason names a layer or the checkpoint",
                      "layer " in reason or "FP32" in reason, reason)

    # Resumed: nothing to run, nothing rewritten.
    before = cell_digests(out)
    r = run("sweep", cfg, "--out", out, *common)
    check("rerun succeeds", r.returncode == 0, r.stderr[-2000:])
    check("rerun has nothing to do", "4 already done, 0 to run" in r.stderr, r.stderr)
    check("rerun rewrites nothing", cell_digests(out) == before)

    # One more model: the sweep is the same (same cell keys), the cells are trained already.
    with h5py.File(cells["minmax"], "r") as f:
        int32_before = text(f["integer"]["int32"]["result"])
        summary_before = text(f["summary"])
    qat = os.path.join(out, "qat")
    ckpt_times = {n: os.stat(os.path.join(qat, n)).st_mtime_ns for n in os.listdir(qat)}
    more = write(os.path.join(tmp, "more.json"),
                 dict(CONFIG, integer={"acc": ["int32", "wrap", "saturate"]}))
    r = run("sweep", more, "--out", out, "--dry-run")
    check("dry run shows the missing integer results",
          r.stdout.count(" integer-missing") == 4, r.stdout)
    r = run("sweep", more, "--out", out, *common)
    check("adding a model succeeds", r.returncode == 0, r.stderr[-2000:])
    check("adding a model trains nothing (no checkpoint written)",
          {n: os.stat(os.path.join(qat, n)).st_mtime_ns for n in os.listdir(qat)} == ckpt_times)
    with h5py.File(cells["minmax"], "r") as f:
        check("saturate added", sorted(f["integer"]) == ["int32", "saturate", "wrap"],
              list(f["integer"]))
        check("int32 not computed again (its result, wall time included, is the same)",
              text(f["integer"]["int32"]["result"]) == int32_before)
        check("the training's summary copied as it was", text(f["summary"]) == summary_before)
        check("saturate agrees with the simulation", f["integer"]["saturate"]["mismatches"][()] == 0)

    # Merge: the summary columns.
    merged = os.path.join(tmp, "results.h5")
    r = run("merge", out, "-o", merged)
    check("merge succeeds", r.returncode == 0, r.stderr)
    rows = {row["method"]: row for row in summary(merged).values()}
    with h5py.File(cells["minmax"], "r") as f:
        acc_wrap = f["integer"]["wrap"]["accuracy"][()]
        check("int_acc_wrap is the cell's", rows["minmax"]["int_acc_wrap"] == acc_wrap)
        check("int_wrong_wrap is the cell's", rows["minmax"]["int_wrong_wrap"] == sum(layers_wrong))
        check("int_mismatch_saturate is 0", rows["minmax"]["int_mismatch_saturate"] == 0)
        check("int_agree_int32 is the cell's", rows["minmax"]["int_agree_int32"] ==
              json.loads(text(f["integer"]["int32"]["result"]))["agreement"]["fraction"])
    check("a model not run is NaN", math.isnan(rows["minmax"]["int_acc_pair_wrap"]))
    check("a refused cell is NaN", math.isnan(rows["pact"]["int_acc_wrap"]))
    check("a refused cell's reason", len(rows["pact"]["int_refused"]) > 10, rows["pact"])
    check("an exported cell has no reason", rows["minmax"]["int_refused"] == "", rows["minmax"])

    # Report: a spec whose metric is integer top-1 under wrap.
    spec = write(os.path.join(tmp, "spec.json"), {
        "schema": 1, "name": "int", "metric": "int_acc_wrap",
        "rows": [{"label": "minmax", "method": "minmax"}, {"label": "pact", "method": "pact"}],
        "columns": [{"label": "any"}]})
    r = run("report", merged, "--spec", spec, "--format", "csv")
    check("report with an integer metric", r.returncode == 0, r.stderr)
    records = {l.split(",")[1]: l for l in r.stdout.splitlines()[1:]}
    check("minmax's integer top-1 in %", ",%.6f," % (100 * acc_wrap) in records.get("minmax", "")
          or ("%.4f" % (100 * acc_wrap)) in records.get("minmax", ""), r.stdout)
    check("pact's is missing", records.get("pact", "").endswith(",missing"), r.stdout)
    r = run("report", merged, "--integer")
    check("integer tables", r.returncode == 0, r.stderr)
    check("accuracy table", "### Integer vs fake-quant top-1 (lenet5, synthetic)" in r.stdout,
          r.stdout)
    check("the table says how many images were simulated", "| 0 (first 256 images) |" in r.stdout,
          r.stdout)
    check("overflow table", "### Per-layer 16-bit overflows (lenet5, synthetic)" in r.stdout,
          r.stdout)
    check("wrap's per-layer counts shown",
          "| minmax W4A4, seed 1 | wrap | %s |\n" % " | ".join(
              "%d (%.2f%%)" % (w, 100.0 * w / d) for w, d in zip(layers_wrong, layers_dots))
          in r.stdout, r.stdout)
    check("the refusal shown", rows["pact"]["int_refused"].replace("|", "\\|") in r.stdout,
          r.stdout)
    r = run("report", merged, "--integer", "--format", "csv")
    check("integer tables as CSV", r.returncode == 0 and r.stdout.startswith("cell,fake-quant"),
          r.stdout[:200])

    # A merged file from before the integer columns still reports; --integer says why not.
    old = os.path.join(SOURCE, "results", "lenet5-paper.h5")
    r = run("report", old, "--spec", os.path.join(SOURCE, "analysis", "tables",
                                                  "lenet5-paper.json"))
    check("an older merged file still reports", r.returncode == 0, r.stderr)
    refused_with("--integer without integer results", run("report", old, "--integer"),
                 old + ": no cell holds integer results (give the sweep config "
                 "\"integer\": {\"acc\": [...]}, docs/results-format.md)")

    # Bad option values: one line naming the key path.
    bad = write(os.path.join(tmp, "bad.json"), dict(CONFIG, integer={"acc": ["int32", "wrapp"]}))
    refused_with("unknown accumulator model", run("sweep", bad, "--dry-run"),
                 bad + ": integer.acc[1]: unknown accumulator model 'wrapp' (valid: int32, wrap, "
                 "saturate, pair-saturate, pair-wrap, lanes; did you mean 'wrap'?)")

finish("sweep_integer")
