"""Grids of (λ, γ) with warm start (SPEC §5), vectorised over independent chains.

With ``warm_start=True`` the cells are visited as the reference did:

1. the first-γ column (γ = 0 in the published grids) walks up λ: cell ``(i, 0)`` starts
   from the filter cell ``(i − 1, 0)`` produced (cell ``(0, 0)`` from ``h0``) — a
   sequential ``lax.scan`` over λ;
2. then, for every λ at once (``vmap`` over λ), the remaining γ values in ascending
   order, cell ``(i, j)`` starting from cell ``(i, j − 1)``'s filter — a ``lax.scan`` over γ.

Both stages are one compiled program. With ``warm_start=False`` every cell starts from
``h0`` and all cells run in one ``vmap``. Every cell gets a fresh optimiser state and
the same data order as ``fit(..., seed=seed)`` (it runs the same :func:`awd_jax.fit._train`),
so each cell equals ``fit`` run on its own from its starting filter.
Grids are sorted ascending. Cells with γ == 0 skip the attribution computation (as
``fit`` does) when they form the first column; elsewhere γ == 0 is computed and weighted by 0.
``callback``/early stopping are not available here; ``progress`` only reports the stages.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from awd_jax.attributions import DEFAULT_IMPL, check_dims
from awd_jax.fit import (
    TERM_NAMES,
    FitResult,
    _train,
    check_data,
    config_dict,
    epochs_run_from_ok,
    make_config,
    prepare_h0,
)
from awd_jax.objective import Weights

__all__ = ["SweepResult", "sweep"]


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Outcome of :func:`sweep` on a grid of ``n_λ × n_γ`` cells.

    Attributes:
      h: ``(n_λ, n_γ, N)`` final filters. h0: ``(n_λ, n_γ, N)`` each cell's starting filter.
      history: term name → ``(n_λ, n_γ, epochs)`` per-epoch means (NaN after a divergence).
      sparsity: ``(n_λ,)`` λ grid (ascending). interpretation: ``(n_γ,)`` γ grid (ascending).
      diverged: ``(n_λ, n_γ)`` bool. epochs_run: ``(n_λ, n_γ)`` int.
      config: settings shared by every cell (JSON-serialisable).
    """

    h: np.ndarray
    h0: np.ndarray
    history: dict
    sparsity: np.ndarray
    interpretation: np.ndarray
    diverged: np.ndarray
    epochs_run: np.ndarray
    config: dict

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.sparsity), len(self.interpretation))

    def cell(self, i: int, j: int) -> FitResult:
        """Cell ``(i, j)`` (λ = ``sparsity[i]``, γ = ``interpretation[j]``) as a :class:`FitResult`."""
        n_lam, n_gam = self.shape
        if not (0 <= i < n_lam and 0 <= j < n_gam):
            raise IndexError(f"cell: ({i}, {j}) is outside the {n_lam} x {n_gam} grid.")
        run = int(self.epochs_run[i, j])
        config = dict(self.config)
        config.update(
            sparsity=float(self.sparsity[i]),
            interpretation=float(self.interpretation[j]),
            h0=[float(v) for v in self.h0[i, j]],
        )
        history = {k: np.asarray(v[i, j, :run]) for k, v in self.history.items()}
        return FitResult(np.asarray(self.h[i, j]), history, config, bool(self.diverged[i, j]), run)

    def save(self, path: str) -> None:
        """Save with ``awd_jax.io.save_result``."""
        from awd_jax.io import save_result

        return save_result(self, path)


def _grid(values: float | Sequence[float], name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of values, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name}: expected finite non-negative values, got {arr.tolist()}.")
    return np.sort(arr)


def _warm(h0, data, key, lams, gams, cfg_first, cfg_rest):
    """Warm-start grid: returns stacked (h_start, h_final, values, ok), each ``(n_λ, n_γ, ...)``."""
    train_first = functools.partial(_train, cfg=cfg_first)
    train_rest = functools.partial(_train, cfg=cfg_rest)

    def along_lam(h, lam):
        state, values, ok = train_first(h, data, key, lam, gams[0])
        return state.h, (h, state.h, values, ok)

    _, first = jax.lax.scan(along_lam, h0, lams)  # each (n_λ, ...)
    if gams.shape[0] == 1:
        return jax.tree_util.tree_map(lambda a: a[:, None], first)

    def chain(h, lam):
        def along_gam(h, gam):
            state, values, ok = train_rest(h, data, key, lam, gam)
            return state.h, (h, state.h, values, ok)

        return jax.lax.scan(along_gam, h, gams[1:])[1]

    rest = jax.vmap(chain)(first[1], lams)  # each (n_λ, n_γ - 1, ...)
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[:, None], b], axis=1), first, rest)


def _cold(h0, data, key, lams, gams, cfg):
    """Every cell from ``h0``: one vmap over the flattened cells of ``lams × gams`` (1-D each)."""
    def one(lam, gam):
        state, values, ok = _train(h0, data, key, lam, gam, cfg)
        return h0, state.h, values, ok

    return jax.vmap(one)(lams, gams)


# compiled once per static configuration and reused across calls
_warm_jit = jax.jit(_warm, static_argnames=("cfg_first", "cfg_rest"))
_cold_jit = jax.jit(_cold, static_argnames=("cfg",))


def sweep(
    h0: Any,
    teacher_fn: Callable[[jax.Array], jax.Array] | None,
    data: Any,
    *,
    sparsity: Sequence[float] = (0.0,),
    interpretation: Sequence[float] = (0.0,),
    warm_start: bool = True,
    level: int = 4,
    mode: str = "zero",
    weights: None | Weights | Mapping[str, float] = None,
    method: str = "saliency",
    target: int = 0,
    dims: int = 1,
    steps: int = 32,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-3,
    batch_size: int | None = 100,
    epochs: int = 50,
    seed: int = 0,
    shuffle: bool = True,
    progress: bool = True,
    impl: str = DEFAULT_IMPL,
) -> SweepResult:
    """Train one filter per ``(λ, γ)`` cell; the keyword arguments are :func:`awd_jax.fit`'s.

    Args:
      h0: starting filter of the first cell (every cell when ``warm_start=False``).
      sparsity: λ values; interpretation: γ values (both sorted ascending).
      warm_start: chain the cells as in SPEC §5 (see the module docstring).

    Returns:
      :class:`SweepResult`; ``result.cell(i, j)`` equals ``fit(result.h0[i, j], ...,
      sparsity=λ_i, interpretation=γ_j, seed=seed)`` up to float rounding.
    """
    dims = check_dims(dims)
    data = check_data(data, dims)
    h0 = prepare_h0(h0, data.dtype)
    lams_np = _grid(sparsity, "sparsity")
    gams_np = _grid(interpretation, "interpretation")
    common = {
        "level": level, "mode": mode, "weights": weights, "method": method, "target": target, "dims": dims, "steps": steps,
        "optimizer": optimizer, "learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs,
        "shuffle": shuffle, "impl": impl,
    }
    cfg_on = make_config(teacher_fn, data, interpretation_on=teacher_fn is not None, **common)
    cfg_off = make_config(teacher_fn, data, interpretation_on=False, **common)
    lams = jnp.asarray(lams_np, data.dtype)
    gams = jnp.asarray(gams_np, data.dtype)
    key = jax.random.PRNGKey(seed)
    n_lam, n_gam = lams_np.size, gams_np.size
    if progress:
        print(f"awd sweep: {n_lam} x {n_gam} cells, {epochs} epochs each, warm_start={warm_start} ...", flush=True)
    if warm_start:
        cfg_first = cfg_off if gams_np[0] == 0.0 else cfg_on
        starts, finals, values, ok = _warm_jit(h0, data, key, lams, gams, cfg_first=cfg_first, cfg_rest=cfg_on)
    else:
        zero = gams_np == 0.0
        parts = []
        for cols, cfg in ((np.flatnonzero(zero), cfg_off), (np.flatnonzero(~zero), cfg_on)):
            if cols.size == 0:
                continue
            li, gi = np.meshgrid(np.arange(n_lam), cols, indexing="ij")
            out = _cold_jit(h0, data, key, lams[li.ravel()], gams[gi.ravel()], cfg=cfg)
            parts.append((li.ravel(), gi.ravel(), out))
        n = h0.shape[0]
        starts = np.zeros((n_lam, n_gam, n), h0.dtype)
        finals = np.zeros((n_lam, n_gam, n), h0.dtype)
        values = np.zeros((n_lam, n_gam, cfg_on.epochs, len(TERM_NAMES)), h0.dtype)
        ok = np.zeros((n_lam, n_gam, cfg_on.epochs), bool)
        for li, gi, (s, f, v, o) in parts:
            starts[li, gi], finals[li, gi], values[li, gi], ok[li, gi] = s, f, v, o
    starts, finals, values, ok = (np.asarray(a) for a in (starts, finals, values, ok))
    epochs_run = np.vectorize(lambda i, j: epochs_run_from_ok(ok[i, j]))(*np.indices((n_lam, n_gam)))
    epochs_run = np.asarray(epochs_run, dtype=int).reshape(n_lam, n_gam)
    valid = np.arange(cfg_on.epochs)[None, None, :] < epochs_run[..., None]
    values = np.where(valid[..., None], values, np.nan)
    history = {k: values[..., i] for i, k in enumerate(TERM_NAMES)}
    diverged = ~ok[..., -1] if cfg_on.epochs else np.zeros((n_lam, n_gam), bool)
    config = config_dict(
        cfg_on, teacher_fn=teacher_fn, h0=h0, data=data, sparsity=0.0, interpretation=0.0,
        optimizer=optimizer, learning_rate=learning_rate, seed=seed,
    )
    config.pop("sparsity")
    config.pop("interpretation")
    config.update(sparsity_grid=lams_np.tolist(), interpretation_grid=gams_np.tolist(), warm_start=bool(warm_start))
    return SweepResult(finals, starts, history, lams_np, gams_np, np.asarray(diverged), epochs_run, config)
