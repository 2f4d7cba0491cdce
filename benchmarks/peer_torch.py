#!/usr/bin/python3
"""Training-step throughput of qbench against PyTorch on identical networks.

Both sides run one SGD step (forward, cross-entropy, backward, update with momentum 0.9 and
weight decay 5e-4) on a fixed random batch of 128 images, at the same thread count, and
report images per second; the ratio is qbench / PyTorch. qbench's numbers come from the
Google Benchmark binary `bench_engine` (rows `train_step/<net>/threads:<T>`), PyTorch's from
the same architectures written out below (Debian's python3-torch, CPU).

This machine's speed drifts by tens of percent over minutes (shared host), so the two sides
are measured alternately, `--rounds` times each, and each side's best round is compared.

  /usr/bin/python3 benchmarks/peer_torch.py --bench build/bench_engine [--threads 1 2]
      [--nets lenet5 resnet20] [--min-time 2] [--rounds 3] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lenet5(c):
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class ShortcutA(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.pad, self.stride = (cout - cin) // 2, stride

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = ShortcutA(cin, cout, stride) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.sc(x))


def resnet20(c):
    layers, cin = [nn.Conv2d(c, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage in range(3):
        cout = 16 << stage
        for b in range(3):
            layers.append(Block(cin, cout, 2 if stage > 0 and b == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def cbr(cin, cout, k, s, groups, act):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act()]


def mobilenet_tiny(c):
    layers, cin = cbr(c, 32, 3, 1, 1, nn.ReLU6), 32
    for cout, s in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]:
        layers += cbr(cin, cin, 3, s, cin, nn.ReLU6) + cbr(cin, cout, 1, 1, 1, nn.ReLU6)
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def vgg_small(c):
    layers, cin = [], c
    for w in (128, 256, 512):
        layers += cbr(cin, w, 3, 1, 1, nn.ReLU) + cbr(w, w, 3, 1, 1, nn.ReLU) + [nn.MaxPool2d(2)]
        cin = w
    layers += [nn.Flatten(), nn.Linear(512 * 4 * 4, 10)]
    return nn.Sequential(*layers)


NETS = {  # name -> (builder, input shape): the shapes bench_engine uses
    "lenet5": (lenet5, (1, 28, 28)),
    "resnet20": (resnet20, (3, 32, 32)),
    "mobilenet_tiny": (mobilenet_tiny, (3, 32, 32)),
    "vgg_small": (vgg_small, (3, 32, 32)),
}


def torch_images_per_second(name, threads, batch, min_time):
    """Measured in a fresh process: torch.set_num_threads cannot shrink a thread pool that an
    earlier measurement in the same process already grew (1-thread figures came out 3x high)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-only", name,
                          str(threads), str(batch), str(min_time)],
                         check=True, capture_output=True, text=True, env=env).stdout
    rate, cpu_per_wall = map(float, out.split())
    if cpu_per_wall > threads + 0.3:
        raise SystemExit("torch used %.1f cores for a %d-thread measurement" % (cpu_per_wall, threads))
    return rate


def torch_measure(name, threads, batch, min_time):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    build, shape = NETS[name]
    model = build(shape[0])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, *shape)
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    steps, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and steps >= 5:
            return steps * batch / elapsed, (time.process_time() - cpu0) / elapsed


def qbench_images_per_second(bench, net, threads, min_time):
    flt = "train_step/%s/threads:%d/" % (net, threads)
    out = subprocess.run([bench, "--benchmark_filter=" + flt, "--benchmark_format=json",
                          "--benchmark_min_time=%g" % min_time],
                         check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)["benchmarks"]
    if len(rows) != 1:
        raise SystemExit("bench_engine has no row %s" % flt)
    return rows[0]["items_per_second"]


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--torch-only":
        rate, cpu = torch_measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        print(rate, cpu)
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench_engine")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args()
    rows = []
    print("%-15s %7s %14s %14s %7s" % ("net", "threads", "qbench img/s", "torch img/s", "ratio"))
    for net in a.nets:
        for t in a.threads:
            q = theirs = 0.0
            for _ in range(a.rounds):
                q = max(q, qbench_images_per_second(a.bench, net, t, a.min_time))
                theirs = max(theirs, torch_images_per_second(net, t, a.batch, a.min_time))
            rows.append({"net": net, "threads": t, "qbench": q, "torch": theirs, "ratio": q / theirs})
            print("%-15s %7d %14.0f %14.0f %6.2fx" % (net, t, q, theirs, q / theirs), flush=True)
    print("torch %s, batch %d, best of %d alternating rounds" % (torch.__version__, a.batch, a.rounds))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "batch": a.batch, "rounds": a.rounds,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
