"""Generates fixtures/losses.json: every loss of ssl-objectives computed by PyTorch (f64) from the
official formulas, with its gradient. Run once (from the workspace root):

    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-objectives/scripts/make_fixtures.py

Sources transcribed: solo-learn simclr_loss_func / byol_loss_func / simsiam; facebookresearch
directclr infoNCE; facebookresearch barlowtwins; facebookresearch vicreg; ThomasYerxa/mmcr
loss_mmcr.py; Hadsell et al. 2006.
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)
from reference_losses import barlow, byol, directclr, margin, mmcr, simclr, simsiam, vicreg, views  # noqa: E402


cases = []


def record(name, params, inputs, fn):
    loss = fn(*inputs)
    loss.backward()
    cases.append({
        "name": name,
        "params": params,
        "inputs": [{"shape": list(x.shape), "data": x.detach().flatten().tolist()} for x in inputs],
        "loss": loss.item(),
        "grad": inputs[0].grad.flatten().tolist(),
    })


record("ntxent", {"temperature": 0.5}, [views(2, 6, 5)], lambda z: simclr(z, 0.5))
record("ntxent", {"temperature": 0.1}, [views(4, 5, 3)], lambda z: simclr(z, 0.1))
record("directclr", {"d0": 3, "temperature": 0.1}, [views(2, 6, 7)], lambda z: directclr(z, 3, 0.1))
record("infonce", {"temperature": 0.2}, [views(2, 5, 4)], lambda z: directclr(z, 4, 0.2))
record("barlow", {"lambda": 0.0051}, [views(2, 8, 6)], lambda z: barlow(z, 0.0051))
record("vicreg", {}, [views(2, 8, 6)], lambda z: vicreg(z))
record("mmcr", {"lambda": 0.0}, [views(5, 6, 8)], lambda z: mmcr(z, 0.0))
record("mmcr", {"lambda": 0.5}, [views(3, 4, 10)], lambda z: mmcr(z, 0.5))
record("mmcr", {"lambda": 0.0}, [views(4, 12, 5)], lambda z: mmcr(z, 0.0))
record("byol", {}, [views(2, 6, 5), views(2, 6, 5)], lambda p, t: byol(p, t))
record("simsiam", {}, [views(3, 6, 5), views(3, 6, 5)], lambda p, t: simsiam(p, t))
record("margin", {"margin": 2.0}, [views(2, 6, 3)], lambda z: margin(z, 2.0))

out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "losses.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {out}")
