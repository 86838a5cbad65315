"""features: top-k per scale, 3x3 kernels, peaks, TemplateRegressor, WaveletFeatures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from awd_jax.features import (
    Kernels,
    TemplateRegressor,
    WaveletFeatures,
    filter_maps,
    kernels_3x3,
    laplace_kernel,
    peak_counts,
    peak_mask,
    roberts_cross,
    top_k_per_scale,
)


# ---------------------------------------------------------------- top-k
def test_top_k_against_pywt_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 40))
    c = pywt.wavedec(x, "db5", level=4, mode="zero")
    feats = np.asarray(top_k_per_scale([jnp.asarray(a, jnp.float32) for a in c], k=6))
    want = np.concatenate([-np.sort(-a, axis=1)[:, :6] for a in c], axis=1)
    assert feats.shape == (5, 30)
    np.testing.assert_allclose(feats, want, rtol=1e-6)
    # signed: the largest values, not magnitudes
    assert np.all(np.diff(feats[:, :6], axis=1) <= 0)


def test_top_k_flattens_channels_and_jits():
    c = [jnp.arange(24.0).reshape(2, 3, 4), jnp.zeros((2, 5))]
    out = jax.jit(top_k_per_scale, static_argnames="k")(c, k=2)
    np.testing.assert_allclose(out, [[11, 10, 0, 0], [23, 22, 0, 0]])


def test_top_k_errors():
    c = [jnp.ones((2, 7)), jnp.ones((2, 3))]
    with pytest.raises(ValueError, match=r"k: 4 .*scale 1.* 3 coefficients"):
        top_k_per_scale(c, k=4)
    with pytest.raises(ValueError, match="batch"):
        top_k_per_scale([jnp.ones(7)], k=2)
    with pytest.raises(ValueError, match="k"):
        top_k_per_scale(c, k=0)


# ---------------------------------------------------------------- kernels
def _windows_ref(f):
    f = np.asarray(f, np.float64)
    var = [np.var(f[i:i + 3]) for i in range(len(f) - 2)]
    i = int(np.argmax(var))
    return f[i:i + 3]


@pytest.mark.parametrize("name", ["db5", "sym4", "coif2", "db2"])
def test_kernels_3x3_reference(name):
    h = np.asarray(pywt.Wavelet(name).rec_lo)
    g = np.asarray(pywt.Wavelet(name).rec_hi)
    h3, g3 = _windows_ref(h), _windows_ref(g)
    k = kernels_3x3(name)
    assert isinstance(k, Kernels)
    np.testing.assert_allclose(k.LL, np.outer(h3, h3), atol=1e-6)
    lh = np.outer(g3, h3)
    np.testing.assert_allclose(k.LH, lh - lh.mean(), atol=1e-6)
    hl = np.outer(h3, g3)
    np.testing.assert_allclose(k.HL, hl - hl.mean(), atol=1e-6)
    hh = np.outer(g3, g3)
    np.testing.assert_allclose(k.HH, hh - hh.mean(), atol=1e-6)
    for d in (k.LH, k.HL, k.HH):
        assert abs(float(jnp.mean(d))) < 1e-6


def test_kernels_consider_last_window():
    # largest-variance window is the last one, which the reference's range(N-3) skipped
    h = np.array([0.0, 0.1, 0.0, 0.1, 0.0, 5.0])
    k = kernels_3x3(h)
    np.testing.assert_allclose(k.LL, np.outer([0.1, 0.0, 5.0], [0.1, 0.0, 5.0]), atol=1e-6)


def test_kernels_jit():
    h = jnp.asarray(pywt.Wavelet("db5").rec_lo, jnp.float32)
    k = jax.jit(kernels_3x3)(h)
    np.testing.assert_allclose(k.HH, kernels_3x3(h).HH, atol=1e-7)


# ---------------------------------------------------------------- maps and peaks
def _valid_corr(img, k):
    kh, kw = k.shape
    out = np.zeros((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i:i + kh, j:j + kw] * k)
    return out


def test_laplace_kernel_values():
    k = np.asarray(laplace_kernel())
    assert k.shape == (3, 3)
    assert k[1, 1] == pytest.approx(10 / 3)
    assert k[0, 0] == pytest.approx(-1 / 6)
    assert k.sum() == pytest.approx(0.0, abs=1e-6)


def test_filter_maps_and_roberts_against_loops():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((9, 11))
    lap = np.asarray(laplace_kernel(), np.float64)
    maps = filter_maps(img[None], {"lap": lap, "raw": None, "rob": roberts_cross})
    np.testing.assert_allclose(maps["lap"][0], _valid_corr(img, lap), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(maps["raw"][0], img[1:-1, 1:-1], rtol=1e-6)
    rx, ry = np.array([[0, 1], [-1, 0]]), np.array([[1, 0], [0, -1]])
    want = sum(np.sqrt(_valid_corr(c, rx) ** 2 + _valid_corr(c, ry) ** 2)
               for c in (img[:-1, :-1], img[:-1, 1:], img[1:, :-1], img[1:, 1:]))
    assert want.shape == (7, 9)
    np.testing.assert_allclose(maps["rob"][0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(roberts_cross(img)[0], want, rtol=1e-5, atol=1e-5)


def test_peak_mask():
    img = np.zeros((5, 6))
    img[2, 2] = 1.0          # a peak
    img[1, 4] = img[2, 4] = 2.0  # plateau: not strictly above -> no peak
    img[0, 0] = 9.0          # border pixel: never a peak
    m = np.asarray(peak_mask(img))[0]
    assert m.shape == (3, 4)
    assert m.sum() == 1 and m[1, 1]


def test_peak_counts_against_numpy():
    rng = np.random.default_rng(2)
    imgs = rng.standard_normal((3, 16, 16)).astype(np.float32)
    kern = kernels_3x3("db5")
    bins = np.linspace(-1.0, 1.0, 23)
    feats = np.asarray(peak_counts(imgs, kern, bins))
    assert feats.shape == (3, 4 * 22)
    for b in range(3):
        img = imgs[b].astype(np.float64)
        c = img[1:-1, 1:-1]
        mask = np.ones_like(c, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    mask &= c > img[1 + dy:15 + dy, 1 + dx:15 + dx]
        want = np.concatenate([
            np.histogram(_valid_corr(img, np.asarray(k, np.float64))[mask], bins)[0]
            for k in kern
        ])
        np.testing.assert_allclose(feats[b], want)
    assert feats.sum() > 0
    # per-kernel edges, jit
    f2 = jax.jit(lambda x: peak_counts(x, {"raw": None}, [np.linspace(-3, 3, 5)]))(imgs)
    assert f2.shape == (3, 4)


def test_peak_counts_errors():
    with pytest.raises(ValueError, match="images"):
        peak_counts(np.zeros((2, 2, 2)), kernels_3x3("db5"), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match=r"smaller than kernel"):
        filter_maps(np.zeros((1, 3, 3)), {"big": np.ones((4, 4))})
    with pytest.raises(ValueError, match="images"):
        peak_mask(np.zeros(5))
    with pytest.raises(ValueError, match="bins"):
        peak_counts(np.zeros((1, 5, 5)), kernels_3x3("db5"), [np.linspace(0, 1, 3)])


# ---------------------------------------------------------------- TemplateRegressor
def test_template_regressor():
    rng = np.random.default_rng(0)
    ys = np.array([0.2, 0.3, 0.4])
    centres = rng.standard_normal((3, 4)) * 3
    X = np.concatenate([c + 0.3 * rng.standard_normal((40, 4)) for c in centres])
    y = np.repeat(ys, 40)
    reg = TemplateRegressor().fit(X, y)
    np.testing.assert_allclose(reg.targets_, ys)
    np.testing.assert_allclose(reg.means_[1], X[40:80].mean(0))
    np.testing.assert_allclose(reg.precisions_[1], np.linalg.pinv(np.cov(X[40:80], rowvar=False)), rtol=1e-6)
    Xt = np.concatenate([c + 0.3 * rng.standard_normal((10, 4)) for c in centres])
    np.testing.assert_allclose(reg.predict(Xt), np.repeat(ys, 10))
    assert reg.score(Xt, np.repeat(ys, 10)) == pytest.approx(1.0)
    # the Mahalanobis part matters: an elongated class wins over a closer tight one
    X2 = np.concatenate([rng.standard_normal((50, 2)) * [10.0, 0.1], rng.standard_normal((50, 2)) * 0.1 + [3.0, 0.0]])
    y2 = np.repeat([0.0, 1.0], 50)
    assert TemplateRegressor().fit(X2, y2).predict([[2.0, 0.0]])[0] == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        TemplateRegressor().fit(X[:3], [1.0, 2.0, 2.0])


# ---------------------------------------------------------------- WaveletFeatures
def _toy_data(n=60, length=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, length)).astype(np.float32)
    y = np.asarray(top_k_per_scale(pywt.wavedec(X, "db2", level=2, mode="zero"), k=1))[:, 1] * 2.0
    return X, y


def test_wavelet_features_transform_and_params():
    X, _ = _toy_data()
    wf = WaveletFeatures(wavelet="db2", level=2, k=3)
    assert set(wf.get_params()) == {"wavelet", "level", "k", "mode", "teacher_fn", "fit_kwargs"}
    F = wf.fit_transform(X)
    assert F.shape == (60, 9)
    np.testing.assert_allclose(wf.h_, pywt.Wavelet("db2").rec_lo, rtol=1e-6)
    want = np.concatenate([-np.sort(-a, axis=1)[:, :3] for a in pywt.wavedec(X, "db2", level=2, mode="zero")], 1)
    np.testing.assert_allclose(F, want, rtol=1e-5, atol=1e-5)
    clone(wf)
    names = wf.get_feature_names_out()
    assert list(names[:4]) == ["cA2_0", "cA2_1", "cA2_2", "cD2_0"] and len(names) == 9
    with pytest.raises(ValueError, match="k"):
        WaveletFeatures(wavelet="db5", level=4, k=40).fit(X)
    with pytest.raises(ValueError, match="fit_kwargs"):
        WaveletFeatures(fit_kwargs={"sparsity": 1.0}).fit(X)
    with pytest.raises(ValueError, match="fit_kwargs"):
        WaveletFeatures(teacher_fn=lambda x: x[:, 0], fit_kwargs={"level": 3}).fit(X)


def test_wavelet_features_pipeline_and_gridsearch():
    X, y = _toy_data()
    pipe = make_pipeline(WaveletFeatures(wavelet="db2", level=2, k=2), LinearRegression())
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.99
    grid = GridSearchCV(pipe, {"waveletfeatures__k": [1, 2], "waveletfeatures__wavelet": ["db2", "db3"]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["waveletfeatures__wavelet"] == "db2"
    assert grid.best_score_ > 0.99


def test_wavelet_features_learns_filter_with_teacher():
    X, _ = _toy_data(n=40, length=16)
    w = jnp.asarray(np.cos(0.3 * np.arange(16)), jnp.float32)
    teacher = lambda x: x @ w  # noqa: E731
    wf = WaveletFeatures(wavelet="db2", level=2, k=2, teacher_fn=teacher,
                         fit_kwargs={"sparsity": 1e-2, "interpretation": 1e-1, "epochs": 3,
                                     "batch_size": 20, "learning_rate": 1e-2, "progress": False})
    F = wf.fit(X).transform(X)
    assert F.shape == (40, 6)
    assert wf.fit_result_ is not None and wf.fit_result_.epochs_run == 3
    np.testing.assert_allclose(wf.h_, wf.fit_result_.h)
    assert np.abs(wf.h_ - pywt.Wavelet("db2").rec_lo).max() > 1e-4  # it moved
    assert wf.fit_result_.config["level"] == 2


def test_float64():
    with jax.enable_x64(True):
        k = kernels_3x3("db5")
        assert k.LL.dtype == jnp.float64
        imgs = np.random.default_rng(3).standard_normal((2, 8, 8))
        f = peak_counts(imgs, k, np.linspace(-1, 1, 5))
        assert f.dtype == jnp.float64 and f.shape == (2, 16)
        c = pywt.wavedec(imgs[:, 0], "db2", level=1)
        out = top_k_per_scale([jnp.asarray(a) for a in c], k=2)
        assert out.dtype == jnp.float64
        np.testing.assert_array_equal(out[:, :2], -np.sort(-c[0], axis=1)[:, :2])
