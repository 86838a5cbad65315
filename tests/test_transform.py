"""Parity with PyWavelets (and MATLAB via pywt's stored results), autodiff, jit, vmap, errors."""

import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt

import awd_jax
from awd_jax.transform import _bank

MODES = awd_jax.MODES
IMPLS = ("fused", "conv", "matrix")
FAST_WAVELETS = ("haar", "db2", "db5", "sym4", "coif2")
ALL_WAVELETS = tuple(f"db{i}" for i in range(1, 21)) + tuple(f"sym{i}" for i in range(2, 21)) + tuple(
    f"coif{i}" for i in range(1, 18))
RNG = np.random.default_rng(1234)


def _flat2(coeffs):
    return [coeffs[0]] + [b for level in coeffs[1:] for b in level]


def _assert_coeffs(ours, ref, atol):
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(np.asarray(a), b, atol=atol, rtol=1e-10)


def _pywt_or_none(fn, *args, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except ValueError:  # pywt refuses (e.g. reflect modes on 1 sample)
        return None


# ---------------------------------------------------------------------------
# single level, every mode, lengths below / around the filter length
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wavelet,lengths,impl", [
    ("db2", (1, 2, 3, 9), "fused"), ("db5", (3, 10, 17), "conv"), ("db5", (4, 9, 40), "fused"),
    ("db2", (1, 9), "matrix"), pytest.param("db5", (3, 4, 10, 17, 40), "matrix", marks=pytest.mark.slow),
])
def test_dwt_idwt_match_pywt(x64, wavelet, lengths, impl, mode):
    for length in lengths:
        x = RNG.standard_normal((2, length))
        ref = _pywt_or_none(pywt.dwt, x, wavelet, mode)
        if ref is None:
            with pytest.raises(ValueError, match="at least 2 samples"):
                awd_jax.dwt(x, wavelet, mode, impl=impl)
            continue
        ours = awd_jax.dwt(x, wavelet, mode, impl=impl)
        _assert_coeffs(ours, ref, 1e-12)
        rec = awd_jax.idwt(ref[0], ref[1], wavelet, mode, impl=impl)
        _assert_coeffs([rec], [pywt.idwt(ref[0], ref[1], wavelet, mode)], 1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_idwt_none_means_zeros(x64, mode):
    ca, cd = pywt.dwt(RNG.standard_normal(21), "db3", mode)
    _assert_coeffs([awd_jax.idwt(ca, None, "db3", mode)], [pywt.idwt(ca, None, "db3", mode)], 1e-12)
    _assert_coeffs([awd_jax.idwt(None, cd, "db3", mode)], [pywt.idwt(None, cd, "db3", mode)], 1e-12)


# ---------------------------------------------------------------------------
# multilevel 1D
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wavelet,cases,impl", [
    ("haar", ((33, None),), "auto"),
    ("db5", ((40, 4),), "auto"),
    pytest.param("db5", ((64, 1), (101, 7), (7, 3)), "auto", marks=pytest.mark.slow),
    pytest.param("sym4", ((33, None),), "auto", marks=pytest.mark.slow),
    pytest.param("coif2", ((40, 2),), "auto", marks=pytest.mark.slow),
    pytest.param("db5", ((64, 4), (7, 3)), "matrix", marks=pytest.mark.slow),
])
def test_wavedec_waverec_match_pywt(x64, wavelet, cases, impl, mode):
    for length, level in cases:
        x = RNG.standard_normal((3, length))
        ref = _pywt_or_none(pywt.wavedec, x, wavelet, mode, level=level)
        if ref is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = awd_jax.wavedec(x, wavelet, mode=mode, level=level, impl=impl)
        _assert_coeffs(ours, ref, 1e-11)
        _assert_coeffs([awd_jax.waverec(ref, wavelet, mode, impl=impl)], [pywt.waverec(ref, wavelet, mode)], 1e-11)


@pytest.mark.parametrize("impl", IMPLS)
def test_wavedec_leading_dims_and_axis(x64, impl):
    x = RNG.standard_normal((2, 3, 37, 4))
    for axis in (0, 1, 2, -1):
        ref = pywt.wavedec(x, "db3", "symmetric", level=2, axis=axis)
        ours = awd_jax.wavedec(x, "db3", mode="symmetric", level=2, axis=axis, impl=impl)
        _assert_coeffs(ours, ref, 1e-12)
        _assert_coeffs([awd_jax.waverec(ref, "db3", "symmetric", axis=axis, impl=impl)],
                       [pywt.waverec(ref, "db3", "symmetric", axis=axis)], 1e-12)


def test_level_none_is_pywt_max_level_and_deep_levels_warn(x64):
    x = RNG.standard_normal(40)
    assert len(awd_jax.wavedec(x, "db5")) == pywt.dwt_max_level(40, 10) + 1
    with pytest.warns(UserWarning, match="too high"):
        coeffs = awd_jax.wavedec(x, "db5", "zero", level=4)  # AWD's setting: J=4 on 40 samples
    _assert_coeffs(coeffs, pywt.wavedec(x, "db5", "zero", level=4), 1e-12)
    with pytest.warns(UserWarning):
        deep = awd_jax.wavedec(x, "db5", level=12)
    assert len(deep) == 13
    assert [c.shape[-1] for c in deep[:2]] == [9, 9]  # lengths converge to N - 1
    assert awd_jax.wavedec(x, "db5", level=0)[0].shape == (40,)


@pytest.mark.parametrize("mode", MODES)
def test_perfect_reconstruction(mode):
    for length in (2, 5, 17, 40):
        _check_perfect_reconstruction(mode, length)


def _check_perfect_reconstruction(mode, length):
    x = jnp.asarray(RNG.standard_normal((4, length)), jnp.float32)
    level = 2 if length > 1 else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coeffs = awd_jax.wavedec(x, "db4", mode=mode, level=level)
    rec = awd_jax.waverec(coeffs, "db4", mode, length=length)
    assert rec.dtype == jnp.float32
    np.testing.assert_allclose(rec, x, atol=2e-5)
    if length % 2 and length > 1:  # odd lengths come back one longer, as in pywt
        assert awd_jax.waverec(coeffs, "db4", mode).shape[-1] >= length + 1


# ---------------------------------------------------------------------------
# 2D
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wavelet,cases,impl", [
    ("db3", (((1, 3, 20, 11), 3),), "auto"),
    pytest.param("haar", (((2, 9, 13), None),), "auto", marks=pytest.mark.slow),
    pytest.param("db5", (((17, 24), 2),), "auto", marks=pytest.mark.slow),
    pytest.param("db3", (((1, 3, 20, 11), 3),), "matrix", marks=pytest.mark.slow),
])
def test_wavedec2_waverec2_match_pywt(x64, wavelet, cases, impl, mode):
    for shape, level in cases:
        x = RNG.standard_normal(shape)
        ref = _pywt_or_none(pywt.wavedec2, x, wavelet, mode, level=level)
        if ref is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = awd_jax.wavedec2(x, wavelet, mode=mode, level=level, impl=impl)
        assert len(ours) == len(ref) and all(len(o) == 3 for o in ours[1:])
        _assert_coeffs(_flat2(ours), _flat2(ref), 1e-11)
        _assert_coeffs([awd_jax.waverec2(ref, wavelet, mode, impl=impl)], [pywt.waverec2(ref, wavelet, mode)], 1e-11)


@pytest.mark.parametrize("impl,mode", [("fused", "zero"), ("conv", "periodization"), ("fused", "antireflect"),
                                       ("matrix", "smooth")])
def test_dwt2_idwt2_axes_match_pywt(x64, impl, mode):
    x = RNG.standard_normal((7, 3, 12))
    for axes in ((-2, -1), (0, 2), (2, 0)):
        ref = pywt.dwt2(x, "db2", mode, axes=axes)
        ours = awd_jax.dwt2(x, "db2", mode, axes=axes, impl=impl)
        _assert_coeffs([ours[0], *ours[1]], [ref[0], *ref[1]], 1e-12)
        _assert_coeffs([awd_jax.idwt2(ref, "db2", mode, axes=axes, impl=impl)],
                       [pywt.idwt2(ref, "db2", mode, axes=axes)], 1e-12)


def test_waverec2_shape_crops_to_original():
    x = jnp.asarray(RNG.standard_normal((2, 15, 21)), jnp.float32)
    coeffs = awd_jax.wavedec2(x, "db2", mode="symmetric", level=2)
    assert awd_jax.waverec2(coeffs, "db2", "symmetric").shape == (2, 16, 22)
    rec = awd_jax.waverec2(coeffs, "db2", "symmetric", shape=(15, 21))
    np.testing.assert_allclose(rec, x, atol=2e-5)


# ---------------------------------------------------------------------------
# MATLAB Wavelet Toolbox results stored inside PyWavelets
# ---------------------------------------------------------------------------

MATLAB_MODES = (("zero", "zpd"), ("constant", "sp0"), ("symmetric", "sym"), ("reflect", "symw"),
                ("periodic", "ppd"), ("smooth", "sp1"), ("periodization", "per"))


def _matlab_cases():
    """Replays pywt's own draws (RandomState(1234), every db/sym/coif/bior/rbio, sizes dec_len, dec_len+1)."""
    path = os.path.join(os.path.dirname(pywt.__file__), "tests", "data", "dwt_matlabR2012a_result.npz")
    if not os.path.exists(path):
        return None, []
    rstate = np.random.RandomState(1234)
    cases = []
    for wavelet in sum([pywt.wavelist(f) for f in ("db", "sym", "coif", "bior", "rbio")], []):
        w = pywt.Wavelet(wavelet)
        for n in (w.dec_len, w.dec_len + 1):
            data = rstate.randn(n)
            if w.orthogonal:
                cases.append((wavelet, data))
    return path, cases


def _check_matlab(wavelets, x64_on=True):
    path, cases = _matlab_cases()
    if path is None:
        pytest.skip("pywt was installed without its MATLAB test data")
    table = np.load(path)
    checked = 0
    for wavelet, data in cases:
        if wavelet not in wavelets:
            continue
        for pmode, mmode in MATLAB_MODES:
            key = f"{mmode}_{wavelet}_{len(data)}"
            if key + "_ma" not in table:
                continue
            ca, cd = awd_jax.dwt(data, wavelet, pmode)
            # pywt's own criterion against MATLAB: RMS error below 5e-5
            assert np.sqrt(np.mean((np.asarray(ca) - table[key + "_ma"]) ** 2)) < 5e-5, key
            assert np.sqrt(np.mean((np.asarray(cd) - table[key + "_md"]) ** 2)) < 5e-5, key
            checked += 1
    assert checked > 0


def test_matches_matlab_wavelet_toolbox_sample(x64):
    _check_matlab({"db5", "coif2"})


@pytest.mark.slow
def test_matches_matlab_wavelet_toolbox_all(x64):
    _check_matlab(set(ALL_WAVELETS))


@pytest.mark.slow
@pytest.mark.parametrize("wavelet", ALL_WAVELETS)
def test_all_orthogonal_wavelets_all_modes(x64, wavelet):
    n = pywt.Wavelet(wavelet).dec_len
    x = RNG.standard_normal((2, 2 * n + 1))
    for i, mode in enumerate(MODES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = pywt.wavedec(x, wavelet, mode, level=2)
            ours = awd_jax.wavedec(x, wavelet, mode=mode, level=2)
        _assert_coeffs(ours, ref, 1e-10)
        _assert_coeffs([awd_jax.waverec(ref, wavelet, mode)], [pywt.waverec(ref, wavelet, mode)], 1e-10)
    # 2D: one mode per wavelet, cycling through all of them over the list
    mode = MODES[ALL_WAVELETS.index(wavelet) % len(MODES)]
    x2 = RNG.standard_normal((n + 3, n + 6))
    _assert_coeffs(_flat2(awd_jax.wavedec2(x2, wavelet, mode, 1)), _flat2(pywt.wavedec2(x2, wavelet, mode, 1)), 1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("wavelet", ["db20", "sym12", "coif8"])
def test_long_filters_fused_matches_pywt(x64, wavelet):
    x = RNG.standard_normal((2, 100))
    ref = pywt.wavedec(x, wavelet, "symmetric", level=2)
    _assert_coeffs(awd_jax.wavedec(x, wavelet, mode="symmetric", level=2, impl="fused"), ref, 1e-10)
    _assert_coeffs([awd_jax.waverec(ref, wavelet, "symmetric", impl="fused")],
                   [pywt.waverec(ref, wavelet, "symmetric")], 1e-10)


# ---------------------------------------------------------------------------
# implementations, dtypes, jit, vmap, autodiff, retracing
# ---------------------------------------------------------------------------


def _assert_close32(u, v):
    """float32 agreement; smooth extrapolation grows large values, so the absolute
    tolerance scales with the largest magnitude (cancellation error)."""
    scale = max(1.0, float(jnp.abs(v).max()))
    np.testing.assert_allclose(u, v, atol=2e-5 * scale, rtol=1e-5)


# "fused" is the reference; "matrix" runs fast in a few modes (every mode in -m slow)
_MATRIX_FAST_MODES = ("smooth", "periodization")


@pytest.mark.parametrize("impl,mode", [("conv", m) for m in MODES] + [
    pytest.param("matrix", m, marks=() if m in _MATRIX_FAST_MODES else pytest.mark.slow) for m in MODES])
def test_impls_agree_float32(impl, mode):
    x = jnp.asarray(RNG.standard_normal((3, 5, 50)), jnp.float32)
    a = awd_jax.wavedec(x, "sym4", mode=mode, level=3, impl="fused")
    b = awd_jax.wavedec(x, "sym4", mode=mode, level=3, impl=impl)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype == jnp.float32
        _assert_close32(u, v)
    scale = max(float(jnp.abs(c).max()) for c in a)
    ra = awd_jax.waverec(a, "sym4", mode, impl="fused")
    rb = awd_jax.waverec(a, "sym4", mode, impl=impl)
    np.testing.assert_allclose(ra, rb, atol=2e-5 * max(scale, 1.0), rtol=1e-5)
    a2 = awd_jax.wavedec2(x, "db2", mode=mode, level=2, impl="fused")
    b2 = awd_jax.wavedec2(x, "db2", mode=mode, level=2, impl=impl)
    scale2 = max(float(jnp.abs(c).max()) for c in _flat2(b2))
    for u, v in zip(_flat2(a2), _flat2(b2)):
        np.testing.assert_allclose(u, v, atol=2e-5 * max(scale2, 1.0), rtol=1e-5)


def test_dtypes():
    x32 = jnp.ones((2, 20), jnp.float32)
    assert all(c.dtype == jnp.float32 for c in awd_jax.wavedec(x32, "db2", level=2))
    # integers are cast to the default float dtype, as pywt casts to float
    xi = np.arange(20)
    ci = awd_jax.wavedec(xi, "db2", "zero", level=2)
    assert ci[0].dtype == jnp.zeros(()).dtype
    np.testing.assert_allclose(ci[0], pywt.wavedec(xi, "db2", "zero", level=2)[0], rtol=1e-5)


def test_float64(x64):
    x = jnp.asarray(RNG.standard_normal((2, 20)))
    assert x.dtype == jnp.float64
    coeffs = awd_jax.wavedec(x, "db2", level=2)
    assert all(c.dtype == jnp.float64 for c in coeffs)
    # a float64 filter on float32 data: the computation runs in the data's dtype
    assert awd_jax.wavedec(x.astype(jnp.float32), jnp.asarray(awd_jax.lowpass("db2")), level=2)[0].dtype == jnp.float32


@pytest.mark.parametrize("impl", IMPLS)
def test_jit_equals_eager_with_traced_filter(impl):
    x = jnp.asarray(RNG.standard_normal((3, 40)), jnp.float32)
    h = jnp.asarray(awd_jax.lowpass("db5"), jnp.float32) + 0.01

    def roundtrip(x, h):
        c = awd_jax.wavedec(x, h, mode="smooth", level=3, impl=impl)
        c2 = awd_jax.wavedec2(x, h, mode="periodization", level=1, impl=impl)
        return c, awd_jax.waverec(c, h, "smooth", impl=impl), awd_jax.waverec2(c2, h, "periodization", impl=impl)

    eager = roundtrip(x, h)
    jitted = jax.jit(roundtrip)(x, h)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted)):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("impl", ["auto", "matrix"])
def test_vmap_over_data_and_filters(impl):
    x = jnp.asarray(RNG.standard_normal((4, 3, 32)), jnp.float32)
    over_x = jax.vmap(lambda xi: awd_jax.wavedec(xi, "db5", mode="symmetric", level=2, impl=impl))(x)
    direct = awd_jax.wavedec(x, "db5", mode="symmetric", level=2, impl=impl)
    for a, b in zip(over_x, direct):
        np.testing.assert_allclose(a, b, atol=1e-6)
    hs = jnp.stack([jnp.asarray(awd_jax.lowpass(w), jnp.float32) for w in ("db5", "sym5")])
    over_h = jax.vmap(lambda h: awd_jax.wavedec(x, h, mode="symmetric", level=2, impl=impl))(hs)
    for i, w in enumerate(("db5", "sym5")):
        for a, b in zip(over_h, pywt.wavedec(np.asarray(x), w, "symmetric", level=2)):
            np.testing.assert_allclose(a[i], b, atol=1e-5)


def _fd_check(f, h, eps=1e-6, rtol=1e-6):
    grad = jax.grad(f)(h)
    fd = np.array([(f(h.at[i].add(eps)) - f(h.at[i].add(-eps))) / (2 * eps) for i in range(h.shape[0])])
    np.testing.assert_allclose(grad, fd, rtol=rtol, atol=1e-8)


@pytest.mark.parametrize("impl,mode", [("fused", "zero"), ("conv", "symmetric"), ("fused", "smooth"),
                                       ("conv", "periodization"), ("fused", "antireflect"), ("matrix", "reflect"),
                                       pytest.param("matrix", "periodization", marks=pytest.mark.slow)])
def test_grad_wrt_filter_and_input_matches_finite_differences(x64, impl, mode):
    x = jnp.asarray(RNG.standard_normal((2, 23)))
    h0 = jnp.asarray(awd_jax.lowpass("db3")) + 0.05 * jnp.sin(jnp.arange(6.0))
    w = [jnp.asarray(RNG.standard_normal(c.shape)) for c in awd_jax.wavedec(x, h0, mode=mode, level=2)]

    def loss_h(h):
        c = awd_jax.wavedec(x, h, mode=mode, level=2, impl=impl)
        rec = awd_jax.waverec(c, h, mode, length=23, impl=impl)
        return sum(jnp.sum(wi * ci) for wi, ci in zip(w, c)) + jnp.sum((rec - x) ** 2) + jnp.sum(jnp.sin(rec))

    _fd_check(jax.jit(loss_h), h0)

    def loss_x(xf):
        c = awd_jax.wavedec2(xf.reshape(2, 23, 1) * xf.reshape(2, 1, 23), h0, mode, 1, impl=impl)
        return sum(jnp.sum(jnp.sin(b)) for b in _flat2(c))

    _fd_check(jax.jit(loss_x), x.reshape(-1), rtol=1e-5)


@pytest.mark.parametrize("impl", ["auto", "matrix"])
def test_second_derivative_wrt_filter(x64, impl):
    x = jnp.asarray(RNG.standard_normal((2, 30)))
    h0 = jnp.asarray(awd_jax.lowpass("db3")) + 0.05 * jnp.cos(jnp.arange(6.0))

    def f(h):
        c = awd_jax.wavedec(x, h, mode="symmetric", level=2, impl=impl)
        return sum(jnp.sum(jnp.tanh(ci) ** 2) for ci in c)

    hess = jax.jit(jax.hessian(f))(h0)
    g = jax.jit(jax.grad(f))
    eps = 1e-5
    fd = np.stack([(g(h0.at[i].add(eps)) - g(h0.at[i].add(-eps))) / (2 * eps) for i in range(6)])
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hess, hess.T, atol=1e-10)


def test_new_values_do_not_recompile(compile_counter):
    x = jnp.asarray(RNG.standard_normal((4, 64)), jnp.float32)
    h = jnp.asarray(awd_jax.lowpass("db5"), jnp.float32)
    awd_jax.wavedec(x, h, "reflect", 3)
    xs = [x + i for i in range(3)]
    hs = [h * (1 + 0.01 * i) for i in range(3)]
    xn = [np.asarray(x) - i for i in range(3)]
    before = compile_counter()
    for i in range(3):
        awd_jax.wavedec(xs[i], hs[i], "reflect", 3)
        awd_jax.wavedec(xn[i], "db5", "reflect", 3)  # names give the same filter shape
    assert compile_counter() == before
    x_short = x[:, :32]
    before = compile_counter()
    awd_jax.wavedec(x_short, h, "reflect", 3)  # a new shape compiles once more
    assert compile_counter() == before + 1


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_errors_name_the_argument():
    x = np.ones((2, 16))
    with pytest.raises(ValueError, match="unknown wavelet"):
        awd_jax.wavedec(x, "db99")
    with pytest.raises(ValueError, match="learns orthogonal filters"):
        awd_jax.lowpass("bior2.2")  # the transforms take biorthogonal banks; AWD's filter is orthogonal
    with pytest.raises(ValueError, match="mode: unknown"):
        awd_jax.dwt(x, "db2", "mirror")
    with pytest.raises(ValueError, match="h: expected a 1-D"):
        awd_jax.dwt(x, np.ones((2, 4)))
    with pytest.raises(ValueError, match="h: expected an even"):
        awd_jax.dwt(x, np.ones(5))
    with pytest.raises(TypeError, match="data: expected an array of numbers"):
        awd_jax.wavedec(np.array([object()] * 4), "db2")
    with pytest.raises(TypeError, match="data: expected an array"):
        awd_jax.dwtn({}, "db2")
    with pytest.raises(ValueError, match="axis: axis 2 is out of range"):
        awd_jax.dwt(x, "db2", axis=2)
    with pytest.raises(ValueError, match="level: expected an int >= 0 or None, got -1"):
        awd_jax.wavedec(x, "db2", level=-1)
    with pytest.raises(ValueError, match="wavedec2 needs at least 2 dimension"):
        awd_jax.wavedec2(np.ones(16), "db2")
    with pytest.raises(ValueError, match="axes: expected distinct axes"):
        awd_jax.wavedec2(x, "db2", axes=(1, 1))
    with pytest.raises(ValueError, match="empty"):
        awd_jax.wavedec(np.ones((2, 0)), "db2")
    with pytest.raises(ValueError, match="impl"):
        awd_jax.dwt(x, "db2", impl="cuda")


def test_matrix_impl_limits_and_errors(monkeypatch):
    # the constant tensors are plain float64 NumPy, cached, whatever the x64 setting
    s = _bank._analysis_structure(9, 4, "smooth")
    assert isinstance(s, np.ndarray) and s.dtype == np.float64 and s.shape == (4, 6, 9)
    np.testing.assert_array_equal(s, np.round(s))
    t = _bank._synthesis_structure(6, 4, "smooth")
    assert isinstance(t, np.ndarray) and t.dtype == np.float64 and t.shape == (4, 10, 6)
    np.testing.assert_array_equal(t, np.round(t))
    monkeypatch.setattr(_bank, "MATRIX_MAX_LEN", 12)
    x = RNG.standard_normal((2, 13))
    awd_jax.dwt(x[:, :12], "db2", impl="matrix")  # at the limit: fine
    with pytest.raises(ValueError, match="impl: 'matrix'.*13 along axis 1.*'fused'.*'conv'"):
        awd_jax.dwt(x, "db2", impl="matrix")
    with pytest.raises(ValueError, match="impl: 'matrix'.*axis 0"):
        awd_jax.dwt2(x.T, "db2", impl="matrix")
    with pytest.raises(ValueError, match="impl: 'matrix'.*14 along axis 0"):  # synthesis output is 2M = 14
        awd_jax.idwt(np.ones(7), np.ones(7), "haar", impl="matrix")
    # the same validation as the other banks
    with pytest.raises(ValueError, match="coeffs: 2 coefficients .* too few"):
        awd_jax.idwt(np.ones(2), np.ones(2), "db5", impl="matrix")
    with pytest.raises(ValueError, match="at least 2 samples"):
        awd_jax.dwt(np.ones((2, 1)), "db2", "reflect", impl="matrix")


def test_waverec_rejects_coefficients_that_do_not_fit():
    coeffs = awd_jax.wavedec(np.ones((2, 40)), "db2", level=3)
    bad = list(coeffs)
    bad[1] = bad[1][:, :-2]
    with pytest.raises(ValueError, match=r"coeffs\[1\]: coefficient shape mismatch"):
        awd_jax.waverec(bad, "db2")
    bad = list(coeffs)
    bad[2] = bad[2][:1]
    with pytest.raises(ValueError, match="coeffs"):
        awd_jax.waverec(bad, "db2")
    with pytest.raises(ValueError, match="coeffs: the coefficient list is empty"):
        awd_jax.waverec([], "db2")
    with pytest.raises(ValueError, match="cA, cD: expected arrays of one shape"):
        awd_jax.idwt(np.ones(5), np.ones(6), "db2")
    with pytest.raises(ValueError, match="length"):
        awd_jax.waverec(coeffs, "db2", length=100)
    coeffs2 = awd_jax.wavedec2(np.ones((20, 18)), "db2", level=2)
    bad2 = list(coeffs2)
    bad2[2] = (bad2[2][0][:-1], bad2[2][1][:-1], bad2[2][2][:-1])
    with pytest.raises(ValueError, match="coeffs"):
        awd_jax.waverec2(bad2, "db2")
    bad2 = list(coeffs2)
    bad2[1] = (bad2[1][0], bad2[1][1])
    with pytest.raises(ValueError, match="Unexpected detail coefficient type.*3-tuple"):
        awd_jax.waverec2(bad2, "db2")
    bad2 = list(coeffs2)
    bad2[1] = (bad2[1][0], bad2[1][1][:, :-1], bad2[1][2])
    with pytest.raises(ValueError, match="one shape"):
        awd_jax.waverec2(bad2, "db2")
