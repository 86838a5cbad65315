"""transforms 1.0: pywt's signatures, n-D, biorthogonal and custom banks, complex data, dtypes, modes, errors."""

import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt

import awd_jax

RNG = np.random.default_rng(7)
PUBLIC = ("dwt", "idwt", "wavedec", "waverec", "dwt2", "idwt2", "wavedec2", "waverec2",
          "dwtn", "idwtn", "wavedecn", "waverecn")


def _close(ours, ref, atol=1e-11):
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    np.testing.assert_allclose(ours, ref, atol=atol, rtol=1e-10)


def _close_tree(ours, ref, atol=1e-11):
    if isinstance(ref, dict):
        assert list(ours) == list(ref)  # pywt's key order too
        for k in ref:
            _close(ours[k], ref[k], atol)
    elif isinstance(ref, (list, tuple)):
        assert type(ours) is type(ref) and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _close_tree(a, b, atol)
    else:
        _close(ours, ref, atol)


# ---------------------------------------------------------------------------
# signatures and defaults
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLIC)
def test_signature_is_pywts_plus_keyword_only_extras(name):
    ours = inspect.signature(getattr(awd_jax, name)).parameters
    ref = inspect.signature(getattr(pywt, name)).parameters
    positional = [p for p in ours.values() if p.kind != p.KEYWORD_ONLY]
    assert [p.name for p in positional] == list(ref)
    assert [p.default for p in positional] == [p.default for p in ref.values()]
    assert {p.name for p in ours.values() if p.kind == p.KEYWORD_ONLY} <= {"impl", "length", "shape"}


def test_default_mode_is_symmetric_like_pywt(x64):
    x = np.arange(8.0)
    _close_tree(awd_jax.dwt(x, "db2"), pywt.dwt(x, "db2"))
    _close_tree(awd_jax.wavedec(x, "db2", level=2), pywt.wavedec(x, "db2", level=2))
    # positional and keyword calls agree with pywt's argument order
    _close_tree(awd_jax.wavedec(x, "db2", "zero", 2, -1), pywt.wavedec(x, "db2", "zero", 2, -1))
    _close_tree(awd_jax.wavedec(data=x, wavelet="db2", mode="zero", level=2, axis=-1),
                pywt.wavedec(x, "db2", "zero", 2, -1))


# ---------------------------------------------------------------------------
# n-D and per-axis settings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("wavelet,mode,axes", [
    ("db2", "symmetric", None),
    ("bior2.4", "periodization", (0, 2)),
    (("haar", "sym2", "db3"), ("reflect", "zero", "smooth"), (2, 0, 1)),
    ("coif1", "antireflect", (-1, -1)),  # repeated axes in the single-level transform, as pywt
])
def test_dwtn_idwtn_match_pywt(x64, wavelet, mode, axes):
    x = RNG.standard_normal((9, 6, 11))
    ref = pywt.dwtn(x, wavelet, mode, axes)
    ours = awd_jax.dwtn(x, wavelet, mode, axes)
    _close_tree(ours, ref)
    _close(awd_jax.idwtn(ref, wavelet, mode, axes), pywt.idwtn(ref, wavelet, mode, axes))
    partial = {k: v for i, (k, v) in enumerate(ref.items()) if i % 2 == 0}  # missing bands are zeros
    _close(awd_jax.idwtn(partial, wavelet, mode, axes), pywt.idwtn(partial, wavelet, mode, axes))


@pytest.mark.parametrize("wavelet,mode,level,axes", [
    ("db2", "symmetric", 2, None),
    ("rbio3.3", "periodic", None, (1, 2)),
    (("haar", "db2", "sym3"), ("zero", "periodization", "antisymmetric"), 1, (0, 1, 2)),
])
def test_wavedecn_waverecn_match_pywt(x64, wavelet, mode, level, axes):
    x = RNG.standard_normal((13, 16, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pywt.wavedecn(x, wavelet, mode, level, axes)
        ours = awd_jax.wavedecn(x, wavelet, mode, level, axes)
    _close_tree(ours, ref)
    _close(awd_jax.waverecn(ref, wavelet, mode, axes), pywt.waverecn(ref, wavelet, mode, axes))


def test_waverecn_empty_levels_and_lists(x64):
    coeffs = [np.ones((2, 2, 2)), {}, {"daa": np.ones((4, 4, 4))}]
    _close(awd_jax.waverecn(coeffs, "db1"), pywt.waverecn(coeffs, "db1"))
    lists = [[[1.0]], {"ad": [[0.0]], "da": [[0.0]], "dd": [[0.0]]}]
    _close(awd_jax.waverecn(lists, "db1"), pywt.waverecn(lists, "db1"))


def test_2d_is_the_nd_path_with_pywt_layout(x64):
    x = RNG.standard_normal((3, 14, 9))
    ca, (ch, cv, cd) = awd_jax.dwt2(x, ("db2", "haar"), ("zero", "smooth"))
    d = awd_jax.dwtn(x, ("db2", "haar"), ("zero", "smooth"), axes=(-2, -1))
    for a, k in ((ca, "aa"), (ch, "da"), (cv, "ad"), (cd, "dd")):
        np.testing.assert_array_equal(a, d[k])
    _close_tree(awd_jax.wavedec2(x, ("db2", "haar"), ("zero", "smooth"), 2),
                pywt.wavedec2(x, ("db2", "haar"), ("zero", "smooth"), 2))


def test_volume_roundtrip_with_shape(x64):
    x = RNG.standard_normal((2, 9, 11, 7))
    coeffs = awd_jax.wavedecn(x, "db2", "zero", 1, axes=(1, 2, 3))
    rec = awd_jax.waverecn(coeffs, "db2", "zero", axes=(1, 2, 3), shape=(9, 11, 7))
    np.testing.assert_allclose(rec, x, atol=1e-12)


# ---------------------------------------------------------------------------
# biorthogonal, custom and traced banks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", awd_jax.MODES)
def test_biorthogonal_match_pywt(x64, mode):
    for wavelet in ("bior1.3", "rbio2.6", "bior4.4"):
        x = RNG.standard_normal((2, 23))
        ref = pywt.wavedec(x, wavelet, mode, level=2)
        _close_tree(awd_jax.wavedec(x, wavelet, mode, level=2), ref)
        _close(awd_jax.waverec(ref, wavelet, mode), pywt.waverec(ref, wavelet, mode))
        for impl in ("conv", "matrix"):
            _close_tree(awd_jax.wavedec(x, wavelet, mode, level=2, impl=impl), ref)


def test_custom_filter_bank_and_traced_four_filters(x64):
    w = pywt.Wavelet("bior2.2")
    custom = pywt.Wavelet("mine", filter_bank=w.filter_bank)
    x = RNG.standard_normal((3, 20))
    ref = pywt.wavedec2(x, custom, "smooth", 1)
    _close_tree(awd_jax.wavedec2(x, custom, "smooth", 1), ref)
    bank = awd_jax.FilterBank(*(jnp.asarray(f) for f in w.filter_bank))
    jitted = jax.jit(lambda x, b: awd_jax.wavedec2(x, b, "smooth", 1))
    _close_tree(jitted(x, bank), ref)

    # gradients with respect to all four filters, checked against finite differences
    def loss(flat):
        b = awd_jax.FilterBank(*jnp.split(flat, 4))
        c = awd_jax.wavedec(x, b, "symmetric", 2)
        return sum(jnp.sum(jnp.sin(ci)) for ci in c) + jnp.sum(awd_jax.waverec(c, b, "symmetric") ** 2)

    flat = jnp.concatenate([jnp.asarray(f) for f in w.filter_bank])
    grad = jax.grad(loss)(flat)
    eps = 1e-6
    fd = np.array([(loss(flat.at[i].add(eps)) - loss(flat.at[i].add(-eps))) / (2 * eps) for i in range(flat.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_lowpass_array_is_the_orthogonal_bank(x64):
    x = RNG.standard_normal(30)
    h = awd_jax.lowpass("sym4")
    _close_tree(awd_jax.wavedec(x, h, "reflect", 2), pywt.wavedec(x, "sym4", "reflect", 2))
    _close_tree(awd_jax.wavedec(x, list(h), "reflect", 2), pywt.wavedec(x, "sym4", "reflect", 2))


# ---------------------------------------------------------------------------
# complex data and dtypes
# ---------------------------------------------------------------------------


def test_complex_data_match_pywt(x64):
    x = RNG.standard_normal((4, 18)) + 1j * RNG.standard_normal((4, 18))
    _close_tree(awd_jax.dwt(x, "db3", "smooth"), pywt.dwt(x, "db3", "smooth"))
    _close_tree(awd_jax.wavedec2(x, "db2", "zero", 1), pywt.wavedec2(x, "db2", "zero", 1))
    _close_tree(awd_jax.wavedecn(x, "haar", level=2), pywt.wavedecn(x, "haar", level=2))
    ca, cd = pywt.dwt(x, "db3")
    _close(awd_jax.idwt(ca, cd.real, "db3"), pywt.idwt(ca, cd.real, "db3"))  # complex with real: complex128
    x64_ = x.astype(np.complex64)
    assert awd_jax.dwt(x64_, "db2")[0].dtype == np.complex64


@pytest.mark.parametrize("dtype_in,dtype_out", [
    (np.int8, np.float64), (np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64),
    (np.complex64, np.complex64), (np.complex128, np.complex128), (np.bool_, np.float64)])
def test_dtypes_follow_pywt(x64, dtype_in, dtype_out):
    x = np.ones((4, 4), dtype_in)
    for coeffs in (awd_jax.dwt(x, "haar"), awd_jax.dwtn(x, "haar"), awd_jax.wavedec2(x, "haar")):
        assert all(c.dtype == dtype_out for c in jax.tree_util.tree_leaves(coeffs))
    assert pywt.dwt(x, "haar")[0].dtype == dtype_out
    assert awd_jax.idwtn(awd_jax.dwtn(x, "haar"), "haar").dtype == dtype_out


def test_mixed_coefficient_dtypes_upcast_as_pywt(x64):
    ca, cd = pywt.dwt(np.arange(8.0), "db2")
    assert awd_jax.idwt(ca.astype(np.float64), cd.astype(np.float32), "db2").dtype == np.float64
    assert awd_jax.idwt(ca.astype(np.float32), cd.astype(np.float32), "db2").dtype == np.float32


def test_without_x64_float64_computes_in_float32():
    assert not jax.config.jax_enable_x64
    assert awd_jax.dwt(np.ones(8), "db2")[0].dtype == jnp.float32


# ---------------------------------------------------------------------------
# modes and errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("old,new", [("zpd", "zero"), ("cpd", "constant"), ("sp1", "smooth"), ("sym", "symmetric"),
                                     ("ppd", "periodic"), ("per", "periodization")])
def test_deprecated_mode_aliases_warn_and_work(x64, old, new):
    x = np.arange(9.0)
    with pytest.warns(DeprecationWarning, match=new):
        ours = awd_jax.dwt(x, "db2", old)
    _close_tree(ours, pywt.dwt(x, "db2", new))


def test_integer_modes_are_pywts_values(x64):
    x = np.arange(9.0)
    for name in awd_jax.MODES:
        _close_tree(awd_jax.dwt(x, "db2", int(getattr(pywt.Modes, name))), pywt.dwt(x, "db2", name))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: awd_jax.dwt(np.ones(8), "db2", None), TypeError, "mode: expected a mode name"),
    (lambda: awd_jax.dwt(np.ones(8), "db2", 9), ValueError, "mode: 9 is not a pywt mode"),
    (lambda: awd_jax.dwt(np.ones(8), "db2", "mirror"), ValueError, "mode: unknown"),
    (lambda: awd_jax.dwt(np.ones(8), "morl"), ValueError, "continuous wavelet"),
    (lambda: awd_jax.dwt(np.ones(8), pywt.ContinuousWavelet("morl")), ValueError, "continuous wavelet"),
    (lambda: awd_jax.dwt(np.ones(8), "db99"), ValueError, "unknown wavelet"),
    (lambda: awd_jax.dwt(np.ones((2, 4)), "db2", axis=2), np.exceptions.AxisError, "axis: axis 2"),
    (lambda: awd_jax.dwt([], "db2"), ValueError, "empty"),
    (lambda: awd_jax.dwtn(np.float64(2.0), "haar"), ValueError, "dwtn needs at least 1"),
    (lambda: awd_jax.wavedec2(np.ones((8, 8)), "haar", axes=1), TypeError, "axes: expected a sequence"),
    (lambda: awd_jax.wavedec2(np.ones((8, 8)), "haar", axes=(0, 2)), IndexError, "axes: axis 2"),
    (lambda: awd_jax.wavedecn(np.ones((8, 8)), "haar", axes=(1, 1)), ValueError, "distinct"),
    (lambda: awd_jax.wavedecn(np.ones(16), "haar", level=-1), ValueError,
     "level: expected an int >= 0 or None, got -1"),
    (lambda: awd_jax.wavedec(np.ones(16), "haar", level=2.0), TypeError,
     "level: expected an int >= 0 or None, got float 2.0"),
    (lambda: awd_jax.dwtn(np.ones((4, 4, 4)), ("haar", "db2")), ValueError, "wavelet: expected one wavelet"),
    (lambda: awd_jax.dwtn(np.ones((4, 4)), "haar", ("zero",) * 3), ValueError, "mode: expected one mode"),
    (lambda: awd_jax.waverec(awd_jax.wavedec2(np.ones((8, 8)), "haar"), "haar"), ValueError,
     "Unexpected detail coefficient type"),
    (lambda: awd_jax.waverec2(awd_jax.wavedecn(np.ones((8, 8)), "haar"), "haar"), ValueError,
     "Unexpected detail coefficient type"),
    (lambda: awd_jax.waverecn(awd_jax.wavedec(np.ones((8, 8)), "haar"), "haar"), ValueError,
     "Unexpected detail coefficient type"),
    (lambda: awd_jax.waverecn([np.ones((2, 2, 2)), {}, {"daa": None}], "db1"), ValueError, "are None"),
    (lambda: awd_jax.idwtn({"aa": np.ones((3, 3)), "ff": np.ones((3, 3))}, "haar"), ValueError, "invalid keys"),
    (lambda: awd_jax.idwtn({"a": np.ones((3, 3)), "dd": np.ones((3, 3))}, "haar"), ValueError, "same length"),
    (lambda: awd_jax.idwtn({"aa": None}, "haar"), ValueError, "every band is None"),
    (lambda: awd_jax.idwt(None, None, "db2"), ValueError, "at least one"),
    (lambda: awd_jax.idwt([1, 2, 4], [4, 1, 3], "db4"), ValueError, "too few"),
    (lambda: awd_jax.waverec(awd_jax.wavedec(np.ones(9), "haar"), "haar", length=True), TypeError, "length"),
    (lambda: awd_jax.waverec(awd_jax.wavedec(np.ones(9), "haar"), "haar", length=8.5), TypeError, "length"),
    (lambda: awd_jax.dwt(np.ones(8), awd_jax.FilterBank(*[np.ones(4)] * 3, np.ones(6))), ValueError,
     "equal lengths"),
])
def test_errors_have_pywts_types_and_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------
# differentiability of the n-D path
# ---------------------------------------------------------------------------


def test_nd_gradients_in_filter_and_data_match_finite_differences(x64):
    x = jnp.asarray(RNG.standard_normal((5, 6, 7)))
    h0 = jnp.asarray(awd_jax.lowpass("db2")) + 0.03 * jnp.sin(jnp.arange(4.0))

    def loss(h, x):
        c = awd_jax.wavedecn(x, h, "symmetric", 1)
        rec = awd_jax.waverecn(c, h, "symmetric", shape=(5, 6, 7))
        return sum(jnp.sum(jnp.sin(v)) for v in jax.tree_util.tree_leaves(c)) + jnp.sum((rec - x) ** 3)

    f = jax.jit(loss)
    eps = 1e-6
    g_h, g_x = jax.grad(f, argnums=(0, 1))(h0, x)
    fd_h = [(f(h0.at[i].add(eps), x) - f(h0.at[i].add(-eps), x)) / (2 * eps) for i in range(4)]
    np.testing.assert_allclose(g_h, fd_h, rtol=1e-6, atol=1e-8)
    for idx in [(0, 0, 0), (2, 3, 4), (4, 5, 6)]:
        fd = (f(h0, x.at[idx].add(eps)) - f(h0, x.at[idx].add(-eps))) / (2 * eps)
        np.testing.assert_allclose(g_x[idx], fd, rtol=1e-6, atol=1e-8)
    # grad of grad: the Hessian in h against finite differences of the gradient
    g = jax.jit(jax.grad(f))
    hess = jax.jit(jax.hessian(f))(h0, x)
    fd2 = np.stack([(g(h0.at[i].add(1e-5), x) - g(h0.at[i].add(-1e-5), x)) / 2e-5 for i in range(4)])
    np.testing.assert_allclose(hess, fd2, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("impl", ["fused", "conv", "matrix"])
def test_nd_vmap_over_filters_and_jit_equal_eager(impl):
    x = jnp.asarray(RNG.standard_normal((6, 8, 5)), jnp.float32)
    hs = jnp.stack([jnp.asarray(awd_jax.lowpass(w), jnp.float32) for w in ("db3", "sym3", "coif1")])
    batched = jax.vmap(lambda h: awd_jax.wavedecn(x, h, "zero", 1, impl=impl))(hs)
    for i, w in enumerate(("db3", "sym3", "coif1")):
        ref = pywt.wavedecn(np.asarray(x), w, "zero", 1)
        np.testing.assert_allclose(batched[0][i], ref[0], atol=1e-5)
        for k in ref[1]:
            np.testing.assert_allclose(batched[1][k][i], ref[1][k], atol=1e-5)
    eager = awd_jax.waverecn(awd_jax.wavedecn(x, hs[0], "zero", 1, impl=impl), hs[0], "zero", impl=impl)
    jitted = jax.jit(lambda x, h: awd_jax.waverecn(awd_jax.wavedecn(x, h, "zero", 1, impl=impl), h, "zero",
                                                   impl=impl))(x, hs[0])
    np.testing.assert_allclose(eager, jitted, atol=1e-6)
