#!/usr/bin/python3
"""End-to-end checks of `qbench report`: a merged results file written here with h5py in the
documented layout (docs/results-format.md), reported as CSV (parsed with the csv module), LaTeX
(balanced groups and environments, escaped names), Markdown with the papers' claims, plots
when gnuplot is present, a Google Benchmark JSON as ratios, and refusals of bad input (one
line naming the file or key, non-zero exit). Run by CTest:
    tests/report_test.py build/qbench
"""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from checks import check, refused, refused_with, finish

QBENCH = os.path.abspath(sys.argv[1])
CLAIMS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "analysis", "claims")  # report's default --claims-dir


def run(*args):
    return subprocess.run([QBENCH, "report", *args], capture_output=True, text=True, timeout=120)


# (method, wbits, abits, seed, test_acc): fp32 91 ± 1; sat W4A4 88, 89; sat W2A2 missing.
ROWS = [("fp32", 32, 32, 1, 0.90), ("fp32", 32, 32, 2, 0.91), ("fp32", 32, 32, 3, 0.92),
        ("sat", 4, 4, 1, 0.88), ("sat", 4, 4, 2, 0.89), ("pact", 4, 4, 1, 0.87),
        ("pact", 2, 2, 1, 0.80)]


def strings(v):
    return np.array([s.encode() for s in v], dtype="S%d" % max(1, max(len(s) for s in v)))


def write_results(path):
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["format"] = np.bytes_("qbench-results")
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["sweep_hash"] = np.bytes_("0" * 16)
        f.attrs["sweep_name"] = np.bytes_("py")
        f.attrs["cells_expected"] = np.int64(len(ROWS))
        f.attrs["cells_merged"] = np.int64(len(ROWS))
        f["sweep"] = np.bytes_("{}")
        keys = ["%016x" % (i + 1) for i in range(len(ROWS))]
        s = f.create_group("summary")
        col = lambda i: [r[i] for r in ROWS]
        s["key"] = strings(keys)
        for name, value in [("net", "lenet5"), ("dataset", "fashion-mnist"),
                            ("granularity", "tensor"), ("first_last", "8"), ("options", "{}"),
                            ("qbench_commit", "test")]:
            s[name] = strings([value] * len(ROWS))
        s["method"] = strings(col(0))
        s["wbits"] = np.array(col(1), dtype=np.int64)
        s["abits"] = np.array(col(2), dtype=np.int64)
        s["gbits"] = np.full(len(ROWS), 32, dtype=np.int64)
        s["seed"] = np.array(col(3), dtype=np.int64)
        s["threads"] = np.ones(len(ROWS), dtype=np.int64)
        s["test_acc"] = np.array(col(4))
        for name in ["val_acc", "test_loss", "val_loss", "epochs", "seconds", "train_seconds"]:
            s[name] = np.ones(len(ROWS))
        for k, r in zip(keys, ROWS):
            c = f.create_group("cells/" + k)
            c["curves/epoch"] = np.array([1.0, 2.0])
            c["curves/val_accuracy"] = np.array([r[4] - 0.02, r[4]])
            c["summary"] = np.bytes_(json.dumps({"parameters": 61706}))


def latex_balanced(text):
    """Braces balance (escaped \\{ \\} aside), $ pairs, and \\begin/\\end nest properly."""
    body = re.sub(r"\\[{}$%&_#]", "", text)
    body = "\n".join(l for l in body.splitlines() if not l.lstrip().startswith("%"))
    depth = 0
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return "a } closes nothing"
    if depth:
        return "%d unclosed {" % depth
    if body.count("$") % 2:
        return "odd number of $"
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", body):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            return "\\end{%s} without its \\begin" % env
    return "unclosed environments %s" % stack if stack else ""


with tempfile.TemporaryDirectory() as tmp:
    results = os.path.join(tmp, "py.h5")
    write_results(results)

    # CSV: parses with the csv module into the documented columns and exact values.
    r = run(results, "--format", "csv")
    check("csv exit", r.returncode == 0, r.stderr)
    records = list(csv.DictReader(io.StringIO(r.stdout)))
    check("csv columns", records and list(records[0].keys()) ==
          ["table", "row", "column", "metric", "n", "mean", "std", "delta", "status"],
          r.stdout[:200])
    by = {(x["row"], x["column"]): x for x in records}
    check("csv baseline", by.get(("fp32", "baseline"), {}).get("mean") == "91.0000", r.stdout)
    sat = by.get(("sat", "W4A4"), {})
    check("csv sat W4A4", (sat.get("n"), sat.get("mean"), sat.get("std"), sat.get("delta")) ==
          ("2", "88.5000", "0.7071", "-2.5000"), str(sat))
    miss = by.get(("sat", "W2A2"), {})
    check("csv missing marked", (miss.get("status"), miss.get("n"), miss.get("mean")) ==
          ("missing", "0", ""), str(miss))
    check("csv has every cell", len(records) == 1 + 2 * 2, str(len(records)))

    # LaTeX: balanced, and names with special characters escaped.
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as f:
        json.dump({"schema": 1, "name": "esc_table", "baseline": {"method": "fp32"},
                   "rows": [{"label": "SAT & CG-PACT_{50%} #1 ~x^y $z\\", "method": "sat"},
                            {"label": "PACT, \"plain\"", "method": "pact"}],
                   "columns": [{"label": "W4A4", "wbits": 4, "abits": 4},
                               {"label": "W2_A2", "wbits": 2, "abits": 2}]}, f)
    r = run(results, "--spec", spec, "--format", "tex")
    check("tex exit", r.returncode == 0, r.stderr)
    problem = latex_balanced(r.stdout)
    check("tex balanced", not problem, problem + "\n" + r.stdout)
    check("tex escaped row", "SAT \\& CG-PACT\\_\\{50\\%\\} \\#1 \\textasciitilde{}x"
          "\\textasciicircum{}y \\$z\\textbackslash{}" in r.stdout, r.stdout)
    check("tex escaped column", "W2\\_A2" in r.stdout, r.stdout)
    check("tex label sanitised", "\\label{tab:esc-table}" in r.stdout, r.stdout)
    r = run(results, "--spec", spec, "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    check("csv quoted names round-trip", ["esc_table", "PACT, \"plain\"", "W4A4"] ==
          rows[-2][:3] if len(rows) > 2 else False, r.stdout)

    # Markdown with the papers' claims, labelled as theirs.
    r = run(results, "--format", "md", "--claims")
    check("md exit", r.returncode == 0, r.stderr)
    check("md missing marked", "| sat | 88.50 ± 0.71 (n=2), Δ -2.50 | — |" in r.stdout, r.stdout)
    check("claims labelled", "NOT ours: lenet5 on fashion-mnist" in r.stdout, r.stdout)
    check("claims of sat", "| sat | quantized models match" in r.stdout, r.stdout)

    # --papers: one table per paper (claims file), judged on every file given.
    r = run(results, "--papers")
    check("papers exit", r.returncode == 0, r.stderr)
    check("papers: a table per claims file", r.stdout.count("| claim | theirs | ours |") ==
          len([f for f in os.listdir(CLAIMS_DIR) if f.endswith(".json")]), r.stdout)
    refused("several files without --papers", run(results, results), "--papers")
    refused("--papers with --spec", run(results, "--papers", "--spec", "x.json"), "--papers")
    refused("--papers: the same cell twice", run(results, results, "--papers"), "is also in")

    # Plots next to the table when gnuplot is present.
    if shutil.which("gnuplot"):
        plots = os.path.join(tmp, "plots")
        r = run(results, "--format", "md", "--plots", plots)
        check("plots exit", r.returncode == 0, r.stderr)
        for name in ["py-acc-vs-bits", "py-pareto", "py-curves"]:
            for ext in ["png", "svg"]:
                p = os.path.join(plots, name + "." + ext)
                check("plot " + name + "." + ext, os.path.exists(p) and os.path.getsize(p) > 1000,
                      r.stderr)
        # A sweep under way with only its baseline: plots skipped with a message, exit 0.
        saved = list(ROWS)
        ROWS[:] = [r for r in saved if r[0] == "fp32"]
        only_fp32 = os.path.join(tmp, "fp32only.h5")
        write_results(only_fp32)
        ROWS[:] = saved
        r = run(only_fp32, "--plots", os.path.join(tmp, "plots-fp32"))
        check("baseline only: plots skipped, exit 0", r.returncode == 0 and
              "no cell beside the baseline yet" in r.stderr, r.stderr)
    else:
        print("report_test: gnuplot absent, plot checks skipped")

    # Google Benchmark JSON: ratios against the peer with the same arguments.
    bench = os.path.join(tmp, "bench.json")
    with open(bench, "w") as f:
        mk = lambda n, t: {"name": n, "run_name": n, "run_type": "iteration", "real_time": t,
                           "cpu_time": t, "time_unit": "ns", "iterations": 10}
        json.dump({"context": {}, "benchmarks": [
            mk("copy/65536", 100.0), mk("copy/16777216", 1000.0),
            mk("quantizer/alt/weight/b4/65536", 400.0),
            mk("quantizer/alt/weight/b4/16777216", 2000.0)]}, f)
    r = run("--bench", bench, "--peer", "^copy/", "--format", "csv")
    check("bench exit", r.returncode == 0, r.stderr)
    got = {x["benchmark"]: x for x in csv.DictReader(io.StringIO(r.stdout))}
    check("bench ratio small", got.get("quantizer/alt/weight/b4/65536", {}).get("ratio") == "0.25x",
          r.stdout)
    check("bench ratio large", got.get("quantizer/alt/weight/b4/16777216", {}).get("peer") ==
          "copy/16777216" and got["quantizer/alt/weight/b4/16777216"]["ratio"] == "0.50x",
          r.stdout)

    # Refusals: one line, non-zero exit, naming the file or key.
    refused("missing file", run(os.path.join(tmp, "none.h5")), "none.h5", "no such file")
    with open(os.path.join(tmp, "text.h5"), "w") as f:
        f.write("not hdf5")
    refused("not hdf5", run(os.path.join(tmp, "text.h5")), "text.h5")
    with h5py.File(os.path.join(tmp, "cell.h5"), "w", libver="latest") as f:
        f.attrs["format"] = np.bytes_("qbench-cell")
    refused("cell file", run(os.path.join(tmp, "cell.h5")), "cell.h5", "not a merged results file")
    with open(spec, "w") as f:
        json.dump({"schema": 1, "rows": [{"method": "sat", "wbit": 4}], "columns": [{}]}, f)
    refused("bad spec key", run(results, "--spec", spec), "spec.json", "rows[0].wbit",
            "did you mean 'wbits'")
    refused_with("spec is a directory", run(results, "--spec", tmp),
                 tmp + ": is a directory, expected a table spec file")
    with open(spec, "w") as f:
        f.write('{"schema": 1, "rows": [{"method": "sat"}], "columns": [{"wbits": 4, "wbits": 8}]}')
    refused_with("spec duplicate key", run(results, "--spec", spec),
                 spec + ": columns[0].wbits: duplicate key at byte 68 (first at byte 56)")
    with open(spec, "w") as f:
        f.write('{"schema": 1, "precision": 1e400}')
    refused_with("spec number beyond a double", run(results, "--spec", spec),
                 spec + ": precision: 1e400 at byte 27 is out of range (beyond a double, ±1.8e308)")
    refused("bad format", run(results, "--format", "html"), "--format")
    refused("bad peer", run("--bench", bench, "--peer", "^nothing"), "--peer")
    refused("bench needs peer", run("--bench", bench), "--peer")

finish("report_test")
