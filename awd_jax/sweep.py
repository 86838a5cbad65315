"""Grids of (λ, γ) with warm start (docs/method.md#training), vectorised over independent chains.

With ``warm_start=True`` the cells are visited as the reference did:

1. the first-γ column (γ = 0 in the published grids) walks up λ: cell ``(i, 0)`` starts
   from the filter cell ``(i − 1, 0)`` produced (cell ``(0, 0)`` from ``h0``) — a
   sequential ``lax.scan`` over λ;
2. then, for every λ at once (``vmap`` over λ), the remaining γ values in ascending
   order, cell ``(i, j)`` starting from cell ``(i, j − 1)``'s filter — a ``lax.scan`` over γ.

Both stages are one compiled program. With ``warm_start=False`` every cell starts from
``h0`` and all cells run in one ``vmap``. Every cell gets a fresh optimiser state and
the same data order as ``fit(..., seed=seed)`` (it runs the same :func:`awd_jax._engine._train`),
so each cell equals ``fit`` run on its own from its starting filter.
Grids are sorted ascending. Cells with γ == 0 skip the attribution computation (as
``fit`` does) when they form the first column; elsewhere γ == 0 is computed and weighted by 0.
``callback``/early stopping are not available here; ``progress`` only reports the stages.
"""

from __future__ import annotations

import functools
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
    _stream_train,
    _train,
    check_data,
    config_dict,
    epochs_run_from_ok,
    initial_params,
    make_config,
    make_plan,
    prepare_h0,
    to_filter,
    with_gradients,
)
from awd_jax._search import (
    Search,
    check_refine,
    check_restarts,
    check_search,
    evaluation_samples,
    multistart,
    n_free_angles,
    search_candidates,
)
from awd_jax.results import SweepResult
from awd_jax.stream import as_mesh, batch_spec, host_data, replicated, wants_stream

__all__ = ["SweepResult", "select_cell", "sweep"]


def _grid(values: float | Sequence[float], name: str) -> np.ndarray:
    return _validate.grid(values, name)


def _pad_chains(tree, multiple: int):
    """Pad the leading (chain) axis of every leaf to a multiple of ``multiple`` with copies of the last chain."""
    def pad(a):
        extra = -a.shape[0] % multiple
        return a if not extra else jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)])

    return jax.tree_util.tree_map(pad, tree)


def _spread(tree, chain_sharding):
    """Constrain the leading (chain) axis of every leaf to ``chain_sharding`` (no-op for None)."""
    if chain_sharding is None:
        return tree
    return jax.tree_util.tree_map(lambda a: jax.lax.with_sharding_constraint(a, chain_sharding), tree)


def _vmap_chains(fn, args, n_dev: int, chain_sharding):
    """``vmap(fn)(*args)`` with the chains padded to a multiple of ``n_dev`` and spread over the devices."""
    n = jax.tree_util.tree_leaves(args)[0].shape[0]
    out = jax.vmap(fn)(*_spread(_pad_chains(args, n_dev), chain_sharding))
    return jax.tree_util.tree_map(lambda a: a[:n], out)


def _warm(h0, data, key, lams, gams, tp, cfg_first, cfg_rest, chain_sharding=None):
    """Warm-start grid: returns stacked (h_start, h_final, values, ok), each ``(n_λ, n_γ, ...)``."""
    train_first = functools.partial(_train, cfg=cfg_first)
    train_rest = functools.partial(_train, cfg=cfg_rest)

    def along_lam(h, lam):
        state, values, ok = train_first(h, data, key, lam, gams[0], tp)
        return state.params, (h, state.params, values, ok)

    _, first = jax.lax.scan(along_lam, h0, lams)  # each (n_λ, ...)
    if gams.shape[0] == 1:
        return jax.tree_util.tree_map(lambda a: a[:, None], first)

    def chain(h, lam):
        def along_gam(h, gam):
            state, values, ok = train_rest(h, data, key, lam, gam, tp)
            return state.params, (h, state.params, values, ok)

        return jax.lax.scan(along_gam, h, gams[1:])[1]

    n_dev = 1 if chain_sharding is None else chain_sharding.mesh.devices.size
    rest = _vmap_chains(chain, (first[1], lams), n_dev, chain_sharding)  # each (n_λ, n_γ - 1, ...)
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[:, None], b], axis=1), first, rest)


def _cold(h0, data, key, lams, gams, tp, cfg, chain_sharding=None):
    """Every cell from ``h0``: one vmap over the flattened cells of ``lams × gams`` (1-D each)."""
    def one(lam, gam):
        state, values, ok = _train(h0, data, key, lam, gam, tp, cfg)
        return h0, state.params, values, ok

    n_dev = 1 if chain_sharding is None else chain_sharding.mesh.devices.size
    return _vmap_chains(one, (lams, gams), n_dev, chain_sharding)


def _warm_streamed(h0, src, key, lams, gams, tp, cfg_first, cfg_rest, plan):
    """:func:`_warm` for host data: the λ walk, then every λ chain vmapped over γ, epoch by epoch."""
    starts, finals, values, oks = [], [], [], []
    h = h0
    for lam in lams:
        state, v, ok = _stream_train(h, src, key, lam, gams[0], tp, cfg_first, plan)
        starts.append(h)
        finals.append(state.params)
        values.append(v)
        oks.append(ok)
        h = state.params
    cols = [tuple(jnp.stack(a) for a in (starts, finals, values, oks))]
    hs = cols[0][1]
    for gam in gams[1:]:
        state, v, ok = _stream_train(hs, src, key, lams, jnp.full_like(lams, gam), tp, cfg_rest, plan, chains=True)
        cols.append((hs, state.params, v, ok))
        hs = state.params
    return tuple(jnp.stack([c[i] for c in cols], axis=1) for i in range(4))


def _cold_streamed(h0, src, key, lams, gams, tp, cfg, plan):
    """:func:`_cold` for host data: all cells as vmapped chains over one stream."""
    h0s = jnp.broadcast_to(h0, (lams.shape[0],) + h0.shape)
    state, values, ok = _stream_train(h0s, src, key, lams, gams, tp, cfg, plan, chains=True)
    return h0s, state.params, values, ok


# compiled once per static configuration and reused across calls
_warm_jit = jax.jit(_warm, static_argnames=("cfg_first", "cfg_rest", "chain_sharding"))
_cold_jit = jax.jit(_cold, static_argnames=("cfg", "chain_sharding"))


def sweep(
    h0: Any,
    teacher_fn: Callable | None,
    data: Any,
    objective: Objective | None = None,
    *,
    sparsity: Sequence[float] = (0.0,),
    interpretation: Sequence[float] = (0.0,),
    warm_start: bool = True,
    teacher_params: Any = None,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    batch_size: int | None = 100,
    epochs: int = 50,
    seed: int = 0,
    shuffle: bool = True,
    progress: bool = True,
    devices: Sequence[jax.Device] | Mesh | None = None,
    stream: bool | None = None,
    chunk_size: int | None = None,
    parametrization: str = "free",
    restarts: int = 1,
    key: jax.Array | None = None,
    refine: int = 0,
    search: Search | dict | None = None,
    **settings: Any,
) -> SweepResult:
    """Train one filter per ``(λ, γ)`` cell; the keyword arguments are :func:`awd_jax.fit`'s.

    Args:
      h0: starting filter of the first cell (every cell when ``warm_start=False``).
      sparsity: λ values; interpretation: γ values (both sorted ascending).
      warm_start: chain the cells as in docs/method.md#training (see the module docstring).
      devices: with in-memory data, the independent chains (λ values; every cell when
        ``warm_start=False``) are spread over these devices, the data replicated; with
        streamed data each batch is split over them as in ``fit``.
      stream, chunk_size: as :func:`awd_jax.fit` (with ``devices`` given, in-memory data
        stay in memory unless ``stream=True``).
      objective, teacher_params: as :func:`awd_jax.fit` (the settings may be keywords).
      parametrization, restarts, key, refine, search: as :func:`awd_jax.fit`, per cell. With
        ``restarts > 1`` or ``refine > 0`` each cell runs :func:`awd_jax.fit`'s many-start
        path: start 0 is the cell's warm-start filter (``h0`` for the first cell, or every
        cell when ``warm_start=False``), the others come from the global search at that
        cell's (λ, γ) (one global stage scores every cell's candidates at once); the cells run
        one after another, each as one vmapped program through the teacher's cached input
        gradients (docs/method.md#cached-input-gradients).

    Returns:
      :class:`SweepResult`; ``result.cell(i, j)`` equals ``fit(result.h0[i, j], ...,
      sparsity=λ_i, interpretation=γ_j, seed=seed)`` up to float rounding (with restarts,
      ``h0[i, j]`` is the winning start and ``result.starts[i, j]`` holds them all).
    """
    objective = as_objective(objective, settings, "sweep")
    seed = _validate.integer(seed, "seed")
    restarts = check_restarts(restarts)
    refine = check_refine(refine)
    search = check_search(search)
    mesh = as_mesh(devices)
    streamed = wants_stream(data, stream, None)
    data = host_data(data, objective.dims) if streamed else check_data(data, objective.dims)
    h0 = prepare_h0(h0, data.dtype)
    lams_np = _grid(sparsity, "sparsity")
    gams_np = _grid(interpretation, "interpretation")
    common = {
        "optimizer": optimizer, "learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs,
        "shuffle": shuffle, "teacher_params": teacher_params, "parametrization": parametrization,
    }
    cfg_on = make_config(teacher_fn, data, objective, interpretation_on=teacher_fn is not None, **common)
    tp = teacher_params if cfg_on.teacher_takes_params else None
    cfg_off = make_config(teacher_fn, data, objective, interpretation_on=False, **common)
    params0 = initial_params(h0, cfg_on.parametrization)
    h0 = to_filter(params0, cfg_on.parametrization)
    lams = jnp.asarray(lams_np, data.dtype)
    gams = jnp.asarray(gams_np, data.dtype)
    search_key = jax.random.fold_in(jax.random.PRNGKey(seed), 1) if key is None else key
    key = jax.random.PRNGKey(seed)
    n_lam, n_gam = lams_np.size, gams_np.size
    if progress:
        print(f"awd sweep: {n_lam} x {n_gam} cells, {epochs} epochs each, warm_start={warm_start} ...", flush=True)
    plan = make_plan(data, cfg_on, mesh, chunk_size) if streamed else None
    config = config_dict(
        cfg_on, teacher_fn=teacher_fn, h0=h0, data=data, sparsity=0.0, interpretation=0.0,
        optimizer=optimizer, learning_rate=learning_rate, seed=seed,
    )
    config.pop("sparsity")
    config.pop("interpretation")
    config.update(sparsity_grid=lams_np.tolist(), interpretation_grid=gams_np.tolist(), warm_start=bool(warm_start))
    if restarts > 1 or refine > 0:  # in-memory data on the default device (the chains are few and short)
        config.update(restarts=restarts, refine=refine, search=search._asdict())
        return _sweep_multistart(params0, data, key, search_key, lams_np, gams_np, tp, cfg_on, cfg_off, plan,
                                 warm_start=warm_start, restarts=restarts, refine=refine, search=search,
                                 config=config, progress=progress)
    chain_sharding = None
    if mesh is not None and not streamed:
        chain_sharding = batch_spec(mesh)
        data = jax.device_put(data, replicated(mesh))
    if warm_start:
        cfg_first = cfg_off if gams_np[0] == 0.0 else cfg_on
        if streamed:
            starts, finals, values, ok = _warm_streamed(params0, data, key, lams, gams, tp, cfg_first, cfg_on, plan)
        else:
            starts, finals, values, ok = _warm_jit(
                params0, data, key, lams, gams, tp, cfg_first=cfg_first, cfg_rest=cfg_on, chain_sharding=chain_sharding
            )
    else:
        zero = gams_np == 0.0
        parts = []
        for cols, cfg in ((np.flatnonzero(zero), cfg_off), (np.flatnonzero(~zero), cfg_on)):
            if cols.size == 0:
                continue
            li, gi = np.meshgrid(np.arange(n_lam), cols, indexing="ij")
            cell_lams, cell_gams = lams[li.ravel()], gams[gi.ravel()]
            if streamed:
                out = _cold_streamed(params0, data, key, cell_lams, cell_gams, tp, cfg, plan)
            else:
                out = _cold_jit(params0, data, key, cell_lams, cell_gams, tp, cfg=cfg, chain_sharding=chain_sharding)
            parts.append((li.ravel(), gi.ravel(), out))
        n = params0.shape[0]
        starts = np.zeros((n_lam, n_gam, n), h0.dtype)
        finals = np.zeros((n_lam, n_gam, n), h0.dtype)
        values = np.zeros((n_lam, n_gam, cfg_on.epochs, len(TERM_NAMES)), h0.dtype)
        ok = np.zeros((n_lam, n_gam, cfg_on.epochs), bool)
        for li, gi, (s, f, v, o) in parts:
            starts[li, gi], finals[li, gi], values[li, gi], ok[li, gi] = s, f, v, o
    starts, finals, values, ok = (np.asarray(a) for a in (starts, finals, values, ok))
    starts, finals = (np.asarray(to_filter(jnp.asarray(a), cfg_on.parametrization)) for a in (starts, finals))
    epochs_run = np.vectorize(lambda i, j: epochs_run_from_ok(ok[i, j]))(*np.indices((n_lam, n_gam)))
    epochs_run = np.asarray(epochs_run, dtype=int).reshape(n_lam, n_gam)
    valid = np.arange(cfg_on.epochs)[None, None, :] < epochs_run[..., None]
    values = np.where(valid[..., None], values, np.nan)
    history = {k: values[..., i] for i, k in enumerate(TERM_NAMES)}
    diverged = ~ok[..., -1] if cfg_on.epochs else np.zeros((n_lam, n_gam), bool)
    return SweepResult(finals, starts, history, lams_np, gams_np, np.asarray(diverged), epochs_run, config)


def _sweep_multistart(params0, data, key, search_key, lams_np, gams_np, tp, cfg_on, cfg_off, plan, *, warm_start,
                      restarts, refine, search, config, progress) -> SweepResult:
    """Every cell through :func:`awd_jax._search.multistart`, in warm-start order (or each from ``params0``)."""
    n_lam, n_gam = lams_np.size, gams_np.size
    # one program for every cell: cfg_on (γ = 0 weighs the attributions by 0), trained through the
    # teacher's cached input gradients; one global stage scores every cell's candidates at once
    evaluation = evaluation_samples(data, search_key, tp, cfg_on, search)
    dtype = evaluation[0].dtype
    train_data = with_gradients(cfg_on, tp, data) if plan is None and cfg_on.parametrization == "lattice" else None
    candidates = None
    if restarts > 1:
        li, gi = np.meshgrid(lams_np, gams_np, indexing="ij")
        candidates = search_candidates(evaluation, search_key, li.ravel(), gi.ravel(), cfg_on, search,
                                       n_free_angles(params0, cfg_on.parametrization))
    runs: dict = {}

    def run_cell(i, j, start):
        k = i * n_gam + j
        cell = None if candidates is None else (candidates[0][k], candidates[1][k])
        cfg = cfg_on if plan is None else (cfg_off if gams_np[j] == 0.0 and (j == 0 or not warm_start) else cfg_on)
        out = multistart(start, data, key, jnp.asarray(lams_np[i], dtype), jnp.asarray(gams_np[j], dtype), tp, cfg,
                         restarts=restarts, refine=refine, search=search,
                         search_key=jax.random.fold_in(search_key, k), plan=plan, evaluation=evaluation,
                         candidates=cell, train_data=train_data)
        runs[i, j] = out
        if progress:
            print(f"  cell ({i}, {j}): objective {out.objectives[out.best]:.6g} (start {out.best})", flush=True)
        return jnp.asarray(out.params[out.best])

    h = params0
    for i in range(n_lam):
        h = run_cell(i, 0, h if warm_start else params0)
        row = h
        for j in range(1, n_gam):
            row = run_cell(i, j, row if warm_start else params0)
    to_h = lambda p: np.asarray(to_filter(jnp.asarray(p), cfg_on.parametrization))
    cells = [[runs[i, j] for j in range(n_gam)] for i in range(n_lam)]
    pick = lambda f: np.stack([np.stack([f(c) for c in row]) for row in cells])
    finals = to_h(pick(lambda c: c.params[c.best]))
    starts_all = to_h(pick(lambda c: c.starts))
    best = pick(lambda c: np.asarray(c.best))
    values = pick(lambda c: c.values[c.best])
    ok = pick(lambda c: c.ok[c.best])
    epochs_run = np.vectorize(lambda i, j: epochs_run_from_ok(ok[i, j]))(*np.indices((n_lam, n_gam)))
    epochs_run = np.asarray(epochs_run, dtype=int).reshape(n_lam, n_gam)
    valid = np.arange(cfg_on.epochs)[None, None, :] < epochs_run[..., None]
    values = np.where(valid[..., None], values, np.nan)
    history = {k: values[..., t] for t, k in enumerate(TERM_NAMES)}
    diverged = ~ok[..., -1] if cfg_on.epochs else np.zeros((n_lam, n_gam), bool)
    winners = np.take_along_axis(starts_all, best[..., None, None], axis=2)[:, :, 0]
    return SweepResult(finals, winners, history, lams_np, gams_np, np.asarray(diverged), epochs_run, config,
                       starts=starts_all, objectives=pick(lambda c: c.objectives),
                       objectives_before_refine=pick(lambda c: c.before_refine), best_start=best)


def select_cell(scores: Any, *, maximize: bool = False, columns: Sequence[int] | None = None) -> tuple[int, int]:
    """The grid cell ``(i, j)`` of a sweep with the best finite score.

    Args:
      scores: ``(n_λ, n_γ)`` one score per cell (e.g. a validation error, a ψ distance);
        NaN/inf (diverged cells) never win.
      maximize: pick the highest score (default: the lowest).
      columns: only these γ columns compete (e.g. the γ = 0 columns for "AWD without
        interpretation").

    Returns the first best cell in row-major order on ties.

    Raises:
      ValueError: ``scores`` is not 2-D, a column is out of range, or no candidate cell has a
        finite score.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores: expected a 2-D (n_sparsity, n_interpretation) grid, got shape {s.shape}.")
    worst = -np.inf if maximize else np.inf
    s = np.where(np.isfinite(s), s, worst)
    if columns is not None:
        cols = [int(c) for c in columns]
        if any(not -s.shape[1] <= c < s.shape[1] for c in cols):
            raise ValueError(f"columns: expected indices of the {s.shape[1]} columns, got {list(columns)}.")
        keep = np.full(s.shape, worst)
        keep[:, cols] = s[:, cols]
        s = keep
    if not np.isfinite(s).any():
        raise ValueError("scores: no finite score among the candidate cells (every one diverged?).")
    i, j = np.unravel_index(int(np.argmax(s) if maximize else np.argmin(s)), s.shape)
    return int(i), int(j)
