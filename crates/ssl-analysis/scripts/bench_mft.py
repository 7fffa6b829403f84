"""Times the reference MFT analysis (schung039/neural_manifolds_replicaMFT,
manifold_analysis_corr) on 100 manifolds x 50 points x 512 dimensions, and writes the same
input for `ssl-analyze` so both run on identical numbers (docs/benchmarks.md).

    /tmp/mftref/bin/python crates/ssl-analysis/scripts/bench_mft.py REFERENCE_DIR OUT_DIR
    # then, on the same machine, the same input:
    SSL_BENCH_DATA=OUT_DIR cargo bench -p ssl-analysis --bench mft
    target/release/ssl-analyze --embeddings OUT_DIR/x.npy --manifold-ids OUT_DIR/ids.npy \
        --capacity-trials 0 --out OUT_DIR/ours

(The virtual environment: numpy scipy cvxopt autograd pymanopt==0.2.4, as in
crates/ssl-analysis/tests/fixtures/mft/make_fixture.py.)
"""
import json
import os
import sys
import time

import numpy as np
import scipy.misc
import scipy.special

scipy.misc.comb = scipy.special.comb  # pymanopt 0.2.4 imports the name from its old place
sys.path.insert(0, sys.argv[1])
from mftma.manifold_analysis_correlation import manifold_analysis_corr  # noqa: E402

out = sys.argv[2]
os.makedirs(out, exist_ok=True)
P, M, N = 100, 50, 512
rng = np.random.default_rng(0)
shared = np.linalg.qr(rng.standard_normal((N, 5)))[0]
centres = 2.0 * shared @ rng.standard_normal((5, P)) + rng.standard_normal((N, P))
rows = []
for i in range(P):
    sub = np.linalg.qr(rng.standard_normal((N, 10)))[0]
    rows.append((centres[:, [i]] + sub @ (0.5 * rng.standard_normal((10, M))) + 0.05 * rng.standard_normal((N, M))).T)
x = np.concatenate(rows, axis=0).astype(np.float32)  # what ssl-analyze reads
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "ids.npy"), np.repeat(np.arange(P), M).astype(np.int64))
X = [x[i * M:(i + 1) * M].astype(np.float64).T for i in range(P)]

np.random.seed(0)
start = time.perf_counter()
a, r, d, r0, K = manifold_analysis_corr(X, 0, 200)  # kappa 0, n_t 200, n_reps 10 (its defaults)
seconds = time.perf_counter() - start
result = {
    "seconds": seconds,
    "capacity": float(1 / np.mean(1 / a)),
    "radius": float(np.mean(r)),
    "dimension": float(np.mean(d)),
    "center_correlation": float(r0),
    "low_rank_dims": int(K),
}
print(json.dumps(result))
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(result, f)
