"""Many starts at once: a global stage over the lattice angles, chains, and a second-order finish (internal).

``fit(..., restarts=R)`` and ``sweep(..., restarts=R)`` run :func:`multistart`
(``docs/method.md#restarts``):

1. **Global stage** (:func:`global_candidates`): ``search.candidates`` angle vectors drawn
   uniformly from ``(−π/2, π/2]^(K−1)`` (the lattice map is invariant under adding π to a free
   angle, the dependent angle absorbing it, so this box covers every orthogonal filter with
   Σh = √2) are scored by the exact objective on ``search.screen_samples`` samples; the best
   ``search.descend`` are descended by ``search.descend_steps`` Adam steps on
   ``search.descend_samples`` samples. Both use the teacher's cached input gradients
   (:func:`awd_jax._engine.linear_teacher`), so no teacher is called in this stage.
2. **Starts** (:func:`pick_starts`): start 0 is ``h0`` (or the warm-start filter of a grid
   cell); starts ``1 … R−1`` are the best descended candidates, at least
   ``search.min_separation`` apart as filters (L2), so the chains explore different basins.
3. **Chains**: the ``R`` starts train on the objective, vmapped as one program, all on the same
   batches. With ``parametrization="lattice"`` and in-memory data they train through the cached
   input gradients (exact there, ``docs/method.md#cached-input-gradients``); otherwise the
   teacher is called as in ``fit``.
4. **Finish**: each chain's filter is scored by the exact objective on the evaluation samples;
   the lowest wins and, with ``refine > 0``, is polished by full-batch L-BFGS
   (:func:`awd_jax._engine.refine`, never raising the objective, so it stays the winner).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from awd_jax import _validate
from awd_jax._engine import (
    HostData,
    StreamPlan,
    TrainConfig,
    _stream_train,
    _train_chains_jit,
    evaluate_jit,
    input_gradients_jit,
    objective_parts,
    objective_value,
    refine_chains,
    to_filter,
    with_gradients,
)
from awd_jax.filters import lattice_free_filter

__all__ = ["Search", "MultiStart", "check_restarts", "check_refine", "check_search", "evaluation_samples", "multistart"]


class Search(NamedTuple):
    """Settings of the global stage of ``restarts`` (static; see the module docstring).

    Attributes:
      candidates: angle vectors screened (uniform over the angle box).
      screen_samples: samples in the screening objective (``None``: as many as hold
        :data:`SCREEN_VALUES` values, between 2 and 32: 32 signals of 64 samples, 4 maps of 64 × 64).
      descend: best candidates descended by Adam.
      descend_steps: Adam steps of that descent.
      descend_samples: samples in the descent's objective (``None``: as many as hold
        :data:`DESCEND_VALUES` values, between 2 and 16).
      learning_rate: Adam's step size in the descent (radians).
      min_separation: minimum L2 distance between the filters of two chosen starts.
      eval_samples: samples on which finished filters are scored and refined (all when
        the data have fewer; otherwise a random subset).
      chunk: candidates scored per vectorised batch (memory bound of the screen).
    """

    candidates: int = 16384
    screen_samples: int | None = None
    descend: int = 256
    descend_steps: int = 15
    descend_samples: int | None = None
    learning_rate: float = 0.05
    min_separation: float = 0.05
    eval_samples: int = 8192
    chunk: int = 2048


#: the global stage's default sample budgets, in values (samples × values per sample): the
#: stage's cost grows with them times ``candidates``, so larger samples get fewer of them
SCREEN_VALUES = 16384
DESCEND_VALUES = 1024


def stage_samples(requested: int | None, budget: int, cap: int, sample_size: int, available: int) -> int:
    """Samples in a global-stage objective: ``requested``, or ``budget // sample_size`` clipped to
    ``[2, cap]``; never more than ``available``."""
    n = requested if requested is not None else min(cap, max(2, budget // max(sample_size, 1)))
    return min(n, available)


class MultiStart(NamedTuple):
    """Outcome of :func:`multistart` for ``R`` starts (NumPy arrays)."""

    params: np.ndarray  # (R, P) final parameters (after refinement)
    values: np.ndarray  # (R, epochs, 9) per-epoch terms of each chain
    ok: np.ndarray  # (R, epochs)
    starts: np.ndarray  # (R, P) starting parameters
    objectives: np.ndarray  # (R,) final objective on the evaluation samples
    before_refine: np.ndarray  # (R,) the same before refinement
    best: int


def _positive_int(value: Any, name: str, minimum: int) -> int:
    return _validate.integer(value, name, least=minimum)


def check_restarts(restarts: Any) -> int:
    return _positive_int(restarts, "restarts", 1)


def check_refine(refine: Any) -> int:
    """``refine``: L-BFGS iterations (0: none; ``True`` is not a count)."""
    return _positive_int(refine, "refine", 0)


def check_search(search: Any) -> Search:
    if search is None:
        return Search()
    if isinstance(search, dict):
        unknown = sorted(set(search) - set(Search._fields))
        if unknown:
            raise ValueError(f"search: unknown setting(s) {unknown}; expected some of {list(Search._fields)}.")
        search = Search(**search)
    if not isinstance(search, Search):
        raise TypeError(f"search: expected an awd_jax.Search or a dict of its fields, got {type(search).__name__}.")
    for name in ("candidates", "descend", "eval_samples", "chunk"):
        _positive_int(getattr(search, name), f"search.{name}", 1)
    for name in ("screen_samples", "descend_samples"):
        if getattr(search, name) is not None:
            _positive_int(getattr(search, name), f"search.{name}", 1)
    _positive_int(search.descend_steps, "search.descend_steps", 0)
    for name in ("learning_rate", "min_separation"):
        _validate.number(getattr(search, name), f"search.{name}")
    return search


@functools.partial(jax.jit, static_argnames=("cfg", "search", "n_angles"))
def global_candidates(key, x_screen, g_screen, x_descend, g_descend, lams, gams, cfg: TrainConfig,
                      search: Search, n_angles: int):
    """The global stage for ``K`` cells at once (``lams``, ``gams`` ``(K,)``).

    The screen scores every candidate once, as its :func:`objective_parts`, so its objective at
    each cell's (λ, γ) costs nothing more; each cell's best ``search.descend`` are then descended
    (all cells in one vmap). Returns angles ``(K, D, n_angles)`` and their objectives ``(K, D)``
    on the descent samples, best first per cell (``D = min(descend, candidates)``).
    """
    lattice = cfg._replace(parametrization="lattice", cached=False)
    chunk = min(search.chunk, search.candidates)
    n_chunks = -(-search.candidates // chunk)
    dtype = x_screen.dtype
    half = jnp.asarray(math.pi / 2, dtype)
    angles = jax.random.uniform(key, (n_chunks * chunk, n_angles), dtype, -half, half)
    parts_of = jax.vmap(lambda p: objective_parts(p, x_screen, g_screen, lattice))
    parts = jax.lax.map(parts_of, angles.reshape(n_chunks, chunk, n_angles)).reshape(-1, 3)
    values = parts[None, :, 0] + lams[:, None] * parts[None, :, 1] + gams[:, None] * parts[None, :, 2]
    values = jnp.where(jnp.isfinite(values), values, jnp.inf)  # (K, C)
    d = min(search.descend, search.candidates)
    _, top = jax.lax.top_k(-values, d)
    start = angles[top]  # (K, D, n_angles)
    opt = optax.adam(search.learning_rate)
    loss = lambda p, lam, gam: objective_value(p, x_descend, g_descend, lam, gam, lattice)
    per_cell = lambda f: jax.vmap(jax.vmap(f, in_axes=(0, None, None)), in_axes=(0, 0, 0))
    grad = per_cell(jax.grad(loss))

    def step(carry, _):
        p, state = carry
        updates, state = opt.update(grad(p, lams, gams), state, p)
        return (optax.apply_updates(p, updates), state), None

    (found, _), _ = jax.lax.scan(step, (start, opt.init(start)), None, length=search.descend_steps)
    final = per_cell(loss)(found, lams, gams)
    final = jnp.where(jnp.isfinite(final) & jnp.all(jnp.isfinite(found), axis=-1), final, jnp.inf)
    order = jnp.argsort(final, axis=1)
    return jnp.take_along_axis(found, order[..., None], axis=1), jnp.take_along_axis(final, order, axis=1)


def pick_starts(params0: np.ndarray, angles: np.ndarray, values: np.ndarray, restarts: int, parametrization: str,
                min_separation: float) -> np.ndarray:
    """``params0`` then the best candidates whose filters are ``min_separation`` apart: ``(R, P)``.

    When too few candidates are far enough apart, the rest are filled with the next best.
    """
    filters = np.asarray(lattice_free_filter(angles))
    h0 = np.asarray(to_filter(jnp.asarray(params0), parametrization))
    chosen, kept = [], [h0]
    usable = [i for i in range(len(values)) if np.isfinite(values[i])]
    for i in usable:
        if len(chosen) == restarts - 1:
            break
        if min(np.linalg.norm(filters[i] - k) for k in kept) >= min_separation:
            chosen.append(i)
            kept.append(filters[i])
    for i in usable + list(range(len(values))):
        if len(chosen) == restarts - 1:
            break
        if i not in chosen:
            chosen.append(i)
    cand = angles[chosen] if parametrization == "lattice" else filters[chosen]
    return np.concatenate([np.asarray(params0)[None], np.asarray(cand, np.asarray(params0).dtype)], axis=0)


def evaluation_set(data: Any, key: jax.Array, cap: int) -> jax.Array:
    """All of ``data`` when it has at most ``cap`` samples, else a random subset of ``cap`` (sorted)."""
    n = data.shape[0] if not isinstance(data, HostData) else data.n
    if n <= cap:
        idx = np.arange(n)
    else:
        idx = np.sort(np.asarray(jax.random.choice(key, n, (cap,), replace=False)))
    if isinstance(data, HostData):
        return jnp.asarray(data.take(idx))
    return data if n <= cap else jnp.take(data, jnp.asarray(idx), axis=0)


def evaluation_samples(data: Any, key: jax.Array, tp, cfg: TrainConfig, search: Search) -> tuple:
    """``(x_eval, grads)``: the samples finished filters are scored on and the teacher's input gradients there."""
    x_eval = evaluation_set(data, jax.random.fold_in(key, 7), search.eval_samples)
    return x_eval, input_gradients_jit(tp=tp, x=x_eval, cfg=cfg)


def search_candidates(evaluation: tuple, key: jax.Array, lams, gams, cfg: TrainConfig, search: Search,
                      n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`global_candidates` for the cells ``lams``, ``gams`` ``(K,)`` on subsets of the
    evaluation samples ``(x, grads)``: angles ``(K, D, n_angles)`` and objectives ``(K, D)``."""
    x_eval, g_eval = evaluation
    k_screen, k_cand = jax.random.split(key)
    n_eval = x_eval.shape[0]
    perm = np.asarray(jax.random.permutation(k_screen, n_eval))
    size = int(np.prod(x_eval.shape[1:]))
    screen = jnp.asarray(perm[: stage_samples(search.screen_samples, SCREEN_VALUES, 32, size, n_eval)])
    descend = jnp.asarray(perm[: stage_samples(search.descend_samples, DESCEND_VALUES, 16, size, n_eval)])
    dtype = x_eval.dtype
    angles, values = global_candidates(
        k_cand, x_eval[screen], g_eval[screen], x_eval[descend], g_eval[descend],
        jnp.asarray(lams, dtype).reshape(-1), jnp.asarray(gams, dtype).reshape(-1),
        cfg=cfg, search=search, n_angles=n_angles,
    )
    return np.asarray(angles), np.asarray(values)


def n_free_angles(params0: jax.Array, parametrization: str) -> int:
    return to_filter(params0, parametrization).shape[-1] // 2 - 1


def multistart(params0: jax.Array, data: Any, key: jax.Array, lam, gam, tp, cfg: TrainConfig, *, restarts: int,
               refine: int, search: Search, search_key: jax.Array, plan: StreamPlan | None = None,
               starts: np.ndarray | None = None, trained: tuple | None = None,
               evaluation: tuple | None = None, candidates: tuple | None = None,
               train_data: tuple | None = None) -> MultiStart:
    """Run ``restarts`` starts from ``params0`` (module docstring); ``data`` in memory or :class:`HostData`.

    ``starts`` overrides the chosen starts; ``trained`` = ``(params (R, P), values, ok)`` skips
    the chains (a finished run to be scored and refined); ``evaluation`` = ``(x, grads)`` from
    :func:`evaluation_samples` reuses the evaluation samples and their gradients;
    ``candidates`` = ``(angles (D, n), objectives (D,))`` this cell's global stage (from
    :func:`search_candidates`); ``train_data`` = :func:`awd_jax._engine.with_gradients` of the
    in-memory data (the chains then train through the cached gradients).
    """
    x_eval, g_eval = evaluation_samples(data, search_key, tp, cfg, search) if evaluation is None else evaluation
    lam = jnp.asarray(lam, x_eval.dtype)
    gam = jnp.asarray(gam, x_eval.dtype)
    if trained is None:
        if starts is None:
            starts = np.asarray(params0)[None]
            if restarts > 1:
                if candidates is None:
                    angles, values = search_candidates((x_eval, g_eval), search_key, lam, gam, cfg, search,
                                                       n_free_angles(params0, cfg.parametrization))
                    candidates = (angles[0], values[0])
                starts = pick_starts(np.asarray(params0), candidates[0], candidates[1], restarts,
                                     cfg.parametrization, search.min_separation)
        starts_j = jnp.asarray(starts)
        r = starts_j.shape[0]
        lams, gams = jnp.full((r,), lam), jnp.full((r,), gam)
        if plan is None and cfg.parametrization == "lattice":  # cached gradients: exact on the lattice
            train_x, train_cfg = with_gradients(cfg, tp, data) if train_data is None else train_data
            state, values, ok = _train_chains_jit(starts_j, train_x, key, lams, gams, None, cfg=train_cfg)
        elif plan is None:
            state, values, ok = _train_chains_jit(starts_j, data, key, lams, gams, tp, cfg=cfg)
        else:
            state, values, ok = _stream_train(starts_j, data, key, lams, gams, tp, cfg, plan, chains=True)
        finals = state.params
    else:
        finals, values, ok = trained
        finals = jnp.asarray(finals)
        starts = np.asarray(params0)[None] if starts is None else starts
        r = finals.shape[0]
        lams, gams = jnp.full((r,), lam), jnp.full((r,), gam)
    before = np.asarray(evaluate_jit(finals, x_eval, g_eval, lams, gams, cfg=cfg), np.float64)
    finals = np.array(finals)
    best = int(np.argmin(np.where(np.isfinite(before), before, np.inf)))
    after = before.copy()
    if refine > 0:  # polish the winner; refining never raises an objective, so it stays the winner
        one = slice(best, best + 1)
        polished, _, value = refine_chains(jnp.asarray(finals[one]), x_eval, g_eval, lams[one], gams[one], cfg=cfg,
                                           steps=refine)
        finals[one] = np.asarray(polished)
        after[best] = float(value[0])
    return MultiStart(finals, np.asarray(values), np.asarray(ok), np.asarray(starts), after, before, best)
