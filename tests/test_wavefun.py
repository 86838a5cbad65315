"""wavefun / wavelet_distance against PyWavelets and docs/method.md#reading-the-wavelet."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt

from awd_jax.filters import to_pywt
from awd_jax.wavefun import filter_distance, wavefun, wavefun_length, wavelet_distance

NAMES = ["db1", "db2", "db3", "db4", "db5", "db6", "db7", "db8", "db9", "db10",
         "sym4", "sym5", "sym8", "coif1", "coif2", "coif3"]


@pytest.mark.parametrize("name", NAMES)
def test_include_end_equals_pywt_named(name):
    phi_r, psi_r, x_r = pywt.Wavelet(name).wavefun(5)
    phi, psi, x = wavefun(name, 5, include_end=True)
    assert phi.shape == phi_r.shape
    np.testing.assert_allclose(phi, phi_r, atol=2e-5)
    np.testing.assert_allclose(psi, psi_r, atol=2e-5)
    np.testing.assert_allclose(x, x_r, atol=1e-6)


@pytest.mark.parametrize("name", ["db2", "db5", "sym5", "coif2", "db10"])
def test_default_equals_reference_filter_bank_path(name):
    # the reference built an unflagged filter-bank wavelet: pywt's biorthogonal path
    fb = pywt.Wavelet(name).filter_bank
    ref = pywt.Wavelet("ref", filter_bank=fb).wavefun(5)
    phi, psi, x = wavefun(np.asarray(pywt.Wavelet(name).rec_lo), 5)
    np.testing.assert_allclose(phi, ref[0], atol=2e-5)
    np.testing.assert_allclose(psi, ref[1], atol=2e-5)
    np.testing.assert_allclose(x, ref[4], atol=1e-6)


def test_spec_grid_n10():
    phi, psi, x = wavefun("db5", level=5)
    assert phi.shape == psi.shape == x.shape == (288,)
    assert float(x[0]) == 0.0 and float(x[-1]) == pytest.approx(8.96875)
    np.testing.assert_allclose(np.diff(np.asarray(x)), 1 / 32, atol=1e-6)
    assert phi.dtype == jnp.float32


@pytest.mark.parametrize("level", [1, 2, 3, 4, 6])
def test_other_levels(level):
    r = pywt.Wavelet("sym4").wavefun(level)
    phi, psi, x = wavefun("sym4", level, include_end=True)
    np.testing.assert_allclose(phi, r[0], atol=2e-5)
    np.testing.assert_allclose(psi, r[1], atol=2e-5)
    np.testing.assert_allclose(x, r[2], atol=1e-6)
    assert wavefun_length(8, level, True) == len(r[0])
    assert wavefun_length(8, level) == len(r[0]) - 1


def test_random_filter_via_to_pywt():
    rng = np.random.default_rng(0)
    h = pywt.Wavelet("db5").rec_lo + 0.3 * rng.standard_normal(10)
    r = to_pywt(h).wavefun(5)
    with jax.enable_x64(True):
        phi, psi, _ = wavefun(jnp.asarray(h, jnp.float64), 5, include_end=True)
        assert phi.dtype == jnp.float64
        np.testing.assert_allclose(phi, r[0], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(psi, r[1], rtol=1e-10, atol=1e-10)
    _, psi32, _ = wavefun(jnp.asarray(h, jnp.float32), 5)
    np.testing.assert_allclose(psi32, r[1][:-1], rtol=1e-4, atol=1e-3)


def test_jit_and_grad():
    h = jnp.asarray(pywt.Wavelet("db5").rec_lo, jnp.float32)
    f = jax.jit(lambda h: wavefun(h, 5)[1])
    np.testing.assert_allclose(f(h), wavefun(h, 5)[1], atol=1e-6)
    g = jax.grad(lambda h: jnp.sum(wavefun(h, 3)[1] ** 2))(h)
    assert g.shape == (10,) and bool(jnp.all(jnp.isfinite(g)))


def test_distance_reference_values():
    assert float(wavelet_distance("sym5", "db5")) == pytest.approx(1.28044, abs=1e-4)
    assert float(wavelet_distance("coif2", "db5")) == pytest.approx(3.52819, abs=1e-4)
    assert float(wavelet_distance("db5", "db5")) == pytest.approx(0.0, abs=1e-6)
    # arrays and symmetry
    a = np.asarray(pywt.Wavelet("coif2").rec_lo)
    assert float(wavelet_distance("db5", a)) == pytest.approx(3.52819, abs=1e-4)


def test_distance_invariances_numpy_reference():
    rng = np.random.default_rng(1)
    h = np.asarray(pywt.Wavelet("db4").rec_lo) + 0.1 * rng.standard_normal(8)
    # brute-force reference in numpy on pywt's reference-path ψ
    def psi_ref(hh):
        w = to_pywt(hh)
        return w.wavefun(5)[1][:-1]
    p1, p2 = psi_ref(h), psi_ref(np.asarray(pywt.Wavelet("db5").rec_lo))
    p1 = np.pad(p1, (0, len(p2) - len(p1)))
    best = min(min(np.linalg.norm(np.roll(p1, s) - p2), np.linalg.norm(np.roll(p1[::-1], s) - p2))
               for s in range(len(p2)))
    assert float(wavelet_distance(h, "db5")) == pytest.approx(best, rel=1e-4)
    assert float(wavelet_distance("db5", h)) == pytest.approx(best, rel=1e-4)


def test_distance_jit_grad():
    h = jnp.asarray(pywt.Wavelet("sym5").rec_lo, jnp.float32)
    db5 = jnp.asarray(pywt.Wavelet("db5").rec_lo, jnp.float32)
    d = jax.jit(wavelet_distance, static_argnames="level")(h, db5)
    assert float(d) == pytest.approx(1.28044, abs=1e-4)
    g = jax.grad(lambda h: wavelet_distance(h, "db5"))(h)
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0
    g0 = jax.grad(lambda h: wavelet_distance(h, h))(h)
    assert bool(jnp.all(jnp.isfinite(g0)))


def test_filter_distance_values_and_brute_force():
    # the reference notebooks' `dist`: L1 between lowpass filters up to circular shift and flip
    assert float(filter_distance("sym5", "db5")) == pytest.approx(0.625316, abs=1e-5)
    assert float(filter_distance("coif2", "db5")) == pytest.approx(1.106507, abs=1e-5)
    assert float(filter_distance("db5", "db5")) == 0.0
    rng = np.random.default_rng(3)
    for n_a, n_b in ((10, 10), (8, 12), (12, 6)):
        a, b = rng.standard_normal(n_a), rng.standard_normal(n_b)
        n = max(n_a, n_b)
        pa, pb = np.pad(a, (0, n - n_a)), np.pad(b, (0, n - n_b))
        best = min(min(np.abs(np.roll(c, s) - pb).sum() for s in range(n)) for c in (pa, pa[::-1]))
        assert float(filter_distance(a, b)) == pytest.approx(best, rel=1e-5)
    # invariant to circular shifts and the flip of either argument
    h = rng.standard_normal(10)
    db5 = np.asarray(pywt.Wavelet("db5").rec_lo)
    ref = float(filter_distance(h, db5))
    for variant in (np.roll(h, 3), h[::-1], np.roll(h[::-1], 7)):
        assert float(filter_distance(variant, db5)) == pytest.approx(ref, rel=1e-5)


def test_filter_distance_jit_grad_float64():
    jax.config.update("jax_enable_x64", True)
    try:
        h = jnp.asarray(pywt.Wavelet("sym5").rec_lo, jnp.float64)
        d = jax.jit(filter_distance)(h, jnp.asarray(pywt.Wavelet("db5").rec_lo))
        assert d.dtype == jnp.float64
        assert float(d) == pytest.approx(0.6253163816, abs=1e-9)
        g = jax.grad(lambda v: filter_distance(v, "db5"))(h)
        eps = 1e-7  # away from kinks the L1 distance is linear: FD is exact up to rounding
        fd = np.array([(float(filter_distance(h + eps * e, "db5")) - float(filter_distance(h - eps * e, "db5")))
                       / (2 * eps) for e in np.eye(10)])
        np.testing.assert_allclose(np.asarray(g), fd, atol=1e-6)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_bad_inputs():
    with pytest.raises(ValueError, match="level"):
        wavefun("db5", 0)
    with pytest.raises(TypeError, match="level"):
        wavefun("db5", 2.5)
    with pytest.raises(ValueError, match="N"):
        wavefun(np.ones(3))
    with pytest.raises(ValueError, match="wavelet"):
        wavelet_distance("db5", "nope")
    with pytest.raises(ValueError, match="wavelet"):
        filter_distance("nope", "db5")


def test_haar_lengths_match_pywt():
    # N = 2: pywt pads both paths to 2**level + 2 samples
    for level in (1, 3, 5):
        r = pywt.Wavelet("db1").wavefun(level)
        ref = pywt.Wavelet("x", filter_bank=pywt.Wavelet("db1").filter_bank).wavefun(level)
        np.testing.assert_allclose(wavefun("db1", level, include_end=True)[1], r[1], atol=1e-6)
        np.testing.assert_allclose(wavefun("db1", level)[1], ref[1], atol=1e-6)


def test_float64_named():
    with jax.enable_x64(True):
        phi, psi, x = wavefun("coif2", 5, include_end=True)
        r = pywt.Wavelet("coif2").wavefun(5)
        assert psi.dtype == jnp.float64
        np.testing.assert_allclose(psi, r[1], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(phi, r[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x, r[2], rtol=1e-12, atol=1e-12)
        assert float(wavelet_distance("sym5", "db5")) == pytest.approx(1.28044, abs=1e-5)
