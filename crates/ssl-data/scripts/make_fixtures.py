"""Fixtures for ssl-data's augmentation ops, generated once with torchvision.

Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0:.deps/python-extra python3 crates/ssl-data/scripts/make_fixtures.py

Writes crates/ssl-data/fixtures/torchvision.json: small random u8 images (seed 0), and for fixed
parameters the outputs of torchvision.transforms.v2.functional on the float images x / 255
(values rounded to 6 decimals). tests/torchvision_fixtures.rs checks every op against them.
"""
import json

import torch
import torchvision
import torchvision.transforms.v2.functional as F

torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
images = {
    "rgb": torch.randint(0, 256, (3, 13, 11), generator=g, dtype=torch.uint8),
    "grey": torch.randint(0, 256, (1, 9, 7), generator=g, dtype=torch.uint8),
}


def as_list(t):
    return [round(float(v), 6) for v in t.flatten()]


cases = []


def add(image, op, params, out):
    cases.append({"image": image, "op": op, "params": params, "shape": list(out.shape), "output": as_list(out)})


for name, img in images.items():
    x = img.float() / 255.0
    c, h, w = x.shape
    boxes = [(2, 1, h - 4, w - 3, 5, 4), (0, 0, h, w, 16, 20), (3, 2, 4, 5, 9, 9), (1, 3, 7, 3, 7, 3), (0, 0, h, w, 3, 2)]
    for top, left, bh, bw, oh, ow in boxes:
        out = F.resized_crop(x, top, left, bh, bw, [oh, ow], interpolation=F.InterpolationMode.BILINEAR, antialias=True)
        add(name, "resized_crop", {"top": top, "left": left, "height": bh, "width": bw, "out_h": oh, "out_w": ow}, out)
    add(name, "hflip", {}, F.horizontal_flip(x))
    for f in [0.4, 1.7]:
        add(name, "brightness", {"factor": f}, F.adjust_brightness(x, f))
        add(name, "contrast", {"factor": f}, F.adjust_contrast(x, f))
        if c == 3:
            add(name, "saturation", {"factor": f}, F.adjust_saturation(x, f))
    if c == 3:
        for hue in [-0.3, 0.1, 0.45]:
            add(name, "hue", {"shift": hue}, F.adjust_hue(x, hue))
        add(name, "grayscale", {}, F.rgb_to_grayscale(x, num_output_channels=3))
    for k, s in [(3, 0.8), (5, 1.5), (7, 0.3)]:
        add(name, "gaussian_blur", {"kernel": k, "sigma": s}, F.gaussian_blur(x, [k, k], [s, s]))
    add(name, "solarize", {"threshold": 0.5}, F.solarize(x, 0.5))
    for k in range(4):
        add(name, "rot90", {"k": k}, torch.rot90(x, k, dims=(-2, -1)))
    add(name, "erase", {"top": 2, "left": 1, "height": 4, "width": 3, "value": 0.25}, F.erase(x, 2, 1, 4, 3, torch.tensor(0.25)))
    mean, std = [0.4, 0.5, 0.6][:c], [0.2, 0.25, 0.3][:c]
    add(name, "normalize", {"mean": mean, "std": std}, F.normalize(x, mean, std))
    gray = F.rgb_to_grayscale(x) if c == 3 else x
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    weight = torch.stack([kx, kx.t()]).unsqueeze(1)
    add(name, "sobel", {}, torch.nn.functional.conv2d(gray.unsqueeze(0), weight, padding=1)[0])

out = {
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "images": {k: {"shape": list(v.shape), "data": [int(b) for b in v.flatten()]} for k, v in images.items()},
    "cases": cases,
}
with open("crates/ssl-data/fixtures/torchvision.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(f"{len(cases)} cases")
