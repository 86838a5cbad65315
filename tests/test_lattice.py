"""The paraunitary lattice: angles ↔ orthogonal lowpass filters (docs/method.md#lattice)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt

from awd_jax import lattice_angles, lattice_filter, lattice_free_filter, lattice_project, lowpass
from awd_jax.penalties import penalties

# the list, and every further orthogonal pywt wavelet up to 36 taps
NAMED = ["haar", "sym5", "sym8", "coif2"] + [f"db{n}" for n in range(2, 11)]
ALL_ORTHOGONAL = [w for w in pywt.wavelist(kind="discrete")
                  if pywt.Wavelet(w).orthogonal and w != "dmey" and pywt.Wavelet(w).dec_len <= 36]


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def _orthogonality(h: np.ndarray) -> np.ndarray:
    """``Σ_k h[k] h[k+2m] − δ_m`` for every even lag ``m = 0 … N/2 − 1``."""
    n = h.shape[-1]
    return np.array([np.dot(h[: n - 2 * m], h[2 * m:]) - (m == 0) for m in range(n // 2)])


@pytest.mark.parametrize("name", NAMED)
def test_named_wavelets_round_trip_to_1e10(x64, name):
    h = np.asarray(lowpass(name))
    angles = np.asarray(lattice_angles(name))
    assert angles.shape == (h.size // 2,) and angles.dtype == np.float64
    assert angles.sum() == pytest.approx(np.pi / 4, abs=1e-12)  # the DC condition
    np.testing.assert_allclose(np.asarray(lattice_filter(angles)), h, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(lattice_free_filter(angles[:-1])), h, rtol=0, atol=1e-10)


def test_every_orthogonal_pywt_wavelet_round_trips(x64):
    worst = {}
    for name in ALL_ORTHOGONAL:
        h = np.asarray(lowpass(name))
        worst[name] = float(np.max(np.abs(np.asarray(lattice_filter(lattice_angles(h))) - h)))
    assert max(worst.values()) < 1e-8, {k: v for k, v in worst.items() if v >= 1e-8}


def test_method_page_check_values(x64):
    np.testing.assert_allclose(lattice_angles("db5"), [1.3116, -0.8164, 0.4017, -0.1324, 0.0208], atol=1e-4)
    np.testing.assert_allclose(lattice_angles("sym5"), [-0.824, -1.331, 0.692, 1.298, 0.950], atol=1e-3)
    np.testing.assert_allclose(lattice_filter(jnp.asarray([np.pi / 4])), lowpass("haar"), atol=1e-15)
    np.testing.assert_allclose(lattice_free_filter(jnp.zeros((0,))), lowpass("haar"), atol=1e-15)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 1e-14)])
def test_random_angles_give_orthogonal_filters(dtype, tol, x64):
    rng = np.random.default_rng(0)
    for k in (1, 2, 5, 8):
        angles = jnp.asarray(rng.uniform(-4, 4, size=(64, k)), dtype)  # any value, a batch at once
        h = np.asarray(lattice_filter(angles))
        assert h.shape == (64, 2 * k) and h.dtype == dtype
        for row, a in zip(h, np.asarray(angles, np.float64)):
            assert np.max(np.abs(_orthogonality(row.astype(np.float64)))) < tol
            # Σh = √2 cos(Σθ − π/4)
            assert row.astype(np.float64).sum() == pytest.approx(np.sqrt(2) * np.cos(a.sum() - np.pi / 4), abs=10 * tol)
        free = np.asarray(lattice_free_filter(angles[:, :-1]), np.float64)
        np.testing.assert_allclose(free.sum(axis=1), np.sqrt(2), atol=10 * tol)
        penalty = np.asarray(jax.vmap(penalties)(jnp.asarray(free)))
        assert np.max(penalty) < 100 * tol**2 + 1e-28


def test_filters_of_random_angles_invert(x64):
    rng = np.random.default_rng(1)
    for k in (2, 3, 5, 8, 11):
        for _ in range(10):
            a = rng.uniform(-np.pi / 2, np.pi / 2, k)
            a[-1] = np.pi / 4 - a[:-1].sum()
            h = np.asarray(lattice_filter(a))
            np.testing.assert_allclose(np.asarray(lattice_filter(lattice_angles(h))), h, atol=1e-12)


def test_jit_vmap_and_eager_agree(x64):
    a = jnp.asarray(np.random.default_rng(2).uniform(-2, 2, (7, 4)))
    eager = lattice_filter(a)
    np.testing.assert_array_equal(jax.jit(lattice_filter)(a), eager)
    np.testing.assert_allclose(jax.vmap(lattice_filter)(a), eager, atol=1e-15)
    np.testing.assert_allclose(jax.jit(lattice_free_filter)(a[:, :3]), lattice_free_filter(a[:, :3]), atol=1e-15)


def test_gradients_match_finite_differences(x64):
    a = jnp.asarray([0.3, -1.1, 0.7, 0.2])
    w = jnp.asarray(np.random.default_rng(3).normal(size=8))
    for fn in (lambda t: jnp.sum(w * lattice_filter(t) ** 3), lambda t: jnp.sum(w * lattice_free_filter(t[:3]))):
        for f in (fn, jax.jit(fn)):
            g = np.asarray(jax.grad(f)(a))
            eps = 1e-6
            fd = [(f(a.at[i].add(eps)) - f(a.at[i].add(-eps))) / (2 * eps) for i in range(a.size)]
            np.testing.assert_allclose(g, np.asarray(fd), rtol=1e-7, atol=1e-10)


def test_lattice_project(x64):
    db5 = np.asarray(lowpass("db5"))
    np.testing.assert_allclose(lattice_project("db5"), np.asarray(lattice_angles("db5"))[:-1], atol=1e-12)
    noisy = db5 + 0.05 * np.random.default_rng(0).normal(size=10)
    fitted = np.asarray(lattice_free_filter(lattice_project(noisy)))
    assert np.max(np.abs(_orthogonality(fitted))) < 1e-14 and fitted.sum() == pytest.approx(np.sqrt(2), abs=1e-14)
    assert np.linalg.norm(fitted - noisy) <= np.linalg.norm(db5 - noisy)  # at least as near as db5
    assert lattice_project(np.ones(2) / np.sqrt(2)).shape == (0,)


def test_dtype_follows_the_filter():
    assert lattice_angles(np.asarray(lowpass("db3"), np.float32)).dtype == jnp.float32
    assert lattice_filter(np.asarray([0.1, 0.2], np.float32)).dtype == jnp.float32
    assert lattice_filter([1, 0]).dtype == jnp.zeros(()).dtype  # integers become the default float


@pytest.mark.parametrize("h, match", [
    (np.ones(5) / np.sqrt(5), "h: expected an even filter length"),
    (np.asarray(lowpass("db2")) + 0.1, "h: expected an orthogonal filter"),
    (-np.asarray(lowpass("db2")), r"h: expected Σh = √2 .*−h has Σ = √2"),
    ("bior2.2", "h"),
])
def test_lattice_angles_rejects(h, match):
    with pytest.raises(ValueError, match=match):
        lattice_angles(h)


def test_lattice_filter_rejects():
    with pytest.raises(ValueError, match="angles: expected an array"):
        lattice_filter(0.3)
    with pytest.raises(ValueError, match="angles: expected at least one angle"):
        lattice_filter(jnp.zeros((3, 0)))
