"""The oneDNN crash behind `Conv::contiguous_only` in src/resnet.rs: the weight gradient of a
channels-last 1x1 stride-2 convolution with few input channels on large maps kills the process
(SIGFPE in jit_avx512_common_1x1_convolution_bwd_weights_t, or SIGSEGV / heap corruption) with
the pinned PyTorch 2.11.0 on an AVX-512 Xeon. Each shape runs in its own process; the table says
which crash. Measured 2026-11-30: crashes for 2-8 input channels from 56x56 up, 12 channels at
96x96; never with 1 or >= 16 channels, stride 1, 3x3 kernels or the contiguous layout.

Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-models/scripts/onednn_1x1_stride2_crash.py
"""
import subprocess
import sys

ONE = """
import torch, torch.nn.functional as F
n, cin, hw, k, stride, cl = {args}
fmt = torch.channels_last if cl else torch.contiguous_format
x = torch.randn(n, cin, hw, hw).contiguous(memory_format=fmt).requires_grad_()
w = torch.randn(2 * cin, cin, k, k).contiguous(memory_format=fmt).requires_grad_()
F.conv2d(x, w, stride=stride, padding=k // 2).sum().backward()
"""


def crashes(n, cin, hw, k=1, stride=2, cl=True):
    code = ONE.format(args=(n, cin, hw, k, stride, cl))
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0


def main():
    sizes = [32, 48, 56, 64, 96]
    print("1x1 stride-2 convolution, batch 32, channels-last: crash (X) or not (.)")
    print("channels " + " ".join(f"{s:>4}" for s in sizes))
    for cin in [1, 2, 4, 8, 12, 16, 24]:
        print(f"{cin:>8} " + " ".join(f"{'X' if crashes(32, cin, s) else '.':>4}" for s in sizes), flush=True)
    print("controls at 4 channels, 64x64: contiguous", "X" if crashes(32, 4, 64, cl=False) else ".",
          "| stride 1", "X" if crashes(32, 4, 64, stride=1) else ".",
          "| 3x3 stride 2", "X" if crashes(32, 4, 64, k=3) else ".")


if __name__ == "__main__":
    main()
