"""``fit``: learn one wavelet filter with the AWD objective (one chain, or many starts at once).

The engine (state, guarded step, epochs, streamed runner) is :mod:`awd_jax._engine`; the
restarts' global stage and the L-BFGS finish are :mod:`awd_jax._search`. ``fit`` runs the
epochs from a Python loop so it can show progress, call ``callback``, checkpoint and stop
early; with ``restarts > 1`` the starts run as one vmapped program instead.

Divergence guard: a step whose loss, terms or updated filter is non-finite is not
applied; from then on the state is frozen, so it always holds the last finite filter.
``fit`` stops after that epoch, warns, and reports ``diverged=True``; the history includes
the diverging epoch (its mean is non-finite).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from awd_jax import _validate
from awd_jax._config import Objective, as_objective
from awd_jax._engine import (
    TERM_NAMES,
    TrainState,
    _epoch_jit,
    _init_state,
    _per_epoch,
    _stream_epoch,
    check_data,
    config_dict,
    epochs_run_from_ok,
    initial_params,
    make_config,
    make_plan,
    prepare_h0,
    to_filter,
)
from awd_jax._search import Search, check_refine, check_restarts, check_search, multistart
from awd_jax.checkpoint import Checkpoint, fingerprint_of, load_checkpoint, save_checkpoint
from awd_jax.results import FitResult
from awd_jax.stream import as_mesh, host_data, wants_stream

__all__ = ["TERM_NAMES", "FitResult", "Search", "TrainState", "fit"]


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
    parametrization: str = "free",
    restarts: int = 1,
    key: jax.Array | None = None,
    refine: int = 0,
    search: Search | dict | None = None,
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
      parametrization: ``"free"`` (the paper's: the ``N`` taps, held near orthogonality by
        the penalties) or ``"lattice"``: ``N/2 − 1`` free angles of the paraunitary lattice
        (``docs/method.md#lattice``), so every filter visited is exactly orthogonal with
        Σh = √2 and the five penalties stay at rounding level. ``h0`` is then replaced by
        the nearest such filter (itself when it is one); ``N`` must be even.
      restarts: ``R`` starts run as one vmapped program, ``h0`` first and ``R − 1`` from
        a global search over the lattice angles (``docs/method.md#restarts``); the start
        with the lowest objective is kept. ``callback`` and ``checkpoint_dir`` need
        ``restarts=1``.
      key: PRNG key of that search (default ``fold_in(PRNGKey(seed), 1)``).
      refine: L-BFGS iterations of a full-batch finish on the evaluation samples
        (``search.eval_samples``; 0: none). Never raises the objective.
      search: :class:`awd_jax.Search` settings of the global stage (or a dict of them).

    Returns:
      :class:`FitResult`; with ``restarts > 1`` or ``refine > 0`` it also holds ``starts``
      ``(R, N)``, ``objectives`` ``(R,)`` (each start's final objective),
      ``objectives_before_refine`` and ``best_start``.

    Raises:
      ValueError/TypeError: bad ``data`` (dims, NaN), teacher output shape, ``target``,
        ``method``, ``batch_size``, ``epochs``, ``optimizer``, ``devices``, ``chunk_size``,
        checkpoint.
    """
    objective = as_objective(objective, settings, "fit")
    sparsity = _validate.number(sparsity, "sparsity")
    interpretation = _validate.number(interpretation, "interpretation")
    seed = _validate.integer(seed, "seed")
    _validate.checkpoint_dir(checkpoint_dir)
    restarts = check_restarts(restarts)
    refine = check_refine(refine)
    search = check_search(search)
    if restarts > 1 and (callback is not None or checkpoint_dir is not None):
        raise ValueError(
            f"restarts: callback and checkpoint_dir follow one chain; expected restarts=1 with them, got {restarts}."
        )
    mesh = as_mesh(devices)
    streamed = wants_stream(data, stream, mesh)
    data = host_data(data, objective.dims) if streamed else check_data(data, objective.dims)
    h0 = prepare_h0(h0, data.dtype)
    interp_on = teacher_fn is not None and float(interpretation) != 0.0
    cfg = make_config(
        teacher_fn, data, objective, interpretation_on=interp_on, optimizer=optimizer, learning_rate=learning_rate,
        batch_size=batch_size, epochs=epochs, shuffle=shuffle, teacher_params=teacher_params,
        parametrization=parametrization,
    )
    tp = teacher_params if cfg.teacher_takes_params else None
    params0 = initial_params(h0, cfg.parametrization)
    h0 = to_filter(params0, cfg.parametrization)
    config = config_dict(
        cfg, teacher_fn=teacher_fn, h0=h0, data=data, sparsity=sparsity, interpretation=interpretation,
        optimizer=optimizer, learning_rate=learning_rate, seed=seed,
    )
    if restarts > 1 or refine > 0:
        config.update(restarts=restarts, refine=refine, search=search._asdict())
    plan = make_plan(data, cfg, mesh, chunk_size) if streamed else None
    if checkpoint_dir is not None:
        checkpoint_every = _validate.integer(checkpoint_every, "checkpoint_every", least=1)
    data_key = jax.random.PRNGKey(seed)
    search_key = jax.random.fold_in(data_key, 1) if key is None else key
    lam = jnp.asarray(sparsity, data.dtype)
    gam = jnp.asarray(interpretation, data.dtype)
    if restarts > 1:
        if progress:
            print(f"awd fit: {restarts} starts x {cfg.epochs} epochs ...", flush=True)
        run = multistart(params0, data, data_key, lam, gam, tp, cfg, restarts=restarts, refine=refine,
                         search=search, search_key=search_key, plan=plan)
        return _multistart_result(run, cfg, config)
    key = data_key
    state = _init_state(params0, cfg)
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
            if np.shape(ckpt.h) != params0.shape:
                raise ValueError(
                    f"checkpoint_dir: the checkpoint in {checkpoint_dir} holds parameters of shape "
                    f"{np.shape(ckpt.h)}, expected {params0.shape}; delete it or use another checkpoint_dir."
                )
            state = TrainState(
                cast(ckpt.h, params0), jax.tree_util.tree_map(cast, ckpt.opt_state, state.opt_state),
                jnp.asarray(ckpt.ok),
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
            epoch_done, np.asarray(state.params), jax.tree_util.tree_map(np.asarray, state.opt_state),
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
                stop = callback(epoch, np.asarray(to_filter(state.params, cfg.parametrization)), terms) is True
            if checkpoint_dir is not None and (stop or (epoch + 1) % checkpoint_every == 0 or epoch + 1 == cfg.epochs):
                save(epoch + 1)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    table = np.stack(rows) if rows else np.zeros((0, len(TERM_NAMES)))
    history = {k: table[:, i] for i, k in enumerate(TERM_NAMES)}
    h = np.asarray(to_filter(state.params, cfg.parametrization))
    if refine == 0:
        return FitResult(h, history, config, diverged, len(rows))
    done = multistart(params0, data, key, lam, gam, tp, cfg, restarts=1, refine=refine, search=search,
                      search_key=search_key, trained=(state.params[None], table[None], None))
    return FitResult(np.asarray(to_filter(jnp.asarray(done.params[0]), cfg.parametrization)), history, config,
                     diverged, len(rows), starts=np.asarray(h0)[None], objectives=done.objectives,
                     objectives_before_refine=done.before_refine, best_start=0)


def _multistart_result(run, cfg, config: dict) -> FitResult:
    """The :class:`FitResult` of the best of ``run``'s starts."""
    best = run.best
    ok = run.ok[best]
    epochs_run = epochs_run_from_ok(ok) if ok.size else 0
    table = run.values[best, :epochs_run]
    history = {k: table[:, i] for i, k in enumerate(TERM_NAMES)}
    diverged = bool(ok.size) and not bool(ok[-1])
    if diverged:
        warnings.warn(f"fit: the best start ({best}) diverged; its last finite filter is returned.", RuntimeWarning,
                      stacklevel=3)
    to_h = lambda p: np.asarray(to_filter(jnp.asarray(p), cfg.parametrization))
    return FitResult(to_h(run.params[best]), history, config, diverged, epochs_run, starts=to_h(run.starts),
                     objectives=run.objectives, objectives_before_refine=run.before_refine, best_start=best)
