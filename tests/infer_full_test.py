#!/usr/bin/python3
"""scripts/infer_full.py end to end on a short synthetic LeNet-5 run: every test image checked
against the exact simulation (images simulated = all 500), one JSON per checkpoint and model,
the table's row from it, a second call computing nothing again, a malformed argument and a
missing checkpoint refused without a result file. Run by CTest:
    tests/infer_full_test.py build/qbench scripts/infer_full.py
"""
import json
import os
import subprocess
import sys
import tempfile

from checks import check, finish

QBENCH = os.path.abspath(sys.argv[1])
SCRIPT = os.path.abspath(sys.argv[2])


def script(*args):
    return subprocess.run([sys.executable, SCRIPT, "--qbench", QBENCH, *args],
                          capture_output=True, text=True, timeout=600)


with tempfile.TemporaryDirectory() as tmp:
    ck = os.path.join(tmp, "minmax.h5")
    r = subprocess.run([QBENCH, "train", "--data", "synthetic", "--epochs", "1", "--batch", "64",
                        "--threads", "1", "--train-limit", "512", "--method", "minmax",
                        "--wbits", "8", "--abits", "8", "--out", ck],
                       capture_output=True, text=True, timeout=600)
    check("minmax W8A8 training", r.returncode == 0, r.stderr)
    out = os.path.join(tmp, "full")
    r = script("--out", out, "--acc", "int32", "wrap", "--", "tiny-minmax=" + ck)
    check("infer_full runs", r.returncode == 0, r.stderr)
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    check("one JSON per model", files == ["tiny-minmax.int32.json", "tiny-minmax.wrap.json"],
          files)
    if files:
        d = json.load(open(os.path.join(out, files[0])))
        check("every test image simulated",
              d["reference"]["images"] == d["images"] == 500 and d["reference"]["mismatches"] == 0,
              d["reference"])
        row = "| tiny-minmax | lenet5 | minmax W8A8 | int32 | 500 | 0 | yes | %.2f | %.2f | %.2f (%d) |" % (
            100 * d["accuracy"], 100 * d["fake_quant_accuracy"], 100 * d["agreement"]["fraction"],
            d["agreement"]["disagreements"])
        check("the table's row is the JSON's", row in r.stdout.splitlines(), r.stdout)
    times = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in files}
    again = script("--out", out, "--acc", "int32", "wrap", "--", "tiny-minmax=" + ck)
    check("a second call succeeds and prints the same table",
          again.returncode == 0 and again.stdout == r.stdout, again.stderr)
    check("a second call computes nothing",
          {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in files} == times)
    bad = script("--out", out, "no-equals-sign")
    check("NAME=CHECKPOINT required", bad.returncode != 0 and
          "'no-equals-sign': expected NAME=CHECKPOINT" in bad.stderr, bad.stderr)
    missing = script("--out", out, "gone=" + os.path.join(tmp, "gone.h5"))
    check("a missing checkpoint refused", missing.returncode != 0 and "gone.h5" in missing.stderr,
          missing.stderr)
    check("and leaves no result", not any(f.startswith("gone") for f in os.listdir(out)),
          os.listdir(out))

finish("infer_full")
