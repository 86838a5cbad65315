"""Simulation study of the AWD paper (docs/method.md#experiments, paper Fig. 3): recover db5 from a teacher.

Data: ``x ~ N(0, I_64)``, ``y = 2·(cD3[7] + cD3[8] + cD3[9]) + 0.1·ε`` with cD3 the
third-finest detail of the db5 zero-mode J = 4 transform (:func:`awd_jax.data.simulate`).
A ReLU MLP 64→32→32→1 is trained on it (Adam, lr 0.01), then AWD distils a wavelet
from the teacher starting from three filters (db5 + 0.3·N(0, 1) noise, sym5, coif2)
over a (λ, γ) grid with warm start; for each start the grid cell whose wavelet ψ is
closest to db5's (:func:`awd_jax.wavefun.wavelet_distance`) is reported.

Two optimisers (docs/method.md#optimiser):

* default: lattice angles (every filter exactly orthogonal), ``restarts`` starts per cell
  (the warm-start filter and the survivors of a global search over the angles), an L-BFGS
  finish; ``epochs`` per chain.
* ``--paper``: the paper's (ten free taps, Adam, one start, the warm-start chain),
  ``paper_epochs`` per cell, exactly as in the reference.

Run::

    python experiments/simulation.py            # = --quick: about a minute on 2 CPU cores
    python experiments/simulation.py --paper    # the same with the paper's optimiser
    python experiments/simulation.py --full     # the paper's setting (n = 50 000, 5×21 grid)

Writes ``<out>/simulation.json`` and ``<out>/simulation.png`` (default ``out = results``).
"""

from __future__ import annotations

import json
import functools
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from _cli import (
    OptimizerConfig,
    chain_devices,
    config_dict,
    floats,
    optimizer_kwargs,
    parse_config,
    prepare_process,
    preset_parser,
)
from awd_jax.data import simulate
from awd_jax.filters import init_filter
from awd_jax.wavefun import filter_distance, wavefun, wavelet_distance

TARGET = "db5"

# docs/method.md#training: the simulation grid
FULL_SPARSITY: tuple[float, ...] = (1e-5, 2e-5, 3e-5, 6e-5, 1e-4)
FULL_INTERPRETATION: tuple[float, ...] = (0.0,) + tuple(float(v) for v in np.geomspace(1e-5, 50, 20))


@dataclass(frozen=True)
class SimulationConfig(OptimizerConfig):
    """Every setting of one simulation run (the JSON records all of them).

    ``inits`` are pywt names, optionally suffixed ``+noise`` for
    ``name + init_noise·N(0, 1)`` drawn with ``jax.random.PRNGKey(init_seed)``.
    The test set uses ``data_seed + 1``. The defaults are the ``quick`` preset: n = 5000
    (50 minibatches per epoch), teacher 20 epochs, λ = 1e-5 × γ ∈ {0, 0.01, 0.1, 1, 10};
    the default optimiser runs 4 starts per cell for 5 epochs each (250 Adam steps on the
    lattice angles, lr 1e-3) and a 10-iteration L-BFGS finish, the paper's (``--paper``)
    40 epochs per cell (2000 Adam steps on the taps). ``full`` is the paper's setting
    (n = 50 000, the 5 × 21 grid, 50 epochs per cell with ``--paper``); the default
    optimiser needs 2 epochs per chain there (1000 steps), its global stage and finish
    doing the rest. ``warm_start=False`` (``--cold-start``) starts every cell from the
    initial filter, a check that a result is not an artefact of the warm-start chain;
    ``teacher="exact"`` (``--teacher exact``) distils from the noiseless response itself
    (:func:`awd_jax.data.simulation_target`) instead of the trained MLP, which separates
    what the objective does from what the network learned.
    """

    preset: str = "quick"
    n_train: int = 5000
    n_test: int = 1000
    length: int = 64
    noise: float = 0.1
    data_seed: int = 0
    teacher_hidden: tuple[int, ...] = (32, 32)
    teacher_epochs: int = 20
    teacher_batch_size: int = 100
    teacher_learning_rate: float = 0.01
    teacher_seed: int = 0
    teacher: str = "mlp"
    inits: tuple[str, ...] = ("db5+noise", "sym5", "coif2")
    init_noise: float = 0.3
    init_seed: int = 0
    level: int = 4
    mode: str = "zero"
    sparsity: tuple[float, ...] = (1e-5,)
    interpretation: tuple[float, ...] = (0.0, 1e-2, 1e-1, 1.0, 10.0)
    batch_size: int = 100
    learning_rate: float = 1e-3
    seed: int = 0
    warm_start: bool = True
    distance_level: int = 5


PRESETS: dict[str, SimulationConfig] = {
    "quick": SimulationConfig(),
    "full": SimulationConfig(
        preset="full",
        n_train=50_000,
        n_test=5_000,
        teacher_epochs=20,
        sparsity=FULL_SPARSITY,
        interpretation=FULL_INTERPRETATION,
        epochs=2,
        paper_epochs=50,
    ),
}


# ---------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------


def initial_filter(spec: str, *, noise: float, seed: int) -> jax.Array:
    """The starting filter ``h0`` for an ``inits`` entry such as ``"sym5"`` or ``"db5+noise"``."""
    name, plus, suffix = spec.partition("+")
    if plus and suffix != "noise":
        raise ValueError(f"inits: expected 'name' or 'name+noise', got {spec!r}.")
    if plus:
        return init_filter(name, key=jax.random.PRNGKey(seed), noise=noise)
    return init_filter(name)


def aligned_psi(h: Any, reference: Any = TARGET, level: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ψ of ``h`` shifted/flipped onto ψ of ``reference`` as in :func:`wavelet_distance`.

    Both ψ come from :func:`wavefun` (reference convention) and are zero-padded at the
    end to a common length ``n``; among all circular shifts of ψ_h and of ψ_h[::-1]
    the one nearest (L2) to ψ_ref is returned.

    Returns:
      ``(psi_h_aligned, psi_ref, x)``, each of shape ``(n,)``, ``x = arange(n) / 2**level``.
    """
    _, psi_a, _ = wavefun(h, level)
    _, psi_b, _ = wavefun(reference, level)
    psi_a = np.asarray(psi_a, dtype=np.float64)
    psi_b = np.asarray(psi_b, dtype=np.float64)
    n = max(psi_a.size, psi_b.size)
    psi_a = np.pad(psi_a, (0, n - psi_a.size))
    psi_b = np.pad(psi_b, (0, n - psi_b.size))
    best, best_d = psi_a, math.inf
    for cand in (psi_a, psi_a[::-1]):
        for s in range(n):
            rolled = np.roll(cand, s)
            d = float(np.linalg.norm(rolled - psi_b))
            if d < best_d:
                best, best_d = rolled, d
    return best, psi_b, np.arange(n) / 2.0**level


def distance_grid(h_grid: Any, reference: Any = TARGET, level: int = 5) -> np.ndarray:
    """``wavelet_distance(h, reference)`` for every filter of an ``(..., N)`` stack."""
    h_grid = np.asarray(h_grid)
    flat = h_grid.reshape(-1, h_grid.shape[-1])
    dist = jax.vmap(lambda h: wavelet_distance(h, reference, level))(jnp.asarray(flat))
    return np.asarray(dist, dtype=np.float64).reshape(h_grid.shape[:-1])


def objective_terms(h: Any, x: np.ndarray, teacher_fn: Any, config: SimulationConfig, sparsity: float,
                    interpretation: float) -> dict[str, float]:
    """The AWD objective of ``h`` on ``x`` (e.g. the test set) at ``(λ, γ)``: ``{"total", "rec", ...}``.

    Evaluated for the learned filter and for the target db5 alike: where the learned
    filter's total is the larger, db5 is a lower point of the same objective that
    training did not reach (too few steps, or a local minimum; a cold start with more
    epochs tells which).
    """
    from awd_jax.filters import lowpass

    total, terms = _objective_jit(jnp.asarray(lowpass(h), jnp.float32), jnp.asarray(x), sparsity, interpretation,
                                  teacher_fn=teacher_fn, level=config.level, mode=config.mode)
    return {"total": float(total), **{k: float(v) for k, v in terms._asdict().items()}}


@functools.partial(jax.jit, static_argnames=("teacher_fn", "level", "mode"))
def _objective_jit(h, x, sparsity, interpretation, *, teacher_fn, level, mode):
    from awd_jax.objective import awd_loss

    return awd_loss(h, teacher_fn, x, level=level, mode=mode, sparsity=sparsity, interpretation=interpretation)


def train_simulation_teacher(config: SimulationConfig, x: np.ndarray, y: np.ndarray):
    """The teacher ``teacher_fn(x) -> (B, 1)``: the trained MLP, or the exact response.

    ``config.teacher == "mlp"``: a ReLU MLP trained on ``(x, y)``; ``"exact"``: the
    noiseless response ``2·(cD3[7] + cD3[8] + cD3[9])`` (no training; an ideal teacher).
    """
    from awd_jax.data import simulation_target
    from awd_jax.teachers import MLP, train_teacher

    if config.teacher == "exact":
        return lambda xb: simulation_target(xb, level=config.level, mode=config.mode)[:, None]
    if config.teacher != "mlp":
        raise ValueError(f"teacher: expected 'mlp' or 'exact', got {config.teacher!r}.")
    model = MLP(features=tuple(config.teacher_hidden), out=1)
    _, apply_fn = train_teacher(
        model,
        x,
        y,
        epochs=config.teacher_epochs,
        batch_size=config.teacher_batch_size,
        learning_rate=config.teacher_learning_rate,
        seed=config.teacher_seed,
    )
    return apply_fn


# ---------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------


def run(config: SimulationConfig, *, progress: bool = False) -> dict[str, Any]:
    """Run the whole study; returns the JSON-ready result (no files written).

    Keys: ``preset``, ``config`` (every setting), ``teacher_r2``, ``seconds`` (total
    wall time), ``teacher_seconds``, and ``runs``: one dict per initial filter with
    ``init``, ``distance_initial``, ``distance_final`` (the selected cell),
    ``sparsity``/``interpretation`` (its λ, γ), ``cell`` (its index), ``distance_grid``
    and ``diverged_grid`` (``n_λ × n_γ``), ``filter_distance_initial``/``_final`` (the
    reference notebooks' filter distance, :func:`awd_jax.filter_distance`),
    ``objective_final``/``objective_target`` (:func:`objective_terms` of the learned
    filter and of db5 on the test set at that λ, γ), ``h_initial``, ``h_final`` and ``seconds``.
    """
    from awd_jax.metrics import r2
    from awd_jax.sweep import select_cell, sweep

    for name in ("sparsity", "interpretation"):
        grid = list(getattr(config, name))
        if not grid or grid != sorted(grid):
            raise ValueError(f"{name}: expected a non-empty ascending grid, got {grid}.")
    t_start = time.perf_counter()
    sim = {"length": config.length, "noise": config.noise, "level": config.level, "mode": config.mode}
    x_train, y_train = simulate(config.n_train, seed=config.data_seed, **sim)
    x_test, y_test = simulate(config.n_test, seed=config.data_seed + 1, **sim)

    teacher_fn = train_simulation_teacher(config, x_train, y_train)
    y_pred = np.asarray(teacher_fn(jnp.asarray(x_test))).reshape(-1)
    teacher_r2 = r2(y_test, y_pred)
    teacher_seconds = time.perf_counter() - t_start
    if progress:
        print(f"teacher: test R² = {teacher_r2:.4f} ({teacher_seconds:.1f} s)", flush=True)

    runs: list[dict[str, Any]] = []
    for spec in config.inits:
        t0 = time.perf_counter()
        h0 = initial_filter(spec, noise=config.init_noise, seed=config.init_seed)
        result = sweep(
            h0,
            teacher_fn,
            x_train,
            sparsity=list(config.sparsity),
            interpretation=list(config.interpretation),
            warm_start=config.warm_start,
            level=config.level,
            mode=config.mode,
            learning_rate=config.learning_rate,
            batch_size=config.batch_size,
            epochs=config.epochs,
            seed=config.seed,
            progress=False,
            devices=chain_devices(),
            **optimizer_kwargs(config),
        )
        h_grid = np.asarray(result.h)
        dists = distance_grid(h_grid, TARGET, config.distance_level)
        i, j = select_cell(dists)
        lam, gam = float(result.sparsity[i]), float(result.interpretation[j])
        run_info = {
            "init": spec,
            "distance_initial": float(wavelet_distance(h0, TARGET, config.distance_level)),
            "distance_final": float(dists[i, j]),
            "sparsity": lam,
            "interpretation": gam,
            "cell": [i, j],
            "filter_distance_initial": float(filter_distance(h0, TARGET)),
            "filter_distance_final": float(filter_distance(h_grid[i, j], TARGET)),
            "objective_final": objective_terms(h_grid[i, j], x_test, teacher_fn, config, lam, gam),
            "objective_target": objective_terms(TARGET, x_test, teacher_fn, config, lam, gam),
            "distance_grid": dists.tolist(),
            "diverged_grid": np.asarray(result.diverged).tolist(),
            "h_initial": np.asarray(h0, dtype=np.float64).tolist(),
            "h_final": h_grid[i, j].astype(np.float64).tolist(),
            "seconds": time.perf_counter() - t0,
        }
        runs.append(run_info)
        if progress:
            print(
                f"{spec}: d = {run_info['distance_initial']:.4f} -> {run_info['distance_final']:.4f} "
                f"({run_info['seconds']:.1f} s)",
                flush=True,
            )

    return {
        "preset": config.preset,
        "config": config_dict(config),
        "target": TARGET,
        "teacher_r2": teacher_r2,
        "teacher_seconds": teacher_seconds,
        "seconds": time.perf_counter() - t_start,
        "backend": jax.default_backend(),
        "runs": runs,
    }


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def format_table(result: dict[str, Any]) -> str:
    """The printed summary: one row per initial filter, then teacher R² and wall time."""
    head = (f"{'initial filter':<16}{'d(psi_init, db5)':>18}{'d(psi_AWD, db5)':>18}{'lambda':>10}{'gamma':>11}"
            f"{'loss AWD':>10}{'loss db5':>10}{'seconds':>9}")
    lines = [head, "-" * len(head)]
    for r in result["runs"]:
        loss = [r.get(k, {}).get("total", math.nan) for k in ("objective_final", "objective_target")]
        lines.append(
            f"{r['init']:<16}{r['distance_initial']:>18.4f}{r['distance_final']:>18.4f}"
            f"{r['sparsity']:>10.0e}{r['interpretation']:>11.3g}{loss[0]:>10.4g}{loss[1]:>10.4g}{r['seconds']:>9.1f}"
        )
    lines.append("-" * len(head))
    lines.append("loss: the AWD objective on the test set at the chosen (lambda, gamma), for the learned filter and "
                 "for db5;\n      loss AWD > loss db5: db5 is a lower point of the same objective that training "
                 "did not reach.")
    lines.append(f"teacher test R² = {result['teacher_r2']:.4f}   total wall time = {result['seconds']:.1f} s"
                 f"   (preset {result['preset']}, backend {result['backend']})")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str) -> None:
    """Fig. 3 in the paper's manner: per initial filter, initial and learned ψ over db5's ψ."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    level = result["config"]["distance_level"]
    runs = result["runs"]
    fig, axes = plt.subplots(len(runs), 2, figsize=(9, 2.6 * len(runs)), squeeze=False)
    for row, r in enumerate(runs):
        for col, (key, dkey, label) in enumerate(
            [("h_initial", "distance_initial", "initial"), ("h_final", "distance_final", "AWD")]
        ):
            ax = axes[row, col]
            psi, psi_ref, x = aligned_psi(np.asarray(r[key]), TARGET, level)
            ax.plot(x, psi_ref, color="0.6", lw=2.5, label=f"{TARGET} ψ")
            ax.plot(x, psi, color="C0" if col == 0 else "C3", lw=1.3, label=f"{label} ψ")
            title = f"{r['init']}: {label} ψ, d = {r[dkey]:.3g}"
            if col == 1:
                title += f"\nλ = {r['sparsity']:.0e}, γ = {r['interpretation']:.3g}"
            ax.set_title(title, fontsize=9)
            ax.legend(fontsize=7, loc="upper right")
            ax.tick_params(labelsize=7)
            ax.set_ylabel("ψ(t)", fontsize=8)
            if row == len(runs) - 1:
                ax.set_xlabel(f"t (cascade grid, level {level}; aligned to db5 by shift and flip)", fontsize=8)
    optimizer = result["config"].get("optimizer", "paper")
    fig.suptitle(
        f"AWD simulation ({result['preset']}, {optimizer} optimiser): initial (left) and learned (right) ψ "
        f"against db5's; teacher R² = {result['teacher_r2']:.3f}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save(result: dict[str, Any], out_dir: str) -> tuple[str, str]:
    """Write ``simulation.json`` and ``simulation.png`` into ``out_dir``; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "simulation.json")
    png_path = os.path.join(out_dir, "simulation.png")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    plot(result, png_path)
    return json_path, png_path


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None):
    """Command line → ``(config, out_dir)``; flags override the chosen preset."""
    p = preset_parser(__doc__, "the paper's setting")
    p.add_argument("--n", type=int, dest="n_train", help="training samples")
    p.add_argument("--n-test", type=int, dest="n_test", help="test samples")
    p.add_argument("--teacher-epochs", type=int, dest="teacher_epochs", help="teacher epochs")
    p.add_argument("--learning-rate", type=float, dest="learning_rate", help="AWD Adam learning rate")
    p.add_argument("--batch-size", type=int, dest="batch_size", help="AWD minibatch size")
    p.add_argument("--sparsity", type=floats, help="comma-separated λ grid")
    p.add_argument("--interpretation", type=floats, help="comma-separated γ grid (ascending)")
    p.add_argument("--inits", type=lambda s: tuple(v.strip() for v in s.split(",") if v.strip()),
                   help="comma-separated initial filters, e.g. db5+noise,sym5,coif2")
    p.add_argument("--seed", type=int, help="AWD shuffling seed")
    p.add_argument("--teacher", choices=("mlp", "exact"),
                   help="mlp: train the paper's MLP (default); exact: the noiseless response itself")
    p.add_argument("--cold-start", dest="warm_start", action="store_const", const=False,
                   help="start every grid cell from the initial filter (default: warm start, docs/method.md#training)")
    p.add_argument("--data-seed", type=int, dest="data_seed", help="data seed (test set uses +1)")
    config, out_dir = parse_config(p, argv, PRESETS)
    for name in ("sparsity", "interpretation"):
        grid = list(getattr(config, name))
        if not grid or grid != sorted(grid):
            p.error(f"--{name}: expected a non-empty ascending list (warm start walks up the grid)")
    return config, out_dir


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Entry point: run, print the table, write JSON and figure; returns the result.

    The sweeps of the three initial filters share compiled programs through
    ``awd_jax.sweep``'s per-configuration cache (no recompilation per filter).
    """
    config, out_dir = parse_args(argv)
    # J = 4 on 64 samples exceeds pywt.dwt_max_level(64, 10) = 2 on purpose (docs/method.md#experiments)
    warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)
    result = run(config, progress=True)
    json_path, png_path = save(result, out_dir)
    print()
    print(format_table(result))
    print(f"wrote {json_path} and {png_path}")
    return result


if __name__ == "__main__":
    prepare_process()
    main()
