"""compression_factor, r2, rmse, rmse_bootstrap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt
from sklearn.metrics import mean_squared_error, r2_score

from awd_jax.metrics import compression_factor, compression_factor_for, r2, r2_bootstrap, rmse, rmse_bootstrap


def test_compression_1d_counts():
    c = [jnp.array([[0.0, 1.0, 2.0]]), jnp.array([[1.0, 1e-4, 3.0, 5.0]])]
    a = [jnp.array([[1.0, 1.0, 0.0]]), jnp.array([[1.0, 1.0, -2.0, 1e-5]])]
    # passing: c0[1], c1[0], c1[2] -> 3 / 7
    assert float(compression_factor(c, a)) == pytest.approx(3 / 7)
    # threshold matters
    assert float(compression_factor(c, a, threshold=1.5)) == pytest.approx(1 / 7)


def test_compression_against_numpy_2d():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 16))
    c = pywt.wavedec2(x, "db2", level=2, mode="zero")
    a = [np.where(rng.random(c[0].shape) < 0.5, 0.0, 1.0)] + [
        tuple(np.where(rng.random(d.shape) < 0.5, 0.0, 1.0) for d in lev) for lev in c[1:]
    ]
    flat_c = np.concatenate([c[0].ravel()] + [d.ravel() for lev in c[1:] for d in lev])
    flat_a = np.concatenate([a[0].ravel()] + [d.ravel() for lev in a[1:] for d in lev])
    want = np.mean((np.abs(flat_c) > 1e-3) & (np.abs(flat_a) > 1e-3))
    assert float(compression_factor(c, a)) == pytest.approx(want)
    assert 0.3 < want < 0.7
    # lists vs tuples interchangeable, jittable
    a_lists = [a[0]] + [list(lev) for lev in a[1:]]
    assert float(jax.jit(compression_factor)(c, a_lists)) == pytest.approx(want)


def test_compression_mismatch_errors():
    c = [np.ones((2, 3)), np.ones((2, 4))]
    with pytest.raises(ValueError, match="structure"):
        compression_factor(c, [np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"attributions\[1\].*\(2, 4\).*\(2, 5\)"):
        compression_factor(c, [np.ones((2, 3)), np.ones((2, 5))])
    c2 = [np.ones((1, 2, 2)), (np.ones((1, 2, 2)),) * 3]
    with pytest.raises(ValueError, match="structure"):
        compression_factor(c2, [np.ones((1, 2, 2)), np.ones((1, 2, 2))])
    with pytest.raises(TypeError, match="coeffs"):
        compression_factor([1.0, 2.0], [1.0, 2.0])


def test_r2_rmse_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(50)
    p = y + 0.3 * rng.standard_normal(50)
    assert r2(y, p) == pytest.approx(r2_score(y, p))
    assert rmse(y, p) == pytest.approx(np.sqrt(mean_squared_error(y, p)))
    Y = rng.standard_normal((50, 2))
    P = Y + 0.1 * rng.standard_normal((50, 2))
    assert r2(Y, P) == pytest.approx(r2_score(Y, P))
    assert r2(y, p[:, None]) == pytest.approx(r2_score(y, p))
    with pytest.raises(ValueError, match="y_pred"):
        rmse(y, p[:10])


def test_rmse_bootstrap():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(400)
    p = y + 0.5 * rng.standard_normal(400)
    value, std = rmse_bootstrap(y, p, n_boot=500, seed=0)
    assert value == pytest.approx(rmse(y, p))
    # delta-method scale: std(rmse) ~ rmse / sqrt(2n) for gaussian errors
    assert 0.3 * value / np.sqrt(800) < std < 3 * value / np.sqrt(800)
    assert rmse_bootstrap(y, p, n_boot=500, seed=0) == (value, std)
    assert rmse_bootstrap(y, p, n_boot=500, seed=1)[1] != std
    with pytest.raises(ValueError, match="n_boot"):
        rmse_bootstrap(y, p, n_boot=1)


def test_compression_factor_for_matches_direct_and_batching():
    from awd_jax.attributions import attributions
    from awd_jax.transform import wavedec

    t = np.arange(32)
    w = jnp.asarray(np.where(t < 16, np.cos(0.4 * t), 0.0), jnp.float32)
    teacher = lambda x: x @ w  # noqa: E731
    x = np.random.default_rng(0).standard_normal((7, 32)).astype(np.float32)
    c = wavedec(jnp.asarray(x), "db2", mode="zero", level=3)
    a = attributions("db2", teacher, x, level=3, mode="zero")
    want = float(compression_factor(c, a))
    assert 0.05 < want < 0.95  # the teacher ignores the second half: some saliency is ~0
    got_full = compression_factor_for("db2", teacher, x, level=3, batch_size=100)
    got_batched = compression_factor_for("db2", teacher, x, level=3, batch_size=3)
    assert got_full == pytest.approx(want)
    assert got_batched == pytest.approx(want)
    with pytest.raises(ValueError, match="batch_size"):
        compression_factor_for("db2", teacher, x, level=3, batch_size=0)


def test_r2_bootstrap_resamples_pairs():
    rng = np.random.default_rng(1)
    y = rng.normal(size=40)
    p = y + 0.5 * rng.normal(size=40)
    value, std = r2_bootstrap(y, p, n_boot=300, seed=2)
    assert value == r2(y, p)
    # the same resamples as a loop over r2 (and as rmse_bootstrap's)
    idx = np.random.default_rng(2).integers(0, 40, size=(300, 40))
    want = np.std([r2(y[i], p[i]) for i in idx], ddof=1)
    assert std == pytest.approx(want, rel=1e-10)
    assert 0 < std < 0.5 and r2_bootstrap(y, p, n_boot=300, seed=2) == (value, std)
    assert r2_bootstrap(y, y, n_boot=10)[1] == 0.0  # perfect predictions on every resample
    with pytest.raises(ValueError, match="n_boot"):
        r2_bootstrap(y, p, n_boot=1)

