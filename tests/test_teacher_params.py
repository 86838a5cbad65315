"""Traced teacher parameters: ``teacher_fn(teacher_params, x)`` in awd_loss, attributions, fit and sweep.

The parameters are an argument of the compiled programs, not constants: a second call
with other parameters of the same shapes compiles nothing (counted with
``jax.monitoring``'s public compile events), and the numbers equal the closure form.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import awd_jax

KW = dict(level=3, mode="zero", batch_size=20, epochs=2, progress=False, seed=0)


class _Linen(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(jnp.tanh(nn.Dense(8)(x)))


class _Nnx(nnx.Module):
    def __init__(self, rngs):
        self.a = nnx.Linear(32, 8, rngs=rngs)
        self.b = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.b(jnp.tanh(self.a(x)))


def _data(n=40, length=32):
    return np.asarray(jax.random.normal(jax.random.PRNGKey(1), (n, length)), np.float32)


def test_awd_loss_and_attributions_equal_the_closure():
    x = _data()
    model = _Linen()
    variables = model.init(jax.random.PRNGKey(0), x)
    h = awd_jax.lowpass("db3")
    with_params = awd_jax.awd_loss(h, model.apply, x, level=3, interpretation=0.5, teacher_params=variables)
    closure = awd_jax.awd_loss(h, lambda z: model.apply(variables, z), x, level=3, interpretation=0.5)
    np.testing.assert_allclose(with_params[0], closure[0], rtol=1e-6)
    a = awd_jax.attributions(h, model.apply, x, level=3, teacher_params=variables)
    b = awd_jax.attributions(h, lambda z: model.apply(variables, z), x, level=3)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-6)


def test_linen_fit_with_new_parameters_compiles_nothing(compile_counter):
    x = _data()
    model = _Linen()
    v1 = model.init(jax.random.PRNGKey(0), x)
    v2 = model.init(jax.random.PRNGKey(5), x)  # a "retrained" teacher: same shapes, new values
    first = awd_jax.fit("db3", model.apply, x, interpretation=0.1, teacher_params=v1, **KW)
    before = compile_counter()
    second = awd_jax.fit("db3", model.apply, x, interpretation=0.1, teacher_params=v2, **KW)
    assert compile_counter() == before, "new teacher parameters recompiled the program"
    assert not np.allclose(first.h, second.h)  # the parameters are really used
    closure = awd_jax.fit("db3", lambda z: model.apply(v2, z), x, interpretation=0.1, **KW)
    np.testing.assert_allclose(second.h, closure.h, rtol=1e-5, atol=1e-7)


def test_nnx_split_state_as_parameters(compile_counter):
    x = _data()
    graphdef, s1 = nnx.split(_Nnx(nnx.Rngs(0)))
    _, s2 = nnx.split(_Nnx(nnx.Rngs(3)))

    def teacher_fn(state, z):
        return nnx.merge(graphdef, state)(z)

    grid = dict(sparsity=[0.0, 1e-3], interpretation=[0.0, 0.1])
    kw = {k: v for k, v in KW.items()}
    a = awd_jax.sweep("db3", teacher_fn, x, teacher_params=s1, **grid, **kw)
    before = compile_counter()
    b = awd_jax.sweep("db3", teacher_fn, x, teacher_params=s2, **grid, **kw)
    assert compile_counter() == before
    assert a.h.shape == b.h.shape == (2, 2, 6)
    ref = awd_jax.fit(b.h0[1, 1], teacher_fn, x, sparsity=1e-3, interpretation=0.1, teacher_params=s2, **KW)
    np.testing.assert_allclose(b.h[1, 1], ref.h, rtol=1e-5, atol=1e-6)


def test_parameters_reach_the_teacher_check():
    x = _data()
    model = _Linen()
    variables = model.init(jax.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="teacher_fn"):
        awd_jax.fit("db3", lambda p, z: model.apply(p, z)[:, 0][None], x, interpretation=0.1,
                    teacher_params=variables, **KW)
