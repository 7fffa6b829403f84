"""PyTorch twin of benches/losses.rs: forward + backward of the official formulas (reference_losses.py)
on the same cases, f32, 2 threads; prints `loss k B d median_ms` per case, then, given criterion's
output folder, the joined markdown table:

    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-objectives/scripts/bench_losses.py target/criterion
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from reference_losses import barlow, byol, directclr, mmcr, simclr, vicreg  # noqa: E402

torch.set_num_threads(2)
here = os.path.dirname(__file__)
cases = [l.split() for l in open(os.path.join(here, "..", "benches", "cases.txt")) if l.strip() and not l.startswith("#")]
fns = {
    "ntxent": lambda z, t: simclr(z, 0.2),
    "directclr": lambda z, t: directclr(z, 360, 0.1),
    "barlow": lambda z, t: barlow(z, 0.0051),
    "vicreg": lambda z, t: vicreg(z),
    "mmcr": lambda z, t: mmcr(z, 0.0),
    "byol": lambda z, t: byol(z, t),
}


def time_case(name, k, b, d):
    torch.manual_seed(0)
    x = torch.randn(k, b, d, requires_grad=True)
    t = torch.randn(k, b, d)
    f = fns[name]
    for _ in range(2):
        torch.autograd.grad(f(x, t), [x])
    times = []
    deadline = time.perf_counter() + 2.0
    while len(times) < 10 or (time.perf_counter() < deadline and len(times) < 100):
        s = time.perf_counter()
        torch.autograd.grad(f(x, t), [x])
        times.append(time.perf_counter() - s)
    return statistics.median(times) * 1e3


rows = []
for name, k, b, d in cases:
    ms = time_case(name, int(k), int(b), int(d))
    rows.append((name, k, b, d, ms))
    print(f"{name} {k} {b} {d} {ms:.3f}", flush=True)

if len(sys.argv) > 1:
    crit = sys.argv[1]
    print("\n| loss | k | B | d | Rust (ms) | PyTorch (ms) | Rust / PyTorch |\n|---|---|---|---|---|---|---|")
    for name, k, b, d, ms in rows:
        est = os.path.join(crit, "loss_fwd_bwd", name, f"k{k}_B{b}_d{d}", "new", "estimates.json")
        rust = json.load(open(est))["median"]["point_estimate"] / 1e6 if os.path.exists(est) else float("nan")
        print(f"| {name} | {k} | {b} | {d} | {rust:.2f} | {ms:.2f} | {rust / ms:.2f} |")
