import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt

import awd_jax

DB5 = [0.160102398, 0.6038292698, 0.7243085284, 0.1384281459, -0.2422948871,
       -0.0322448696, 0.0775714938, -0.0062414902, -0.012580752, 0.0033357253]


def test_lowpass_db5_matches_spec():
    np.testing.assert_allclose(awd_jax.lowpass("db5"), DB5, atol=1e-9)


@pytest.mark.parametrize("name", ["haar", "db2", "db5", "sym5", "coif2", "dmey"])
def test_lowpass_is_rec_lo_and_highpass_is_rec_hi(name):
    w = pywt.Wavelet(name)
    h = awd_jax.lowpass(name)
    np.testing.assert_allclose(h, w.rec_lo, atol=1e-15)
    np.testing.assert_allclose(awd_jax.lowpass(w), w.rec_lo, atol=1e-15)
    np.testing.assert_allclose(awd_jax.highpass(h), w.rec_hi, atol=1e-15)
    np.testing.assert_allclose(awd_jax.highpass(jnp.asarray(h)), np.asarray(w.rec_hi, np.float32), atol=1e-6)


def test_lowpass_array_passes_through_and_traces():
    h = jnp.arange(4.0)
    assert awd_jax.lowpass(h) is h
    out = jax.jit(lambda h: awd_jax.highpass(h))(h)
    np.testing.assert_allclose(out, [3.0, -2.0, 1.0, -0.0])


@pytest.mark.parametrize("bad,exc,match", [
    ("bior2.2", ValueError, "learns orthogonal filters"),
    ("rbio1.3", ValueError, "learns orthogonal filters"),
    ("nope", ValueError, "unknown wavelet"),
    ("mexh", ValueError, "continuous wavelet"),
    (np.ones(5), ValueError, "even"),
    (np.ones((2, 4)), ValueError, "1-D"),
    (np.ones(4, complex), TypeError, "real"),
    (3.0, TypeError, "wavelet"),
])
def test_lowpass_rejects(bad, exc, match):
    with pytest.raises(exc, match=match):
        awd_jax.lowpass(bad)


def test_init_filter():
    h = awd_jax.init_filter("db5", scale=2.0, const=0.5)
    np.testing.assert_allclose(h, 2 * np.asarray(DB5) + 0.5, atol=1e-6)
    key = jax.random.PRNGKey(0)
    a = awd_jax.init_filter("db5", key=key, noise=0.3)
    b = awd_jax.init_filter("db5", key=key, noise=0.3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == jnp.float32
    diff = np.asarray(a) - np.asarray(DB5)
    assert 0.05 < np.std(diff) < 0.8
    with pytest.raises(ValueError, match="key"):
        awd_jax.init_filter("db5", noise=0.3)


def test_to_pywt_roundtrip():
    h = np.asarray(DB5) + 0.05 * np.sin(np.arange(10))
    w = awd_jax.to_pywt(h)
    np.testing.assert_allclose(w.rec_lo, h)
    np.testing.assert_allclose(w.dec_lo, h[::-1])
    np.testing.assert_allclose(w.rec_hi, awd_jax.highpass(h))
    np.testing.assert_allclose(w.dec_hi, np.asarray(awd_jax.highpass(h))[::-1])
    x = np.random.default_rng(0).standard_normal(64)
    ref = pywt.wavedec(x, awd_jax.to_pywt("db5"), "zero", level=3)
    for a, b in zip(ref, pywt.wavedec(x, "db5", "zero", level=3)):
        np.testing.assert_allclose(a, b, atol=1e-12)
