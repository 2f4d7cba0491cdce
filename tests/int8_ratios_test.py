#!/usr/bin/python3
"""scripts/int8_ratios.py on Google Benchmark JSON written here with known numbers: a ratio of
two rows of one file pairs their repetitions pass by pass (median of the per-pass ratios, and
their range); rows of different files, or without repetitions, divide their medians; peak rows
count by their fastest repetition; error rows print as ERR. Run by CTest:
    tests/int8_ratios_test.py scripts/int8_ratios.py
"""
import json
import os
import subprocess
import sys
import tempfile

from checks import check, finish

SCRIPT = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(SCRIPT))
from bench_json import repetitions  # noqa: E402


def rows(name, values, label=""):
    return repetitions(name, "GOPS", values, label)


def table(docs):
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, benchmarks in enumerate(docs):
            paths.append(os.path.join(d, "%d.json" % i))
            with open(paths[-1], "w") as f:
                json.dump({"context": {}, "benchmarks": benchmarks}, f)
        r = subprocess.run([sys.executable, SCRIPT, *paths], capture_output=True, text=True,
                           timeout=60)
    check("exits 0", r.returncode == 0, r.stderr)
    return r.stdout


def line(text, *start):
    prefix = "| " + " | ".join(start) + " |"
    found = [l for l in text.splitlines() if l.startswith(prefix)]
    return found[0] if found else ""


# Pass i ran qbench_a7 at a[i] and oneDNN at o[i]: per-pass ratios 1.0, 2.0, 0.5, so the median
# is 1.00 and the range 0.50-2.00, while the ratio of the medians (100 / 100) would also be 1.00
# here; the exact kernel's per-pass ratios 0.5, 0.5, 2.0 give 0.50 where the medians give 1.00.
a7 = rows("qbench_a7/avx2/sq256/threads:1/real_time", [100.0, 200.0, 50.0])
onednn = rows("onednn/avx2/sq256/threads:1/real_time", [100.0, 100.0, 100.0], "gemm:jit")
exact = rows("qbench/avx2/sq256/threads:1/real_time", [50.0, 50.0, 200.0])
acc16 = rows("qbench_acc16/avx2/sq256/threads:1/real_time", [100.0, 150.0, 400.0])
peak = rows("peak/avx2/vpmaddwd", [90.0, 110.0, 100.0])
gemmlowp = rows("gemmlowp/default/sq256/threads:1/real_time", [25.0, 25.0, 25.0])
out = table([a7 + onednn + exact + acc16 + peak, gemmlowp])

t1 = line(out, "sq256", "1", "avx2")
check("table 1 row present", t1 != "", out)
check("a7/oneDNN pairs passes: median and range", "| 1.00 (0.50-2.00) |" in t1, t1)
check("exact/oneDNN pairs passes, not medians", "| 0.50 (0.50-2.00) |" in t1, t1)
check("GOPS cells are medians", "| avx2 | 50.0 | 100.0 |" in t1 and "| 100.0 | 1.00 (" in t1, t1)
check("oneDNN implementation label", t1.endswith("| gemm:jit |"), t1)
t2 = line(out, "sq256", "1", "50.0 (avx2)")
check("cross-file ratio divides the medians, no range", "| 25.0 | 2.00 |" in t2, t2)
t3 = [l for l in out.splitlines() if l.startswith("| sq256 | 1 | 150.0 |")]
check("acc16/int32 per pass: 2, 3, 2", t3 and t3[0].endswith("| 2.00 (2.00-3.00) |"), out)
t4 = line(out, "avx2", "vpmaddwd", "110.0", "qbench")
check("peak is the fastest repetition, share uses the median GOPS", "| 45% |" in t4, out)

# Without repetition indices (one run per row), ratios divide the values.
single = [{"name": n, "run_name": n, "run_type": "iteration", "GOPS": g} for n, g in
          [("qbench_a7/avx2/sq512/threads:2/real_time", 90.0),
           ("onednn/avx2/sq512/threads:2/real_time", 100.0)]]
check("single runs: plain ratio", "| 0.90 |" in line(table([single]), "sq512", "2", "avx2"))

# A row that skipped with an error prints ERR and no ratio.
err = [{"name": "onednn/avx2/sq256/threads:1/real_time", "run_name":
        "onednn/avx2/sq256/threads:1/real_time", "run_type": "iteration", "error_occurred": True,
        "error_message": "disagrees with gemm_ref"}]
t5 = line(table([a7 + err]), "sq256", "1", "avx2")
check("error row prints ERR, ratio a dash", "| ERR | – |" in t5, t5)

finish("int8_ratios")
