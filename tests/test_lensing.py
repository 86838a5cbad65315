"""Lensing case study: the lognormal map generator (fast) and experiments/lensing.py --quick (slow)."""

import importlib.util
import json
import math
import os
import sys

import numpy as np
import pytest

from awd_jax.data.lensing import LensingSpec, ell_grid, lognormal_maps, lognormal_spectrum, node_ells

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _need_jax_cosmo():
    from awd_jax.data.lensing import import_jax_cosmo

    try:
        import_jax_cosmo()
    except ImportError as err:
        pytest.skip(f"jax_cosmo not importable: {err}")


def _power_law(amplitude):
    return lambda ell: amplitude * (ell / 100.0) ** -1.2


def _maps(amplitude, n, seed, spec=LensingSpec()):
    cl_g, sigma2 = lognormal_spectrum(_power_law(amplitude), spec)
    return lognormal_maps(cl_g, sigma2, n, spec, np.random.default_rng(seed))


def test_geometry():
    spec = LensingSpec()
    ell = ell_grid(spec)
    assert ell.shape == (64, 64) and ell[0, 0] == 0.0
    assert ell[0, 1] == pytest.approx(2 * math.pi / math.radians(3.5))
    nodes = node_ells(spec)
    assert nodes[0] < ell[ell > 0].min() and nodes[-1] > ell.max()
    with pytest.raises(ValueError, match="npix"):
        LensingSpec(npix=2)
    with pytest.raises(ValueError, match="shift"):
        LensingSpec(shift=0.0)


def test_lognormal_maps_shapes_seeds_and_statistics():
    a = _maps(6e-9, 300, seed=1)
    assert a.shape == (300, 64, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a, _maps(6e-9, 300, seed=1))
    assert not np.array_equal(a, _maps(6e-9, 300, seed=2))
    # lognormal: mean ~ 0, bounded below by -shift, positively skewed
    assert abs(a.mean()) < 0.1 * a.std()
    assert a.min() > -0.02
    skew = ((a - a.mean()) ** 3).mean() / a.std() ** 3
    assert skew > 0.5
    # more power -> larger std
    assert _maps(9e-9, 300, seed=1).std() > a.std()


def test_lognormal_recovers_the_target_variance():
    spec = LensingSpec()
    cl_fn = _power_law(6e-9)
    ell = ell_grid(spec)
    target_var = np.sum(cl_fn(ell[ell > 0])) / (spec.pixel_rad**2 * spec.npix**2)
    maps = _maps(6e-9, 2000, seed=0)
    assert maps.var() == pytest.approx(target_var, rel=0.05)


@pytest.mark.slow  # jax-cosmo compiles angular_cl first: 20-50 s on 2 shared CPU cores
def test_jax_cosmo_maps_std_grows_with_omega_m():
    _need_jax_cosmo()
    from awd_jax.data.lensing import convergence_cl, simulate_lensing

    spec = LensingSpec(n_ell=16)
    cl = convergence_cl([0.25, 0.35], [100.0], spec)
    assert cl.shape == (2, 1) and 5e-9 < cl[0, 0] < cl[1, 0] < 1.2e-8
    cache = {}
    x, y = simulate_lensing([0.25, 0.35], 40, seed=3, spec=spec, cl_cache=cache)
    assert x.shape == (80, 64, 64) and y.shape == (80,)
    assert np.all(y[:40] == 0.25) and np.all(y[40:] == 0.35)
    assert set(cache) == {0.25, 0.35}
    assert x[y == 0.35].std() > x[y == 0.25].std()
    assert 0.008 < x[y == 0.25].std() < 0.02
    x2, _ = simulate_lensing([0.25, 0.35], 40, seed=3, spec=spec, cl_cache=cache)
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(ValueError, match="n_per_cosmology"):
        simulate_lensing([0.3], 0, spec=spec, cl_cache=cache)


def _load_experiment():
    path = os.path.join(ROOT, "experiments", "lensing.py")
    spec = importlib.util.spec_from_file_location("experiments_lensing", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_presets_and_cli():
    exp = _load_experiment()
    full = exp.PRESETS["full"]
    assert full.n_train >= 10_000 and full.n_val >= 1_000 and full.n_test >= 1_000
    assert len(full.omega_m) >= 10 and full.interpretation[0] == 0.0
    config, out = exp.parse_args([])
    assert config.preset == "quick" and out == "results"
    config, out = exp.parse_args(["--full", "--epochs", "2", "--out", "x"])
    assert (config.preset, config.epochs, out) == ("full", 2, "x")
    assert exp.per_cosmology(10_010, 11) == 910
    assert (full.optimizer, full.paper_epochs) == ("global", 5)
    paper, _ = exp.parse_args(["--full", "--paper", "--teacher-cache", "t.msgpack"])
    assert (paper.optimizer, paper.restarts, paper.epochs, paper.teacher_cache) == ("paper", 1, 5, "t.msgpack")


def test_teacher_cache_reuses_the_trained_weights_and_refuses_other_settings(tmp_path):
    import dataclasses

    exp = _load_experiment()
    config = dataclasses.replace(exp.PRESETS["quick"], teacher_epochs=1, teacher_batch_size=4,
                                 teacher_features=(2, 2))
    x = np.random.default_rng(0).normal(size=(8, 16, 16)).astype(np.float32)
    y = np.linspace(0.2, 0.4, 8).astype(np.float32)
    cache = str(tmp_path / "teacher.msgpack")
    trained, scaling = exp.train_resnet(config, x, y, cache)
    assert os.path.exists(cache) and os.path.exists(cache + ".json")
    # loaded, not retrained: other inputs would give another scaling and other weights
    loaded, scaling_again = exp.train_resnet(config, x[:4] * 3, y[:4], cache)
    assert scaling_again == scaling
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(trained(x)))
    with pytest.raises(ValueError, match=r"teacher_cache: .*\['teacher_epochs'\]"):
        exp.train_resnet(dataclasses.replace(config, teacher_epochs=2), x, y, cache)


@pytest.mark.slow
def test_quick_preset_end_to_end(quick_preset):
    _need_jax_cosmo()
    pytest.importorskip("matplotlib")
    proc, tmp_path = quick_preset("lensing")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    with open(tmp_path / "lensing.json") as f:
        saved = json.load(f)
    for key in ("awd", "laplace", "roberts", "db5", "raw", "teacher", "awd_no_interp"):
        assert math.isfinite(saved["rmse"][key]) and saved["rmse"][key] >= 0
        assert math.isfinite(saved["rmse_std"][key])
    for key in ("awd", "db5"):
        assert 0.0 <= saved["compression"][key] <= 1.0
    assert saved["preset"] == "quick"
    for name in ("lensing_kernels.png", "lensing_activation.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_peak_features_and_samples_equal_peak_counts():
    import jax.numpy as jnp

    from awd_jax.features import kernels_3x3, peak_counts, roberts_cross

    exp = _load_experiment()
    maps = _maps(6e-9, 30, seed=5)
    for kernels in (kernels_3x3("db5"), {"roberts": roberts_cross}, {"raw": None}):
        samples = exp.peak_samples(maps, kernels, batch=7)
        edges = exp.bin_edges(samples, 1.0, 22, raw="raw" in kernels)
        ours = exp.peak_features(maps, kernels, edges, batch=7)  # batched, float64
        ref = np.asarray(peak_counts(jnp.asarray(maps), kernels, [jnp.asarray(e, jnp.float32) for e in edges]))
        np.testing.assert_array_equal(ours, ref)
        # the peak values behind the bin edges are the ones peak_counts bins: np.histogram of them agrees
        direct = np.concatenate([
            np.stack([np.histogram(vals[rows == m], bins=np.asarray(e, np.float32))[0] for m in range(len(maps))])
            for (rows, vals), e in zip(samples, edges)], axis=1)
        np.testing.assert_array_equal(direct, ref)
