"""Each figure renders with Agg to a non-empty PNG."""

import io

import numpy as np
import pytest
import pywt

matplotlib = pytest.importorskip("matplotlib")  # optional extra `plot`
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from awd_jax import plotting  # noqa: E402
from awd_jax.features import kernels_3x3, laplace_kernel, roberts_cross  # noqa: E402


def _png(fig) -> bytes:
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 2000
    assert len(fig.axes) >= 1
    return data


def _learned():
    return np.asarray(pywt.Wavelet("db5").rec_lo) + 0.02 * np.sin(np.arange(10))


def test_plot_filters():
    _png(plotting.plot_filters(_learned()))
    fig = plotting.plot_filters({"learned": _learned(), "db5": "db5"}, title="filters")
    _png(fig)
    assert len(fig.axes) == 2


def test_plot_wavelet():
    fig = plotting.plot_wavelet(_learned(), reference="db5")
    _png(fig)
    assert "distance" in fig.get_suptitle()
    assert len(fig.axes[1].lines) >= 2
    _png(plotting.plot_wavelet("sym5", reference=None))


def test_plot_history():
    hist = {"total": np.geomspace(1.0, 0.1, 20), "rec": np.geomspace(0.5, 0.01, 20), "zero": np.zeros(20)}
    fig = plotting.plot_history(hist)
    _png(fig)
    assert len(fig.axes[0].lines) == 2  # all-zero term left out
    _png(plotting.plot_history({"total": np.random.default_rng(0).random((2, 3, 5)) + 0.1}))
    with pytest.raises(ValueError, match="keys"):
        plotting.plot_history(hist, keys=["nope"])


def test_plot_coefficients_1d_and_2d():
    x = np.random.default_rng(0).standard_normal((3, 40))
    c = pywt.wavedec(x, "db5", level=3, mode="zero")
    a = [np.sign(v) * 0.1 for v in c]
    fig = plotting.plot_coefficients(c, a, index=1)
    _png(fig)
    assert len(fig.axes) == 8
    _png(plotting.plot_coefficients(c))
    img = np.random.default_rng(1).standard_normal((2, 16, 16))
    c2 = pywt.wavedec2(img, "db2", level=2)
    _png(plotting.plot_coefficients(c2, c2, index=0))
    with pytest.raises(ValueError, match="attributions"):
        plotting.plot_coefficients(c, a[:-1])
    with pytest.raises(ValueError, match="index"):
        plotting.plot_coefficients(c, a, index=3)


def test_plot_kernels():
    fig = plotting.plot_kernels(kernels_3x3(_learned()))
    _png(fig)
    assert len(fig.axes) == 5  # 4 kernels + colorbar


def test_plot_activation_maps():
    img = np.random.default_rng(2).standard_normal((24, 24))
    fig = plotting.plot_activation_maps(img, {"LL": kernels_3x3("db5").LL, "laplace": laplace_kernel(),
                                              "roberts": roberts_cross})
    _png(fig)
    with pytest.raises(ValueError, match="image"):
        plotting.plot_activation_maps(np.zeros((2, 5, 5)), {"l": laplace_kernel()})


def test_missing_matplotlib_message(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"awd_jax\[plot\]"):
        plotting.plot_filters("db2")
