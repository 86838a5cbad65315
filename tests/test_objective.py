import jax
import jax.numpy as jnp
import numpy as np
import pytest
import pywt

import awd_jax as awd
from awd_jax import attributions, awd_loss, lowpass, to_pywt
from awd_jax.objective import LossTerms, Weights

METHODS = ("saliency", "input_x_gradient", "integrated_gradients")


def spec_signals():
    t = np.arange(40.0)
    x = np.stack([np.sin(0.3 * t) + 0.05 * t - 1, np.cos(0.5 * t)])
    w = np.cos(0.1 * t)
    return x, w


def perturbed():
    return lowpass("db5") + 0.05 * np.sin(np.arange(10))


def small_mlp(length, key=0, dtype=jnp.float64):
    """A smooth nonlinear teacher (B, L) -> (B, 2), so the interpretation term has a Hessian."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(key))
    w1 = jax.random.normal(k1, (length, 6), dtype) / np.sqrt(length)
    w2 = jax.random.normal(k2, (6, 2), dtype)
    return lambda z: jnp.tanh(z @ w1) @ w2


# --------------------------------------------------------------------------- docs/method.md#trim-attributions values


@pytest.mark.parametrize(
    "h_kind, method, want",
    [
        ("db5", "saliency", 2.9901328702),
        ("db5", "input_x_gradient", 2.0857864022),
        ("perturbed", "saliency", 3.6152239506),
        ("perturbed", "input_x_gradient", 3.0581025463),
    ],
)
def test_linear_teacher_spec_values(x64, h_kind, method, want):
    x, w = spec_signals()
    h = jnp.asarray(lowpass("db5") if h_kind == "db5" else perturbed())
    teacher = lambda z: z @ w
    _, terms = awd_loss(h, teacher, x, level=4, interpretation=1.0, method=method)
    np.testing.assert_allclose(float(terms.interpretation), want, rtol=1e-9)
    attr = attributions(h, teacher, x, level=4, method=method)
    manual = sum(float(jnp.abs(a).sum()) for a in attr) / 5 / 2
    np.testing.assert_allclose(manual, want, rtol=1e-9)


def test_saliency_of_linear_teacher_is_adjoint_of_waverec(x64):
    """For f(x) = w·x, saliency = J_waverec^T w: compare against an explicit Jacobian."""
    x, w = spec_signals()
    h = jnp.asarray(perturbed())
    attr = attributions(h, lambda z: z @ w, x, level=2)
    coeffs = awd.wavedec(x, h, mode="zero", level=2)
    jac = jax.jacobian(lambda c: awd.waverec(c, h, mode="zero", length=40) @ w)(coeffs)  # d(f_b)/dc per array
    for a, j in zip(attr, jac):
        # j: (B, B, n) — sample b's output wrt sample b' coefficients; diagonal wanted
        np.testing.assert_allclose(a, np.einsum("bbn->bn", j), rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_ig_value_equals_input_x_gradient_with_residual(x64):
    x, _ = spec_signals()
    f = small_mlp(40)
    h = jnp.asarray(perturbed())
    ig = jax.jit(lambda h: attributions(h, f, x, level=3, method="integrated_gradients", steps=7, target=1))(h)
    ixg = jax.jit(lambda h: attributions(h, f, x, level=3, method="input_x_gradient", target=1))(h)
    for a, b in zip(ig, ixg):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # ...but their derivatives with respect to h differ (the teacher's Hessian enters)
    g_ig = jax.jit(jax.grad(lambda h: awd_loss(h, f, x, level=3, interpretation=1.0, method="integrated_gradients",
                                       steps=7, target=1)[0]))(h)
    g_ixg = jax.jit(jax.grad(lambda h: awd_loss(h, f, x, level=3, interpretation=1.0, method="input_x_gradient",
                                        target=1)[0]))(h)
    assert np.max(np.abs(g_ig - g_ixg)) > 1e-8


# --------------------------------------------------------------------------- structure


def test_attribution_shapes_1d_odd_length_and_leading_dims():
    x = np.random.default_rng(0).normal(size=(3, 2, 37)).astype(np.float32)
    teacher = lambda z: jnp.sum(jnp.sin(z), axis=(1, 2))
    h = lowpass("db2")
    for method in METHODS:
        attr = attributions(h, teacher, x, level=3, method=method, steps=4)
        coeffs = awd.wavedec(x, h, mode="zero", level=3)
        assert [a.shape for a in attr] == [c.shape for c in coeffs]
        assert all(a.dtype == jnp.float32 for a in attr)


def test_attribution_shapes_2d():
    x = np.random.default_rng(0).normal(size=(2, 13, 16)).astype(np.float32)
    teacher = lambda z: jnp.stack([jnp.sum(z**2, axis=(1, 2)), jnp.sum(z, axis=(1, 2))], 1)
    h = lowpass("db2")
    attr = attributions(h, teacher, x, level=2, dims=2, method="input_x_gradient", target=0)
    coeffs = awd.wavedec2(x, h, mode="zero", level=2)
    assert attr[0].shape == coeffs[0].shape
    for a, c in zip(attr[1:], coeffs[1:]):
        assert isinstance(a, (tuple, list)) and len(a) == 3
        assert [b.shape for b in a] == [b.shape for b in c]
    # teacher = Σ x²: at db2 (perfect reconstruction) input×gradient = c ⊙ 2·J^T x = 2 c² (orthogonal)
    for a, c in zip(jax.tree_util.tree_leaves(attr), jax.tree_util.tree_leaves(coeffs)):
        np.testing.assert_allclose(a, 2 * c**2, rtol=1e-3, atol=1e-4)


def test_loss_terms_against_pywt(x64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 33))
    h = perturbed()
    total, terms = awd_loss(jnp.asarray(h), None, x, level=3, sparsity=0.3)
    assert isinstance(terms, LossTerms)
    w = to_pywt(h)
    coeffs = pywt.wavedec(x, w, mode="zero", level=3)
    x_hat = pywt.waverec(coeffs, w, mode="zero")[..., :33]
    np.testing.assert_allclose(float(terms.rec), np.sum((x_hat - x) ** 2) / 4, rtol=1e-9)
    np.testing.assert_allclose(float(terms.sparsity), sum(np.abs(c).sum() for c in coeffs) / 4 / 4, rtol=1e-9)
    assert float(terms.interpretation) == 0.0
    pen = awd.penalties(h)
    np.testing.assert_allclose(float(total), float(terms.rec) + float(sum(pen)) + 0.3 * float(terms.sparsity),
                               rtol=1e-12)


def test_loss_2d_groups_and_perfect_reconstruction(x64):
    x = np.random.default_rng(2).normal(size=(2, 16, 20))
    _, terms = awd_loss(lowpass("db3"), None, x, level=2, dims=2)
    coeffs = pywt.wavedec2(x, "db3", mode="zero", level=2, axes=(-2, -1))
    total_abs = np.abs(coeffs[0]).sum() + sum(np.abs(b).sum() for lv in coeffs[1:] for b in lv)
    np.testing.assert_allclose(float(terms.sparsity), total_abs / 3 / 2, rtol=1e-10)  # J+1 = 3 groups
    assert float(terms.rec) < 1e-20


def test_weights_forms():
    x = np.random.default_rng(0).normal(size=(2, 32)).astype(np.float32)
    h = jnp.asarray(perturbed(), jnp.float32)
    t_default, terms = awd_loss(h, None, x, level=2)
    t_none, _ = awd_loss(h, None, x, level=2, weights=Weights())
    t_dict, _ = awd_loss(h, None, x, level=2, weights={"cmf": 0.0})
    t_named, _ = awd_loss(h, None, x, level=2, weights=Weights(cmf=0.0))
    assert float(t_default) == float(t_none)
    np.testing.assert_allclose(float(t_dict), float(t_default - terms.cmf), rtol=1e-6)
    assert float(t_dict) == float(t_named)
    with pytest.raises(ValueError, match="weights"):
        awd_loss(h, None, x, level=2, weights={"cfm": 1.0})
    with pytest.raises(TypeError, match="weights"):
        awd_loss(h, None, x, level=2, weights=[1.0])


@pytest.mark.slow
def test_mask_equals_smaller_batch(x64):
    x = np.random.default_rng(3).normal(size=(5, 24))
    f = small_mlp(24)
    h = jnp.asarray(perturbed())
    kw = {"level": 2, "sparsity": 0.2, "interpretation": 0.7}
    loss = lambda h, xb, m=None: awd_loss(h, f, xb, mask=m, **kw)[0]
    padded = jnp.asarray(np.concatenate([x[:3], x[:2]]))
    mask = jnp.asarray([1.0, 1, 1, 0, 0])
    vg = jax.jit(jax.value_and_grad(loss))
    (v1, g1), (v2, g2) = vg(h, padded, mask), vg(h, jnp.asarray(x[:3]))
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)


# --------------------------------------------------------------------------- derivatives


def _fd_grad(fun, h, eps=1e-6):
    return np.array([(fun(h.at[i].add(eps)) - fun(h.at[i].add(-eps))) / (2 * eps) for i in range(h.shape[0])])


def _frozen_residual_interp(teacher, x, h0, level, method, target, steps):
    """Independent formula for the interpretation term whose ordinary derivative at ``h = h0``
    is what TRIM's autodiff computes (docs/method.md#trim-attributions, as the reference code trains).

    With ``R(h) = waverec(wavedec(x, h), h)``, the teacher input at IG point α is
    ``x + α (R(h) − R(h0))`` (value ``x`` at ``h0``; ``stop_gradient`` freezes the rest) and
    the attribution is ``J(h)ᵀ ∇f`` with ``J(h)ᵀ`` the adjoint of ``waverec`` in ``c``.
    """
    length = x.shape[-1]

    def rec(c, h):
        return awd.waverec(c, h, mode="zero", length=length)

    r0 = rec(awd.wavedec(x, h0, mode="zero", level=level), h0)

    def value(h):
        c = awd.wavedec(x, h, mode="zero", level=level)
        shift = rec(c, h) - r0
        alphas = [1.0] if method != "integrated_gradients" else [(k + 0.5) / steps for k in range(steps)]
        grads = []
        for a in alphas:
            gx = jax.grad(lambda z: teacher(z)[:, target].sum())(x + a * shift)
            grads.append(jax.vjp(lambda cc: rec(cc, h), c)[1](gx)[0])
        g = [sum(parts) / len(alphas) for parts in zip(*grads)]
        attr = g if method == "saliency" else [ci * gi for ci, gi in zip(c, g)]
        return sum(jnp.abs(a).sum() for a in attr) / len(c) / x.shape[0]

    return jax.jit(value)


@pytest.mark.parametrize("method", METHODS)
def test_grad_matches_finite_differences_linear_teacher(x64, method):
    """Linear teacher (zero Hessian): plain finite differences of the total loss."""
    x = np.random.default_rng(4).normal(size=(3, 30))
    w = np.random.default_rng(5).normal(size=(30, 2))
    f = lambda z: z @ w
    h = jnp.asarray(perturbed())
    loss = jax.jit(lambda h: awd_loss(h, f, x, level=3, sparsity=0.1, interpretation=2.0, method=method,
                                      target=1, steps=4)[0])
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(h), _fd_grad(loss, h), rtol=2e-6, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_grad_matches_finite_differences_nonlinear_teacher(x64, method):
    """Nonlinear teacher: d(total)/dh includes the teacher-Hessian path of the TRIM residual."""
    x = np.random.default_rng(4).normal(size=(3, 30))
    f = small_mlp(30)
    h = jnp.asarray(perturbed())
    kw = {"level": 3, "method": method, "target": 1, "steps": 4}
    grad_total = jax.jit(jax.grad(lambda h: awd_loss(h, f, x, sparsity=0.1, interpretation=2.0, **kw)[0]))(h)
    base = jax.jit(lambda h: awd_loss(h, None, x, level=3, sparsity=0.1)[0])
    surrogate = _frozen_residual_interp(f, jnp.asarray(x), h, 3, method, 1, 4)
    np.testing.assert_allclose(float(surrogate(h)),
                               float(awd_loss(h, f, x, interpretation=1.0, **kw)[1].interpretation), rtol=1e-12)
    fd = _fd_grad(base, h) + 2.0 * _fd_grad(surrogate, h)
    np.testing.assert_allclose(grad_total, fd, rtol=2e-6, atol=1e-7)
    # the Hessian path matters: ignoring it (teacher gradient frozen at x) gives another gradient
    naive = jax.jit(lambda h: awd_loss(h, f, x, interpretation=1.0, **kw)[1].interpretation)
    assert np.max(np.abs(_fd_grad(naive, h) - _fd_grad(surrogate, h))) > 1e-4


def test_jit_equals_eager():
    x = np.random.default_rng(5).normal(size=(4, 32)).astype(np.float32)
    f = small_mlp(32, dtype=jnp.float32)
    h = jnp.asarray(perturbed(), jnp.float32)
    fun = lambda h: awd_loss(h, f, x, level=2, sparsity=0.1, interpretation=1.0)
    (t0, terms0), (t1, terms1) = fun(h), jax.jit(fun)(h)
    np.testing.assert_allclose(t0, t1, rtol=1e-5)
    for a, b in zip(terms0, terms1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert t1.dtype == jnp.float32


def test_traced_lambda_gamma_under_vmap():
    x = np.random.default_rng(6).normal(size=(2, 32)).astype(np.float32)
    f = small_mlp(32, dtype=jnp.float32)
    h = jnp.asarray(perturbed(), jnp.float32)
    fun = jax.jit(jax.vmap(lambda lam, gam: awd_loss(h, f, x, level=2, sparsity=lam, interpretation=gam)[0]))
    out = fun(jnp.asarray([0.0, 1.0]), jnp.asarray([0.5, 2.0]))
    for k, (lam, gam) in enumerate([(0.0, 0.5), (1.0, 2.0)]):
        np.testing.assert_allclose(out[k], awd_loss(h, f, x, level=2, sparsity=lam, interpretation=gam)[0],
                                   rtol=1e-5)


# --------------------------------------------------------------------------- teachers (Flax)


def test_flax_linen_teacher():
    from awd_jax.teachers import MLP

    x = np.random.default_rng(7).normal(size=(4, 32)).astype(np.float32)
    model = MLP(features=(8,), out=1)
    variables = model.init(jax.random.PRNGKey(0), x)
    teacher = lambda z: model.apply(variables, z)
    h = jnp.asarray(perturbed(), jnp.float32)
    g = jax.jit(jax.grad(lambda h: awd_loss(h, teacher, x, level=2, interpretation=1.0)[0]))(h)
    assert g.shape == (10,) and np.all(np.isfinite(g))


def test_flax_nnx_teacher():
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(32, 8, rngs=rngs)
            self.l2 = nnx.Linear(8, 3, rngs=rngs)

        def __call__(self, z):
            return self.l2(jnp.tanh(self.l1(z)))

    graphdef, state = nnx.split(Net(nnx.Rngs(0)))
    teacher = lambda z: nnx.merge(graphdef, state)(z)
    x = np.random.default_rng(8).normal(size=(4, 32)).astype(np.float32)
    h = jnp.asarray(perturbed(), jnp.float32)
    fun = lambda h: awd_loss(h, teacher, x, level=2, interpretation=1.0, target=2)
    _total, terms = jax.jit(fun)(h)
    assert float(terms.interpretation) > 0
    assert np.all(np.isfinite(jax.jit(jax.grad(lambda h: fun(h)[0]))(h)))


@pytest.mark.slow
def test_lstm_teacher_double_derivative(x64):
    from awd_jax.teachers import LSTMRegressor

    x = np.random.default_rng(9).normal(size=(2, 24))
    model = LSTMRegressor(hidden=4, param_dtype=jnp.float64)
    variables = model.init(jax.random.PRNGKey(1), x)
    teacher = lambda z: model.apply(variables, z)
    # the teacher has a non-zero Hessian, so d(interpretation)/dh goes through it
    hvp = jax.jvp(jax.grad(lambda z: teacher(z).sum()), (jnp.asarray(x),), (jnp.ones_like(x),))[1]
    assert np.max(np.abs(hvp)) > 1e-6
    h = jnp.asarray(perturbed())
    interp = jax.jit(lambda h: awd_loss(h, teacher, x, level=2, interpretation=1.0)[1].interpretation)
    surrogate = _frozen_residual_interp(lambda z: teacher(z), jnp.asarray(x), h, 2, "saliency", 0, 1)
    np.testing.assert_allclose(jax.jit(jax.grad(interp))(h), _fd_grad(surrogate, h), rtol=2e-6, atol=1e-8)


# --------------------------------------------------------------------------- errors


def test_errors():
    x = np.zeros((3, 32), np.float32)
    h = lowpass("db2")
    with pytest.raises(ValueError, match=r"teacher_fn.*\(3,\).*received shape \(3, 2, 2\)"):
        awd_loss(h, lambda z: jnp.zeros((3, 2, 2)), x, level=2, interpretation=1.0)
    with pytest.raises(ValueError, match="teacher_fn"):
        attributions(h, lambda z: jnp.zeros((4,)), x, level=2)
    with pytest.raises(ValueError, match="target"):
        attributions(h, lambda z: z[:, :2], x, level=2, target=2)
    with pytest.raises(ValueError, match="target"):
        attributions(h, lambda z: z[:, 0], x, level=2, target=1)
    with pytest.raises(ValueError, match="method"):
        attributions(h, lambda z: z[:, 0], x, level=2, method="lrp")
    with pytest.raises(ValueError, match="method"):
        awd_loss(h, None, x, level=2, method="shap")
    with pytest.raises(ValueError, match="dims"):
        awd_loss(h, None, x, level=2, dims=4)
    with pytest.raises(ValueError,
                       match=r"x: expected at least 3 dimensions \(B, \.\.\., H, W\) for dims=2, got shape \(3, 32\)"):
        awd_loss(h, None, x, level=2, dims=2)  # the batch is never taken for an image axis
    with pytest.raises(ValueError, match="teacher_fn"):
        jax.jit(lambda h: awd_loss(h, lambda z: z[None], x, level=2, interpretation=1.0)[0])(jnp.asarray(h))


def test_volumes_dims3_reduce_over_j_plus_1_groups(x64):
    """dims=3: wavedecn over the last three axes; sparsity = Σ|c| / (J+1) / B, rec ~ 0."""
    x = np.random.default_rng(3).standard_normal((3, 6, 7, 8))
    h = awd.lowpass("db2")
    total, terms = awd.awd_loss(h, None, x, level=2, mode="zero", sparsity=1.0, dims=3)
    ref = pywt.wavedecn(x, "db2", "zero", level=2, axes=(1, 2, 3))
    l1 = np.abs(ref[0]).sum() + sum(np.abs(v).sum() for d in ref[1:] for v in d.values())
    np.testing.assert_allclose(terms.sparsity, l1 / 3 / 3, rtol=1e-12)
    assert float(terms.rec) < 1e-20


def test_biorthogonal_start_is_refused_with_the_reason():
    x = np.ones((4, 16), np.float32)
    with pytest.raises(ValueError, match="AWD learns orthogonal filters"):
        awd.awd_loss("bior2.2", None, x, level=2)
    with pytest.raises(ValueError, match="AWD learns orthogonal filters"):
        awd.fit("rbio1.3", None, x, level=2, epochs=1)


def test_objective_is_validated_once_hashable_and_the_one_way_to_pass_settings(x64):
    from awd_jax import Objective

    obj = Objective(level=3, mode="zero", weights={"cmf": 0.5}, method="input_x_gradient")
    assert obj.weights == Weights(cmf=0.5) and hash(obj) == hash(Objective(level=3, weights=Weights(cmf=0.5),
                                                                           method="input_x_gradient"))
    with pytest.raises(AttributeError):  # frozen (dataclasses.FrozenInstanceError)
        obj.level = 2
    for bad, exc, match in [(dict(level=2.7), TypeError, "level"), (dict(level=-1), ValueError, "level"),
                            (dict(level=True), TypeError, "level"), (dict(mode="mirror"), ValueError, "mode"),
                            (dict(method="lrp"), ValueError, "method"), (dict(dims=4), ValueError, "dims"),
                            (dict(steps=0), ValueError, "steps"), (dict(target=-1), ValueError, "target"),
                            (dict(weights={"cmf": -1.0}), ValueError, "weights"),
                            (dict(impl="gpu"), ValueError, "impl")]:
        with pytest.raises(exc, match=match):
            Objective(**bad)
    x = np.random.default_rng(0).standard_normal((4, 32))
    h = lowpass("db3")
    f = lambda z: jnp.sum(jnp.sin(z), axis=-1)
    by_object = awd_loss(h, f, x, obj, sparsity=0.1, interpretation=0.2)[0]
    by_keywords = awd_loss(h, f, x, level=3, weights={"cmf": 0.5}, method="input_x_gradient",
                           sparsity=0.1, interpretation=0.2)[0]
    assert float(by_object) == float(by_keywords)
    with pytest.raises(ValueError, match="either as objective"):
        awd_loss(h, f, x, obj, level=3)
    with pytest.raises(TypeError, match="unexpected keyword.*'levle'"):
        awd_loss(h, f, x, levle=3)
    with pytest.raises(TypeError, match="objective: expected an awd_jax.Objective"):
        attributions(h, f, x, {"level": 3})
