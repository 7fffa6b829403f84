"""Generates fixtures/spectra.json: spectral metrics computed by numpy for three small matrices
(Gaussian with known covariance, an exact power-law spectrum, a rank-deficient matrix). Run once:

    PYTHONPATH=.deps/torch-2.11.0 python3 crates/ssl-analysis/scripts/make_fixtures.py

alpha follows Stringer et al. 2019 get_powerlaw (weighted least squares, weights 1/k); RankMe
follows Garrido et al. 2023; the normalised spectrum follows DirectCLR spectrum.py.
"""
import json
import os

import numpy as np

rng = np.random.default_rng(7)


def get_powerlaw(ss, trange):  # Stringer et al. 2019, with the 0-based window trange
    logss = np.log(np.abs(ss))
    y = logss[trange][:, np.newaxis]
    trange = trange + 1
    nt = trange.size
    x = np.concatenate((-np.log(trange)[:, np.newaxis], np.ones((nt, 1))), axis=1)
    w = 1.0 / trange.astype(np.float32)[:, np.newaxis]
    b = np.linalg.solve(x.T @ (x * w), (w * x).T @ y).flatten()
    return b[0]


def metrics(x, window):
    x64 = x.astype(np.float64)
    ev = np.sort(np.linalg.eigvalsh(np.cov(x64.T)))[::-1]
    z = x64 / np.linalg.norm(x64, axis=1, keepdims=True)
    nev = np.sort(np.linalg.svd(np.cov(z.T), compute_uv=False))[::-1]
    s = np.linalg.svd(x64, compute_uv=False)
    p = s / s.sum() + 1e-7
    q = s[s > 0] / s.sum()
    first, last = window
    return {
        "covariance_eigenvalues": ev.tolist(),
        "normalized_covariance_eigenvalues": nev.tolist(),
        "participation_ratio": float(ev.sum() ** 2 / (ev ** 2).sum()),
        "alpha": float(get_powerlaw(ev, np.arange(first - 1, last))),
        "rankme": float(np.exp(-(p * np.log(p)).sum())),
        "effective_rank": float(np.exp(-(q * np.log(q)).sum())),
        "collapsed_dims": int((ev <= 1e-5 * ev[0]).sum()),
    }


cases = []
# 1. Gaussian with a known diagonal covariance, rotated.
q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
x = (rng.standard_normal((400, 12)) * np.linspace(3, 0.2, 12)) @ q.T
cases.append(("gaussian", x, (2, 10)))
# 2. An exact power law λ_k = k^-1.5: whitened samples scaled by √λ_k, so the sample covariance is exact.
n, d = 300, 40
z = rng.standard_normal((n, d))
z -= z.mean(0)
u, _, vt = np.linalg.svd(z, full_matrices=False)
white = u * np.sqrt(n - 1)  # columns orthonormal·√(n−1): covariance exactly I
lam = np.arange(1, d + 1, dtype=np.float64) ** -1.5
x = white * np.sqrt(lam) + 5.0  # an offset the centring removes
cases.append(("power_law", x, (11, 40)))
# 3. Rank 3 in 10 dimensions.
x = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 10))
cases.append(("rank_deficient", x, (1, 3)))

out = []
for name, x, window in cases:
    x32 = x.astype(np.float32)
    m = metrics(x32, window)
    out.append({"name": name, "shape": list(x32.shape), "data": x32.flatten().tolist(), "window": list(window), **m})
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "spectra.json")
with open(path, "w") as f:
    json.dump({"numpy": np.__version__, "cases": out}, f)
print("wrote", path, [(c["name"], round(c["alpha"], 4), c["collapsed_dims"]) for c in out])
