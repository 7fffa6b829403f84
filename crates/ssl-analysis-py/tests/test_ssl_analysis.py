"""The Python bindings against the command line and against numpy.

Run by `cargo xtask test` (after `cargo test`): it installs the freshly built wheel into
target/wheel-test and points SSL_ANALYZE at the `ssl-analyze` binary.
"""

import json
import os
import subprocess
import threading

import numpy as np
import pytest

import ssl_analysis

# Small settings so the whole suite takes seconds; given to Python as keywords, to the CLI as flags.
SMALL = dict(capacity_trials=5, capacity_manifolds=12, capacity_points=8, mft_n_t=40, mft_reps=2)


def embeddings(n=240, d=24, classes=4, seed=0):
    """Class clusters in a power-law-scaled space, with 8 points per manifold id."""
    rng = np.random.default_rng(seed)
    scales = np.arange(1, d + 1, dtype=np.float64) ** -0.8
    y = np.arange(n) % classes
    centres = rng.normal(size=(classes, d)) * 2.0
    x = (rng.normal(size=(n, d)) + centres[y]) * scales
    ids = np.arange(n) // 8
    return x.astype(np.float32), y.astype(np.int64), ids.astype(np.int64)


def run_cli(tmp_path, arrays, settings):
    for name, a in arrays.items():
        np.save(tmp_path / f"{name}.npy", a)
    out = tmp_path / "out"
    args = [os.environ["SSL_ANALYZE"], "--out", str(out)]
    for key, value in settings.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    for name in arrays:
        args += [f"--{name.replace('_', '-')}", str(tmp_path / f"{name}.npy")]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "report.json").read_text())


def test_report_equals_the_cli_report_with_labels_and_manifolds(tmp_path):
    x, y, ids = embeddings()
    cli = run_cli(tmp_path, {"embeddings": x, "labels": y, "manifold_ids": ids}, SMALL)
    py = ssl_analysis.report(x, labels=y, manifold_ids=ids, **SMALL)
    assert cli.pop("source").endswith("embeddings.npy")
    assert py == cli
    assert set(py) >= {"participation_ratio", "alpha", "rankme", "linear_probe_accuracy", "manifold", "mft", "capacity"}


def test_report_equals_the_cli_report_with_a_bank(tmp_path):
    x, y, _ = embeddings(seed=1)
    bx, by, _ = embeddings(n=400, seed=2)
    settings = {**SMALL, "knn_k": 20, "knn_temperature": 0.05, "probe_lambda": 0.5, "mft_n_t": 0, "capacity_trials": 0}
    cli = run_cli(tmp_path, {"embeddings": x, "labels": y, "train_embeddings": bx, "train_labels": by}, settings)
    py = ssl_analysis.report(x, y, bx, by, **settings)
    cli.pop("source")
    assert py == cli
    assert py["knn"]["k"] == 20 and py["linear_probe"]["lambda"] == 0.5 and 0.0 <= py["knn_accuracy"] <= 1.0


def test_factor_probes_equal_the_cli_and_read_planted_factors(tmp_path):
    # Features carry the object class (one-hot) and the position; the background is absent.
    rng = np.random.default_rng(4)
    n = 300
    f = np.stack([np.arange(n) % 4, np.arange(n) % 5, rng.integers(0, 37, n), rng.integers(0, 37, n)], axis=1).astype(np.float32)
    x = np.concatenate([np.eye(4)[np.arange(n) % 4], f[:, 2:] / 10, rng.normal(size=(n, 3)) * 0.01], axis=1).astype(np.float32)
    cli = run_cli(tmp_path, {"embeddings": x, "factors": f}, {"capacity_trials": 0, "mft_n_t": 0})
    py = ssl_analysis.report(x, factors=f, capacity_trials=0, mft_n_t=0)
    cli.pop("source")
    assert py == cli
    p = ssl_analysis.factor_probes(x, f)
    assert p == py["factors"]
    assert p["object_accuracy"] == 1.0 and p["position_r2"] > 0.99
    assert p["background_accuracy"] < 0.5 and p["chance"]["background_accuracy"] < 0.5
    with pytest.raises(ValueError, match="factors"):
        ssl_analysis.factor_probes(x, f[:, :3])
    with pytest.raises(ValueError, match="factors: 10 factor rows for 300"):
        ssl_analysis.factor_probes(x, f[:10])


def test_spectral_functions_agree_with_numpy():
    x, _, _ = embeddings()
    x64 = x.astype(np.float64)
    lam = np.sort(np.linalg.eigvalsh(np.cov(x64, rowvar=False)))[::-1]
    ours = ssl_analysis.covariance_eigenvalues(x)
    np.testing.assert_allclose(ours, lam, rtol=1e-6, atol=1e-9)
    assert ssl_analysis.participation_ratio(x) == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-9)
    s = np.linalg.svd(x64, compute_uv=False)
    p = s / s.sum() + 1e-7  # RankMe's epsilon (Garrido et al. 2023)
    assert ssl_analysis.rankme(x) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-6)
    # DirectCLR's form: rows L2-normalised first.
    xn = x64 / np.linalg.norm(x64, axis=1, keepdims=True)
    lam_n = np.sort(np.linalg.eigvalsh(np.cov(xn, rowvar=False)))[::-1]
    np.testing.assert_allclose(ssl_analysis.covariance_eigenvalues(x, normalized=True), lam_n, rtol=1e-6, atol=1e-9)


def test_power_law_alpha_recovers_a_planted_exponent():
    # Independent columns with variances k^-1.5: the fitted alpha is 1.5 up to sampling noise.
    rng = np.random.default_rng(3)
    d = 60
    x = rng.normal(size=(20000, d)) * np.arange(1, d + 1) ** -0.75
    fit = ssl_analysis.power_law_alpha(x, alpha_window=(2, 40))
    assert fit["alpha"] == pytest.approx(1.5, abs=0.05)
    assert fit["ranks"] == (2, 40) and fit["r2"] > 0.99


def test_float64_and_fortran_order_give_the_float32_answers():
    x, y, ids = embeddings()
    ref = ssl_analysis.report(x, labels=y, **SMALL)
    assert ssl_analysis.report(np.asfortranarray(x), labels=y, **SMALL) == ref
    assert ssl_analysis.report(x.astype(np.float64), labels=y.astype(np.int32), **SMALL) == ref
    # A strided view (every other column) is read in place like its copy.
    assert ssl_analysis.participation_ratio(x[:, ::2]) == ssl_analysis.participation_ratio(np.ascontiguousarray(x[:, ::2]))
    # Lists go through numpy.asarray.
    assert ssl_analysis.rankme(x[:50].tolist()) == pytest.approx(ssl_analysis.rankme(x[:50].astype(np.float64)))


def test_probes_and_capacities_match_the_report():
    x, y, ids = embeddings()
    bx, by, _ = embeddings(n=400, seed=5)
    r = ssl_analysis.report(x, y, bx, by, manifold_ids=ids, knn_k=30, **SMALL)
    assert ssl_analysis.knn_accuracy(bx, by, x, y, k=30) == r["knn_accuracy"]
    assert ssl_analysis.linear_probe_accuracy(bx, by, x, y) == r["linear_probe_accuracy"]
    assert ssl_analysis.mft_capacity(x, ids, n_t=40, n_reps=2) == {k: v for k, v in r["mft"].items() if k != "manifolds_from"}
    c = ssl_analysis.collapse(x)
    assert c == {"effective_rank": r["effective_rank"], "collapsed_dims": r["collapsed_dims"]}
    sim = ssl_analysis.simulated_manifold_capacity(x[:96], ids[:96], trials=5)
    assert sim["manifolds"] == 12 and sim["points"] == 96


@pytest.mark.parametrize(
    "call, names",
    [
        (lambda x, y: ssl_analysis.report(x.astype(np.int32)), ["embeddings", "float32 or float64"]),
        (lambda x, y: ssl_analysis.report(x.astype(np.complex64)), ["embeddings", "float32 or float64"]),
        (lambda x, y: ssl_analysis.report(x[0]), ["embeddings", "2-D"]),
        (lambda x, y: ssl_analysis.report(x[None]), ["embeddings", "2-D"]),
        (lambda x, y: ssl_analysis.report(np.where(np.arange(x.size).reshape(x.shape) == 25, np.nan, x)), ["embeddings", "row 1, column 1"]),
        (lambda x, y: ssl_analysis.rankme(np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x)), ["embeddings", "non-finite"]),
        (lambda x, y: ssl_analysis.report(x, labels=y[:-1]), ["labels", "239 labels for 240 embeddings"]),
        (lambda x, y: ssl_analysis.report(x, labels=y - 1), ["labels", "label -1 at index 0"]),
        (lambda x, y: ssl_analysis.report(x, labels=y.astype(np.float32)), ["labels", "integer"]),
        (lambda x, y: ssl_analysis.report(x, labels=y.reshape(-1, 2)), ["labels", "1-D"]),
        (lambda x, y: ssl_analysis.report(x, manifold_ids=y[:10]), ["manifold_ids", "10 manifold ids for 240 embeddings"]),
        (lambda x, y: ssl_analysis.report(x, y, x[:, :5], y), ["train_embeddings", "5 columns"]),
        (lambda x, y: ssl_analysis.report(x, y, x), ["train_labels", "required"]),
        (lambda x, y: ssl_analysis.report(x, knn_k=0), ["knn_k"]),
        (lambda x, y: ssl_analysis.report(x, alpha_window=(5, 5)), ["alpha_window", "1 <= FIRST < LAST"]),
        (lambda x, y: ssl_analysis.report(x, mft_kappa=-1.0), ["mft_kappa"]),
        (lambda x, y: ssl_analysis.report(x, collapse_threshold=2.0), ["collapse_threshold"]),
        (lambda x, y: ssl_analysis.knn_accuracy(x, y, x, y[:3]), ["labels", "3 labels for 240"]),
        (lambda x, y: ssl_analysis.knn_accuracy(x, y, x, y, k=0), ["k: 0"]),
        (lambda x, y: ssl_analysis.mft_capacity(x, y, n_reps=0), ["n_reps"]),
        (lambda x, y: ssl_analysis.report("not an array"), ["embeddings"]),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(call, names):
    x, y, _ = embeddings()
    with pytest.raises(ValueError) as e:
        call(x, y)
    for n in names:
        assert n in str(e.value), str(e.value)


def test_the_interpreter_lock_is_released_while_rust_computes():
    # While a long analysis runs in another thread, this thread keeps executing Python: with the
    # lock held it would be frozen until the call returned.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 64)).astype(np.float32)
    ids = np.arange(4000) // 20
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("mft", ssl_analysis.mft_capacity(x, ids, n_t=200, n_reps=2)))
    ticks = 0
    t.start()
    while t.is_alive():
        ticks += 1
    t.join()
    assert "mft" in result
    assert ticks > 10_000, ticks
