"""The Python bindings timed against numpy and scikit-learn, in one process, on the same arrays.

    PYTHONPATH=target/wheel-test:<dir with scikit-learn> python3 crates/ssl-analysis-py/bench.py

(`cargo xtask test` leaves the wheel installed in target/wheel-test; scikit-learn is not part of
set-up: `pip install --target /tmp/sk scikit-learn`.) Medians of 3 runs; docs/benchmarks.md.
"""

import statistics
import time

import numpy as np
import ssl_analysis
from sklearn.linear_model import RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler


def timed(f, reps=3):
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def data(n, d, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    centres = rng.normal(size=(classes, d))
    x = (rng.normal(size=(n, d)) + 2.0 * centres[y]) * np.arange(1, d + 1) ** -0.5
    return x.astype(np.float32), y


def numpy_spectrum(x):
    x64 = x.astype(np.float64)
    lam = np.linalg.eigvalsh(np.cov(x64, rowvar=False))[::-1]
    pr = lam.sum() ** 2 / (lam**2).sum()
    s = np.linalg.svd(x64, compute_uv=False)
    p = s / s.sum() + 1e-7
    return pr, np.exp(-(p * np.log(p)).sum())


def ours_spectrum(x):
    r = ssl_analysis.report(x, capacity_trials=0, mft_n_t=0)
    return r["participation_ratio"], r["rankme"]


def sklearn_knn(bank, by, q, qy, k=200, t=0.1):
    # Cosine similarity s = 1 - d; votes exp(s / T), as ssl_analysis (Wu et al. 2018).
    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute", weights=lambda d: np.exp((1.0 - d) / t))
    clf.fit(bank, by)
    return (clf.predict(q) == qy).mean()


def sklearn_ridge(bank, by, q, qy, lam=1.0):
    sc = StandardScaler().fit(bank)
    clf = RidgeClassifier(alpha=lam).fit(sc.transform(bank), by)
    return (clf.predict(sc.transform(q)) == qy).mean()


def main():
    print(f"numpy {np.__version__}; ssl_analysis {ssl_analysis.__version__} ({ssl_analysis.blas_info()})")
    print("| task | data | numpy / scikit-learn | ssl_analysis | ratio | values (theirs / ours) |")
    print("|---|---|---|---|---|---|")
    for n, d in [(10_000, 512), (50_000, 1_024)]:
        x, _ = data(n, d)
        t_np, v_np = timed(lambda: numpy_spectrum(x))
        t_us, v_us = timed(lambda: ours_spectrum(x))
        print(f"| spectrum: PR + RankMe (np.cov + eigvalsh, np.linalg.svd) | {n} × {d} | {t_np:.2f} s | {t_us:.2f} s | {t_np / t_us:.1f}× | PR {v_np[0]:.3f} / {v_us[0]:.3f}, RankMe {v_np[1]:.2f} / {v_us[1]:.2f} |")
    x, y = data(60_000, 512, seed=1)
    bank, by, q, qy = x[:50_000], y[:50_000], x[50_000:], y[50_000:]
    t_sk, a_sk = timed(lambda: sklearn_knn(bank, by, q, qy))
    t_us, a_us = timed(lambda: ssl_analysis.knn_accuracy(bank, by, q, qy))
    print(f"| weighted cosine kNN, k = 200, T = 0.1 (KNeighborsClassifier, brute) | bank 50000 × 512, 10000 queries | {t_sk:.2f} s | {t_us:.2f} s | {t_sk / t_us:.1f}× | {a_sk:.4f} / {a_us:.4f} |")
    t_sk, a_sk = timed(lambda: sklearn_ridge(bank, by, q, qy))
    t_us, a_us = timed(lambda: ssl_analysis.linear_probe_accuracy(bank, by, q, qy))
    print(f"| ridge probe on standardised features, λ = 1 (StandardScaler + RidgeClassifier) | 50000 → 10000 × 512 | {t_sk:.2f} s | {t_us:.2f} s | {t_sk / t_us:.1f}× | {a_sk:.4f} / {a_us:.4f} |")


if __name__ == "__main__":
    main()
