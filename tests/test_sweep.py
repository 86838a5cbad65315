import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from awd_jax import FitResult, SweepResult, fit, init_filter, load_result, sweep


def noisy_h0():
    return init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)


def data(n=40, length=32):
    return np.random.default_rng(0).normal(size=(n, length)).astype(np.float32)


KW = {"level": 2, "epochs": 2, "batch_size": 15, "learning_rate": 1e-2, "progress": False, "seed": 4}


def _check_cells_equal_fit(res, teacher, x, atol=1e-6):
    n_lam, n_gam = res.shape
    for i in range(n_lam):
        for j in range(n_gam):
            ref = fit(res.h0[i, j], teacher, x, sparsity=res.sparsity[i], interpretation=res.interpretation[j], **KW)
            np.testing.assert_allclose(res.h[i, j], ref.h, atol=atol, rtol=0)
            np.testing.assert_allclose(res.history["total"][i, j], ref.history["total"], rtol=1e-5)
            cell = res.cell(i, j)
            assert isinstance(cell, FitResult) and cell.epochs_run == ref.epochs_run
            np.testing.assert_array_equal(cell.h, res.h[i, j])


@pytest.mark.slow
def test_warm_start_chain_structure_and_cells(compile_counter):
    x = data()
    h0 = noisy_h0()
    res = sweep(h0, None, x, sparsity=[0.2, 0.0, 0.1], interpretation=[0.0, 1.0], **KW)
    assert isinstance(res, SweepResult)
    np.testing.assert_array_equal(res.sparsity, [0.0, 0.1, 0.2])  # sorted
    assert res.h.shape == (3, 2, 10) and res.history["total"].shape == (3, 2, 2)
    np.testing.assert_array_equal(res.h0[0, 0], np.asarray(h0))
    for i in range(1, 3):  # γ = 0 column walks up λ
        np.testing.assert_array_equal(res.h0[i, 0], res.h[i - 1, 0])
    for i in range(3):  # each λ walks up γ
        np.testing.assert_array_equal(res.h0[i, 1], res.h[i, 0])
    assert not res.diverged.any() and (res.epochs_run == 2).all()
    json.dumps(res.config)
    # one cell against fit run on its own (no teacher: quick)
    ref = fit(res.h0[2, 1], None, x, sparsity=0.2, interpretation=1.0, **KW)
    np.testing.assert_allclose(res.h[2, 1], ref.h, atol=1e-6, rtol=0)
    with pytest.raises(IndexError):
        res.cell(3, 0)
    # a second sweep (or fit) with the same static settings reuses the compiled program
    # (compilations counted with jax.monitoring's public duration events)
    h_other, h_cell = init_filter("sym5"), res.h0[2, 1] + 0.01
    before = compile_counter()
    sweep(h_other, None, x, sparsity=[0.2, 0.0, 0.1], interpretation=[0.0, 1.0], **KW)
    fit(h_cell, None, x, sparsity=0.2, interpretation=1.0, **KW)
    assert compile_counter() == before


def test_cold_start_every_cell_from_h0():
    x = data()
    h0 = noisy_h0()
    res = sweep(h0, None, x, sparsity=[0.0, 0.3], interpretation=[0.0], warm_start=False, **KW)
    for i in range(2):
        np.testing.assert_array_equal(res.h0[i, 0], np.asarray(h0))
    ref = fit(h0, None, x, sparsity=0.3, **KW)
    np.testing.assert_allclose(res.h[1, 0], ref.h, atol=1e-6, rtol=0)


def test_bad_grid():
    with pytest.raises(ValueError, match="sparsity"):
        sweep("db2", None, data(), sparsity=[-1.0], **KW)
    with pytest.raises(ValueError, match="interpretation"):
        sweep("db2", None, data(), interpretation=[], **KW)


def test_save_round_trips_through_the_results_file(tmp_path):
    res = sweep("db2", None, data(), sparsity=[0.0, 0.1], interpretation=[0.0], **KW)
    res.save(tmp_path / "s.npz")
    back = load_result(tmp_path / "s.npz")
    assert type(back) is type(res) and back.config == res.config
    for name in ("h", "h0", "sparsity", "interpretation", "diverged", "epochs_run"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))


@pytest.mark.slow
@pytest.mark.parametrize("warm_start", [True, False])
def test_sweep_equals_fit_cells_with_teacher(warm_start):
    x = data()
    w = np.random.default_rng(1).normal(size=(32,)).astype(np.float32) / 4
    teacher = lambda z: jnp.tanh(z @ w)
    res = sweep(noisy_h0(), teacher, x, sparsity=[0.05, 0.1], interpretation=[0.0, 0.5, 2.0],
                warm_start=warm_start, **KW)
    assert res.history["interpretation"][0, 1, 0] > 0
    _check_cells_equal_fit(res, teacher, x)


def test_select_cell():
    from awd_jax.sweep import select_cell

    assert select_cell(np.array([[3.0, np.nan], [1.0, 2.0]])) == (1, 0)  # lowest finite; NaN never wins
    scores = np.array([[0.1, 0.5], [0.3, np.nan]])
    assert select_cell(scores, maximize=True) == (0, 1)
    assert select_cell(scores, maximize=True, columns=[0]) == (1, 0)
    assert select_cell(np.array([[1.0, 1.0]])) == (0, 0)  # first on ties
    with pytest.raises(ValueError, match="scores: no finite score"):
        select_cell(np.array([[np.nan, np.inf]]))
    with pytest.raises(ValueError, match="scores: no finite score"):
        select_cell(np.array([[1.0, np.nan]]), columns=[1])
    with pytest.raises(ValueError, match="scores: expected a 2-D"):
        select_cell(np.ones(3))
    with pytest.raises(ValueError, match="columns: expected indices"):
        select_cell(np.ones((2, 2)), columns=[2])
