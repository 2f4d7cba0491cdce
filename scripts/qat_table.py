#!/usr/bin/env python3
"""Fine-tunes a network from an FP32 checkpoint with several methods/bit-widths/seeds through
`qbench train`, and prints a Markdown table of test accuracy (mean ± half the max-min range
over seeds). Each run writes RUNS/<label>-s<seed>.json and is skipped when that file exists, so
an interrupted table resumes.

The table step of scripts/finetune-tables, a second pipeline beside `qbench sweep` + `qbench
report` (which cache, store and tabulate cells themselves). It stays because every seed here
fine-tunes the same FP32 checkpoint, which a sweep cannot express (it pretrains per seed);
scripts/finetune-tables says more, and when to retire both.

  scripts/qat_table.py --net lenet5 --init runs/lenet5-fp32.h5 --runs-dir runs/sat \
      --seeds 1 2 --epochs 3 --lr 0.005 \
      --cell 'SAT+CG-PACT W4A4=--method sat --wbits 4 --abits 4 --first-last 8' ...
"""
import argparse, json, os, statistics, subprocess, sys
from concurrent.futures import ThreadPoolExecutor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qbench", default="build/qbench")
    ap.add_argument("--net", required=True)
    ap.add_argument("--init", required=True, help="FP32 checkpoint the fine-tunes start from")
    ap.add_argument("--fp32-json", help="summary JSON of the FP32 run (adds an FP32 row)")
    ap.add_argument("--runs-dir", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", default="0.005")
    ap.add_argument("--wd", default="5e-4")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs at once (each with --threads); results do not depend on it")
    ap.add_argument("--common", default="", metavar="ARGS",
                    help="qbench train arguments added to every run (listed under the table)")
    ap.add_argument("--cell", action="append", required=True, metavar="LABEL=ARGS")
    a = ap.parse_args()
    os.makedirs(a.runs_dir, exist_ok=True)

    def run_path(label, seed):
        slug = "".join(c if c.isalnum() else "-" for c in label).strip("-").lower()
        return os.path.join(a.runs_dir, f"{slug}-s{seed}.json")

    def run(label, args, seed):
        out = run_path(label, seed)
        # A cell may set its own --epochs (0: static quantization, no training).
        epochs = [] if "--epochs" in args.split() else ["--epochs", str(a.epochs)]
        cmd = [a.qbench, "train", "--net", a.net, "--init", a.init] + epochs + [
               "--lr", a.lr, "--wd", a.wd, "--seed", str(seed),
               "--threads", a.threads] + a.common.split() + args.split()
        print("running:", " ".join(cmd), file=sys.stderr, flush=True)
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if res.returncode != 0:
            return f"failed: {' '.join(cmd)}"
        with open(out + ".partial", "wb") as f:
            f.write(res.stdout)
        os.replace(out + ".partial", out)
        return None

    cells = [cell.split("=", 1) for cell in a.cell]
    pending = [(label, args, seed) for label, args in cells for seed in a.seeds
               if not os.path.exists(run_path(label, seed))]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        failures = [f for f in pool.map(lambda r: run(*r), pending) if f]
    if failures:
        sys.exit("\n".join(failures))

    rows = []
    if a.fp32_json:
        r = json.load(open(a.fp32_json))
        rows.append(("FP32", [r["test_accuracy"]], "`" + os.path.basename(a.fp32_json) + "`"))
    for label, args in cells:
        accs = [json.load(open(run_path(label, seed)))["test_accuracy"] for seed in a.seeds]
        rows.append((label, accs, "`" + args + "`"))

    print(f"| {a.net} on Fashion-MNIST | test accuracy | seeds | qbench train arguments |")
    print("|---|---|---|---|")
    for label, accs, args in rows:
        mean = 100 * statistics.mean(accs)
        spread = (f" ± {100 * (max(accs) - min(accs)) / 2:.2f}" if len(accs) > 1 else "")
        print(f"| {label} | {mean:.2f}%{spread} | {len(accs)} | {args} |")
    print(f"\nEvery fine-tune: `--init {a.init} --epochs {a.epochs} --lr {a.lr} --wd {a.wd} "
          f"--threads {a.threads}{' ' + a.common if a.common else ''}` (cells may override "
          f"--epochs); spread is half the max-min range over seeds.")


if __name__ == "__main__":
    main()
