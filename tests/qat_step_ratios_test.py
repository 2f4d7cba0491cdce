#!/usr/bin/python3
"""scripts/qat_step_ratios.py on Google Benchmark JSON written here with known step times:
issue 17's three APT ratios (FP32 / integer, fake-quant / integer, FP32 / fake-quant) are taken
pass by pass — the median of the per-pass ratios, with their range — so a drift that slows every
row of one pass cancels; a net missing one of the three rows gets no APT line. Run by CTest:
    tests/qat_step_ratios_test.py scripts/qat_step_ratios.py
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


def rows(name, values):
    return repetitions(name, "real_time", values)


def output(benchmarks):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "steps.json")
        with open(path, "w") as f:
            json.dump({"benchmarks": benchmarks}, f)
        r = subprocess.run(["/usr/bin/python3", SCRIPT, path], capture_output=True, text=True)
        check("script runs", r.returncode == 0, r.stderr)
        return r.stdout


# Pass 2 runs everything 3x slower (a busy host): paired ratios do not see it; medians of each
# row alone would (FP32 median 30 / integer median 20 = 1.5x instead of 2x).
fp32 = rows("resnet20_step/none/threads:2", [20, 60, 30])
integer = rows("resnet20_step/apt_w8a8g8_integer/threads:2", [10, 30, 20])
fake = rows("resnet20_step/apt_w8a8g8_fake-quant/threads:2", [40, 120, 60])
out = output(fp32 + integer + fake)
line = [l for l in out.splitlines() if l.startswith("| resnet20 | 2 | ") and "×" in l]
check("one APT line", len(line) == 1, out)
cells = [c.strip() for c in line[0].split("|")[3:6]] if line else []
check("FP32 / integer paired per pass", cells[:1] == ["2.00× (1.50..2.00, 3 passes)"], cells)
check("fake-quant / integer paired per pass", cells[1:2] == ["4.00× (3.00..4.00, 3 passes)"],
      cells)
check("FP32 / fake-quant paired per pass", cells[2:3] == ["0.50× (0.50..0.50, 3 passes)"], cells)
check("the cost table lists both APT rows",
      "apt_w8a8g8_integer" in out and "apt_w8a8g8_fake-quant" in out, out)

out = output(fp32 + integer)  # no fake-quant row: no APT line
check("no APT line without its three rows", "×" not in out, out)

finish("qat_step_ratios_test")
