"""Training a filter with the AWD objective: ``fit`` and its pure core ``_train``.

Layout (shared with :mod:`awd_jax.sweep`, which vmaps/scans the same functions):

* :func:`_step` — one optimiser step on one minibatch (the only compiled step body).
* :func:`_epoch` — one epoch: a ``jax.random.permutation`` of the samples (key
  ``fold_in(PRNGKey(seed), epoch)``) cut into ``ceil(n / batch_size)`` batches and one
  ``lax.scan`` of :func:`_step` over them. When ``batch_size`` does not divide ``n`` the
  last batch holds the remaining ``n % batch_size`` samples, padded to full size with
  copies of other samples whose mask is 0: masked samples contribute nothing and the
  batch's B is its true size, so this is exactly the smaller batch (nothing dropped), and
  every batch runs the same compiled step. The epoch's terms are the plain mean over its
  batches of each batch's terms, computed before that batch's update (docs/method.md#training).
* :func:`_train` — ``epochs`` epochs as one ``lax.scan`` (used by ``sweep``); ``fit`` runs
  the same :func:`_epoch` from a Python loop so it can show progress, call ``callback``
  and stop early.

Divergence guard: a step whose loss, terms or updated filter is non-finite is not
applied; from then on the state is frozen (``ok = False``), so the state always holds
the last finite filter. ``fit`` stops after that epoch, warns, and reports
``diverged=True``; the history includes the diverging epoch (its mean is non-finite).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jax.sharding import Mesh

from awd_jax._config import Objective, as_objective
from awd_jax.attributions import bind_teacher, check_teacher, objective_impl
from awd_jax.checkpoint import Checkpoint, fingerprint_of, load_checkpoint, save_checkpoint
from awd_jax.filters import lowpass
from awd_jax.objective import LossTerms, awd_loss
from awd_jax.results import FitResult
from awd_jax.stream import (
    HostData,
    as_mesh,
    batch_spec,
    batches_per_chunk,
    chunks,
    epoch_batches,
    host_data,
    mesh_size,
    replicate,
    wants_stream,
)

__all__ = ["TERM_NAMES", "FitResult", "TrainState", "fit"]

TERM_NAMES = LossTerms._fields + ("total",)


class TrainConfig(NamedTuple):
    """Static settings of a training run (closed over by the compiled functions)."""

    teacher_fn: Callable | None  # None: no interpretation term
    objective: Objective  # with impl resolved for the data's shape
    optimizer: optax.GradientTransformation
    batch_size: int
    epochs: int
    shuffle: bool
    teacher_takes_params: bool = False  # teacher_fn(params, x) with params traced


class TrainState(NamedTuple):
    """Carried state: filter ``(N,)``, optimiser state, and ``ok`` (False once diverged)."""

    h: jax.Array
    opt_state: Any
    ok: jax.Array


def _init_state(h0: jax.Array, cfg: TrainConfig) -> TrainState:
    return TrainState(h0, cfg.optimizer.init(h0), jnp.asarray(True))


def _loss(h, x, mask, lam, gam, tp, cfg: TrainConfig):
    return awd_loss(h, cfg.teacher_fn, x, cfg.objective, sparsity=lam, interpretation=gam, mask=mask,
                    teacher_params=tp if cfg.teacher_takes_params else None)


def _step(state: TrainState, x: jax.Array, mask: jax.Array | None, lam, gam, tp, cfg: TrainConfig):
    """One guarded optimiser step on ``x`` ``(B, ...)`` with sample mask ``(B,)`` (or None).

    ``tp``: the teacher's parameters (traced), used when ``cfg.teacher_takes_params``.

    Returns the new state and the pre-step terms ``(9,)`` (LossTerms fields, then total).
    """
    (total, terms), grad = jax.value_and_grad(_loss, has_aux=True)(state.h, x, mask, lam, gam, tp, cfg)
    updates, opt_state = cfg.optimizer.update(grad, state.opt_state, state.h)
    h = optax.apply_updates(state.h, updates)
    values = jnp.stack(list(terms) + [total])
    good = state.ok & jnp.all(jnp.isfinite(values)) & jnp.all(jnp.isfinite(h))
    keep = lambda new, old: jnp.where(good, new, old)
    new_state = TrainState(keep(h, state.h), jax.tree_util.tree_map(keep, opt_state, state.opt_state), good)
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


def _stream_train(h0, src: HostData, key, lam, gam, tp, cfg: TrainConfig, plan: StreamPlan, chains=False):
    """:func:`_train` for host data (Python loop over epochs); same outputs.

    With ``chains``, ``h0 (C, N)``, ``lam (C,)`` and ``gam (C,)`` run as one vmapped program.
    """
    init = jax.vmap(lambda h: _init_state(h, cfg)) if chains else (lambda h: _init_state(h, cfg))
    state = plan.place(init(h0))
    values, oks = [], []
    for epoch in range(cfg.epochs):
        first = plan._replace(check_finite=plan.check_finite and epoch == 0)
        state, v = _stream_epoch(state, src, key, epoch, lam, gam, tp, cfg, first, chains)
        values.append(v)
        oks.append(state.ok)
    if not values:
        shape = (h0.shape[0], 0) if chains else (0,)
        return state, jnp.zeros(shape + (len(TERM_NAMES),), h0.dtype), jnp.zeros(shape, bool)
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


def _train(h0: jax.Array, data: jax.Array, key: jax.Array, lam, gam, tp, cfg: TrainConfig):
    """``cfg.epochs`` epochs as one scan, from a fresh optimiser state.

    Returns ``(state, values (epochs, 9), ok (epochs,))``, where ``ok[e]`` says the run had
    not diverged by the end of epoch ``e``. Pure; vmappable over ``h0``, ``lam``, ``gam``.
    """
    def body(state, epoch):
        state, values = _epoch(state, data, key, epoch, lam, gam, tp, cfg)
        return state, (values, state.ok)

    state, (values, ok) = jax.lax.scan(body, _init_state(h0, cfg), jnp.arange(cfg.epochs))
    return state, values, ok


def epochs_run_from_ok(ok: np.ndarray) -> int:
    """Epochs actually run by ``fit`` given the per-epoch ``ok`` flags (the diverging one included)."""
    ok = np.asarray(ok, bool)
    n_ok = int(ok.sum())
    return n_ok if n_ok == ok.shape[0] else n_ok + 1


def check_data(data: Any, dims: int) -> jax.Array:
    """Validate training data ``(n, ..., L)`` (dims=1) / ``(n, ..., H, W)`` (dims=2): real, finite."""
    if not hasattr(data, "shape"):
        data = np.asarray(data)
    if not (jnp.issubdtype(data.dtype, jnp.floating) or jnp.issubdtype(data.dtype, jnp.integer)):
        raise TypeError(f"data: expected a real numeric array, got dtype {data.dtype}.")
    need = dims + 1
    if data.ndim < need:
        layout = ("(n, ..., L)", "(n, ..., H, W)", "(n, ..., D, H, W)")[min(dims, 3) - 1]
        raise ValueError(
            f"data: expected at least {need} dimensions {layout} for dims={dims}, got shape {tuple(data.shape)}."
        )
    if data.shape[0] < 1:
        raise ValueError("data: expected at least one sample, got n = 0.")
    data = jnp.asarray(data)
    if not jnp.issubdtype(data.dtype, jnp.floating):
        data = data.astype(jnp.zeros(()).dtype)
    if not bool(jnp.all(jnp.isfinite(data))):
        bad = int(jnp.sum(~jnp.isfinite(data)))
        raise ValueError(f"data: expected finite values, found {bad} NaN/inf entries.")
    return data


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
    shuffle, teacher_params=None,
) -> TrainConfig:
    """Validate the settings shared by ``fit`` and ``sweep`` and build the static :class:`TrainConfig`."""
    target = objective.target
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs: expected a non-negative int, got {epochs!r}.")
    n = data.shape[0]
    if batch_size is None:
        bs = n
    elif not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int or None (full batch), got {batch_size!r}.")
    else:
        bs = min(int(batch_size), n)
    if teacher_fn is not None:
        check_teacher(bind_teacher(teacher_fn, teacher_params), (bs,) + tuple(data.shape[1:]), data.dtype, target)
    if optimizer is None:
        optimizer = _default_optimizer(float(learning_rate))
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer: expected an optax.GradientTransformation, got {type(optimizer).__name__}.")
    resolved = dataclasses.replace(objective, impl=objective_impl(objective.impl, data.shape, objective.dims))
    return TrainConfig(
        teacher_fn if interpretation_on else None, resolved, optimizer, bs, int(epochs), bool(shuffle),
        teacher_params is not None and interpretation_on,
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
        "h0": [float(v) for v in np.asarray(h0, np.float64)], "n_samples": int(data.shape[0]),
        "data_shape": [int(s) for s in data.shape], "dtype": str(data.dtype),
    }


def prepare_h0(h0: Any, dtype: Any) -> jax.Array:
    """``h0`` (name, ``pywt.Wavelet`` or array) → ``(N,)`` array in the data dtype."""
    return jnp.asarray(lowpass(h0)).astype(dtype)


def fit(
    h0: Any,
    teacher_fn: Callable | None,
    data: Any,
    objective: Objective | None = None,
    *,
    sparsity: float = 0.0,
    interpretation: float = 0.0,
    teacher_params: Any = None,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    batch_size: int | None = 100,
    epochs: int = 50,
    seed: int = 0,
    shuffle: bool = True,
    progress: bool = True,
    callback: Callable[[int, np.ndarray, dict], bool | None] | None = None,
    devices: Sequence[jax.Device] | Mesh | None = None,
    stream: bool | None = None,
    chunk_size: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    **settings: Any,
) -> FitResult:
    """Learn a wavelet filter by minimising :func:`awd_jax.awd_loss` over ``data``.

    Args:
      h0: initial filter (name, ``pywt.Wavelet`` or ``(N,)`` array).
      teacher_fn: ``x (B, ...) -> (B,)``/``(B, K)``, or ``None`` (no interpretation term);
        with ``teacher_params``, ``teacher_fn(teacher_params, x)``.
      data: ``(n, ..., L)`` (``dims=1``) or ``(n, ..., H, W)`` (``dims=2``); finite. An
        array (JAX or NumPy), a NumPy memmap, or any object with ``__len__`` and
        ``__getitem__`` returning one sample (see ``stream``).
      objective: the objective's static settings (:class:`~awd_jax.Objective`: level,
        mode, weights, method, target, dims, steps, impl); or give them as keywords
        (``level=4, mode="zero"``), which build one.
      sparsity (λ), interpretation (γ): as :func:`awd_jax.awd_loss`. With
        ``interpretation == 0`` the attributions are not computed (the history records 0).
      optimizer: any optax transformation (default ``optax.adam(learning_rate)``);
        a fresh state per call.
      batch_size: minibatch size (``None`` = full batch; capped at ``n``). When it does
        not divide ``n``, each epoch ends with one smaller batch of the remaining samples
        (run exactly, as a masked full-size batch; see the module docstring).
      epochs, seed, shuffle: epoch ``e`` shuffles with ``fold_in(PRNGKey(seed), e)``.
      progress: tqdm bar over epochs showing the epoch loss.
      callback: ``callback(epoch, h, epoch_terms)`` after each epoch (``h`` a NumPy
        ``(N,)``, ``epoch_terms`` a dict of floats); returning ``True`` stops training.
      devices: ``None`` (the default device), a sequence of JAX devices or a
        ``jax.sharding.Mesh``: each batch is split over the devices along the batch axis
        (``batch_size`` must be a multiple of their number); filter and optimiser state are
        replicated. The result equals the single-device run up to float rounding.
      stream: keep ``data`` on the host and move it to the device(s) in prefetched chunks
        (``None``: automatic — memmaps, sample sequences, NumPy arrays over
        :data:`awd_jax.stream.STREAM_AUTO_BYTES`, and whenever ``devices`` is given). Same
        batches as in memory, so the same result for the same seed.
      chunk_size: samples per host→device transfer when streaming (default: 64 MiB worth).
      checkpoint_dir: folder for an atomic checkpoint (filter, optimiser state, RNG key,
        history, epoch) written every ``checkpoint_every`` epochs and at the end. A folder
        that already holds a checkpoint of the same configuration resumes from it (so
        ``epochs=3`` then ``epochs=6`` on one folder equals one ``epochs=6`` run); a corrupt
        or mismatched checkpoint raises ``ValueError``.
      checkpoint_every: epochs between checkpoints.
      teacher_params: the teacher's parameters (any pytree, e.g. Flax ``variables`` or an
        ``nnx.split`` state): the teacher is called as ``teacher_fn(teacher_params, x)`` and
        the parameters are an argument of the compiled program, not a constant, so a second
        ``fit`` with other parameters of the same shapes compiles nothing new.

    Returns:
      :class:`FitResult`.

    Raises:
      ValueError/TypeError: bad ``data`` (dims, NaN), teacher output shape, ``target``,
        ``method``, ``batch_size``, ``epochs``, ``optimizer``, ``devices``, ``chunk_size``,
        checkpoint.
    """
    objective = as_objective(objective, settings, "fit")
    mesh = as_mesh(devices)
    streamed = wants_stream(data, stream, mesh)
    data = host_data(data, objective.dims) if streamed else check_data(data, objective.dims)
    h0 = prepare_h0(h0, data.dtype)
    interp_on = teacher_fn is not None and float(interpretation) != 0.0
    cfg = make_config(
        teacher_fn, data, objective, interpretation_on=interp_on, optimizer=optimizer, learning_rate=learning_rate,
        batch_size=batch_size, epochs=epochs, shuffle=shuffle, teacher_params=teacher_params,
    )
    tp = teacher_params if cfg.teacher_takes_params else None
    config = config_dict(
        cfg, teacher_fn=teacher_fn, h0=h0, data=data, sparsity=sparsity, interpretation=interpretation,
        optimizer=optimizer, learning_rate=learning_rate, seed=seed,
    )
    plan = make_plan(data, cfg, mesh, chunk_size) if streamed else None
    bad_every = not isinstance(checkpoint_every, (int, np.integer)) or isinstance(checkpoint_every, bool)
    if checkpoint_dir is not None and (bad_every or checkpoint_every < 1):
        raise ValueError(f"checkpoint_every: expected a positive int (epochs), got {checkpoint_every!r}.")
    key = jax.random.PRNGKey(seed)
    lam = jnp.asarray(sparsity, data.dtype)
    gam = jnp.asarray(interpretation, data.dtype)
    state = _init_state(h0, cfg)
    rows: list[np.ndarray] = []
    start = 0
    fingerprint = fingerprint_of(config) if checkpoint_dir is not None else None
    if checkpoint_dir is not None:
        ckpt = load_checkpoint(checkpoint_dir, opt_state_template=state.opt_state, fingerprint=fingerprint)
        if ckpt is not None:
            if ckpt.epoch > cfg.epochs:
                raise ValueError(
                    f"epochs: the checkpoint in {checkpoint_dir} already holds {ckpt.epoch} epochs, more than "
                    f"the {cfg.epochs} requested; ask for at least {ckpt.epoch} epochs or use another checkpoint_dir."
                )
            cast = lambda a, like: jnp.asarray(a, like.dtype)
            state = TrainState(
                cast(ckpt.h, h0), jax.tree_util.tree_map(cast, ckpt.opt_state, state.opt_state), jnp.asarray(ckpt.ok)
            )
            rows = [np.asarray(r) for r in ckpt.history]
            start = ckpt.epoch
    if plan is not None:
        state = plan.place(state)
    epoch_fn = functools.partial(_epoch_jit, cfg=_per_epoch(cfg))
    diverged = not bool(state.ok)
    bar = None
    epochs_iter = range(start, cfg.epochs) if not diverged else range(0)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(epochs_iter, desc="awd fit", leave=False, initial=start, total=cfg.epochs)
        epochs_iter = bar

    def save(epoch_done: int) -> None:
        table = np.stack(rows) if rows else np.zeros((0, len(TERM_NAMES)), np.asarray(h0).dtype)
        save_checkpoint(checkpoint_dir, Checkpoint(
            epoch_done, np.asarray(state.h), jax.tree_util.tree_map(np.asarray, state.opt_state),
            np.asarray(key), table, bool(state.ok), fingerprint,
        ))

    try:
        for epoch in epochs_iter:
            if plan is None:
                state, values = epoch_fn(state, data, key, epoch, lam, gam, tp)
            else:
                first = plan._replace(check_finite=epoch == start)  # this call's first pass reads every sample
                state, values = _stream_epoch(state, data, key, epoch, lam, gam, tp, cfg, first)
            values = np.asarray(values)
            rows.append(values)
            if bar is not None:
                bar.set_postfix(loss=f"{values[-1]:.4g}")
            if not bool(state.ok):
                diverged = True
                warnings.warn(
                    f"fit: the loss or filter became non-finite during epoch {epoch} "
                    f"(epoch loss {values[-1]}); training stopped and the last finite filter is "
                    f"returned (try a smaller learning_rate).",
                    RuntimeWarning,
                    stacklevel=2,
                )
            stop = diverged
            if not stop and callback is not None:
                terms = {k: float(v) for k, v in zip(TERM_NAMES, values)}
                stop = callback(epoch, np.asarray(state.h), terms) is True
            if checkpoint_dir is not None and (stop or (epoch + 1) % checkpoint_every == 0 or epoch + 1 == cfg.epochs):
                save(epoch + 1)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    table = np.stack(rows) if rows else np.zeros((0, len(TERM_NAMES)))
    history = {k: table[:, i] for i, k in enumerate(TERM_NAMES)}
    return FitResult(np.asarray(state.h), history, config, diverged, len(rows))
