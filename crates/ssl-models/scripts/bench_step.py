"""ResNet-18 CIFAR-stem forward + backward at B = 256 on the CPU: PyTorch eager (torchvision's
model with conv1 = 3x3/1, no max-pool, fc = Identity) against ssl-models (criterion bench
`resnet_step`), same libtorch, same thread count, same run.

Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0:.deps/python-extra python3 crates/ssl-models/scripts/bench_step.py [THREADS]
"""
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torchvision

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
BATCH = 256


def pytorch_time(reps=7):
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = torch.nn.Identity()
    model.fc = torch.nn.Identity()
    model.train()
    x = torch.randn(BATCH, 3, 32, 32)
    times = []
    for i in range(reps + 1):
        t = time.perf_counter()
        model.zero_grad(set_to_none=False)
        model(x).square().mean().backward()
        if i > 0:  # the first is warm-up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    py = pytorch_time()
    print(f"PyTorch {torch.__version__} eager, {THREADS} threads: {py:.3f} s per step ({BATCH / py:.1f} images/s)", flush=True)
    env = dict(os.environ, SSL_BENCH_THREADS=str(THREADS), SSL_BENCH_BATCH=str(BATCH))
    subprocess.run(["cargo", "bench", "-p", "ssl-models", "--bench", "resnet_step"], check=True, env=env)
    est = json.load(open(f"target/criterion/resnet18_cifar_fwd_bwd/B{BATCH}_threads{THREADS}/new/estimates.json"))
    rust = est["median"]["point_estimate"] / 1e9
    print(f"| ResNet-18 CIFAR stem, B = {BATCH}, {THREADS} threads | PyTorch eager {py:.3f} s | ssl-models {rust:.3f} s | ratio {rust / py:.3f} |")


if __name__ == "__main__":
    main()
