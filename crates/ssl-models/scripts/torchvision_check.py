"""Loads backbones exported by ssl-models into torchvision and compares forward passes.

Usage: torchvision_check.py DIR — DIR holds, for each case NAME listed in DIR/cases.json,
NAME.backbone.safetensors (export_backbone), NAME.io.safetensors (tensors `input` and `output`,
the Rust eval-mode forward). For each case the script builds torchvision.models.resnet18/34/50,
adapts the stem when the case says so (CIFAR: 3x3 stride-1 conv1, no max-pool; in_channels),
loads the weights with load_state_dict(strict=False), requires that only fc.weight/fc.bias are
missing and nothing is unexpected, replaces fc by Identity, and compares the outputs.
Prints one line per case; exits 1 on any mismatch.
"""
import json
import struct
import sys

import torch
import torchvision

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=DTYPES[info["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def main(folder):
    cases = json.load(open(f"{folder}/cases.json"))
    ok = True
    for case in cases:
        name = case["name"]
        model = getattr(torchvision.models, f"resnet{case['depth']}")(weights=None)
        if case["stem"] == "cifar":
            model.conv1 = torch.nn.Conv2d(case["in_channels"], 64, 3, 1, 1, bias=False)
            model.maxpool = torch.nn.Identity()
        elif case["in_channels"] != 3:
            model.conv1 = torch.nn.Conv2d(case["in_channels"], 64, 7, 2, 3, bias=False)
        state = read_safetensors(f"{folder}/{name}.backbone.safetensors")
        result = model.load_state_dict(state, strict=False)
        missing, unexpected = sorted(result.missing_keys), sorted(result.unexpected_keys)
        if missing != ["fc.bias", "fc.weight"] or unexpected:
            print(f"{name}: load_state_dict missing {missing}, unexpected {unexpected}")
            ok = False
            continue
        model.fc = torch.nn.Identity()
        model.eval()
        io = read_safetensors(f"{folder}/{name}.io.safetensors")
        with torch.no_grad():
            y = model(io["input"])
        diff = (y - io["output"]).abs().max().item()
        scale = io["output"].abs().max().item()
        params = sum(p.numel() for p in torchvision.models.__dict__[f"resnet{case['depth']}"](weights=None).parameters())
        print(f"{name}: loaded {len(state)} tensors (torchvision resnet{case['depth']} has {params} parameters with fc); max |torchvision - rust| = {diff:.3g} (output scale {scale:.3g})")
        if not diff <= 1e-4 * max(1.0, scale):
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
