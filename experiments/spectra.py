"""1D case study (paper Table 1 protocol) on Tecator near-infrared spectra.

The paper's molecular-partner data are not public; Tecator (sktime's bundled copy:
172 train / 43 test spectra of 100 wavelengths, target fat %) stands in, with the same
protocol:

1. **Scaling** (fitted on the training split only, :class:`awd_jax.data.tecator.Standardiser`):
   each spectrum is SNV-normalised (minus its own mean, over its own std; per sample,
   so no information crosses splits), then the training mean spectrum is subtracted and
   everything divided by one scalar (the std of the centred training values). The fat %
   target is z-scored with the training mean/std for the teachers; R² is unaffected.
2. **Teachers**: a Flax LSTM (1 → 20 hidden, last state → linear) and a small 1D CNN,
   each trained on a fixed 80 % of the training split; the one with the higher R² on the
   remaining 20 % is the teacher AWD distils from. Both are reported on the test set.
3. **AWD** from db5, J = 4, zero mode, over a (λ, γ) grid with warm start
   (:func:`awd_jax.sweep`) on the whole training split.
4. **Features**: the 6 largest signed coefficients of each of the 5 arrays (30 features)
   → ``LinearRegression``. (λ, γ) is chosen by 5-fold CV R² on the training split
   (``KFold(5, shuffle=True, random_state=0)``); "AWD without interpretation" is chosen
   the same way among the γ = 0 cells only; db5 uses the same features.
5. **Scores**: test R² (fat %), compression factor (docs/method.md#reading-the-wavelet, teacher saliency, test set),
   prediction time of the linear model vs the teacher.

Run::

    python experiments/spectra.py            # = --quick (a few minutes on 2 CPU cores)
    python experiments/spectra.py --full     # the paper's biology grid (5 x 21, 100 epochs)

Writes ``<out>/spectra.json``, ``<out>/spectra_wavelet.png`` and ``<out>/spectra_coefficients.png``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

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
from awd_jax.data.tecator import Standardiser, load_tecator_split
from awd_jax.filters import lowpass
from awd_jax.transform import wavedec, waverec

BASE = "db5"
PAPER = {  # Ha et al. 2021, Table 1 (molecular-partner prediction, different data)
    "r2": {"awd": 0.262, "db5": 0.197, "teacher": 0.237, "awd_no_interp": 0.231},
    "compression": {"awd": 0.574, "db5": 0.704},
    "seconds_per_prediction": {"linear": 0.0002, "teacher": 0.0449},
}


@dataclass(frozen=True)
class SpectraConfig(OptimizerConfig):
    """Every setting of one run (the JSON records all of them)."""

    preset: str = "quick"
    snv: bool = True
    val_fraction: float = 0.2
    split_seed: int = 0
    lstm_hidden: int = 20
    lstm_epochs: int = 150
    lstm_learning_rate: float = 3e-3
    cnn_features: Tuple[int, ...] = (16, 16)
    cnn_kernel: int = 5
    cnn_epochs: int = 150
    cnn_learning_rate: float = 3e-3
    teacher_batch_size: int = 32
    teacher_seed: int = 0
    level: int = 4
    mode: str = "zero"
    k: int = 6
    sparsity: Tuple[float, ...] = (1e-4, 1e-3)
    interpretation: Tuple[float, ...] = (0.0, 1e-2, 1.0)
    epochs: int = 10
    paper_epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 1e-3
    seed: int = 0
    cv_folds: int = 5
    n_boot: int = 1000
    timing_repeats: int = 20


PRESETS: Dict[str, SpectraConfig] = {
    "quick": SpectraConfig(),
    "full": SpectraConfig(
        preset="full",
        lstm_epochs=300,
        cnn_epochs=300,
        # docs/method.md#training biology grid and epochs (5 x 21 cells, 100 epochs each)
        sparsity=(1e-4, 2.7e-4, 7.1e-4, 1.88e-3, 5e-3),
        interpretation=(0.0,) + tuple(float(v) for v in np.geomspace(1e-4, 10, 20)),
        epochs=100,
        paper_epochs=100,
    ),
}


# ---------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------


def split_indices(n: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """A fixed random ``(fit, val)`` split of ``range(n)`` with ``round(fraction·n)`` validation samples."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction: expected a number in (0, 1), got {fraction!r}.")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(fraction * n)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def wavelet_features(h: Any, config: SpectraConfig, x_fit: np.ndarray) -> Any:
    """The fitted :class:`awd_jax.features.WaveletFeatures` transformer of filter ``h``
    (top-``k`` coefficients per array of the ``level``-level transform)."""
    from awd_jax.features import WaveletFeatures

    return WaveletFeatures(h, level=config.level, k=config.k, mode=config.mode).fit(x_fit)


def cv_r2(features: np.ndarray, y: np.ndarray, folds: int, seed: int = 0) -> float:
    """Mean R² of ``LinearRegression`` over ``KFold(folds, shuffle=True, random_state=seed)``."""
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, cross_val_score

    if not np.all(np.isfinite(features)):
        return -np.inf
    cv = KFold(folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(LinearRegression(), features, y, cv=cv, scoring="r2")))


def train_teachers(config: SpectraConfig, x: np.ndarray, y: np.ndarray, fit_idx: np.ndarray,
                   val_idx: np.ndarray) -> Dict[str, Dict[str, Any]]:
    """Train the LSTM and the CNN on ``fit_idx``; returns name → ``{fn, val_r2, seconds}``."""
    from awd_jax.metrics import r2
    from awd_jax.teachers import CNN1D, LSTMRegressor, train_teacher

    models = {
        "lstm": (LSTMRegressor(hidden=config.lstm_hidden), config.lstm_epochs, config.lstm_learning_rate),
        "cnn": (CNN1D(features=tuple(config.cnn_features), kernel_size=config.cnn_kernel),
                config.cnn_epochs, config.cnn_learning_rate),
    }
    out = {}
    for name, (model, epochs, lr) in models.items():
        t0 = time.perf_counter()
        _, fn = train_teacher(model, x[fit_idx], y[fit_idx], epochs=epochs, batch_size=config.teacher_batch_size,
                              learning_rate=lr, seed=config.teacher_seed)
        pred = np.asarray(fn(jnp.asarray(x[val_idx]))).reshape(-1)
        out[name] = {"fn": fn, "val_r2": r2(y[val_idx], pred), "seconds": time.perf_counter() - t0}
    return out


def time_call(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after one warm-up (seconds)."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# ---------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------


def run(config: SpectraConfig, *, progress: bool = False) -> Dict[str, Any]:
    """Run the whole study; returns the JSON-ready result (no files written)."""
    from sklearn.linear_model import LinearRegression

    from awd_jax.metrics import compression_factor_for, r2 as r2_of, r2_bootstrap
    from awd_jax.sweep import select_cell, sweep
    from awd_jax.wavefun import wavelet_distance

    for name in ("sparsity", "interpretation"):
        grid = list(getattr(config, name))
        if not grid or grid != sorted(grid):
            raise ValueError(f"{name}: expected a non-empty ascending grid, got {grid}.")
    if 0.0 not in config.interpretation:
        raise ValueError("interpretation: the grid must contain 0 (AWD without interpretation is chosen there).")
    say = print if progress else (lambda *a, **k: None)
    t_start = time.perf_counter()
    X_raw, y_train = load_tecator_split("train")
    Xt_raw, y_test = load_tecator_split("test")
    scaler = Standardiser.fit(X_raw, y_train, use_snv=config.snv)
    x_train, x_test = scaler.x(X_raw), scaler.x(Xt_raw)
    y_scaled = scaler.y(y_train)

    # teachers
    fit_idx, val_idx = split_indices(len(y_train), config.val_fraction, config.split_seed)
    teachers = train_teachers(config, x_train, y_scaled, fit_idx, val_idx)
    teacher_rows = {}
    for name, t in teachers.items():
        pred = scaler.y_inverse(np.asarray(t["fn"](jnp.asarray(x_test))).reshape(-1))
        teacher_rows[name] = {"val_r2": t["val_r2"], "test_r2": r2_of(y_test, pred), "seconds": t["seconds"]}
        say(f"teacher {name}: val R² = {t['val_r2']:.3f}, test R² = {teacher_rows[name]['test_r2']:.3f} "
            f"({t['seconds']:.1f} s)", flush=True)
    chosen = max(teachers, key=lambda n: teachers[n]["val_r2"])
    teacher_fn = teachers[chosen]["fn"]
    t_teachers = time.perf_counter() - t_start

    # AWD sweep
    t0 = time.perf_counter()
    result = sweep(
        BASE, teacher_fn, x_train, sparsity=list(config.sparsity), interpretation=list(config.interpretation),
        warm_start=True, level=config.level, mode=config.mode, learning_rate=config.learning_rate,
        batch_size=config.batch_size, epochs=config.epochs, seed=config.seed, progress=progress,
        devices=chain_devices(), **optimizer_kwargs(config),
    )
    t_sweep = time.perf_counter() - t0
    say(f"sweep: {result.shape[0]} x {result.shape[1]} cells in {t_sweep:.1f} s", flush=True)

    # model selection by CV on train
    h_grid = np.asarray(result.h)
    cv = np.full(result.shape, -np.inf)
    for i in range(result.shape[0]):
        for j in range(result.shape[1]):
            if not result.diverged[i, j]:
                cv[i, j] = cv_r2(wavelet_features(h_grid[i, j], config, x_train).transform(x_train), y_train,
                                 config.cv_folds)
    zero_cols = [j for j, g in enumerate(result.interpretation) if g == 0.0]
    cell_awd = select_cell(cv, maximize=True)
    cell_noint = select_cell(cv, maximize=True, columns=zero_cols)
    h_db5 = np.asarray(lowpass(BASE), np.float32)
    filters = {"awd": h_grid[cell_awd], "awd_no_interp": h_grid[cell_noint], "db5": h_db5}

    r2, r2_std, cv_scores, models, transformers = {}, {}, {}, {}, {}
    for name, h in filters.items():
        transformers[name] = wavelet_features(h, config, x_train)
        f_train = transformers[name].transform(x_train)
        models[name] = LinearRegression().fit(f_train, y_train)
        pred = models[name].predict(transformers[name].transform(x_test))
        r2[name], r2_std[name] = r2_bootstrap(y_test, pred, n_boot=config.n_boot, seed=0)
        cv_scores[name] = cv_r2(f_train, y_train, config.cv_folds)
    teacher_pred = scaler.y_inverse(np.asarray(teacher_fn(jnp.asarray(x_test))).reshape(-1))
    r2["teacher"], r2_std["teacher"] = r2_bootstrap(y_test, teacher_pred, n_boot=config.n_boot, seed=0)

    compression = {
        name: float(compression_factor_for(filters[name], teacher_fn, x_test, level=config.level, mode=config.mode))
        for name in ("awd", "db5", "awd_no_interp")
    }

    # prediction time on the test set (43 spectra)
    lin, features_awd = models["awd"], transformers["awd"]
    f_test = features_awd.transform(x_test)
    xt_j = jnp.asarray(x_test)
    teacher_jit = jax.jit(teacher_fn)
    timing = {
        "linear_model": time_call(lambda: lin.predict(f_test), config.timing_repeats),
        "features_plus_linear": time_call(lambda: lin.predict(features_awd.transform(x_test)), config.timing_repeats),
        "teacher": time_call(lambda: teacher_jit(xt_j), config.timing_repeats),
        "n_test": int(len(y_test)),
        "note": "median seconds to predict the whole test set (teacher jitted, CPU)",
    }

    return {
        "preset": config.preset,
        "config": config_dict(config),
        "r2": r2,
        "r2_std": r2_std,
        "compression": {"awd": compression["awd"], "db5": compression["db5"]},
        "compression_awd_no_interp": compression["awd_no_interp"],
        "cv_r2_train": cv_scores,
        "wavelet_distance_to_db5": {k: float(wavelet_distance(jnp.asarray(filters[k]), BASE))
                                    for k in ("awd", "awd_no_interp")},
        "cv_grid": cv.tolist(),
        "selected": {
            "awd": {"cell": list(cell_awd), "sparsity": float(result.sparsity[cell_awd[0]]),
                    "interpretation": float(result.interpretation[cell_awd[1]])},
            "awd_no_interp": {"cell": list(cell_noint), "sparsity": float(result.sparsity[cell_noint[0]]),
                              "interpretation": 0.0},
        },
        "teachers": teacher_rows,
        "teacher": chosen,
        "prediction_seconds": timing,
        "filters": {k: np.asarray(v, np.float64).tolist() for k, v in filters.items()},
        "sparsity_grid": result.sparsity.tolist(),
        "interpretation_grid": result.interpretation.tolist(),
        "diverged_grid": np.asarray(result.diverged).tolist(),
        "scaling": {"snv": scaler.snv, "x_scale": scaler.scale, "y_mean": scaler.y_mean, "y_std": scaler.y_std},
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "paper": PAPER,
        "seconds": time.perf_counter() - t_start,
        "seconds_teachers": t_teachers,
        "seconds_sweep": t_sweep,
        "backend": jax.default_backend(),
        "_plot": {"x_test": x_test[:3], "scaler": scaler},  # dropped before saving
    }


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def format_table(result: Dict[str, Any]) -> str:
    """The printed summary: test R² and compression beside the paper's (different data)."""
    r2, comp, paper = result["r2"], result["compression"], result["paper"]
    std = result.get("r2_std", {})
    rows = [
        ("AWD", "awd", comp["awd"], paper["r2"]["awd"], paper["compression"]["awd"]),
        ("DB5", "db5", comp["db5"], paper["r2"]["db5"], paper["compression"]["db5"]),
        (f"teacher ({result['teacher'].upper()})", "teacher", None, paper["r2"]["teacher"], None),
        ("AWD without interp.", "awd_no_interp", result["compression_awd_no_interp"],
         paper["r2"]["awd_no_interp"], None),
    ]
    head = f"{'model':<22}{'test R²':>9}{'± std':>8}{'compression':>13}{'paper R²':>10}{'paper comp.':>13}"
    lines = [head, "-" * len(head)]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for name, key, b, c, d in rows:
        lines.append(f"{name:<22}{fmt(r2[key]):>9}{fmt(std.get(key)):>8}{fmt(b):>13}{fmt(c):>10}{fmt(d):>13}")
    lines.append("-" * len(head))
    for name, t in result["teachers"].items():
        lines.append(f"teacher {name}: val R² {t['val_r2']:.3f}, test R² {t['test_r2']:.3f}")
    s = result["selected"]["awd"]
    tm = result["prediction_seconds"]
    lines.append(f"AWD cell λ = {s['sparsity']:.3g}, γ = {s['interpretation']:.3g}; "
                 f"CV R² (train) AWD {result['cv_r2_train']['awd']:.3f}, DB5 {result['cv_r2_train']['db5']:.3f}")
    lines.append(f"prediction time for {tm['n_test']} spectra: linear {tm['linear_model']:.2e} s "
                 f"(with features {tm['features_plus_linear']:.2e} s), teacher {tm['teacher']:.2e} s")
    lines.append(f"total wall time {result['seconds']:.1f} s (teachers {result['seconds_teachers']:.1f} s, "
                 f"sweep {result['seconds_sweep']:.1f} s), preset {result['preset']}, backend {result['backend']}")
    if "wavelet_distance_to_db5" in result:
        d = result["wavelet_distance_to_db5"]
        lines.append(f"wavelet distance to db5: AWD {d['awd']:.3f}, AWD w/o interp. {d['awd_no_interp']:.3f}")
    lines.append("± std: bootstrap standard deviation of the test R² (1 000 resamples of the test spectra).")
    lines.append("paper columns: Ha et al. 2021 Table 1 on clathrin tracks, not Tecator; not comparable one to one.")
    return "\n".join(lines)


def plot_wavelet_figure(result: Dict[str, Any], path: str) -> None:
    """Learned φ/ψ against db5 (awd_jax.plotting.plot_wavelet)."""
    from awd_jax.plotting import plot_wavelet

    fig = plot_wavelet(np.asarray(result["filters"]["awd"]), BASE, label="AWD")
    s = result["selected"]["awd"]
    fig.suptitle(f"Tecator: AWD wavelet ({result['config']['optimizer']} optimiser, λ = {s['sparsity']:.3g}, "
                 f"γ = {s['interpretation']:.3g}) against db5; ψ distance "
                 f"{result['wavelet_distance_to_db5']['awd']:.3g}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def atom_centres(h: np.ndarray, length: int, level: int, mode: str) -> list:
    """Centre (in samples) of every coefficient's synthesis atom, one ``(n_j,)`` array per coefficient array.

    The atom of coefficient ``m`` of array ``a`` is ``waverec`` of the unit coefficient;
    its centre is the energy-weighted mean position over the ``length`` signal samples.
    """
    hh = jnp.asarray(h, jnp.float32)
    shapes = [c.shape[-1] for c in wavedec(jnp.zeros((1, length), jnp.float32), hh, mode=mode, level=level)]
    centres = []
    grid = np.arange(length)
    for a, n in enumerate(shapes):
        coeffs = [jnp.zeros((n, s), jnp.float32) for s in shapes]
        coeffs[a] = jnp.eye(n, dtype=jnp.float32)
        atoms = np.asarray(waverec(coeffs, hh, mode=mode))[:, :length] ** 2
        weight = atoms.sum(axis=1)
        centres.append(np.where(weight > 0, atoms @ grid / np.where(weight > 0, weight, 1.0), np.nan))
    return centres


def top_coefficient_signal(x: np.ndarray, h: np.ndarray, level: int, mode: str, k: int) -> Tuple[np.ndarray, List]:
    """Reconstruction of ``x`` (L,) from only the top-k coefficients of each array, and where they sit.

    Returns ``(x_top (L,), positions)`` with ``positions[a] = (array label, centres of the
    kept coefficients' atoms in samples)`` (see :func:`atom_centres`).
    """
    hh = jnp.asarray(h, jnp.float32)
    coeffs = wavedec(jnp.asarray(x[None], jnp.float32), hh, mode=mode, level=level)
    centres = atom_centres(np.asarray(h), x.shape[-1], level, mode)
    kept, positions = [], []
    labels = [f"cA{level}"] + [f"cD{j}" for j in range(level, 0, -1)]
    for c, lab, cen in zip(coeffs, labels, centres):
        c = np.asarray(c)[0]
        idx = np.argsort(-c)[:k]
        mask = np.zeros_like(c)
        mask[idx] = 1.0
        kept.append(jnp.asarray((c * mask)[None]))
        positions.append((lab, np.clip(cen[idx], 0, x.shape[-1] - 1)))
    rec = np.asarray(waverec(kept, hh, mode=mode))[0][: x.shape[-1]]
    return rec, positions


def plot_coefficient_figure(result: Dict[str, Any], x_examples: np.ndarray, path: str) -> None:
    """A few test spectra, their reconstruction from the kept coefficients (AWD and db5), and where those sit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = result["config"]
    wl = np.linspace(850, 1050, x_examples.shape[-1])
    fig, axes = plt.subplots(len(x_examples), 2, figsize=(11, 2.6 * len(x_examples)), squeeze=False)
    for row, x in enumerate(x_examples):
        for col, name in enumerate(("awd", "db5")):
            ax = axes[row, col]
            rec, positions = top_coefficient_signal(x, np.asarray(result["filters"][name]), cfg["level"],
                                                    cfg["mode"], cfg["k"])
            ax.plot(wl, x, color="0.5", lw=2, label="spectrum (scaled)")
            ax.plot(wl, rec, color="C3" if name == "awd" else "C0", lw=1.2, label=f"top-{cfg['k']} per scale")
            lo, hi = ax.get_ylim()
            for a, (lab, pos) in enumerate(positions):
                ax.scatter(np.interp(pos, np.arange(wl.size), wl), np.full(pos.shape, lo + 0.04 * (a + 1) * (hi - lo)),
                           s=10, label=f"{lab} atom centre")
            ax.set_title(f"test spectrum {row}: {name.upper()} kept coefficients", fontsize=9)
            ax.tick_params(labelsize=7)
            if row == 0 and col == 1:
                ax.legend(fontsize=6, ncol=2)
            ax.set_xlabel("wavelength (nm)", fontsize=8)
            ax.set_ylabel("absorbance (SNV, scaled)", fontsize=8)
    fig.suptitle("Tecator test spectra rebuilt from the top-k coefficients per scale (AWD left, DB5 right); "
                 "dots: where the kept coefficients' atoms sit", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save(result: Dict[str, Any], out_dir: str) -> Tuple[str, ...]:
    """Write ``spectra.json`` and the two figures into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    extra = result.pop("_plot", None)
    paths = (os.path.join(out_dir, "spectra.json"), os.path.join(out_dir, "spectra_wavelet.png"),
             os.path.join(out_dir, "spectra_coefficients.png"))
    with open(paths[0], "w") as f:
        json.dump(result, f, indent=2)
    plot_wavelet_figure(result, paths[1])
    plt.close("all")
    if extra is not None:
        plot_coefficient_figure(result, np.asarray(extra["x_test"]), paths[2])
    return paths


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> Tuple[SpectraConfig, str]:
    """Command line → ``(config, out_dir)``; flags override the chosen preset."""
    p = preset_parser(__doc__, "the paper's biology grid and epochs")
    p.add_argument("--sparsity", type=floats, help="comma-separated λ grid (ascending)")
    p.add_argument("--interpretation", type=floats, help="comma-separated γ grid (ascending, with 0)")
    p.add_argument("--seed", type=int, help="AWD shuffling seed")
    p.add_argument("--no-snv", dest="snv", action="store_const", const=False, help="skip per-spectrum SNV")
    return parse_config(p, argv, PRESETS)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Entry point: run, print the table, write JSON and figures; returns the saved result."""
    config, out_dir = parse_args(argv)
    result = run(config, progress=True)
    paths = save(result, out_dir)
    print()
    print(format_table(result))
    print("wrote " + ", ".join(paths))
    return result


if __name__ == "__main__":
    prepare_process()
    main()
