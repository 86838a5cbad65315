"""The optimiser beyond the paper's: lattice training, restarts, the L-BFGS finish (docs/method.md#optimiser)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import awd_jax
from awd_jax import _engine
from awd_jax.data import simulate, simulation_target
from awd_jax.filters import lattice_angles, lattice_free_filter, lowpass
from awd_jax.penalties import penalties
from awd_jax.wavefun import wavelet_distance


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def _tanh_teacher(dtype):
    """A smooth two-output teacher (its Hessian does not vanish), params traced."""
    rng = np.random.default_rng(0)
    params = {"w1": jnp.asarray(rng.normal(size=(32, 8)) / 5, dtype), "w2": jnp.asarray(rng.normal(size=(8, 2)), dtype)}
    return params, lambda p, x: jnp.tanh(x @ p["w1"]) @ p["w2"]


def _exact_teacher(x):
    return simulation_target(x, level=4, mode="zero")[:, None]


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "integrated_gradients"])
def test_cached_gradients_give_the_objective_value_for_any_filter(x64, method):
    params, teacher = _tanh_teacher(jnp.float64)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(12, 32)))
    h = jnp.asarray(lowpass("db3")) + 0.05 * jnp.sin(jnp.arange(6.0))  # not orthogonal
    obj = awd_jax.Objective(level=3, method=method, target=1, steps=4)
    cfg = _engine.make_config(teacher, x, obj, interpretation_on=True, optimizer=None, learning_rate=1e-3,
                              batch_size=5, epochs=1, shuffle=False, teacher_params=params)
    grads = _engine.input_gradients(cfg, params, x)
    want = awd_jax.awd_loss(h, teacher, x, obj, sparsity=0.1, interpretation=2.0, teacher_params=params)[0]
    got = _engine.objective_value(h, x, grads, 0.1, 2.0, cfg)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_cached_gradients_give_the_gradient_on_the_lattice(x64):
    params, teacher = _tanh_teacher(jnp.float64)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(10, 32)))
    obj = awd_jax.Objective(level=3, target=0)
    cfg = _engine.make_config(teacher, x, obj, interpretation_on=True, optimizer=None, learning_rate=1e-3,
                              batch_size=10, epochs=1, shuffle=False, teacher_params=params,
                              parametrization="lattice")
    grads = _engine.input_gradients(cfg, params, x)
    angles = jnp.asarray([0.3, -0.7])
    real = jax.grad(lambda a: _engine._loss(a, x, None, 0.1, 2.0, params, cfg)[0])(angles)
    cached = jax.grad(lambda a: _engine.objective_value(a, x, grads, 0.1, 2.0, cfg))(angles)
    np.testing.assert_allclose(cached, real, rtol=1e-9, atol=1e-12)


def test_lattice_objective_gradient_matches_finite_differences(x64):
    params, teacher = _tanh_teacher(jnp.float64)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(6, 32)))
    cfg = _engine.make_config(teacher, x, awd_jax.Objective(level=3), interpretation_on=True, optimizer=None,
                              learning_rate=1e-3, batch_size=6, epochs=1, shuffle=False, teacher_params=params,
                              parametrization="lattice")
    loss = lambda a: _engine._loss(a, x, None, 0.2, 1.5, params, cfg)[0]
    a = jnp.asarray([0.4, 0.1])
    for fn in (loss, jax.jit(loss)):
        g = jax.grad(fn)(a)
        eps = 1e-6
        fd = [(fn(a.at[i].add(eps)) - fn(a.at[i].add(-eps))) / (2 * eps) for i in range(a.size)]
        np.testing.assert_allclose(g, np.asarray(fd), rtol=1e-6, atol=1e-9)


def _sim(n=400, seed=0):
    x, _ = simulate(n, seed=seed)
    return jnp.asarray(x, jnp.float32)


KW = dict(sparsity=1e-5, interpretation=1.0, epochs=2, batch_size=100, progress=False)


def test_lattice_fit_keeps_every_filter_orthogonal():
    x = _sim()
    seen = []
    res = awd_jax.fit("db5", _exact_teacher, x, parametrization="lattice", learning_rate=5e-3,
                      callback=lambda e, h, t: seen.append(h), **KW)
    assert res.config["parametrization"] == "lattice"
    for h in seen + [res.h]:
        pen = penalties(jnp.asarray(h))
        assert max(float(v) for v in pen) < 1e-10, pen
    for k in ("lsum", "hsum", "l2norm", "cmf", "conv"):
        assert np.all(res.history[k] < 1e-10), (k, res.history[k])
    assert not np.allclose(res.h, lowpass("db5"), atol=1e-4)  # it trained


def test_lattice_start_is_the_nearest_orthogonal_filter():
    x = _sim(200)
    noisy = np.asarray(lowpass("db5")) + 0.05 * np.random.default_rng(0).normal(size=10)
    res = awd_jax.fit(noisy, None, x, parametrization="lattice", epochs=0, progress=False)
    h0 = np.asarray(res.config["h0"])
    assert np.max(np.abs(np.asarray(penalties(jnp.asarray(h0))))) < 1e-10
    assert np.linalg.norm(h0 - noisy) <= np.linalg.norm(np.asarray(lowpass("db5")) - noisy) + 1e-6


def test_lattice_needs_an_even_filter():
    with pytest.raises(ValueError, match="h0: expected an even filter length N >= 2.*got N = 5"):
        awd_jax.fit(np.ones(5) / np.sqrt(5), None, _sim(100), parametrization="lattice", epochs=1, progress=False)
    with pytest.raises(ValueError, match="parametrization: expected one of"):
        awd_jax.fit("db2", None, _sim(100), parametrization="angles", epochs=1, progress=False)


@pytest.mark.parametrize("bad, match", [(0, "restarts: expected an int >= 1"), (2.5, "restarts"), (True, "restarts")])
def test_restarts_validated(bad, match):
    with pytest.raises(ValueError, match=match):
        awd_jax.fit("db2", None, _sim(100), restarts=bad, progress=False)


def test_refine_and_search_validated():
    with pytest.raises(ValueError, match="refine: expected an int >= 0"):
        awd_jax.fit("db2", None, _sim(100), refine=-1, progress=False)
    with pytest.raises(ValueError, match="search: unknown setting"):
        awd_jax.fit("db2", None, _sim(100), restarts=2, search={"candidate": 3}, progress=False)
    with pytest.raises(ValueError, match="restarts: callback and checkpoint_dir"):
        awd_jax.fit("db2", None, _sim(100), restarts=2, callback=lambda *a: None, progress=False)


SMALL = {"candidates": 512, "descend": 16, "descend_steps": 20, "screen_samples": 32, "descend_samples": 128}


@pytest.mark.parametrize("parametrization", ["free", "lattice"])
def test_restart_zero_is_the_plain_fit_and_the_best_is_kept(parametrization):
    x = _sim()
    plain = awd_jax.fit("sym5", _exact_teacher, x, parametrization=parametrization, **KW)
    many = awd_jax.fit("sym5", _exact_teacher, x, parametrization=parametrization, restarts=3, search=SMALL, **KW)
    assert many.starts.shape == (3, 10) and many.objectives.shape == (3,)
    np.testing.assert_allclose(many.starts[0], plain.config["h0"], atol=1e-7)
    # start 0's chain is the plain fit: its objective (exact value, real teacher) is objectives[0]
    want = awd_jax.awd_loss(plain.h, _exact_teacher, x, sparsity=KW["sparsity"], interpretation=KW["interpretation"])[0]
    np.testing.assert_allclose(many.objectives[0], float(want), rtol=2e-4)
    assert many.objectives[many.best_start] == many.objectives.min()
    assert many.objectives.min() <= many.objectives[0]
    got = awd_jax.awd_loss(many.h, _exact_teacher, x, sparsity=KW["sparsity"], interpretation=KW["interpretation"])[0]
    np.testing.assert_allclose(float(got), many.objective, rtol=2e-4)
    assert many.config["restarts"] == 3


def test_refine_never_raises_the_objective_and_lowers_it_here():
    x = _sim()
    res = awd_jax.fit("sym5", _exact_teacher, x, parametrization="lattice", refine=10, **KW)
    assert res.objectives.shape == (1,)
    assert res.objectives[0] <= res.objectives_before_refine[0]
    assert res.objectives[0] < res.objectives_before_refine[0] - 1e-6
    got = awd_jax.awd_loss(res.h, _exact_teacher, x, sparsity=KW["sparsity"], interpretation=KW["interpretation"])[0]
    np.testing.assert_allclose(float(got), res.objective, rtol=2e-4)


def test_refine_guard_keeps_the_start_when_it_cannot_improve():
    x = _sim(200)
    cfg = _engine.make_config(None, x, awd_jax.Objective(), interpretation_on=False, optimizer=None,
                              learning_rate=1e-3, batch_size=100, epochs=1, shuffle=False, parametrization="lattice")
    g = jnp.zeros_like(x)
    a = jnp.asarray(lattice_angles(lowpass("db5"))[:-1], jnp.float32)
    out, before, after = _engine.refine(a, x, g, jnp.float32(1e-5), jnp.float32(0.0), cfg, 0)
    np.testing.assert_array_equal(out, a)
    assert float(after) == float(before)
    # a non-finite objective (λ = NaN) is never accepted
    out, before, after = _engine.refine(a, x, g, jnp.float32(np.nan), jnp.float32(0.0), cfg, 3)
    np.testing.assert_array_equal(out, a)


def test_restarts_save_and_load(tmp_path):
    x = _sim(200)
    res = awd_jax.fit("db5", _exact_teacher, x, parametrization="lattice", restarts=2, search=SMALL, **KW)
    res.save(tmp_path / "r.npz")
    back = awd_jax.load_result(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.objectives, res.objectives)
    np.testing.assert_array_equal(back.starts, res.starts)
    assert back.best_start == res.best_start


def test_sweep_with_restarts_reports_each_cell():
    x = _sim(200)
    res = awd_jax.sweep("sym5", _exact_teacher, x, sparsity=[1e-5], interpretation=[0.0, 1.0], epochs=1,
                        progress=False, parametrization="lattice", restarts=2, refine=3, search=SMALL)
    assert res.h.shape == (1, 2, 10) and res.objectives.shape == (1, 2, 2) and res.starts.shape == (1, 2, 2, 10)
    cell = res.cell(0, 1)
    assert cell.objectives.shape == (2,) and cell.objective == cell.objectives.min()
    np.testing.assert_allclose(res.h0[0, 1], res.starts[0, 1, res.best_start[0, 1]])
    # warm start: start 0 of cell (0, 1) is cell (0, 0)'s result
    np.testing.assert_allclose(res.starts[0, 1, 0], res.h[0, 0], atol=1e-6)
    for i, j in np.ndindex(1, 2):
        assert np.all(res.objectives[i, j] <= res.objectives_before_refine[i, j])


@pytest.mark.slow
def test_restarts_find_db5_from_sym5_with_the_exact_teacher():
    """db5's basin is narrow and far from sym5 (the paper's optimiser stays at sym5)."""
    x = _sim(2000)
    res = awd_jax.fit("sym5", _exact_teacher, x, parametrization="lattice", restarts=4, refine=30,
                      sparsity=1e-5, interpretation=1.0, epochs=3, progress=False)
    d = float(wavelet_distance(res.h, "db5"))
    assert d < 0.1 * float(wavelet_distance("sym5", "db5")), d
    db5 = awd_jax.awd_loss("db5", _exact_teacher, x, sparsity=1e-5, interpretation=1.0)[0]
    assert res.objective <= 1.01 * float(db5)


def test_lattice_free_filter_is_what_fit_trains():
    a = jnp.asarray([0.2, -0.4, 0.9, 0.1])
    np.testing.assert_allclose(_engine.to_filter(a, "lattice"), lattice_free_filter(a))
    np.testing.assert_array_equal(_engine.to_filter(a, "free"), a)


def test_free_single_start_is_the_papers_fit(x64):
    """``parametrization="free"``, ``restarts=1``, ``refine=0`` is the plain fit, step for step
    (which ``tests/test_fit.py::test_partial_last_batch_is_exact`` checks against an explicit loop)."""
    x = np.random.default_rng(4).normal(size=(25, 24))
    h0 = awd_jax.init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3, dtype=jnp.float64)
    kw = dict(level=2, sparsity=0.05, epochs=2, batch_size=10, learning_rate=1e-2, progress=False, seed=3)
    plain = awd_jax.fit(h0, None, x, **kw)
    explicit = awd_jax.fit(h0, None, x, parametrization="free", restarts=1, refine=0, **kw)
    np.testing.assert_array_equal(explicit.h, plain.h)
    for k in plain.history:
        np.testing.assert_array_equal(explicit.history[k], plain.history[k])
    assert explicit.starts is None and explicit.objectives is None
