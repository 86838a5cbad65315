"""Tests for awd_jax.data: the simulation data of docs/method.md#experiments, checked against pywt."""

import warnings

import numpy as np
import pytest
import pywt

from awd_jax.data import detail_lengths, simulate, simulation_target


def _pywt_wavedec(x, wavelet="db5", level=4, mode="zero"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # J = 4 > dwt_max_level(64, 10), as in the paper
        return pywt.wavedec(x.astype(np.float64), wavelet, mode=mode, level=level, axis=-1)


def _pywt_target(x, wavelet="db5", level=4, mode="zero", band=3, locations=(7, 8, 9), scale=2.0):
    coeffs = _pywt_wavedec(x, wavelet, level, mode)
    return scale * coeffs[-band][:, list(locations)].sum(axis=-1), coeffs


def test_shapes_dtypes_and_paper_defaults():
    x, y = simulate(200, seed=3)
    assert x.shape == (200, 64) and y.shape == (200,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    expected, coeffs = _pywt_target(x)
    # the paper's cD3 is the third-finest detail of length 15
    assert [c.shape[-1] for c in coeffs] == [12, 12, 15, 22, 36]
    assert detail_lengths(64, 10, 4) == (36, 22, 15, 12)
    resid = y - expected
    # the residual is the 0.1·ε noise: mean ~ 0, std ~ 0.1
    assert abs(resid.std() - 0.1) < 0.02
    assert abs(resid.mean()) < 0.03


def test_noiseless_matches_pywt_exactly():
    x, y = simulate(64, seed=1, noise=0.0)
    expected, _ = _pywt_target(x)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(simulation_target(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length": 100, "wavelet": "sym4", "level": 3, "band": 2, "locations": (0, 5), "scale": -1.5,
         "mode": "periodization"},
        {"length": 37, "wavelet": "haar", "level": 2, "band": 1, "locations": (18,), "scale": 1.0, "mode": "symmetric"},
        {"length": 64, "wavelet": "coif2", "level": 4, "band": 4, "locations": (1, 2, 3), "scale": 3.0, "mode": "zero"},
    ],
)
def test_other_settings_match_pywt(kwargs):
    kwargs = dict(kwargs)
    length = kwargs.pop("length")
    x, y = simulate(50, length=length, seed=7, noise=0.0, **kwargs)
    assert x.shape == (50, length)
    coeffs = _pywt_wavedec(x, kwargs["wavelet"], kwargs["level"], kwargs["mode"])
    expected = kwargs["scale"] * coeffs[-kwargs["band"]][:, list(kwargs["locations"])].sum(axis=-1)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_filter_array_equals_name():
    x1, y1 = simulate(10, seed=2, wavelet="db5")
    x2, y2 = simulate(10, seed=2, wavelet=np.asarray(pywt.Wavelet("db5").rec_lo))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_allclose(y1, y2, rtol=1e-6, atol=1e-6)


def test_seeds_reproducible_and_prefix_stable():
    x1, y1 = simulate(30, seed=5)
    x2, y2 = simulate(30, seed=5)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    x3, y3 = simulate(10, seed=5)
    np.testing.assert_array_equal(x3, x1[:10])
    np.testing.assert_array_equal(y3, y1[:10])
    x4, _ = simulate(30, seed=6)
    assert not np.array_equal(x1, x4)


def test_x_is_standard_normal():
    x, _ = simulate(2000, seed=0)
    assert abs(x.mean()) < 0.01
    assert abs(x.std() - 1.0) < 0.01


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"locations": (7, 8, 15)}, "locations"),
        ({"locations": (-1,)}, "locations"),
        ({"locations": ()}, "locations"),
        ({"locations": (7, 7)}, "locations"),
        ({"band": 5}, "band"),
        ({"band": 0}, "band"),
        ({"level": 0}, "level"),
        ({"length": 0}, "length"),
        ({"noise": -0.1}, "noise"),
        ({"mode": "nope"}, "mode"),
        ({"wavelet": "notawavelet"}, "wavelet"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate(10, **kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"locations": 7}, "locations"),
        ({"locations": (7.0,)}, "locations"),
        ({"seed": 1.5}, "seed"),
        ({"scale": "2"}, "scale"),
    ],
)
def test_bad_types_raise_type_error_naming_them(kwargs, name):
    with pytest.raises(TypeError, match=name):
        simulate(10, **kwargs)


@pytest.mark.parametrize("n", [0, -3])
def test_bad_n(n):
    with pytest.raises(ValueError, match="n"):
        simulate(n)
