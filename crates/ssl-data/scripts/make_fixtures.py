"""Fixtures for ssl-data's augmentation ops and colour spaces, generated with torchvision and
scikit-image.

Setup: torch 2.11.0 (the workspace's libtorch pin) is in .deps/torch-2.11.0, torchvision 0.26.0
and Pillow in .deps/python-extra; scikit-image is optional:
    pip install --target /tmp/pyextra scikit-image==0.26.0
Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0:.deps/python-extra:/tmp/pyextra \
        python3 crates/ssl-data/scripts/make_fixtures.py
Without scikit-image the "colorspace" section of the existing fixture file is kept as it is.

Writes crates/ssl-data/fixtures/torchvision.json:
* "images": small random u8 images (CHW, seed 0): "rgb" 3x13x11 and "grey" 1x9x7, which every
  op is run on, and "wide" 1x4x90, only resized to a few pixels (downscaling by 30-90x, whose
  filters span more than 64 input pixels).
* "cases": for fixed parameters, the outputs of torchvision.transforms.v2.functional (and
  torch.rot90 / conv2d for rot90 and Sobel) on the float images x / 255.
* "colorspace": skimage.color conversions of the "rgb" image (float64 x / 255): forward
  ("output" from the image) and inverse ("input" given, "output" = skimage's inverse of it);
  YCbCr both as skimage's studio range and PIL's JPEG full range ("ycbcr_pil", u8 levels).
Values are rounded to 6 decimals. tests/torchvision_fixtures.rs checks every case.
"""
import json

import numpy as np
import PIL
import PIL.Image
try:
    import skimage
    import skimage.color as skc
except ImportError:
    skimage = None
import torch
import torchvision
import torchvision.transforms.v2.functional as F

torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
images = {
    "rgb": torch.randint(0, 256, (3, 13, 11), generator=g, dtype=torch.uint8),
    "grey": torch.randint(0, 256, (1, 9, 7), generator=g, dtype=torch.uint8),
    "wide": torch.randint(0, 256, (1, 4, 90), generator=g, dtype=torch.uint8),
}


def as_list(t):
    return [round(float(v), 6) for v in np.asarray(t).flatten()]


cases = []


def add(image, op, params, out):
    cases.append({"image": image, "op": op, "params": params, "shape": list(out.shape), "output": as_list(out)})


for name in ["rgb", "grey"]:
    img = images[name]
    x = img.float() / 255.0
    c, h, w = x.shape
    boxes = [(2, 1, h - 4, w - 3, 5, 4), (0, 0, h, w, 16, 20), (3, 2, 4, 5, 9, 9), (1, 3, 7, 3, 7, 3), (0, 0, h, w, 3, 2)]
    # A single pixel blown up, and the whole image down to one pixel.
    boxes += [(5, 4, 1, 1, 4, 4), (0, 0, h, w, 1, 1)]
    for top, left, bh, bw, oh, ow in boxes:
        out = F.resized_crop(x, top, left, bh, bw, [oh, ow], interpolation=F.InterpolationMode.BILINEAR, antialias=True)
        add(name, "resized_crop", {"top": top, "left": left, "height": bh, "width": bw, "out_h": oh, "out_w": ow}, out)
    add(name, "hflip", {}, F.horizontal_flip(x))
    for f in [0.4, 1.7]:
        add(name, "brightness", {"factor": f}, F.adjust_brightness(x, f))
        add(name, "contrast", {"factor": f}, F.adjust_contrast(x, f))
        if c == 3:
            add(name, "saturation", {"factor": f}, F.adjust_saturation(x, f))
    if c == 1:
        # No-ops on one channel, as in torchvision.
        add(name, "saturation", {"factor": 1.7}, F.adjust_saturation(x, 1.7))
    for hue in [-0.3, 0.1, 0.45] if c == 3 else [0.1]:
        add(name, "hue", {"shift": hue}, F.adjust_hue(x, hue))
    # RandomGrayscale keeps the number of channels.
    add(name, "grayscale", {}, F.rgb_to_grayscale(x, num_output_channels=c))
    # Kernel 9 on the 9x7 grey image pads by 4, close to torch's reflect limit (pad < side).
    for k, s in [(3, 0.8), (5, 1.5), (7, 0.3), (9, 2.0)]:
        add(name, "gaussian_blur", {"kernel": k, "sigma": s}, F.gaussian_blur(x, [k, k], [s, s]))
    # 100/255 is a pixel level: checks that x == threshold is inverted (>=).
    for t in [0.5, 100 / 255]:
        add(name, "solarize", {"threshold": t}, F.solarize(x, t))
    for k in range(4):
        add(name, "rot90", {"k": k}, torch.rot90(x, k, dims=(-2, -1)))
    add(name, "erase", {"top": 2, "left": 1, "height": 4, "width": 3, "value": 0.25}, F.erase(x, 2, 1, 4, 3, torch.tensor(0.25)))
    # A box running over the bottom-right corner: the slice clips it.
    add(name, "erase", {"top": h - 2, "left": w - 3, "height": 5, "width": 6, "value": 0.0}, F.erase(x, h - 2, w - 3, 5, 6, torch.tensor(0.0)))
    mean, std = [0.4, 0.5, 0.6][:c], [0.2, 0.25, 0.3][:c]
    add(name, "normalize", {"mean": mean, "std": std}, F.normalize(x, mean, std))
    if c == 3:
        # One mean/std value broadcasts to every channel.
        add(name, "normalize", {"mean": [0.45], "std": [0.22]}, F.normalize(x, [0.45], [0.22]))
    gray = F.rgb_to_grayscale(x) if c == 3 else x
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    weight = torch.stack([kx, kx.t()]).unsqueeze(1)
    add(name, "sobel", {}, torch.nn.functional.conv2d(gray.unsqueeze(0), weight, padding=1)[0])

# Strong downscaling: the antialias filter spans 2 * 90 / out_w + 1 input pixels.
x = images["wide"].float() / 255.0
for top, left, bh, bw, oh, ow in [(0, 0, 4, 90, 1, 1), (0, 0, 4, 90, 2, 3), (1, 5, 3, 80, 1, 2)]:
    out = F.resized_crop(x, top, left, bh, bw, [oh, ow], interpolation=F.InterpolationMode.BILINEAR, antialias=True)
    add("wide", "resized_crop", {"top": top, "left": left, "height": bh, "width": bw, "out_h": oh, "out_w": ow}, out)

# Colour spaces (skimage works on HWC float64).
PATH = "crates/ssl-data/fixtures/torchvision.json"
if skimage is not None:
    skimage_version = skimage.__version__
    rgb_hwc = images["rgb"].permute(1, 2, 0).numpy().astype(np.float64) / 255.0
    spaces = {
        "lab": (skc.rgb2lab, skc.lab2rgb),
        "ycbcr": (skc.rgb2ycbcr, skc.ycbcr2rgb),
        "ydbdr": (skc.rgb2ydbdr, skc.ydbdr2rgb),
        "yiq": (skc.rgb2yiq, skc.yiq2rgb),
        "ypbpr": (skc.rgb2ypbpr, skc.ypbpr2rgb),
        "hsv": (skc.rgb2hsv, skc.hsv2rgb),
    }
    colorspace = []
    for space, (fwd, inv) in spaces.items():
        out = fwd(rgb_hwc)
        colorspace.append({"space": space, "dir": "from_rgb", "output": as_list(out.transpose(2, 0, 1))})
        rounded = np.array(as_list(out.transpose(2, 0, 1))).reshape(3, *rgb_hwc.shape[:2])
        back = inv(rounded.transpose(1, 2, 0))
        colorspace.append({"space": space, "dir": "to_rgb", "input": as_list(rounded), "output": as_list(back.transpose(2, 0, 1))})
    pil = np.asarray(PIL.Image.fromarray(images["rgb"].permute(1, 2, 0).numpy(), "RGB").convert("YCbCr"))
    colorspace.append({"space": "ycbcr_pil", "dir": "from_rgb", "output": [int(v) for v in pil.transpose(2, 0, 1).flatten()]})
else:
    # Keep the previous colour-space cases (they depend only on the "rgb" image, drawn first).
    try:
        with open(PATH) as f:
            old = json.load(f)
        skimage_version, colorspace = old["skimage"], old["colorspace"]
        print("scikit-image not found: keeping the colour-space cases of the existing fixture file")
    except (OSError, KeyError):
        skimage_version, colorspace = None, []
        print("scikit-image not found: no colour-space cases")

out = {
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "skimage": skimage_version,
    "pil": PIL.__version__,
    "images": {k: {"shape": list(v.shape), "data": [int(b) for b in v.flatten()]} for k, v in images.items()},
    "cases": cases,
    "colorspace": colorspace,
}
with open(PATH, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(f"{len(cases)} cases, {len(colorspace)} colour-space cases")
