import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import awd_jax as awd
from awd_jax import FitResult, awd_loss, fit, init_filter, lowpass


def noisy_h0(dtype=jnp.float32):
    return init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3, dtype=dtype)


def data(n=60, length=32, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=(n, length)).astype(dtype)


def test_short_fit_lowers_loss():
    x = data()
    res = fit(noisy_h0(), None, x, level=2, sparsity=0.1, epochs=6, batch_size=20, learning_rate=1e-2,
              progress=False)
    assert isinstance(res, FitResult)
    assert res.epochs_run == 6 and not res.diverged
    total = res.history["total"]
    assert total.shape == (6,) and total[-1] < 0.8 * total[0]
    assert set(res.history) == set(awd.LossTerms._fields) | {"total"}
    assert res.h.shape == (10,) and res.h.dtype == np.float32
    json.dumps(res.config)
    assert res.config["batch_size"] == 20 and res.config["sparsity"] == 0.1
    w = res.to_pywt()
    np.testing.assert_allclose(w.rec_lo, res.h, rtol=1e-6)


def test_partial_last_batch_is_exact(x64):
    """n = 25, batch 10: batches of 10, 10 and 5 — compare with an explicit loop."""
    x = data(25, 24, dtype=np.float64)
    h0 = noisy_h0(jnp.float64)
    kw = {"level": 2, "sparsity": 0.05}
    res = fit(h0, None, x, epochs=2, batch_size=10, learning_rate=1e-2, progress=False, seed=3, **kw)
    opt = optax.adam(1e-2)
    h, state = h0, opt.init(h0)
    vg = jax.jit(jax.value_and_grad(lambda h, xb: awd_loss(h, None, xb, **kw)[0]))
    key = jax.random.PRNGKey(3)
    for epoch in range(2):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), 25))
        losses = []
        for start in range(0, 25, 10):
            loss, g = vg(h, x[perm[start:start + 10]])
            losses.append(float(loss))
            upd, state = opt.update(g, state, h)
            h = optax.apply_updates(h, upd)
        np.testing.assert_allclose(res.history["total"][epoch], np.mean(losses), rtol=1e-10)
    np.testing.assert_allclose(res.h, h, rtol=1e-10, atol=1e-12)


def test_full_batch_and_h0_by_name():
    x = data(30)
    res = fit("db4", None, x, level=2, epochs=2, batch_size=None, progress=False)
    assert res.config["batch_size"] == 30 and res.h.shape == (8,)
    # at an orthogonal filter with no sparsity, the loss is already ~0 and h barely moves
    assert res.history["total"][0] < 1e-6


def test_callback_and_early_stop():
    seen = []

    def cb(epoch, h, terms):
        seen.append((epoch, h.shape, terms["total"]))
        return epoch == 1

    res = fit(noisy_h0(), None, data(), level=2, epochs=5, batch_size=30, progress=False, callback=cb)
    assert res.epochs_run == 2 and len(res.history["total"]) == 2
    assert [s[0] for s in seen] == [0, 1] and seen[0][1] == (10,)


def test_progress_bar_shows_the_epoch_loss(capsys):
    res = fit(noisy_h0(), None, data(), level=2, epochs=2, batch_size=30, progress=True)
    err = capsys.readouterr().err
    assert "awd fit" in err and "/2" in err  # tqdm's bar on stderr, over the 2 epochs
    assert f"loss={res.history['total'][0]:.4g}" in err  # it shows each epoch's loss
    fit(noisy_h0(), None, data(), level=2, epochs=1, batch_size=30, progress=False)
    assert capsys.readouterr().err == ""


def test_divergence_keeps_last_finite_filter():
    with pytest.warns(RuntimeWarning, match="non-finite"):
        res = fit(noisy_h0(), None, data(), level=2, epochs=4, batch_size=20, optimizer=optax.sgd(1e25),
                  progress=False)
    assert res.diverged
    assert np.all(np.isfinite(res.h))
    assert res.epochs_run <= 4 and not np.isfinite(res.history["total"][-1])


def test_nan_teacher_diverges():
    x = data()
    teacher = lambda z: jnp.sqrt(z[:, 0] - 100.0)
    with pytest.warns(RuntimeWarning, match="last finite filter"):
        res = fit(noisy_h0(), teacher, x, level=2, interpretation=1.0, epochs=3, batch_size=30, progress=False)
    assert res.diverged and res.epochs_run == 1
    np.testing.assert_array_equal(res.h, np.asarray(noisy_h0()))


def test_fit_with_teacher_and_2d():
    imgs = np.random.default_rng(0).normal(size=(8, 12, 12)).astype(np.float32)
    teacher = lambda z: jnp.sum(jnp.tanh(z), axis=(1, 2))
    res = fit(lowpass("db2"), teacher, imgs, level=1, dims=2, interpretation=0.5, sparsity=0.1, epochs=2,
              batch_size=4, progress=False)
    assert res.history["interpretation"].shape == (2,) and res.history["interpretation"][0] > 0
    assert res.h.shape == (4,)


def test_save_round_trips_through_the_results_file(tmp_path):
    res = fit("db2", None, data(10, 16), level=1, epochs=2, batch_size=None, progress=False)
    res.save(tmp_path / "r.npz")
    back = awd.load_result(tmp_path / "r.npz")
    assert type(back) is type(res) and back.config == res.config and back.epochs_run == 2
    np.testing.assert_array_equal(back.h, res.h)
    for k in res.history:
        np.testing.assert_array_equal(back.history[k], res.history[k])


def test_bad_inputs():
    x = data(20)
    h0 = noisy_h0()
    kw = {"level": 2, "epochs": 1, "progress": False}
    with pytest.raises(ValueError, match=r"data: expected at least 2 dimensions"):
        fit(h0, None, x[0], **kw)
    with pytest.raises(ValueError, match=r"data: expected at least 3 dimensions"):
        fit(h0, None, x, dims=2, **kw)
    bad = x.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="data: expected finite"):
        fit(h0, None, bad, **kw)
    with pytest.raises(ValueError, match=r"teacher_fn: expected an output of shape"):
        fit(h0, lambda z: z[:, :, None], x, interpretation=1.0, **kw)
    with pytest.raises(ValueError, match=r"teacher_fn: .*received shape \(\)"):
        fit(h0, lambda z: jnp.sum(z), x, interpretation=1.0, **kw)
    with pytest.raises(ValueError, match="target"):
        fit(h0, lambda z: z[:, :3], x, target=3, interpretation=1.0, **kw)
    with pytest.raises(ValueError, match="method"):
        fit(h0, None, x, method="gradcam", **kw)
    with pytest.raises(ValueError, match="batch_size"):
        fit(h0, None, x, batch_size=0, **kw)
    with pytest.raises(TypeError, match="optimizer"):
        fit(h0, None, x, optimizer="adam", **kw)
    with pytest.raises(ValueError, match="level"):
        fit(h0, None, x, level=-1, epochs=1, progress=False)
