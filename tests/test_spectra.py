"""Spectra case study: the Tecator loader/scaler (fast) and experiments/spectra.py --quick (slow)."""

import importlib.util
import json
import math
import os
import sys

import numpy as np
import pytest

from awd_jax.data.tecator import Standardiser, snv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_experiment():
    path = os.path.join(ROOT, "experiments", "spectra.py")
    spec = importlib.util.spec_from_file_location("experiments_spectra", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_snv_and_standardiser():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 20)) + 3.0
    y = rng.normal(size=30) * 5 + 10
    Z = snv(X)
    np.testing.assert_allclose(Z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=1), 1, atol=1e-12)
    st = Standardiser.fit(X, y)
    xs = st.x(X)
    assert xs.dtype == np.float32 and xs.shape == X.shape
    np.testing.assert_allclose(xs.mean(axis=0), 0, atol=1e-5)
    assert xs.std() == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(st.y_inverse(st.y(y)), y, rtol=1e-6)
    with pytest.raises(ValueError, match="X"):
        snv(np.zeros(5))


def test_tecator_loader():
    pytest.importorskip("sktime")
    from awd_jax.data.tecator import load_tecator_split

    X, y = load_tecator_split("train")
    Xt, yt = load_tecator_split("test")
    assert X.shape == (172, 100) and y.shape == (172,)
    assert Xt.shape == (43, 100) and yt.shape == (43,)
    assert X.dtype == np.float32 and np.all(np.isfinite(X)) and 0 <= y.min() < y.max() < 100
    with pytest.raises(ValueError, match="split"):
        load_tecator_split("val")


def test_selection_and_cli():
    exp = _load_experiment()
    x = np.random.default_rng(0).normal(size=(20, 100)).astype(np.float32)
    features = exp.wavelet_features("db5", exp.PRESETS["quick"], x)
    assert features.transform(x).shape == (20, 6 * 5)  # top-6 of each of the J + 1 = 5 arrays
    fit_idx, val_idx = exp.split_indices(172, 0.2, 0)
    assert len(val_idx) == 34 and len(np.intersect1d(fit_idx, val_idx)) == 0
    config, out = exp.parse_args([])
    assert config.preset == "quick" and out == "results"
    full = exp.PRESETS["full"]
    assert full.sparsity == (1e-4, 2.7e-4, 7.1e-4, 1.88e-3, 5e-3) and full.interpretation[0] == 0.0
    assert (full.paper_epochs, full.optimizer) == (100, "global")
    paper, _ = exp.parse_args(["--full", "--paper"])
    assert (paper.optimizer, paper.parametrization, paper.restarts, paper.refine, paper.epochs) == (
        "paper", "free", 1, 0, 100)
    c = exp.atom_centres(np.asarray(__import__("awd_jax").lowpass("db5")), 100, 4, "zero")
    assert [len(a) for a in c] == [14, 14, 20, 31, 54]


@pytest.mark.slow
def test_quick_preset_end_to_end(quick_preset):
    pytest.importorskip("sktime")
    pytest.importorskip("matplotlib")
    proc, tmp_path = quick_preset("spectra")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    with open(tmp_path / "spectra.json") as f:
        saved = json.load(f)
    for key in ("awd", "db5", "teacher", "awd_no_interp"):
        assert math.isfinite(saved["r2"][key])
        assert 0.0 < saved["r2_std"][key] < 1.0  # bootstrap std over the 43 test spectra
    for key in ("awd", "db5"):
        assert 0.0 <= saved["compression"][key] <= 1.0
    assert saved["preset"] == "quick" and saved["teacher"] in ("lstm", "cnn")
    for name in ("spectra_wavelet.png", "spectra_coefficients.png"):
        assert (tmp_path / name).stat().st_size > 0
