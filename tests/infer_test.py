#!/usr/bin/python3
"""`qbench infer` end to end on the synthetic dataset: a short minmax W8A8 LeNet-5 run, then
integer inference under every accumulator model (no mismatch with the exact simulation, the
JSON fields present); ResNet-20 and MobileNet-tiny (residual adds, global average pooling,
depthwise convolutions) with no mismatch; and the refusals: an FP32 checkpoint, a checkpoint without quantizer
state, a truncated and a corrupted HDF5 file, an unknown --acc, a method export cannot
represent. Each refusal: one line on stderr naming the problem, non-zero exit, nothing on
stdout. `--explain-codes` on ResNet-20 traces each differing code to a rounding boundary. Run by CTest:
    tests/infer_test.py build/qbench
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from checks import check, refused, finish

QBENCH = os.path.abspath(sys.argv[1])


def run(*args):
    return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=600)


def silent_refusal(name, result, *needles):
    refused(name, result, *needles)
    check(name + " writes nothing on stdout", result.stdout == "", repr(result.stdout))


def explain(ck):
    """--explain-codes: every image some of whose codes differ between the two networks (a
    W8A8 ResNet-20 on the 500 synthetic test images has about 17 on this machine, each at a
    rounding boundary), traced to the first code that differs and its two values before
    rounding: the same quantity computed in float32 and in integers, 10^-6..10^-4 of a code
    apart, the integer value the correctly rounded one (further from k + 1/2 than its own
    error bound). --explain lists the disagreements among them."""
    r = run("infer", ck, "--threads", "2", "--explain-codes")
    check("infer --explain-codes succeeds", r.returncode == 0, r.stderr)
    if r.returncode != 0:
        return
    out = json.loads(r.stdout)
    explained = out["explained"]
    check("--explain-codes: images whose codes differ found", len(explained) >= 3, out)
    disagree = [e for e in explained if e["fake_quant_top1"] != e["integer_top1"]]
    check("--explain-codes: every disagreement among them",
          len(disagree) == out["agreement"]["disagreements"], out["agreement"])
    for e in explained:
        d = e["first_difference"]
        check("--explain-codes: an entry traced", d.get("codes_differ", 0) >= 1 or
              "note" in d and e in disagree, e)
        f = d.get("first")
        if not f or "note" in f:
            continue
        fq, iq = f["fake_quant_code"], f["integer_code"]
        fv, iv = f["fake_quant_value"], f["integer_value"]
        check("--explain-codes: the codes differ, the values agree to float32 error",
              fq != iq and abs(fv - iv) < 0.01, e)
        check("--explain-codes: the integer code is the correctly rounded one",
              f["tie"] or f["integer_distance_to_boundary"] > f["integer_error_bound"], e)
        # Each code is its value rounded, unless clamped (ReLU's zero point, 255): the integer
        # code its exact value, the fake-quant code the float32 quotient minmax's rint(x / s)
        # rounds (a value a few float32 steps above k + 1/2 can round to the float k + 1/2
        # exactly, and rint sends that to the even neighbour).
        for code, value in [(fq, f["fake_quant_quotient"]), (iq, iv)]:
            check("--explain-codes: a code is its value rounded",
                  abs(code - value) <= 0.5 or value < code or code == 255, e)
    r = run("infer", ck, "--threads", "2", "--explain")
    check("infer --explain succeeds", r.returncode == 0, r.stderr)
    if r.returncode == 0:
        check("--explain: the disagreements only", json.loads(r.stdout)["explained"] == disagree,
              r.stdout)


with tempfile.TemporaryDirectory() as tmp:
    quick = ["--data", "synthetic", "--epochs", "1", "--batch", "64", "--threads", "2",
             "--train-limit", "512"]
    ck = os.path.join(tmp, "minmax.h5")
    r = run("train", *quick, "--method", "minmax", "--wbits", "8", "--abits", "8", "--out", ck)
    check("minmax W8A8 training", r.returncode == 0, r.stderr)
    for acc in ["int32", "wrap", "saturate", "pair-saturate", "pair-wrap", "lanes"]:
        r = run("infer", ck, "--acc", acc, "--threads", "2", "--test-limit", "200")
        check("infer --acc " + acc + " succeeds", r.returncode == 0, r.stderr)
        if r.returncode != 0:
            continue
        out = json.loads(r.stdout)
        check(acc + ": no mismatch with the exact simulation",
              out["reference"]["mismatches"] == 0 and out["reference"]["overflow_counts_equal"],
              out["reference"])
        check(acc + ": images", out["images"] == 200, out["images"])
        check(acc + ": agreement counted",
              out["agreement"]["top1_agree"] + out["agreement"]["disagreements"] == 200)
        convs = [l for l in out["layers"] if l["kind"] == "int8"]
        check(acc + ": per-layer statistics", len(convs) == 5 and
              all(l["dot_products"] > 0 for l in convs), out["layers"])
        if acc == "int32":
            check("int32 is exact", all(l["wrong"] == 0 for l in convs), out["layers"])
            # A one-epoch synthetic net has near-tied logits: a loose bound (a broken export
            # agrees on about a tenth).
            check("W8A8 agrees with fake-quant", out["agreement"]["fraction"] >= 0.9,
                  out["agreement"])
        if acc == "wrap":
            big = max(l["max_abs_sum"] for l in convs)
            check("wrap overflows when sums exceed int16",
                  big <= 32767 or any(l["wrong"] > 0 for l in convs), out["layers"])

    # --simulate-limit: the simulation checks the batches that start before image 100 (two of
    # 64), the engine still runs all 200 images: the same accuracy and counts as a full check.
    full = run("infer", ck, "--acc", "saturate", "--threads", "2", "--test-limit", "200",
               "--batch", "64")
    part = run("infer", ck, "--acc", "saturate", "--threads", "2", "--test-limit", "200",
               "--batch", "64", "--simulate-limit", "100")
    check("--simulate-limit succeeds", full.returncode == 0 and part.returncode == 0,
          full.stderr + part.stderr)
    if full.returncode == 0 and part.returncode == 0:
        f, p = json.loads(full.stdout), json.loads(part.stdout)
        check("--simulate-limit: 128 images simulated, of 200",
              p["reference"]["images"] == 128 and f["reference"]["images"] == 200 and
              p["images"] == 200, (p["reference"], f["reference"]))
        check("--simulate-limit: no mismatch, counts equal where simulated",
              p["reference"]["mismatches"] == 0 and p["reference"]["overflow_counts_equal"],
              p["reference"])
        check("--simulate-limit: accuracy and overflow counts of every image",
              p["accuracy"] == f["accuracy"] and p["layers"] == f["layers"], (p, f))

    # --no-stats: pair-wrap on the 16-bit kernels, the same codes as the simulation (which
    # counted), no overflow statistics; the other 16-bit models refused.
    r = run("infer", ck, "--acc", "pair-wrap", "--no-stats", "--threads", "2",
            "--test-limit", "200")
    check("infer --no-stats succeeds", r.returncode == 0, r.stderr)
    if r.returncode == 0:
        out = json.loads(r.stdout)
        convs = [l for l in out["layers"] if l["kind"] == "int8"]
        check("--no-stats: no mismatch with the exact simulation",
              out["reference"]["mismatches"] == 0, out["reference"])
        check("--no-stats: nothing counted", out["overflows_counted"] is False and
              out["reference"]["overflow_counts_equal"] is None and
              all("wrong" not in l and l["dot_products"] > 0 for l in convs), out)
    silent_refusal("--no-stats with wrap", run("infer", ck, "--acc", "wrap", "--no-stats"),
                   "accumulator model wrap", "pair-wrap")

    # Residual adds, global average pooling and depthwise convolutions, end to end.
    for net, needle in [("resnet20", "residual add, global average pooling"),
                        ("mobilenet_tiny", "global average pooling")]:
        ck_net = os.path.join(tmp, net + ".h5")
        r = run("train", *quick, "--net", net, "--width", "0.25", "--method", "minmax",
                "--wbits", "8", "--abits", "8", "--out", ck_net)
        check(net + " minmax W8A8 training", r.returncode == 0, r.stderr)
        r = run("infer", ck_net, "--threads", "2", "--test-limit", "100")
        check(net + ": infer succeeds", r.returncode == 0, r.stderr)
        if r.returncode == 0:
            out = json.loads(r.stdout)
            check(net + ": no mismatch with the exact simulation",
                  out["reference"]["mismatches"] == 0, out["reference"])
            check(net + ": pooled (and added) in one requantisation",
                  any(l.get("requantisation", "").startswith(needle) for l in out["layers"]),
                  out["layers"])
            check(net + ": no 'explained' list without --explain", "explained" not in out)
            if net == "resnet20":
                explain(ck_net)
            if net == "mobilenet_tiny":
                check(net + ": depthwise layers", sum(l.get("depthwise", False)
                                                       for l in out["layers"]) == 5, out["layers"])

    fp32 = os.path.join(tmp, "fp32.h5")
    r = run("train", *quick, "--out", fp32)
    check("fp32 training", r.returncode == 0, r.stderr)
    silent_refusal("FP32 checkpoint", run("infer", fp32), "FP32 checkpoint", fp32)

    # Quantizer state removed: the 'hooks' string deleted with h5py.
    try:
        import h5py
        nostate = os.path.join(tmp, "nostate.h5")
        shutil.copy(ck, nostate)
        with h5py.File(nostate, "a") as f:
            del f["strings/hooks"]
        silent_refusal("no quantizer state", run("infer", nostate), "no quantizer state")
    except ImportError:
        check("python3-h5py is installed", False, "missing: run scripts/setup")

    truncated = os.path.join(tmp, "truncated.h5")
    with open(ck, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    silent_refusal("truncated checkpoint", run("infer", truncated), truncated)
    corrupted = os.path.join(tmp, "corrupted.h5")
    with open(corrupted, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    silent_refusal("corrupted checkpoint", run("infer", corrupted), corrupted)
    silent_refusal("unknown --acc", run("infer", ck, "--acc", "int12"), "int12", "pair-saturate")

    # DoReFa's 8-bit weight levels need 9 bits: refused at export, naming the layer.
    dorefa = os.path.join(tmp, "dorefa.h5")
    r = run("train", *quick, "--method", "dorefa", "--wbits", "8", "--abits", "8", "--out", dorefa)
    check("dorefa W8A8 training", r.returncode == 0, r.stderr)
    silent_refusal("DoReFa W8 export", run("infer", dorefa), "layer conv1", "s8")

finish("infer")
