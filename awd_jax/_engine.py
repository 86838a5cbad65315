"""The training engine behind ``fit`` and ``sweep`` (internal).

Layout:

* :class:`TrainConfig` — the static settings of a run (closed over by compiled functions);
  :class:`TrainState` — the carried parameters, optimiser state and divergence flag.
* Parameters (``docs/method.md#lattice``): ``parametrization="free"`` trains the ``N`` taps of
  ``h`` (the paper's); ``"lattice"`` trains ``N/2 − 1`` free lattice angles, so every visited
  filter is exactly orthogonal with Σh = √2 (:func:`to_filter`, :func:`initial_params`).
* :func:`_step` — one guarded optimiser step on one minibatch (the only compiled step body).
* :func:`_epoch` — one epoch: a ``jax.random.permutation`` of the samples (key
  ``fold_in(PRNGKey(seed), epoch)``) cut into ``ceil(n / batch_size)`` batches and one
  ``lax.scan`` of :func:`_step` over them. When ``batch_size`` does not divide ``n`` the
  last batch holds the remaining ``n % batch_size`` samples, padded to full size with
  copies of other samples whose mask is 0: masked samples contribute nothing and the
  batch's B is its true size, so this is exactly the smaller batch (nothing dropped), and
  every batch runs the same compiled step. The epoch's terms are the plain mean over its
  batches of each batch's terms, computed before that batch's update (docs/method.md#training).
* :func:`_train` — ``epochs`` epochs as one ``lax.scan``; :func:`train_chains` vmaps it over
  independent chains (starts, λ, γ); :func:`_stream_train` is the same for host data.
* :func:`evaluate` and :func:`refine` — the objective of finished filters on a fixed set of
  samples, and a full-batch L-BFGS finish (parallel step sizes), both through the teacher's cached input
  gradients (:func:`input_gradients`, ``docs/method.md#cached-input-gradients``).

Divergence guard: a step whose loss, terms or updated parameters are non-finite is not
applied; from then on the state is frozen (``ok = False``), so the state always holds
the last finite filter.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from awd_jax import _validate
from awd_jax._config import Objective
from awd_jax.attributions import bind_teacher, check_teacher, objective_impl, select_target
from awd_jax.filters import lattice_free_filter, lattice_project
from awd_jax.objective import LossTerms, awd_loss
from awd_jax.stream import (
    HostData,
    batch_spec,
    batches_per_chunk,
    chunks,
    epoch_batches,
    mesh_size,
    replicate,
)

TERM_NAMES = LossTerms._fields + ("total",)
PARAMETRIZATIONS = ("free", "lattice")


class TrainConfig(NamedTuple):
    """Static settings of a training run (closed over by the compiled functions)."""

    teacher_fn: Callable | None  # None: no interpretation term
    objective: Objective  # with impl resolved for the data's shape
    optimizer: optax.GradientTransformation
    batch_size: int
    epochs: int
    shuffle: bool
    teacher_takes_params: bool = False  # teacher_fn(params, x) with params traced
    parametrization: str = "free"  # "free": the taps; "lattice": N/2 - 1 free angles
    cached: bool = False  # data are (n, 2, ...): samples and the teacher's input gradients (with_gradients)


class TrainState(NamedTuple):
    """Carried state: parameters ``(P,)`` (see :func:`to_filter`), optimiser state, and ``ok``
    (False once diverged)."""

    params: jax.Array
    opt_state: Any
    ok: jax.Array


def to_filter(params: jax.Array, parametrization: str) -> jax.Array:
    """Parameters ``(..., P)`` → lowpass ``(..., N)``: the taps themselves (``"free"``, P = N) or
    :func:`awd_jax.lattice_free_filter` of ``P = N/2 − 1`` angles (``"lattice"``)."""
    return params if parametrization == "free" else lattice_free_filter(params)


def initial_params(h0: jax.Array, parametrization: str) -> jax.Array:
    """``h0 (N,)`` → parameters ``(P,)`` in ``h0``'s dtype. For ``"lattice"``: the free angles of
    the orthogonal filter with Σh = √2 nearest to ``h0`` (``h0`` itself when it is one)."""
    if parametrization == "free":
        return h0
    return jnp.asarray(lattice_project(np.asarray(h0, np.float64)), h0.dtype)


def check_parametrization(parametrization: Any) -> str:
    return _validate.choice(parametrization, PARAMETRIZATIONS, "parametrization")


def _init_state(params0: jax.Array, cfg: TrainConfig) -> TrainState:
    return TrainState(params0, cfg.optimizer.init(params0), jnp.asarray(True))


def _loss(params, x, mask, lam, gam, tp, cfg: TrainConfig):
    if cfg.cached:  # the teacher through its cached input gradients (docs/method.md#cached-input-gradients)
        return _loss(params, x[:, 0], mask, lam, gam, x[:, 1], _linearised(cfg._replace(cached=False)))
    return awd_loss(to_filter(params, cfg.parametrization), cfg.teacher_fn, x, cfg.objective, sparsity=lam,
                    interpretation=gam, mask=mask, teacher_params=tp if cfg.teacher_takes_params else None)


def _step(state: TrainState, x: jax.Array, mask: jax.Array | None, lam, gam, tp, cfg: TrainConfig):
    """One guarded optimiser step on ``x`` ``(B, ...)`` with sample mask ``(B,)`` (or None).

    ``tp``: the teacher's parameters (traced), used when ``cfg.teacher_takes_params``.

    Returns the new state and the pre-step terms ``(9,)`` (LossTerms fields, then total).
    """
    (total, terms), grad = jax.value_and_grad(_loss, has_aux=True)(state.params, x, mask, lam, gam, tp, cfg)
    updates, opt_state = cfg.optimizer.update(grad, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    values = jnp.stack(list(terms) + [total])
    good = state.ok & jnp.all(jnp.isfinite(values)) & jnp.all(jnp.isfinite(params))
    keep = lambda new, old: jnp.where(good, new, old)
    new_state = TrainState(keep(params, state.params), jax.tree_util.tree_map(keep, opt_state, state.opt_state),
                           good)
    return new_state, values


def _epoch(state: TrainState, data: jax.Array, key: jax.Array, epoch, lam, gam, tp, cfg: TrainConfig):
    """One epoch over ``data`` ``(n, ...)``; returns the state and the mean terms ``(9,)``."""
    n = data.shape[0]
    bs = cfg.batch_size
    if cfg.shuffle:
        perm = jax.random.permutation(jax.random.fold_in(key, epoch), n)
    else:
        perm = jnp.arange(n)
    idx, masks = epoch_batches(perm, bs, jnp)
    masks = None if masks is None else masks.astype(data.dtype)
    body = lambda s, im: _step(s, jnp.take(data, im[0], axis=0), im[1], lam, gam, tp, cfg)
    state, values = jax.lax.scan(body, state, (idx, masks))
    return state, jnp.mean(values, axis=0)


def _per_epoch(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` as the key of per-epoch programs, which do not depend on the epoch count
    (so ``fit(epochs=3)`` and ``fit(epochs=6)`` share one compiled epoch)."""
    return cfg._replace(epochs=0)


def _run_chunk(state: TrainState, xs: jax.Array, masks: jax.Array | None, valid: jax.Array, lam, gam, tp,
               cfg: TrainConfig):
    """Steps over host-provided batches ``xs (k, B, ...)``, masks ``(k, B)`` or None; batches
    with ``valid[i] = False`` (fill of a short last chunk) are computed and discarded.

    Returns the state and each batch's pre-step terms ``(k, 9)``.
    """
    def body(s, inp):
        x, m, v = inp
        new, values = _step(s, x, m, lam, gam, tp, cfg)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(v, a, b), new, s), values

    return jax.lax.scan(body, state, (xs, masks, valid))


#: streamed steps, one chain / vmapped over chains (state, λ, γ batched; data shared)
_run_chunk_jit = jax.jit(_run_chunk, static_argnames=("cfg",))
def _run_chunk_chains(state, xs, masks, valid, lam, gam, tp, cfg: TrainConfig):
    return jax.vmap(lambda s, lm, gm: _run_chunk(s, xs, masks, valid, lm, gm, tp, cfg))(state, lam, gam)


_run_chunk_chains_jit = jax.jit(_run_chunk_chains, static_argnames=("cfg",))


@functools.partial(jax.jit, static_argnames=("n",))
def _permutation(key: jax.Array, epoch, n: int) -> jax.Array:
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def _stream_epoch(state, src: HostData, key, epoch: int, lam, gam, tp, cfg: TrainConfig, plan: StreamPlan,
                  chains=False):
    """One epoch over host data: the batches of :func:`_epoch` (same permutation, same
    padding), moved to the device(s) ``plan.per_chunk`` batches at a time.

    Returns the state and the mean terms ``(9,)`` (``(C, 9)`` with ``chains``).
    """
    perm = np.asarray(_permutation(key, epoch, src.n)) if cfg.shuffle else np.arange(src.n)
    idx, masks = epoch_batches(perm, cfg.batch_size)
    runner = _run_chunk_chains_jit if chains else _run_chunk_jit
    parts = []
    for chunk in chunks(src, idx, masks, plan.per_chunk, sharding=plan.sharding, check_finite=plan.check_finite):
        state, values = runner(state, chunk.xs, chunk.masks, chunk.valid, lam, gam, tp, cfg=_per_epoch(cfg))
        parts.append(values[..., : chunk.n_valid, :])
    return state, jnp.mean(jnp.concatenate(parts, axis=-2), axis=-2)


def _stream_train(params0, src: HostData, key, lam, gam, tp, cfg: TrainConfig, plan: StreamPlan, chains=False):
    """:func:`_train` for host data (Python loop over epochs); same outputs.

    With ``chains``, ``params0 (C, P)``, ``lam (C,)`` and ``gam (C,)`` run as one vmapped program.
    """
    init = jax.vmap(lambda p: _init_state(p, cfg)) if chains else (lambda p: _init_state(p, cfg))
    state = plan.place(init(params0))
    values, oks = [], []
    for epoch in range(cfg.epochs):
        first = plan._replace(check_finite=plan.check_finite and epoch == 0)
        state, v = _stream_epoch(state, src, key, epoch, lam, gam, tp, cfg, first, chains)
        values.append(v)
        oks.append(state.ok)
    if not values:
        shape = (params0.shape[0], 0) if chains else (0,)
        return state, jnp.zeros(shape + (len(TERM_NAMES),), params0.dtype), jnp.zeros(shape, bool)
    return state, jnp.stack(values, axis=-2), jnp.stack(oks, axis=-1)


class StreamPlan(NamedTuple):
    """How host data reach the device(s): batches per transfer, their sharding, finiteness check."""

    per_chunk: int
    sharding: Any  # NamedSharding of (k, B, ...) or None (default device)
    check_finite: bool = True

    def place(self, tree):
        """Replicate ``tree`` over the mesh (no-op on the default device)."""
        if self.sharding is None:
            return tree
        return replicate(tree, self.sharding.mesh)


def make_plan(src: HostData, cfg: TrainConfig, mesh, chunk_size) -> StreamPlan:
    """Validate ``chunk_size`` and the batch/device split; build the :class:`StreamPlan`."""
    k = mesh_size(mesh)
    if cfg.batch_size % k:
        raise ValueError(
            f"batch_size: expected a multiple of the number of devices ({k}) so every device gets an equal "
            f"shard, got {cfg.batch_size}."
        )
    n_batches = -(-src.n // cfg.batch_size)
    sample_bytes = int(np.prod(src.sample_shape, dtype=np.int64)) * src.dtype.itemsize
    per_chunk = batches_per_chunk(chunk_size, cfg.batch_size, n_batches, sample_bytes)
    return StreamPlan(per_chunk, None if mesh is None else batch_spec(mesh, leading=1))


def _train(params0: jax.Array, data: jax.Array, key: jax.Array, lam, gam, tp, cfg: TrainConfig):
    """``cfg.epochs`` epochs as one scan, from a fresh optimiser state.

    Returns ``(state, values (epochs, 9), ok (epochs,))``, where ``ok[e]`` says the run had
    not diverged by the end of epoch ``e``. Pure; vmappable over ``params0``, ``lam``, ``gam``.
    """
    def body(state, epoch):
        state, values = _epoch(state, data, key, epoch, lam, gam, tp, cfg)
        return state, (values, state.ok)

    state, (values, ok) = jax.lax.scan(body, _init_state(params0, cfg), jnp.arange(cfg.epochs))
    return state, values, ok


def train_chains(params0: jax.Array, data: jax.Array, key: jax.Array, lam, gam, tp, cfg: TrainConfig):
    """:func:`_train` vmapped over independent chains: ``params0 (C, P)``, ``lam (C,)``, ``gam (C,)``.

    Every chain sees the same batches (one data order per ``key``). Returns
    ``(state, values (C, epochs, 9), ok (C, epochs))``.
    """
    return jax.vmap(lambda p, lm, gm: _train(p, data, key, lm, gm, tp, cfg))(params0, lam, gam)


_train_chains_jit = jax.jit(train_chains, static_argnames=("cfg",))


def epochs_run_from_ok(ok: np.ndarray) -> int:
    """Epochs actually run by ``fit`` given the per-epoch ``ok`` flags (the diverging one included)."""
    ok = np.asarray(ok, bool)
    n_ok = int(ok.sum())
    return n_ok if n_ok == ok.shape[0] else n_ok + 1


def check_data(data: Any, dims: int) -> jax.Array:
    """Validate training data ``(n, ..., L)`` (dims=1) / ``(n, ..., H, W)`` (dims=2): real, finite."""
    return _validate.as_data(data, dims, "data")


def _describe(obj: Any) -> str | None:
    if obj is None:
        return None
    return getattr(obj, "__qualname__", None) or type(obj).__name__


@functools.lru_cache(maxsize=64)
def _default_optimizer(learning_rate: float) -> optax.GradientTransformation:
    """``optax.adam(learning_rate)``, one object per rate so compiled programs are reused."""
    return optax.adam(learning_rate)


#: one compiled epoch per static configuration, reused across ``fit`` calls
_epoch_jit = jax.jit(_epoch, static_argnames=("cfg",))


def make_config(
    teacher_fn, data, objective: Objective, *, interpretation_on, optimizer, learning_rate, batch_size, epochs,
    shuffle, teacher_params=None, parametrization="free",
) -> TrainConfig:
    """Validate the settings shared by ``fit`` and ``sweep`` and build the static :class:`TrainConfig`."""
    target = objective.target
    epochs = _validate.integer(epochs, "epochs", least=0)
    batch_size = _validate.integer(batch_size, "batch_size", least=1, none_ok=True)
    learning_rate = _validate.number(learning_rate, "learning_rate")
    n = data.shape[0]
    bs = n if batch_size is None else min(batch_size, n)
    if teacher_fn is not None:
        check_teacher(bind_teacher(teacher_fn, teacher_params), (bs,) + tuple(data.shape[1:]), data.dtype, target)
    if optimizer is None:
        optimizer = _default_optimizer(float(learning_rate))
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer: expected an optax.GradientTransformation, got {type(optimizer).__name__}.")
    resolved = dataclasses.replace(objective, impl=objective_impl(objective.impl, data.shape, objective.dims))
    return TrainConfig(
        teacher_fn if interpretation_on else None, resolved, optimizer, bs, int(epochs), bool(shuffle),
        teacher_params is not None and interpretation_on, check_parametrization(parametrization),
    )


def config_dict(
    cfg: TrainConfig, *, teacher_fn, h0, data, sparsity, interpretation, optimizer, learning_rate, seed
) -> dict:
    """JSON-serialisable description of a run."""
    return {
        **cfg.objective.to_dict(), "sparsity": float(sparsity), "interpretation": float(interpretation),
        "optimizer": "adam" if optimizer is None else _describe(optimizer),
        "learning_rate": float(learning_rate), "batch_size": cfg.batch_size, "epochs": cfg.epochs,
        "seed": int(seed), "shuffle": cfg.shuffle, "teacher": _describe(teacher_fn),
        "parametrization": cfg.parametrization,
        "h0": [float(v) for v in np.asarray(h0, np.float64)], "n_samples": int(data.shape[0]),
        "data_shape": [int(s) for s in data.shape], "dtype": str(data.dtype),
    }


def prepare_h0(h0: Any, dtype: Any) -> jax.Array:
    """``h0`` (name, ``pywt.Wavelet`` or array) → ``(N,)`` array in the data dtype.

    :func:`lowpass`'s errors name its argument ``h``; here they name ``h0``. Non-finite taps are refused.
    """
    return _validate.filter_taps(h0, "h0", dtype)


# ---------------------------------------------------------------------------
# the objective through cached input gradients: evaluation and refinement
# ---------------------------------------------------------------------------


def linear_teacher(grads: jax.Array, z: jax.Array) -> jax.Array:
    """The teacher's first-order expansion at each sample: ``⟨g_b, z_b⟩`` → ``(B,)``.

    TRIM evaluates the teacher at ``x`` itself (the residual trick), so the attributions, and
    hence the objective's value, depend on the teacher only through ``g = ∇_x f_target(x)``:
    with ``grads = g`` this teacher gives exactly the real teacher's objective
    (``docs/method.md#cached-input-gradients``).
    """
    batch = grads.shape[0]
    # integrated gradients stacks its M path points as (M*B, ...), point-major; the residual
    # trick evaluates each of them at x itself, so every point's gradient is g
    points = z.reshape((z.shape[0] // batch, batch, -1)) * grads.reshape((1, batch, -1))
    return jnp.sum(points, axis=2).reshape(z.shape[0])


def input_gradients(cfg: TrainConfig, tp: Any, x: jax.Array) -> jax.Array:
    """``∇_x f(x)[target]`` for every sample of ``x (n, ...)``, in batches of ``cfg.batch_size``.

    Zeros when the run has no interpretation term. Samples must not interact in the teacher
    (as the objective's masking assumes).
    """
    if cfg.teacher_fn is None:
        return jnp.zeros_like(x)
    teacher = bind_teacher(cfg.teacher_fn, tp if cfg.teacher_takes_params else None)
    target = cfg.objective.target
    n, bs = x.shape[0], min(cfg.batch_size, x.shape[0])
    k = -(-n // bs)
    padded = jnp.concatenate([x, jnp.repeat(x[:1], k * bs - n, axis=0)]) if k * bs > n else x

    def one(xb):
        return jax.grad(lambda z: jnp.sum(select_target(teacher(z), z.shape[0], target)))(xb)

    grads = jax.lax.map(one, padded.reshape((k, bs) + x.shape[1:]))
    return grads.reshape((k * bs,) + x.shape[1:])[:n]


def with_gradients(cfg: TrainConfig, tp: Any, data: jax.Array) -> tuple[jax.Array, TrainConfig]:
    """``(data (n, 2, ...), cfg)``: each sample stacked with the teacher's input gradient there,
    and ``cfg`` training on them (``cached=True``: the same objective, no teacher call per step)."""
    grads = input_gradients_jit(tp=tp, x=data, cfg=cfg)
    return jnp.stack([data, grads], axis=1), cfg._replace(cached=True)


def _linearised(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the teacher replaced by :func:`linear_teacher` (its parameters: the gradients)."""
    if cfg.teacher_fn is None:
        return cfg._replace(teacher_takes_params=False)
    return cfg._replace(teacher_fn=linear_teacher, teacher_takes_params=True,
                        objective=dataclasses.replace(cfg.objective, target=0))


def objective_value(params: jax.Array, x: jax.Array, grads: jax.Array, lam, gam, cfg: TrainConfig):
    """The objective's total at ``params (P,)`` on ``x (n, ...)`` (one batch), from the gradients."""
    return _loss(params, x, None, lam, gam, grads, _linearised(cfg))[0]


def objective_parts(params: jax.Array, x: jax.Array, grads: jax.Array, cfg: TrainConfig) -> jax.Array:
    """``(base, sparsity, interpretation)`` at ``params (P,)``: the total at any (λ, γ) is
    ``base + λ·sparsity + γ·interpretation`` (``base``: reconstruction and weighted penalties)."""
    zero = jnp.zeros((), x.dtype)
    total, terms = _loss(params, x, None, zero, zero, grads, _linearised(cfg))
    return jnp.stack([total, terms.sparsity, terms.interpretation])


def evaluate(params: jax.Array, x: jax.Array, grads: jax.Array, lam, gam, cfg: TrainConfig) -> jax.Array:
    """:func:`objective_value` for a stack ``params (C, P)`` with ``lam``, ``gam`` ``(C,)`` → ``(C,)``."""
    return jax.vmap(lambda p, lm, gm: objective_value(p, x, grads, lm, gm, cfg))(params, lam, gam)


#: step sizes tried along each L-BFGS direction (one vmapped evaluation per iteration)
REFINE_STEP_SIZES = (1.0, 0.5, 0.25, 0.1, 0.03)


def refine(params: jax.Array, x: jax.Array, grads: jax.Array, lam, gam, cfg: TrainConfig, steps: int):
    """Full-batch quasi-Newton finish from ``params (P,)``: ``steps`` L-BFGS iterations.

    Each iteration takes the L-BFGS direction (``optax.scale_by_lbfgs``, memory 10) and
    evaluates the objective at :data:`REFINE_STEP_SIZES` along it in one vmapped call, moving
    to the lowest point only if it is below the current one (a monotone, parallel line
    search; the memory is updated only on accepted steps). So the objective never rises and
    non-finite trials are never taken. Returns ``(params, objective_before, objective_after)``.
    """
    fn = functools.partial(objective_value, x=x, grads=grads, lam=lam, gam=gam, cfg=cfg)
    value_and_grad = jax.value_and_grad(fn)
    direction = optax.scale_by_lbfgs()
    sizes = jnp.asarray(REFINE_STEP_SIZES, params.dtype)

    def body(carry, _):
        p, state = carry
        value, grad = value_and_grad(p)  # one copy of the gradient program (a rejected step repeats it)
        d, moved = direction.update(grad, state, p)
        trials = p[None] - sizes[:, None] * d[None]
        values = jax.vmap(fn)(trials)
        values = jnp.where(jnp.isfinite(values) & jnp.all(jnp.isfinite(trials), axis=1), values, jnp.inf)
        i = jnp.argmin(values)
        better = values[i] < value
        keep = lambda new, old: jnp.where(better, new, old)
        return (keep(trials[i], p), jax.tree_util.tree_map(keep, moved, state)), value

    if steps == 0:
        before = fn(params)
        return params, before, before
    (out, _), values = jax.lax.scan(body, (params, direction.init(params)), None, length=steps)
    before, after = values[0], fn(out)
    good = jnp.isfinite(after) & jnp.all(jnp.isfinite(out)) & (after <= before)
    return jnp.where(good, out, params), before, jnp.where(good, after, before)


@functools.partial(jax.jit, static_argnames=("cfg", "steps"))
def refine_chains(params, x, grads, lam, gam, cfg: TrainConfig, steps: int):
    """:func:`refine` vmapped over ``params (C, P)``, ``lam``, ``gam`` ``(C,)``."""
    return jax.vmap(lambda p, lm, gm: refine(p, x, grads, lm, gm, cfg, steps))(params, lam, gam)


evaluate_jit = jax.jit(evaluate, static_argnames=("cfg",))
input_gradients_jit = jax.jit(input_gradients, static_argnames=("cfg",))
