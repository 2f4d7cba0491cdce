#!/usr/bin/python3
"""Integer inference of qbench against PyTorch's quantized engine, on identical networks.

qbench: Google Benchmark's `bench_infer` (rows infer/<fp32|int8|int8_a7>/<net>/batch:<B>/
threads:<T>; its header says what is timed: int8 is minmax W8A8, int8_a7 W8A7).
PyTorch 1.13 (Debian's python3-torch): the same LeNet-5 and ResNet-20 (peer_torch.py's
architectures) quantized by eager-mode post-training static quantization — conv+BN+ReLU fused,
residual adds through FloatFunctional, per-tensor/per-channel as the engine's default qconfig
says, calibrated on 64 random images — then timed in inference (torch.inference_mode) on a
fixed random batch, in a fresh process per measurement at the requested thread count. Every
quantized engine this torch build has among --engines is timed (Debian's 1.13 on x86: onednn
and qnnpack; fbgemm when built in).

The machine's speed drifts (shared host), so qbench and torch are measured alternately,
--rounds times each, and each side's best round is compared. Ratios printed:
  int8/fp32   our integer engine (W8A8) over our fp32 network (goal: >= 2x on ResNet-20)
  int8/<eng>  our integer engine over PyTorch's quantized engine <eng> (goal: >= 1.0x)
  a7/...      the same for int8_a7 (W8A7). On AVX2 without VNNI, PyTorch's onednn multiplies its
              full 8-bit activations with vpmaddubsw, whose pair sums can saturate; our exact
              W8A8 needs vpmaddwd (half the multiply-adds per instruction) and our W8A7 the same
              vpmaddubsw, exact for 7-bit codes: a7/onednn is the like-for-like ratio there.

  /usr/bin/python3 benchmarks/peer_torch_int8.py --bench build/bench_infer
      [--nets lenet5 resnet20] [--batch 128 1] [--threads 1 2] [--engines onednn qnnpack fbgemm]
      [--min-time 1] [--rounds 3] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.ao.quantization as tq
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_torch import ShortcutA  # noqa: E402  (the option-A shortcut, on quantized tensors too)


class QLeNet5(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.c1, self.r1 = nn.Conv2d(c, 6, 5, padding=2), nn.ReLU()
        self.c2, self.r2 = nn.Conv2d(6, 16, 5), nn.ReLU()
        self.f1, self.r3 = nn.Linear(400, 120), nn.ReLU()
        self.f2, self.r4 = nn.Linear(120, 84), nn.ReLU()
        self.f3 = nn.Linear(84, 10)

    def fuse(self):
        tq.fuse_modules(self, [["c1", "r1"], ["c2", "r2"], ["f1", "r3"], ["f2", "r4"]],
                        inplace=True)

    def forward(self, x):
        x = F.max_pool2d(self.r1(self.c1(self.quant(x))), 2)
        x = torch.flatten(F.max_pool2d(self.r2(self.c2(x)), 2), 1)
        return self.dequant(self.f3(self.r4(self.f2(self.r3(self.f1(x))))))


class QBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1, self.r1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), \
            nn.BatchNorm2d(cout), nn.ReLU()
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.sc = ShortcutA(cin, cout, stride) if (stride != 1 or cin != cout) else nn.Identity()
        self.add = nn.quantized.FloatFunctional()

    def fuse(self):
        tq.fuse_modules(self, [["c1", "b1", "r1"], ["c2", "b2"]], inplace=True)

    def forward(self, x):
        return self.add.add_relu(self.c2(self.r1(self.c1(x))), self.sc(x))


class QResNet20(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.c, self.b, self.r = nn.Conv2d(c, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), \
            nn.ReLU()
        blocks, cin = [], 16
        for stage in range(3):
            cout = 16 << stage
            for b in range(3):
                blocks.append(QBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, 10)

    def fuse(self):
        tq.fuse_modules(self, [["c", "b", "r"]], inplace=True)
        for b in self.blocks:
            b.fuse()

    def forward(self, x):
        x = self.blocks(self.r(self.b(self.c(self.quant(x)))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.dequant(self.fc(x))


OURS = ("fp32", "int8", "int8_a7")  # bench_infer's rows

NETS = {  # name -> (builder, input shape): bench_infer's shapes
    "lenet5": (QLeNet5, (1, 28, 28)),
    "resnet20": (QResNet20, (3, 32, 32)),
}


def quantized_model(name, engine):
    torch.backends.quantized.engine = engine
    torch.manual_seed(0)
    build, shape = NETS[name]
    model = build(shape[0]).eval()
    model.fuse()
    model.qconfig = tq.get_default_qconfig(engine)
    tq.prepare(model, inplace=True)
    with torch.inference_mode():
        model(torch.rand(64, *shape) * 4 - 2)  # calibration: ranges of every activation
    tq.convert(model, inplace=True)
    return model, shape


def torch_measure(name, engine, threads, batch, min_time):
    torch.set_num_threads(threads)
    model, shape = quantized_model(name, engine)
    x = torch.rand(batch, *shape) * 4 - 2
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        runs, start, cpu0 = 0, time.perf_counter(), time.process_time()
        while True:
            model(x)
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and runs >= 5:
                return runs * batch / elapsed, (time.process_time() - cpu0) / elapsed


def torch_images_per_second(name, engine, threads, batch, min_time):
    """In a fresh process: torch.set_num_threads cannot shrink a thread pool that an earlier
    measurement in the same process grew."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-only", name, engine,
                          str(threads), str(batch), str(min_time)],
                         check=True, capture_output=True, text=True, env=env).stdout
    rate, cpu_per_wall = map(float, out.split())
    if cpu_per_wall > threads + 0.3:
        raise SystemExit("torch used %.1f cores for a %d-thread measurement"
                         % (cpu_per_wall, threads))
    return rate


def qbench_images_per_second(bench, net, batch, threads, min_time):
    """fp32 and int8 rows of one (net, batch, threads), one process."""
    flt = "^infer/(fp32|int8|int8_a7)/%s/batch:%d/threads:%d/" % (net, batch, threads)
    out = subprocess.run([bench, "--benchmark_filter=" + flt, "--benchmark_format=json",
                          "--benchmark_min_time=%g" % min_time],
                         check=True, capture_output=True, text=True).stdout
    rates = {r["name"].split("/")[1]: r["items_per_second"] for r in json.loads(out)["benchmarks"]}
    if set(rates) != set(OURS):
        raise SystemExit("bench_infer has no rows %s" % flt)
    return rates


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--torch-only":
        rate, cpu = torch_measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                                  float(sys.argv[6]))
        print(rate, cpu)
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench_infer")
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--batch", type=int, nargs="+", default=[128, 1])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--engines", nargs="+", default=["onednn", "qnnpack", "fbgemm"])
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args()
    engines = [e for e in a.engines if e in torch.backends.quantized.supported_engines]
    skipped = sorted(set(a.engines) - set(engines))
    if skipped:
        print("this torch has no quantized engine %s" % ", ".join(skipped), file=sys.stderr)
    head = "%-9s %5s %7s" % ("net", "batch", "threads")
    head += "".join(" %11s" % k for k in OURS) + "".join(" %11s" % e for e in engines)
    head += " %9s %9s" % ("int8/fp32", "a7/fp32")
    head += "".join(" %12s %10s" % ("int8/" + e, "a7/" + e) for e in engines)
    print("images per second, and ratios (a7: int8_a7)")
    print(head)
    rows = []
    for net in a.nets:
        for batch in a.batch:
            for t in a.threads:
                ours = {k: 0.0 for k in OURS}
                theirs = {e: 0.0 for e in engines}
                for _ in range(a.rounds):
                    rates = qbench_images_per_second(a.bench, net, batch, t, a.min_time)
                    for k, v in rates.items():
                        ours[k] = max(ours[k], v)
                    for e in engines:
                        theirs[e] = max(theirs[e], torch_images_per_second(net, e, t, batch,
                                                                           a.min_time))
                row = {"net": net, "batch": batch, "threads": t, **ours,
                       **{"torch_" + e: v for e, v in theirs.items()}}
                rows.append(row)
                line = "%-9s %5d %7d" % (net, batch, t)
                line += "".join(" %11.0f" % ours[k] for k in OURS)
                line += "".join(" %11.0f" % theirs[e] for e in engines)
                line += " %8.2fx %8.2fx" % (ours["int8"] / ours["fp32"],
                                            ours["int8_a7"] / ours["fp32"])
                line += "".join(" %11.2fx %9.2fx" % (ours["int8"] / theirs[e],
                                                     ours["int8_a7"] / theirs[e])
                                for e in engines)
                print(line, flush=True)
    print("torch %s, best of %d alternating rounds of %gs each" %
          (torch.__version__, a.rounds, a.min_time))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "rounds": a.rounds, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
