#!/usr/bin/python3
"""End-to-end checks of the `qbench` command line: bad input gives one clear line on stderr
and a non-zero exit, and never damages files already written. Run by CTest:
    tests/cli_test.py build/qbench
"""
import json
import os
import subprocess
import sys
import tempfile

from checks import check, refused, refused_with, digest, finish

QBENCH = os.path.abspath(sys.argv[1])


def run(*args):
    return subprocess.run([QBENCH, *args], capture_output=True, text=True, timeout=600)


with tempfile.TemporaryDirectory() as tmp:
    quick = ["--data", "synthetic", "--epochs", "1", "--batch", "64", "--threads", "2"]

    r = run("train", "--help")
    check("train --help", r.returncode == 0 and "--resume" in r.stdout, r.stderr)

    refused("unknown net", run("train", "--net", "resnet18", *quick), "resnet20", "mobilenet_tiny")
    refused("unknown dataset", run("train", "--data", "mnist"), "fashion-mnist", "cifar10")
    refused("missing dataset", run("train", "--data-dir", os.path.join(tmp, "none")),
            "dataset-fashion-mnist")
    refused("unknown schedule", run("train", "--schedule", "linear", *quick), "cosine")
    refused("unknown optimizer", run("train", "--optimizer", "rmsprop", *quick), "adam")
    refused("zero epochs", run("train", "--epochs", "0", "--data", "synthetic"),
            "epochs must be at least 1")
    # The engine says what happened, with values; the command line adds the flag to change.
    r = run("train", *quick, "--lr", "1e30")
    last = ([l for l in r.stderr.splitlines() if l.strip()] or [""])[-1]
    check("divergence exits non-zero", r.returncode != 0, r.stderr)
    check("divergence names the loss, step and rate",
          "loss is" in last and "step" in last and "learning rate" in last, last)
    check("divergence hints at --lr", "--lr" in last, last)
    r = run("train", "--bogus-flag")
    check("unknown flag exits non-zero", r.returncode != 0, r.stderr)

    # A good run writes a checkpoint and a JSON summary.
    ck = os.path.join(tmp, "run.h5")
    r = run("train", *quick, "--out", ck)
    check("synthetic run succeeds", r.returncode == 0, r.stderr)
    summary = json.loads(r.stdout)
    check("summary has test accuracy", 0.0 <= summary["test_accuracy"] <= 1.0, r.stdout)
    check("checkpoint written", os.path.exists(ck) and not os.path.exists(ck + ".partial"))
    before = digest(ck)

    # The checkpoint reads with h5py using only docs/checkpoint-format.md.
    try:
        import h5py
        with h5py.File(ck, "r") as f:
            check("checkpoint schema", f.attrs["schema_version"] == 1 and
                  f.attrs["format"] in (b"qbench-checkpoint", "qbench-checkpoint"))
            check("checkpoint weights", f["params/conv1.weight"].shape == (6, 1, 5, 5))
            check("checkpoint momentum", f["optimizer/weights/momentum/conv1.weight"].shape == (6, 1, 5, 5))
            check("checkpoint epoch", f["scalars/epoch"][()] == 1.0)
            history = json.loads(f["strings/history"][()].decode())
            check("checkpoint history", len(history) == 1 and "val_accuracy" in history[0])
    except ImportError:
        check("python3-h5py is installed", False, "missing: run scripts/setup")

    # A corrupt checkpoint to resume from: refused, and the good checkpoint at --out untouched.
    bad = os.path.join(tmp, "bad.h5")
    with open(bad, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    refused("corrupt checkpoint", run("train", *quick, "--resume", bad, "--out", ck), bad)
    with open(bad, "wb") as f:
        f.write(b"not hdf5")
    refused("non-HDF5 checkpoint", run("train", *quick, "--resume", bad, "--out", ck),
            "byte offset 0")
    refused("missing checkpoint", run("train", *quick, "--resume", os.path.join(tmp, "nope.h5")),
            "not found")
    # A checkpoint of another run (different seed) is refused too.
    refused("other run's checkpoint", run("train", *quick, "--seed", "9", "--resume", ck, "--out", ck),
            "different run")
    check("good checkpoint untouched", digest(ck) == before)

    # Resuming a finished run trains nothing more and reports the same test accuracy.
    r2 = run("train", *quick, "--resume", ck)
    check("resume of finished run", r2.returncode == 0 and
          json.loads(r2.stdout)["test_accuracy"] == summary["test_accuracy"], r2.stderr)

    # Unwritable output folder: refused before training.
    refused("unwritable --out", run("train", *quick, "--out", os.path.join(tmp, "no", "dir", "x.h5")),
            "x.h5")

def probe(request_text):
    return subprocess.run([QBENCH, "probe"], input=request_text, capture_output=True, text=True,
                          timeout=60)


good = {"method": "minmax", "role": "weight", "bits": 4, "x": {"shape": [2, 2], "data": [1, -2, 3, 0.5]},
        "dy": {"shape": [2, 2], "data": [1, 1, 1, 1]}}
r = probe(json.dumps(good))
check("probe good request", r.returncode == 0 and json.loads(r.stdout)["grid"]["bits"] == 4, r.stderr)


def probe_refused(name, change, key):
    req = json.loads(json.dumps(good))
    change(req)
    refused("probe " + name, probe(json.dumps(req)), key)


refused("probe invalid JSON", probe("{\"method\": "), "request")
probe_refused("unknown method", lambda q: q.update(method="lsq"), "method")
probe_refused("missing x", lambda q: q.pop("x"), "x")
probe_refused("bits 0", lambda q: q.update(bits=0), "bits")
probe_refused("bits 33", lambda q: q.update(bits=33), "bits")
probe_refused("bits 2.5", lambda q: q.update(bits=2.5), "bits")
probe_refused("unknown role", lambda q: q.update(role="bias"), "role")
probe_refused("unsupported role", lambda q: q.update(method="pact", role="weight"), "role")
probe_refused("dy shape", lambda q: q.update(dy={"shape": [4], "data": [1, 1, 1, 1]}), "dy")
probe_refused("signed not boolean", lambda q: q.update(signed="yes"), "signed")
probe_refused("shape/data mismatch", lambda q: q["x"].update(data=[1, 2, 3]), "x")
probe_refused("infinite input", lambda q: q["x"]["data"].__setitem__(0, 1e39), "x")
probe_refused("unknown option", lambda q: q.update(options={"eta": 0.1}), "options.eta")
probe_refused("unknown parameter", lambda q: q.update(params={"alpha": 1.0}), "params.alpha")

# PROBE.md asks for layer.kind only to initialise α: given params.alpha, a bare request runs.
pact = {"method": "pact", "role": "activation", "bits": 2, "params": {"alpha": 3.0},
        "x": {"shape": [3], "data": [-1, 1, 4]}}
r = probe(json.dumps(pact))
check("pact probe with alpha and no layer", r.returncode == 0 and
      json.loads(r.stdout)["y"]["data"] == [0, 1, 3], r.stderr)
for method in ("pact", "sat"):
    req = dict(pact, method=method)
    del req["params"]
    refused_with(method + " probe with neither alpha nor layer", probe(json.dumps(req)),
                 "layer: PACT needs layer.kind (conv or linear) to initialise alpha")
# A layer without "kind" (its other fields given): the same, α from the request or refused.
req = dict(pact, layer={"in_channels": 4, "out_channels": 5, "fan_out": 45})
for method in ("pact", "sat"):
    r = probe(json.dumps(dict(req, method=method)))
    check(method + " probe with alpha and a layer without kind", r.returncode == 0 and
          json.loads(r.stdout)["y"]["data"] == [0, 1, 3], r.stderr)
    no_alpha = dict(req, method=method)
    del no_alpha["params"]
    refused_with(method + " probe with a layer without kind and no alpha",
                 probe(json.dumps(no_alpha)),
                 "layer.kind: PACT needs layer.kind (conv or linear) to initialise alpha")
# SYQ weights without a granularity option or a layer shape: PROBE.md's default from the
# tensor's rank, pixel (one alpha per kernel position) for 4-D, layer (one alpha) otherwise.
for shape, granularity, alphas in (([2, 2, 3, 3], "pixel", [9]), ([3, 4], "layer", [])):
    n = 1
    for d in shape:
        n *= d
    req = {"method": "syq", "role": "weight", "bits": 2,
           "x": {"shape": shape, "data": [0.1 * i - 1.0 for i in range(n)]}}
    r = probe(json.dumps(req))
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    check("bare syq %s weight: %s granularity" % ("x".join(map(str, shape)), granularity),
          out.get("grid", {}).get("granularity") == granularity and
          out["params"]["alpha"]["shape"] == alphas, r.stdout + r.stderr)
# Duplicate keys and numbers beyond a double, with the key path and byte offset.
text = '{"method": "pact", "method": "sat"}'
refused_with("probe duplicate key", probe(text),
             "request: method: duplicate key at byte 19 (first at byte 1)")
text = json.dumps(pact).replace("4]", "4e400]")
refused_with("probe number beyond a double", probe(text),
             "request: x.data[2]: 4e400 at byte %d is out of range (beyond a double, ±1.8e308)"
             % text.index("4e400"))

with tempfile.TemporaryDirectory() as tmp:
    quick = ["--data", "synthetic", "--epochs", "1", "--threads", "2"]
    refused("unknown --method", run("train", *quick, "--method", "lsq"), "minmax", "pact")
    refused("--wbits out of range", run("train", *quick, "--method", "pact", "--wbits", "40"), "bits")
    refused("--opt without --method", run("train", *quick, "--opt", "a=1"), "--method")
    refused("unknown --opt", run("train", *quick, "--method", "minmax", "--wbits", "4", "--opt", "eta=1"),
            "options.eta")
    refused("--init missing", run("train", *quick, "--init", os.path.join(tmp, "none.h5")),
            "initial weights", "none.h5")
    refused_with("probe --input a directory", run("probe", "--input", tmp),
                 tmp + ": is a directory, expected a probe request file")

    # PACT at a rate that used to drive a clipping level to −36: α stays in its domain (α > 0)
    # and the run learns (or stops with one line saying why).
    r = run("train", "--net", "lenet5", *quick, "--batch", "64", "--method", "pact",
            "--wbits", "8", "--abits", "8", "--lr", "0.05")
    if r.returncode == 0:
        alphas = [a for layer in json.loads(r.stdout)["layers"] if "input" in layer
                  for a in layer["input"]["params"]["alpha"]]
        check("pact at lr 0.05: every alpha positive", alphas and min(alphas) > 0, alphas)
    else:
        refused("pact at lr 0.05 stops with a message", r, "--lr")

finish("cli_test")
