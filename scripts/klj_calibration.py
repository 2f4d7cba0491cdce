#!/usr/bin/python3
"""Where ALT's KL-J calibration puts an unsigned activation threshold, on synthetic data, at 2,
4 and 8 bits: smooth distributions against a spiky one (what a layer behind an earlier
low-bit layer sees). Each calibration is one `qbench probe` request without params, so the
quantizer calibrates on x as in training. Prints one line per distribution.

    scripts/klj_calibration.py [build/qbench]
"""
import json
import subprocess
import sys

import numpy as np

QBENCH = sys.argv[1] if len(sys.argv) > 1 else "build/qbench"
N = 20000


def exponent(x, bits):
    req = {"method": "alt", "role": "activation", "bits": bits, "signed": False,
           "x": {"shape": [len(x)], "data": [float(v) for v in x]}}
    r = subprocess.run([QBENCH, "probe"], input=json.dumps(req), capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout)["grid"]["pow2_exponent"][0]


def main():
    rng = np.random.default_rng(0)
    data = {
        "half-normal": np.abs(rng.standard_normal(N)),
        "relu(normal)": np.maximum(rng.standard_normal(N), 0.0),
        "log-normal": rng.lognormal(0.0, 1.0, N),
        "|cauchy|": np.abs(rng.standard_cauchy(N)),
        "spikes 0/0.5/1/1.5/4 (50/30/10/7/3%)": rng.choice(
            [0.0, 0.5, 1.0, 1.5, 4.0], size=N, p=[0.5, 0.3, 0.1, 0.07, 0.03]),
    }
    for name, x in data.items():
        cells = []
        for bits in (2, 4, 8):
            top = (2 ** bits - 1) * 2.0 ** exponent(x, bits)  # the largest level
            cells.append("b%d clips at %.3g (%.1f%% of values above)" %
                         (bits, top, 100.0 * np.mean(x > top)))
        print("%s, max %.3g: %s" % (name, x.max(), "; ".join(cells)))


if __name__ == "__main__":
    main()
