"""How far libtorch's CPU batch norm (training mode) is from a float64 reference in NCHW and in
channels-last: forward output, input gradient and weight gradient, on ReLU-like feature maps
(non-negative, mean about 0.8, as batch norm sees them in a ResNet) at the shapes of the
toolkit's ResNets, and the 3x3 convolution beside it for scale.

Measured 2026-11-30 (torch 2.11.0, Intel Xeon with AVX-512, 2 threads): the convolutions are as
exact in both layouts (2e-6 .. 5e-6 relative), but channels-last batch norm is up to ~2000x less
exact than NCHW's, forward and backward: 2.7e-4 / 2.3e-4 (output / input gradient) against
~1e-7 at the default recipe's first stage (256 x 16 x 28 x 28), less on smaller maps (5e-6 at
4 x 4). Through the 17 batch norms of a ResNet-18 this leaves weight gradients ~5e-3 from
float64 where NCHW is ~5e-6 (tests/layout.rs, channels_last_trains_narrow_networks_on_large_images).

Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-models/scripts/bn_channels_last_precision.py
"""
import torch
import torch.nn.functional as F

LAYOUTS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def rel(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


def batch_norm(n, c, hw):
    x = torch.randn(n, c, hw, hw, dtype=torch.float64).relu() * 2
    g = torch.randn_like(x)
    xr, wr = x.clone().requires_grad_(), torch.ones(c, dtype=torch.float64, requires_grad=True)
    yr = F.batch_norm(xr, None, None, wr, None, training=True)
    yr.backward(g)
    out = {}
    for name, fmt in LAYOUTS.items():
        xf, wf = x.float().contiguous(memory_format=fmt).requires_grad_(), torch.ones(c, requires_grad=True)
        y = F.batch_norm(xf, None, None, wf, None, training=True)
        y.backward(g.float().contiguous(memory_format=fmt))
        out[name] = f"y {rel(y, yr):.1e}, dx {rel(xf.grad, xr.grad):.1e}, dw {rel(wf.grad, wr.grad):.1e}"
    print(f"batch norm {(n, c, hw, hw)}: " + " | ".join(f"{k}: {v}" for k, v in out.items()))


def conv(n, cin, cout, hw, stride):
    x = torch.randn(n, cin, hw, hw, dtype=torch.float64).relu()
    w = torch.randn(cout, cin, 3, 3, dtype=torch.float64) * 0.3
    xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()
    yr = F.conv2d(xr, wr, stride=stride, padding=1)
    g = torch.randn_like(yr)
    yr.backward(g)
    out = {}
    for name, fmt in LAYOUTS.items():
        xf = x.float().contiguous(memory_format=fmt).requires_grad_()
        wf = w.float().contiguous(memory_format=fmt).requires_grad_()
        F.conv2d(xf, wf, stride=stride, padding=1).backward(g.float().contiguous(memory_format=fmt))
        out[name] = f"dx {rel(xf.grad, xr.grad):.1e}, dw {rel(wf.grad, wr.grad):.1e}"
    print(f"conv 3x3 {(n, cin, cout, hw, hw)} stride {stride}: " + " | ".join(f"{k}: {v}" for k, v in out.items()))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}; relative max errors against float64")
    for shape in [(256, 16, 28), (256, 32, 14), (256, 128, 4), (32, 4, 64), (32, 8, 32)]:
        batch_norm(*shape)
    for shape in [(256, 16, 16, 28, 1), (256, 16, 32, 28, 2), (32, 4, 4, 64, 1)]:
        conv(*shape)


if __name__ == "__main__":
    main()
