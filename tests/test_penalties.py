import jax
import jax.numpy as jnp
import numpy as np
import pytest

from awd_jax import lowpass
from awd_jax.penalties import Penalties, cmf, conv, penalties

SPEC = {"lsum": 4.7785551487e-03, "hsum": 6.6317259825e-05, "l2norm": 1.0971704958e-02,
            "cmf": 2.2028423274e-01, "conv": 1.8814798828e-02}


def perturbed():
    return lowpass("db5") + 0.05 * np.sin(np.arange(10))


def test_spec_values_float64(x64):
    p = penalties(jnp.asarray(perturbed()))
    assert isinstance(p, Penalties)
    for name, want in SPEC.items():
        got = float(getattr(p, name))
        assert getattr(p, name).dtype == jnp.float64
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=name)


def test_exact_db5_is_zero(x64):
    for v in penalties(jnp.asarray(lowpass("db5"))):
        assert float(v) < 1e-30


@pytest.mark.parametrize("name", ["haar", "db2", "sym4", "coif1"])
def test_orthogonal_wavelets_are_near_zero(name):
    assert max(float(v) for v in penalties(lowpass(name))) < 1e-9


def test_cmf_matches_fft_and_conv_matches_correlate(x64):
    h = perturbed()
    n = h.size
    power = np.abs(np.fft.fft(h, n)) ** 2
    want_cmf = 0.5 * np.sum((power[: n // 2] + power[n // 2:] - 2) ** 2)
    full = np.correlate(h, h, "full")  # lags -(N-1)..N-1
    r = lambda m: full[m + n - 1] if abs(m) < n else 0.0
    want_conv = 0.5 * sum((r(2 * j - n) - (j == n // 2)) ** 2 for j in range(n + 1))
    np.testing.assert_allclose(float(cmf(h)), want_cmf, rtol=1e-12)
    np.testing.assert_allclose(float(conv(h)), want_conv, rtol=1e-12)


def test_grad_matches_finite_differences_and_jit(x64):
    h = jnp.asarray(perturbed())
    f = jax.jit(lambda h: sum(penalties(h)))
    g = jax.grad(f)(h)
    np.testing.assert_allclose(jax.jit(jax.grad(f))(h), g, rtol=1e-12)
    eps = 1e-6
    fd = np.array([(f(h.at[i].add(eps)) - f(h.at[i].add(-eps))) / (2 * eps) for i in range(h.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    hess = jax.jit(jax.hessian(f))(h)
    assert hess.shape == (10, 10) and np.all(np.isfinite(hess))


def test_float32_default():
    p = penalties(jnp.asarray(perturbed(), jnp.float32))
    assert all(v.dtype == jnp.float32 for v in p)
    np.testing.assert_allclose(float(p.cmf), SPEC["cmf"], rtol=1e-4)


def test_bad_filter():
    with pytest.raises(ValueError, match="h: expected"):
        penalties(jnp.ones(5))
    with pytest.raises(ValueError, match="h: expected"):
        penalties(jnp.ones((2, 4)))
