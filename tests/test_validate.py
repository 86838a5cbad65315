"""One set of argument rules at every entry point (awd_jax._validate): one parametrised test per rule.

Each case calls a public entry point with one bad value and checks the error type and that the
message starts with the argument's name. Everything fails before any training, so the cases are fast.
"""

import re

import jax.numpy as jnp
import numpy as np
import pytest

import awd_jax
from awd_jax import _validate
from awd_jax.objective import reduce_coeffs

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 16)).astype(np.float32)
NAN_H = np.array([np.nan, 1.0, 1.0, 0.0])
COEFFS = awd_jax.wavedec(X, "db2", mode="zero", level=1)


def teacher(z):
    return jnp.sum(jnp.tanh(z), axis=-1)


FIT = dict(level=1, epochs=1, batch_size=None, progress=False)


def fit(**kw):
    args = dict(FIT, **kw)
    return awd_jax.fit(args.pop("h0", "db2"), args.pop("teacher_fn", None), args.pop("data", X), **args)


def sweep(**kw):
    args = dict(FIT, **kw)
    return awd_jax.sweep(args.pop("h0", "db2"), args.pop("teacher_fn", None), args.pop("data", X), **args)


def loss(**kw):
    args = {"level": 1, **kw}
    return awd_jax.awd_loss(args.pop("h", "db2"), args.pop("teacher_fn", teacher), args.pop("x", X), **args)


def attributions(**kw):
    args = {"level": 1, **kw}
    return awd_jax.attributions(args.pop("h", "db2"), args.pop("teacher_fn", teacher), args.pop("x", X), **args)


def compression(**kw):
    args = {"level": 1, **kw}
    return awd_jax.compression_factor_for(args.pop("h", "db2"), args.pop("teacher_fn", teacher), args.pop("x", X),
                                          **args)


def _raises(call, exc, name):
    with pytest.raises(exc, match="^" + re.escape(name) + r"\b") as info:
        call()
    return info.value


# --------------------------------------------------------------------------- counts: an int, never bool/float/str

INT_CASES = [
    (lambda: fit(level=2.7), "level"),
    (lambda: fit(level="2"), "level"),
    (lambda: fit(level=True), "level"),
    (lambda: fit(batch_size=True), "batch_size"),
    (lambda: fit(batch_size=2.0), "batch_size"),
    (lambda: fit(epochs=True), "epochs"),
    (lambda: fit(epochs=1.5), "epochs"),
    (lambda: fit(restarts=2.5), "restarts"),
    (lambda: fit(checkpoint_dir="unused", checkpoint_every=True), "checkpoint_every"),
    (lambda: sweep(level=2.7), "level"),
    (lambda: sweep(batch_size=True), "batch_size"),
    (lambda: sweep(epochs=True), "epochs"),
    (lambda: loss(level=2.7), "level"),
    (lambda: loss(steps=3.0, method="integrated_gradients", interpretation=1.0), "steps"),
    (lambda: attributions(level="2"), "level"),
    (lambda: attributions(target=True), "target"),
    (lambda: compression(level=2.7), "level"),
    (lambda: compression(batch_size=True), "batch_size"),
    (lambda: awd_jax.wavedec(X, "db2", level=2.7), "level"),
    (lambda: awd_jax.wavedec(X, "db2", level=True), "level"),
    (lambda: awd_jax.waverec(COEFFS, "db2", length=True), "length"),
    (lambda: awd_jax.waverec(COEFFS, "db2", length=8.5), "length"),
    (lambda: awd_jax.waverec(COEFFS, "db2", length="8"), "length"),
    (lambda: awd_jax.dwt_max_level(8.5, 4), "data_len"),
    (lambda: awd_jax.wavefun("db2", level=2.0), "level"),
]
INT_RANGE_CASES = [
    (lambda: fit(level=-1), "level"),
    (lambda: fit(batch_size=0), "batch_size"),
    (lambda: fit(epochs=-1), "epochs"),
    (lambda: sweep(batch_size=0), "batch_size"),
    (lambda: loss(level=-1), "level"),
    (lambda: attributions(steps=0), "steps"),
    (lambda: compression(batch_size=0), "batch_size"),
    (lambda: awd_jax.wavedec(X, "db2", level=-1), "level"),
    (lambda: awd_jax.waverec(COEFFS, "db2", length=0), "length"),
]


@pytest.mark.parametrize("call, name, wrong_type", [c + (True,) for c in INT_CASES]
                         + [c + (False,) for c in INT_RANGE_CASES])
def test_counts_are_ints(call, name, wrong_type):
    err = _raises(call, ValueError, name)
    assert isinstance(err, TypeError) == wrong_type  # a wrong kind is a TypeError too (pywt's type)
    assert "expected an int" in str(err)


# --------------------------------------------------------------------------- λ, γ, learning rates: finite, >= 0

@pytest.mark.parametrize("call, name", [
    (lambda: fit(sparsity=-1.0), "sparsity"),
    (lambda: fit(sparsity=float("nan")), "sparsity"),
    (lambda: fit(interpretation=-0.5, teacher_fn=teacher), "interpretation"),
    (lambda: fit(interpretation=float("inf")), "interpretation"),
    (lambda: fit(learning_rate=-1e-3), "learning_rate"),
    (lambda: fit(learning_rate=float("nan")), "learning_rate"),
    (lambda: fit(sparsity="0.1"), "sparsity"),
    (lambda: sweep(sparsity=[-1.0]), "sparsity"),
    (lambda: sweep(sparsity=[0.0, float("nan")]), "sparsity"),
    (lambda: sweep(sparsity=["a"]), "sparsity"),
    (lambda: sweep(interpretation=[True]), "interpretation"),
    (lambda: sweep(learning_rate=-1.0), "learning_rate"),
    (lambda: sweep(learning_rate=float("nan")), "learning_rate"),
    (lambda: loss(sparsity=-1.0), "sparsity"),
    (lambda: loss(sparsity=np.float32("nan")), "sparsity"),
    (lambda: loss(interpretation=-1.0), "interpretation"),
    (lambda: compression(threshold=-1e-3), "threshold"),
    (lambda: awd_jax.compression_factor(COEFFS, COEFFS, threshold=float("nan")), "threshold"),
    (lambda: fit(weights={"cmf": -1.0}), "weights.cmf"),
])
def test_weights_and_rates_are_finite_non_negative_numbers(call, name):
    err = _raises(call, ValueError, name)
    assert "finite" in str(err)


# --------------------------------------------------------------------------- seed: an int

@pytest.mark.parametrize("call", [
    lambda: fit(seed=1.5), lambda: fit(seed=True), lambda: fit(seed="1"), lambda: fit(seed=None),
    lambda: sweep(seed=1.5), lambda: sweep(seed=np.float64(2.0)),
])
def test_seed_is_an_int(call):
    _raises(call, TypeError, "seed")


# --------------------------------------------------------------------------- data: real, finite, rank >= dims + 1

def _with_nan(x):
    x = x.copy()
    x[2, 3] = np.nan
    return x


DATA = [
    (X.astype(np.complex64), TypeError, "complex"),
    (X > 0, TypeError, "bool"),
    (X[0], ValueError, "at least 2 dimensions"),
    (_with_nan(X), ValueError, "finite"),
    (X[:0], ValueError, "at least one sample"),
    ("abc", TypeError, "expected an array"),
]
DATA_CALLS = [
    (lambda x, **kw: fit(data=x, **kw), "data"),
    (lambda x, **kw: sweep(data=x, **kw), "data"),
    (lambda x, **kw: loss(x=x, interpretation=1.0, **kw), "x"),
    (lambda x, **kw: attributions(x=x, **kw), "x"),
    (lambda x, **kw: compression(x=x, **kw), "x"),
]


@pytest.mark.parametrize("entry, name", DATA_CALLS)
@pytest.mark.parametrize("x, exc, words", DATA + [(X, ValueError, "at least 3 dimensions")])
def test_data_are_real_finite_samples_of_the_right_rank(entry, name, x, exc, words):
    kw = {"dims": 2} if x is X else {}  # dims=2 on (B, L): the batch is never taken for an image axis
    err = _raises(lambda: entry(x, **kw), exc, name)
    assert words in str(err)


# --------------------------------------------------------------------------- filters: a valid lowpass, finite taps

@pytest.mark.parametrize("call, name", [
    (lambda h: fit(h0=h), "h0"),
    (lambda h: sweep(h0=h), "h0"),
    (lambda h: loss(h=h), "h"),
    (lambda h: attributions(h=h), "h"),
    (lambda h: compression(h=h), "h"),
])
@pytest.mark.parametrize("h, exc, words", [
    (NAN_H, ValueError, "finite filter taps"),
    (np.array([1.0, np.inf]), ValueError, "finite filter taps"),
    (np.ones(5), ValueError, "even filter length"),
    (np.ones((2, 4)), ValueError, "1-D filter"),
    (np.ones(4, np.complex64), TypeError, "real"),
    ("db99", ValueError, "unknown wavelet"),
])
def test_filters_are_valid_with_finite_taps(call, name, h, exc, words):
    err = _raises(lambda: call(h), exc, name)
    assert words in str(err)


# --------------------------------------------------------------------------- teachers: callable, float arrays

def _branches(z):
    return jnp.sum(z, -1) if jnp.sum(z) > 0 else -jnp.sum(z, -1)  # Python control flow on a traced value


@pytest.mark.parametrize("call", [
    lambda t: fit(teacher_fn=t, interpretation=1.0),
    lambda t: sweep(teacher_fn=t, interpretation=[1.0]),
    lambda t: loss(teacher_fn=t, interpretation=1.0),
    lambda t: attributions(teacher_fn=t),
    lambda t: compression(teacher_fn=t),
])
@pytest.mark.parametrize("bad, exc, words", [
    (5, TypeError, "expected a callable"),
    (lambda z: (jnp.sum(z, -1), jnp.sum(z, -1)), ValueError, "received tuple"),
    (lambda z: jnp.round(z).astype(jnp.int32).sum(-1), TypeError, "floating-point output"),
    (lambda z: np.asarray(z).sum(-1), TypeError, "failed when traced"),
    (lambda z: z[:, :, None], ValueError, "expected an output of shape"),
])
def test_teachers_are_callables_returning_float_arrays(call, bad, exc, words):
    err = _raises(lambda: call(bad), exc, "teacher_fn")
    assert words in str(err)


def test_teacher_failing_under_jit_names_teacher_fn():
    _raises(lambda: fit(teacher_fn=_branches, interpretation=1.0), TypeError, "teacher_fn")


# --------------------------------------------------------------------------- coefficient structures

@pytest.mark.parametrize("call", [
    lambda c: awd_jax.compression_factor(c, c),
    lambda c: reduce_coeffs(c, 1),
    lambda c: awd_jax.features.top_k_per_scale(c, k=1),
])
@pytest.mark.parametrize("coeffs, exc, words", [
    (np.ones((2, 4)), TypeError, "expected a list"),
    ([np.ones((2, 4)), "band"], TypeError, "[1]: expected an array"),
    ([np.ones((2, 4)), ()], ValueError, "empty"),
    ([np.ones((2, 4)), {}], ValueError, "empty"),
    ([], ValueError, "empty"),
])
def test_coefficient_structures_hold_arrays(call, coeffs, exc, words):
    err = _raises(lambda: call(coeffs), exc, "coeffs")
    assert words in str(err)


def test_coefficient_leaves_in_one_order():
    c2 = awd_jax.wavedec2(np.ones((1, 8, 8)), "haar", level=1)
    cn = awd_jax.wavedecn(np.ones((1, 4, 4, 4)), "haar", level=1, axes=(1, 2, 3))
    leaves, paths = _validate.coeff_leaves(c2)
    assert paths == ["[0]", "[1][0]", "[1][1]", "[1][2]"] and len(leaves) == 4
    leaves, paths = _validate.coeff_leaves(cn)
    assert paths[:3] == ["[0]", "[1]['aad']", "[1]['ada']"] and len(leaves) == 8
    assert float(awd_jax.compression_factor(cn, cn)) >= 0


# --------------------------------------------------------------------------- names from a fixed set

@pytest.mark.parametrize("call, name", [
    (lambda: fit(method="lrp"), "method"),
    (lambda: fit(parametrization="angles"), "parametrization"),
    (lambda: sweep(impl="gpu"), "impl"),
    (lambda: loss(method="shap"), "method"),
    (lambda: attributions(dims=4), "dims"),
    (lambda: compression(impl="cuda"), "impl"),
    (lambda: awd_jax.wavedec(X, "db2", impl="cuda"), "impl"),
    (lambda: awd_jax.wavedec(X, "db2", mode="mirror"), "mode"),
])
def test_settings_are_one_of_their_values(call, name):
    err = _raises(call, ValueError, name)
    assert "expected" in str(err)


# --------------------------------------------------------------------------- checkpoint_dir: a usable folder

def test_checkpoint_dir_is_checked_before_training(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    calls = []
    for bad, words in [(a_file, "expected a folder"), (a_file / "below", "is a file"), (3, "expected None or")]:
        exc = TypeError if words == "expected None or" else ValueError
        err = _raises(lambda: fit(checkpoint_dir=bad, callback=lambda *a: calls.append(a)), exc, "checkpoint_dir")
        assert words in str(err)
    assert calls == []  # no epoch ran
