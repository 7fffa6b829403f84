"""PyTorch-eager twin of `cargo xtask train` (recipe simclr-fmnist), for docs/benchmarks.md.

SimCLR on Fashion-MNIST as crates/ssl-train/recipes/simclr-fmnist.toml describes it, written in
plain PyTorch (torch 2.11, torchvision 0.26 v2 transforms, a DataLoader with worker processes), so
that training time and kNN accuracy can be compared with the toolkit on the same CPU:

  ResNet-18 (torchvision's BasicBlock layout and init: Kaiming-normal fan-out convs, BN 1/0),
  CIFAR stem (conv1 3x3/1, no max-pool), width 16, 1 input channel -> 128-d representation;
  projector Linear(128,512) -> BN -> ReLU -> Linear(512,128); NT-Xent, T = 0.2, 2 views, both
  views through the network as one batch of 2B (views-major, as the toolkit does);
  Adam lr 4e-3 * 128/256, weight decay 1e-6 (coupled L2, all parameters);
  batch 128 images, drop_last; linear warm-up over round(0.1 * steps per epoch) steps, then
  cosine to 0 at the last step: the toolkit's ssl_models::schedule::lr_at, transcribed below;
  views: RandomResizedCrop(28, scale=(0.3, 1)), HorizontalFlip(0.5),
  RandomApply(ColorJitter(brightness=0.4, contrast=0.4), p=0.8), scale to [0, 1],
  Normalize(0.286, 0.353); eval view = Normalize only;
  weighted cosine kNN, k = 200, T = 0.1, bank = training set, queries = test set.

Run from the repository root (the default recipe: 2 threads, 2 loader workers; the recipe trains
2 epochs):
    PYTHONPATH=.deps/torch-2.11.0:.deps/python-extra python3 crates/ssl-train/scripts/twin_simclr.py \
        --epochs 2 --json target/twin_simclr.json
Options: --channels-last, --bf16 (autocast), --threads N, --workers N, --train-limit N,
--test-limit N, --seed S, --no-knn, --step-only N (the step alone: N steps on one fixed batch,
no loader; the twin of `cargo xtask bench`'s "step alone").

Known differences from the toolkit:
* Augmentation is torchvision v2 on uint8 tensors; the toolkit's is its own Rust port
  (ssl_data::augment), which resizes from the uint8 source into f32 and keeps f32 through the
  jitter, whereas torchvision rounds back to uint8 after the crop and after each jitter op.
* The random streams differ: sample order (DataLoader's seeded RandomSampler vs the toolkit's
  shuffle), augmentation draws (per-worker torch RNGs) and the weight init (torch's RNG), so
  losses and accuracies agree only statistically.
* Views are made by --workers processes (DataLoader, persistent workers, one torch thread each)
  while the toolkit makes them on threads in its own process; the first epoch's time includes
  starting the workers.
* The toolkit also trains an online linear probe on the detached features every step, logs every
  10 steps, and after each epoch writes a checkpoint and runs its monitor (spectrum, small kNN);
  its epoch time excludes the checkpoint and monitor, as this one has none of them. Its final
  evaluation also reports the encoder at init, raw pixels, a linear probe and spectra; this
  twin reports only the trained encoder's kNN.
* --bf16 runs the training forward + loss and the evaluation forward under
  torch.autocast("cpu", bfloat16); features are cast to f32 for the kNN. The kNN breaks vote
  ties towards the lowest label (the toolkit: the highest).
* --channels-last converts the model and each batch; with one input channel the batch's
  conversion is a no-op (NCHW and NHWC coincide for C = 1): the weights make the convs run
  channels-last, which is asserted on the first conv's output.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock
from torchvision.transforms import v2

MEAN, STD = 0.286, 0.353
DATA = "data/fashion-mnist"


def read_idx(name):
    """A Fashion-MNIST idx file as a uint8 array (images [N, 1, 28, 28], labels [N])."""
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    a = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)
    return a[:, None] if ndim == 3 else a


def load(split, limit):
    x = torch.from_numpy(read_idx(f"{split}-images-idx3-ubyte.gz").copy())
    y = torch.from_numpy(read_idx(f"{split}-labels-idx1-ubyte.gz").astype(np.int64))
    return (x[:limit], y[:limit]) if limit else (x, y)


class ResNet18(nn.Module):
    """torchvision's ResNet-18 with the CIFAR stem, a base width and no fc: [N, C, H, W] -> [N, 8w]."""

    def __init__(self, width=16, in_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        cin = width
        for i in range(4):
            planes, stride = width << i, 1 if i == 0 else 2
            down = None
            if stride != 1 or cin != planes:
                down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, planes, stride, down), BasicBlock(planes, planes)))
            cin = planes
        self.out_dim = cin
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def nt_xent(z, temperature):
    """SimCLR's loss over [2B, d] embeddings, views-major: view i's positive is i +/- B."""
    z = F.normalize(z, dim=1)
    n = z.shape[0]
    logits = (z @ z.t() / temperature).masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    targets = torch.arange(n).roll(n // 2)
    return F.cross_entropy(logits, targets)


def lr_at(step, total, warmup, peak):
    """ssl_models::schedule::lr_at: linear warm-up (step 0 gets peak/warmup), then cosine to 0."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


class TwoViews(torch.utils.data.Dataset):
    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.transform(self.images[i])


def collate(pairs):
    return torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])


@torch.no_grad()
def embed(backbone, images, args):
    """Eval-view representations [N, 128] (f32), batches of 1024."""
    backbone.eval()
    out = []
    for s in range(0, len(images), 1024):
        x = (images[s:s + 1024].float() / 255 - MEAN) / STD
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            out.append(backbone(x).float())
    return torch.cat(out)


def knn_accuracy(bank, bank_labels, queries, query_labels, k=200, t=0.1, classes=10, block=1024):
    bank, queries = F.normalize(bank, dim=1), F.normalize(queries, dim=1)
    k, correct = min(k, len(bank)), 0
    for s in range(0, len(queries), block):
        top, idx = torch.topk(torch.mm(queries[s:s + block], bank.t()), k, dim=1)
        votes = torch.zeros(len(top), classes, dtype=torch.float64)
        votes.scatter_add_(1, bank_labels[idx], (top.double() / t).exp())
        correct += (votes.argmax(1) == query_labels[s:s + block]).sum().item()
    return correct / len(queries)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--no-knn", action="store_true")
    p.add_argument("--step-only", type=int, default=0, metavar="N",
                   help="time N training steps on one fixed batch (after 3 untimed), no loader, then stop")
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU: {cpu}")
    print("options:", vars(args), flush=True)

    train_x, train_y = load("train", args.train_limit)
    batch = 128
    views = v2.Compose([
        v2.RandomResizedCrop(28, scale=(0.3, 1.0), antialias=True),
        v2.RandomHorizontalFlip(0.5),
        v2.RandomApply([v2.ColorJitter(brightness=0.4, contrast=0.4)], p=0.8),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([MEAN], [STD]),
    ])
    loader = torch.utils.data.DataLoader(
        TwoViews(train_x, views), batch_size=batch, shuffle=True, drop_last=True, collate_fn=collate,
        num_workers=args.workers, persistent_workers=args.workers > 0,
        generator=torch.Generator().manual_seed(args.seed))
    backbone = ResNet18(width=16, in_channels=1)
    model = nn.Sequential(backbone, nn.Linear(backbone.out_dim, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, 128))
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)

    def check_layout(module, inputs, out):  # once: the convs really run in the asked layout
        assert out.is_contiguous(memory_format=fmt), f"conv1 output strides {out.stride()} are not {fmt}"
        assert args.channels_last != out.is_contiguous(), f"conv1 output strides {out.stride()}"
        print(f"conv1 output: {tuple(out.shape)} {out.dtype}, strides {out.stride()} ({fmt})")
        hook.remove()
    hook = backbone.conv1.register_forward_hook(check_layout)

    peak = 4e-3 * batch / 256
    opt = torch.optim.Adam(model.parameters(), lr=peak, weight_decay=1e-6)
    steps_per_epoch = len(loader)
    total, warmup = steps_per_epoch * args.epochs, round(0.1 * steps_per_epoch)
    print(f"{len(train_x)} images, {steps_per_epoch} steps per epoch, {total} steps, warm-up {warmup}, peak lr {peak:g}")
    if args.step_only:
        first, second = next(iter(loader))
        x = torch.cat([first, second]).contiguous(memory_format=fmt)
        model.train()
        times = []
        for i in range(3 + args.step_only):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                loss = nt_xent(model(x), 0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
            if i >= 3:
                times.append(time.perf_counter() - start)
        secs = sum(times)
        print(f"step alone: {args.step_only} steps in {secs:.2f} s, {args.step_only * batch / secs:.1f} images/s "
              f"(median step {sorted(times)[len(times) // 2] * 1000:.0f} ms)")
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu, "options": vars(args),
                           "step_seconds": times, "images_per_s": args.step_only * batch / secs}, f, indent=2)
        return
    step, epochs = 0, []
    for epoch in range(args.epochs):
        model.train()
        losses, start = [], time.perf_counter()
        for first, second in loader:  # the two views of the batch, [B, 1, 28, 28] each
            x = torch.cat([first, second]).contiguous(memory_format=fmt)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, warmup, peak)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                loss = nt_xent(model(x), 0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        secs = time.perf_counter() - start
        e = {"epoch": epoch + 1, "seconds": secs, "images_per_s": len(losses) * batch / secs,
             "loss": sum(losses) / len(losses), "first_loss": losses[0], "last_loss": losses[-1]}
        epochs.append(e)
        print(f"epoch {e['epoch']}: {secs:.2f} s, {e['images_per_s']:.1f} images/s, mean loss {e['loss']:.4f} "
              f"(first step {losses[0]:.4f}, last {losses[-1]:.4f})", flush=True)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu, "options": vars(args),
              "steps_per_epoch": steps_per_epoch, "epochs": epochs,
              "train_seconds": sum(e["seconds"] for e in epochs)}
    if not args.no_knn:
        test_x, test_y = load("t10k", args.test_limit)
        start = time.perf_counter()
        acc = knn_accuracy(embed(backbone, train_x, args), train_y, embed(backbone, test_x, args), test_y)
        secs = time.perf_counter() - start
        result.update(knn_accuracy=acc, eval_seconds=secs, bank=len(train_x), queries=len(test_x))
        print(f"kNN (k = 200, T = 0.1, bank {len(train_x)}, queries {len(test_x)}): accuracy {acc:.4f}, {secs:.2f} s")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
