"""Google Benchmark JSON files read as repetitions, the one walk the ratio scripts share
(int8_ratios.py, infer_acc16_ratios.py, qat_step_ratios.py).

A row's passes map (file, repetition index) to one repetition's value: with
--benchmark_enable_random_interleaving, repetition i of every row of a file ran in the same
shuffled pass, which is what lets those scripts pair two rows pass by pass. A row run without
repetitions is keyed by its own position in the file, so it shares a pass with no other row.
"""
import json


def read_passes(paths, key_of, value):
    """({key: {pass: value}}, {key: error message}, {key: label}) over the iteration rows of
    `paths` whose name key_of maps to a key (None: not wanted); value(row) reads the quantity."""
    passes, errors, labels = {}, {}, {}
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        for i, b in enumerate(doc.get("benchmarks", [])):
            if b.get("run_type", "iteration") != "iteration":
                continue
            key = key_of(b.get("run_name", b["name"]))
            if key is None:
                continue
            if b.get("error_occurred"):
                errors[key] = b.get("error_message", "")
                continue
            passes.setdefault(key, {})[(path, b.get("repetition_index", ("run", i)))] = value(b)
            if b.get("label"):
                labels[key] = b["label"]
    return passes, errors, labels


def repetitions(name, counter, values, label=""):
    """One iteration entry per repetition, as --benchmark_repetitions writes them (the tests'
    fixtures)."""
    return [{"name": name, "run_name": name, "run_type": "iteration", "repetitions": len(values),
             "repetition_index": i, counter: v, "label": label} for i, v in enumerate(values)]
