"""Spectrum + PR + alpha + RankMe: numpy against ssl-analysis on the same matrices, same run.

Writes f32 embeddings (power-law column scales, seed 0) to target/bench-data, times numpy doing
what the reference code does (np.cov + eigvalsh for the raw and the L2-normalised covariance,
Stringer's weighted fit, RankMe from np.linalg.svd of X), and — for a same-algorithm comparison —
numpy with RankMe from eigvalsh(X^T X) instead of the SVD. Then runs
`cargo bench -p ssl-analysis --bench spectrum` on the same files and prints the ratios.

Run from the repository root:
    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-analysis/scripts/bench_spectrum.py
"""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SIZES = [(10_000, 512), (50_000, 2_048)]
DATA = os.path.abspath("target/bench-data")


def power_law(eig, first=11, last=100):
    last = min(last, int((eig > 0).sum()))
    k = np.arange(first, last + 1)
    x, y, w = -np.log(k), np.log(eig[first - 1:last]), 1.0 / k
    a = np.vstack([x, np.ones_like(x)]).T * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(a, y * np.sqrt(w), rcond=None)
    return coef[0]


def report(x, svd=True):
    eig = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    norm_eig = np.linalg.eigvalsh(np.cov(xn, rowvar=False))[::-1]
    pr = eig.sum() ** 2 / (eig ** 2).sum()
    alpha = power_law(eig)
    if svd:
        s = np.linalg.svd(x, compute_uv=False)
    else:
        xf = x.astype(np.float64)
        s = np.sqrt(np.maximum(np.linalg.eigvalsh(xf.T @ xf)[::-1], 0))
    p = s / s.sum() + 1e-7
    rankme = np.exp(-(p * np.log(p)).sum())
    return pr, alpha, rankme, norm_eig[0]


def timed(f, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    os.makedirs(DATA, exist_ok=True)
    rng = np.random.default_rng(0)
    numpy_times = {}
    for n, d in SIZES:
        x = (rng.standard_normal((n, d), dtype=np.float32) * (np.arange(1, d + 1) ** -0.5).astype(np.float32))
        np.save(os.path.join(DATA, f"spectrum-{n}x{d}.npy"), x)
        reps = 3 if n * d > 10**8 else 5
        t_svd, out = timed(lambda: report(x, svd=True), reps)
        t_gram, _ = timed(lambda: report(x, svd=False), reps)
        numpy_times[f"{n}x{d}"] = (t_svd, t_gram)
        print(f"numpy {n}x{d}: reference (SVD for RankMe) {t_svd:.2f} s, eigvalsh(XᵀX) for RankMe {t_gram:.2f} s; PR {out[0]:.3f} alpha {out[1]:.3f} RankMe {out[2]:.2f}", flush=True)
        del x
    env = dict(os.environ, SSL_BENCH_DATA=DATA)
    subprocess.run(["cargo", "bench", "-p", "ssl-analysis", "--bench", "spectrum"], check=True, env=env)
    print(f"\nnumpy {np.__version__}, BLAS: {np.show_config(mode='dicts')['Build Dependencies']['blas']['name'] if hasattr(np, 'show_config') else '?'}")
    print("| embeddings | numpy reference | numpy, same algorithm | ssl-analysis | ratio vs reference | ratio vs same algorithm |")
    print("|---|---|---|---|---|---|")
    for n, d in SIZES:
        key = f"{n}x{d}"
        est = json.load(open(f"target/criterion/spectrum_report/rust/{key}/new/estimates.json"))
        rust = est["median"]["point_estimate"] / 1e9
        t_svd, t_gram = numpy_times[key]
        print(f"| {n} × {d} | {t_svd:.2f} s | {t_gram:.2f} s | {rust:.2f} s | {t_svd / rust:.1f}× | {t_gram / rust:.1f}× |")


if __name__ == "__main__":
    sys.exit(main())
