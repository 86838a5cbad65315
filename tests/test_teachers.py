import jax
import jax.numpy as jnp
import numpy as np
import pytest

from awd_jax.teachers import (
    CNN1D,
    MLP,
    LSTMRegressor,
    ResNet2D,
    train_teacher,
)
from awd_jax.metrics import r2 as r2_score


def test_mlp_learns_linear_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(330, 16)).astype(np.float32)
    y = x[:, 3] - 0.5 * x[:, 7]
    _variables, apply_fn = train_teacher(MLP(features=(16,)), x[:300], y[:300], epochs=30, batch_size=64,
                                        learning_rate=1e-2)
    pred = apply_fn(x[300:])
    assert pred.shape == (30, 1)
    assert r2_score(y[300:], pred) > 0.9
    # untrained teacher does much worse: the test can fail
    model = MLP(features=(16,))
    untrained = model.apply(model.init(jax.random.PRNGKey(0), x[:1]), x[300:])
    assert r2_score(y[300:], untrained) < 0.5


@pytest.mark.slow
def test_shapes():
    x = jnp.ones((3, 20))
    key = jax.random.PRNGKey(0)
    lstm = LSTMRegressor(hidden=5)
    v = lstm.init(key, x)
    np.testing.assert_allclose(lstm.apply(v, x), lstm.apply(v, x[:, None, :]), rtol=1e-6)
    assert lstm.apply(v, x).shape == (3, 1)
    with pytest.raises(ValueError, match="x: expected"):
        lstm.apply(v, jnp.ones((3, 2, 20)))
    cnn = CNN1D(features=(4,))
    assert cnn.apply(cnn.init(key, x), x).shape == (3, 1)
    assert cnn.apply(cnn.init(key, x[:, None]), x[:, None]).shape == (3, 1)
    res = ResNet2D(features=4, blocks=1, out=2)
    imgs = jnp.ones((2, 8, 8))
    assert res.apply(res.init(key, imgs), imgs).shape == (2, 2)


def test_train_teacher_partial_batch_and_errors():
    x = np.random.default_rng(1).normal(size=(37, 8, 8)).astype(np.float32)
    y = x.mean(axis=(1, 2))
    _variables, apply_fn = train_teacher(ResNet2D(features=4, blocks=1), x, y, epochs=2, batch_size=16)
    assert apply_fn(x).shape == (37, 1) and np.all(np.isfinite(apply_fn(x)))
    with pytest.raises(ValueError, match="y: expected 37"):
        train_teacher(MLP(), x, y[:5], epochs=1)


def test_r2_of_teacher_predictions():  # teachers return (n, 1); the one R² (awd_jax.metrics.r2) takes it
    y = np.array([1.0, 2.0, 3.0])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(3, 2.0)) == 0.0
    assert r2_score(y, y[:, None]) == 1.0
    with pytest.raises(ValueError, match="y_pred"):
        r2_score(y, y[:2])
