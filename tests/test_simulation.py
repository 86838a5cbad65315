"""The simulation experiment (experiments/simulation.py): fast unit checks and one slow end-to-end run."""

import importlib.util
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_experiment():
    path = os.path.join(ROOT, "experiments", "simulation.py")
    spec = importlib.util.spec_from_file_location("experiments_simulation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sim = _load_experiment()


def test_presets_and_cli_overrides():
    full = sim.PRESETS["full"]
    assert (full.n_train, full.n_test, full.paper_epochs, full.teacher_epochs) == (50_000, 5_000, 50, 20)
    # the default optimiser: lattice angles, several starts per cell, an L-BFGS finish
    assert (full.parametrization, full.optimizer) == ("lattice", "global") and full.restarts > 1 and full.refine > 0
    paper, _ = sim.parse_args(["--full", "--paper"])
    assert (paper.optimizer, paper.parametrization, paper.restarts, paper.refine, paper.epochs) == (
        "paper", "free", 1, 0, 50)
    assert sim.parse_args(["--full", "--paper", "--epochs", "3"])[0].epochs == 3  # an explicit option wins
    assert full.sparsity == (1e-5, 2e-5, 3e-5, 6e-5, 1e-4)
    assert len(full.interpretation) == 21 and full.interpretation[0] == 0.0
    np.testing.assert_allclose(full.interpretation[1:], np.geomspace(1e-5, 50, 20))
    config, out = sim.parse_args([])
    assert config.preset == "quick" and out == "results"
    with pytest.raises(SystemExit):  # the process-wide JIT cache flag is gone: sweep reuses its programs
        sim.parse_args(["--no-compile-cache"])
    config, out = sim.parse_args(["--full", "--n", "123", "--epochs", "2", "--out", "x", "--interpretation", "0,1"])
    got = (config.preset, config.n_train, config.epochs, config.interpretation, out)
    assert got == ("full", 123, 2, (0.0, 1.0), "x")
    with pytest.raises(SystemExit):
        sim.parse_args(["--quick", "--full"])
    assert sim.parse_args([])[0].warm_start is True
    assert sim.parse_args(["--cold-start"])[0].warm_start is False
    assert sim.parse_args([])[0].teacher == "mlp"
    assert sim.parse_args(["--teacher", "exact"])[0].teacher == "exact"


def test_objective_terms_rank_db5_first_for_the_ideal_teacher():
    # the exact teacher of the simulation: y = 2 (cD3[7] + cD3[8] + cD3[9]) in db5
    import dataclasses

    import jax.numpy as jnp

    from awd_jax.data import simulate
    from awd_jax.objective import awd_loss

    x, y = simulate(200, seed=3)
    config = dataclasses.replace(sim.PRESETS["quick"], teacher="exact")
    teacher = sim.train_simulation_teacher(config, x, y)
    np.testing.assert_allclose(np.asarray(teacher(jnp.asarray(x)))[:, 0], y, atol=0.5)  # y adds 0.1 noise
    with pytest.raises(ValueError, match="teacher"):
        sim.train_simulation_teacher(dataclasses.replace(config, teacher="cnn"), x, y)
    got = {name: sim.objective_terms(name, x, teacher, config, 1e-5, 1.0) for name in ("db5", "sym5", "coif2")}
    for name, terms in got.items():
        assert set(terms) == {"total", "rec", "lsum", "hsum", "l2norm", "cmf", "conv", "sparsity", "interpretation"}
        total, ref = awd_loss(jnp.asarray(sim.initial_filter(name, noise=0.0, seed=0)), teacher, jnp.asarray(x),
                              level=4, mode="zero", sparsity=1e-5, interpretation=1.0)
        assert terms["total"] == pytest.approx(float(total), rel=1e-5)
        assert terms["interpretation"] == pytest.approx(float(ref.interpretation), rel=1e-5)
    # db5 carries the response on three coefficients: its attributions are the sparsest
    assert got["db5"]["interpretation"] < 0.6 * min(got["sym5"]["interpretation"], got["coif2"]["interpretation"])
    assert got["db5"]["total"] < min(got["sym5"]["total"], got["coif2"]["total"])


def test_aligned_psi_matches_wavelet_distance():
    from awd_jax.wavefun import wavelet_distance

    for name in ("sym5", "coif2", "db5"):
        psi, ref, x = sim.aligned_psi(name, "db5")
        assert psi.shape == ref.shape == x.shape
        assert np.linalg.norm(psi - ref) == pytest.approx(float(wavelet_distance(name, "db5")), abs=1e-4)


def test_initial_filter_and_selection():
    h = np.asarray(sim.initial_filter("db5+noise", noise=0.3, seed=0))
    assert h.shape == (10,)
    np.testing.assert_array_equal(h, np.asarray(sim.initial_filter("db5+noise", noise=0.3, seed=0)))
    with pytest.raises(ValueError, match="inits"):
        sim.initial_filter("db5+foo", noise=0.3, seed=0)


@pytest.mark.slow
def test_quick_preset_end_to_end(quick_preset):
    proc, tmp_path = quick_preset("simulation")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "d(psi_AWD, db5)" in proc.stdout
    with open(tmp_path / "simulation.json") as f:
        saved = json.load(f)
    assert (tmp_path / "simulation.png").stat().st_size > 0
    for key in ("teacher_r2", "seconds", "runs", "preset", "config"):
        assert key in saved
    assert saved["preset"] == "quick"
    assert saved["teacher_r2"] > 0.9
    assert [r["init"] for r in saved["runs"]] == ["db5+noise", "sym5", "coif2"]
    for run in saved["runs"]:
        for key in ("init", "distance_initial", "distance_final", "sparsity", "interpretation"):
            assert key in run
        assert run["distance_final"] < run["distance_initial"], run["init"]
        assert run["filter_distance_final"] < run["filter_distance_initial"], run["init"]
        assert np.isfinite(run["objective_final"]["total"]) and np.isfinite(run["objective_target"]["total"])
        # the default optimiser reaches db5 from every start (docs/method.md#optimiser)
        assert run["distance_final"] <= 0.1 * run["distance_initial"], run["init"]
        assert run["objective_final"]["total"] <= 1.01 * run["objective_target"]["total"], run["init"]
    assert saved["config"]["optimizer"] == "global" and saved["config"]["restarts"] > 1
    assert "loss AWD" in proc.stdout
