"""SimCLR views/s: torchvision v2 (tensors, one thread) against ssl-data, same run.

The torchvision pipeline is the one ssl_data::pipeline::simclr(size, s=0.5, imagenet=False)
builds: RandomResizedCrop(size, antialias=True), RandomHorizontalFlip, RandomApply(ColorJitter
(0.4, 0.4, 0.4, 0.1), p=0.8), RandomGrayscale(0.2), ToDtype(float32, scale=True), Normalize,
applied to uint8 CHW tensors one image at a time (as a DataLoader worker does). Sources are
random 32x32 (for 32-px views) and 256x256 (for 224-px views) images.

Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0:.deps/python-extra python3 crates/ssl-data/scripts/bench_views.py
"""
import json
import os
import subprocess
import time

import torch
import torchvision
from torchvision.transforms import v2

torch.set_num_threads(1)


def torchvision_rate(out, src, n):
    t = v2.Compose([
        v2.RandomResizedCrop(out, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.5] * 3, [0.25] * 3),
    ])
    imgs = torch.randint(0, 256, (64, 3, src, src), dtype=torch.uint8)
    for i in range(20):
        t(imgs[i % 64])
    start = time.perf_counter()
    for i in range(n):
        t(imgs[i % 64])
    return n / (time.perf_counter() - start)


def main():
    tv = {32: torchvision_rate(32, 32, 3000), 224: torchvision_rate(224, 256, 300)}
    for k, v in tv.items():
        print(f"torchvision {torchvision.__version__} v2, 1 thread, {k}px: {v:.0f} views/s", flush=True)
    subprocess.run(["cargo", "bench", "-p", "ssl-data", "--bench", "views"], check=True)
    threads = os.cpu_count()
    print("| view | torchvision v2, 1 core | ssl-data, 1 core | ratio | ssl-data, %d threads | scaling |" % threads)
    print("|---|---|---|---|---|---|")
    for px, batch in [(32, 256), (224, 32)]:
        def rate(t):
            est = json.load(open(f"target/criterion/simclr_views/{px}px/threads{t}/new/estimates.json"))
            return 2 * batch / (est["median"]["point_estimate"] / 1e9)
        one, many = rate(1), rate(threads)
        print(f"| SimCLR {px} px | {tv[px]:.0f} | {one:.0f} | {one / tv[px]:.1f}x | {many:.0f} | {many / one:.2f}x |")


if __name__ == "__main__":
    main()
