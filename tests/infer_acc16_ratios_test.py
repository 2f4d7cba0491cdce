#!/usr/bin/python3
"""scripts/infer_acc16_ratios.py on Google Benchmark JSON written here with known numbers: the
acc16/acc32 ratio pairs repetitions pass by pass (median of the per-pass ratios and their
range), rows without repetitions divide their values, an error row prints ERR. Run by CTest:
    tests/infer_acc16_ratios_test.py scripts/infer_acc16_ratios.py
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


def rows(name, values, label="avx2"):
    return repetitions(name, "items_per_second", values, label)


def table(benchmarks):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "b.json")
        with open(path, "w") as f:
            json.dump({"context": {}, "benchmarks": benchmarks}, f)
        r = subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True,
                           timeout=60)
    check("exits 0", r.returncode == 0, r.stderr)
    return r.stdout


def line(text, *start):
    prefix = "| " + " | ".join(start) + " |"
    found = [l for l in text.splitlines() if l.startswith(prefix)]
    return found[0] if found else ""


# Per-pass ratios 2.0, 1.5, 1.0: median 1.50, range 1.00-2.00 (the medians, 300/200, also 1.5;
# the second net's passes 1.0, 1.0, 4.0 give 1.00 where the medians 400/200 would give 2.00).
out = table(rows("infer/acc16/resnet20/batch:128/threads:2/real_time", [400, 300, 200]) +
            rows("infer/acc32/resnet20/batch:128/threads:2/real_time", [200, 200, 200]) +
            rows("infer/acc16/lenet5/batch:1/threads:1/real_time", [100, 400, 800]) +
            rows("infer/acc32/lenet5/batch:1/threads:1/real_time", [100, 400, 200]) +
            [{"name": "infer/int8/lenet5/batch:1/threads:1/real_time", "run_type": "iteration",
              "items_per_second": 5}])
r20 = line(out, "resnet20", "128", "2")
check("paired ratio with range", r20 == "| resnet20 | 128 | 2 | 300 | 200 | 1.50 (1.00-2.00) | avx2 |",
      out)
l5 = line(out, "lenet5", "1", "1")
check("pairs passes, not medians", "| 1.00 (1.00-4.00) |" in l5, out)
check("lenet5 before resnet20", out.index("| lenet5") < out.index("| resnet20"), out)
check("other rows ignored", "int8" not in out, out)

single = [{"name": n, "run_name": n, "run_type": "iteration", "items_per_second": v} for n, v in
          [("infer/acc16/mobilenet_tiny/batch:1/threads:1/real_time", 130.0),
           ("infer/acc32/mobilenet_tiny/batch:1/threads:1/real_time", 100.0)]]
check("single runs: plain ratio", "| 1.30 |" in line(table(single), "mobilenet_tiny", "1", "1"))

err = [{"name": "infer/acc16/lenet5/batch:1/threads:1/real_time", "run_type": "iteration",
        "error_occurred": True, "error_message": "layer conv2 overflows 16 bits"}]
e = line(table(err + rows("infer/acc32/lenet5/batch:1/threads:1/real_time", [1, 2])), "lenet5")
check("error row prints ERR, ratio a dash",
      "| ERR layer conv2 overflows 16 bits |" in e and "| – |" in e, e)

finish("infer_acc16_ratios")
