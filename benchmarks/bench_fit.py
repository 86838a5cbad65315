"""Throughput of AWD training in the simulation setting (SPEC §7).

n = 50 000 signals of length 64, J = 4, zero mode, MLP teacher 64→32→32→1 (random
weights: throughput does not depend on training the teacher), λ = 0.1, γ = 1, saliency.

* fit: steps/s of one compiled epoch (``lax.scan`` over the minibatches) for several batch
  sizes, compile time reported separately;
* sweep: the 5 × 21 simulation grid (SPEC §5) with warm start, ``--sweep-epochs`` epochs
  per cell, as cell-epochs/s.

Usage: ``python benchmarks/bench_fit.py [--quick] [--out results/bench_fit.json]``.
``--quick`` shrinks everything so the script runs in seconds (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
import warnings

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import jax
import jax.numpy as jnp
import numpy as np

import awd_jax as awd
from awd_jax.fit import _epoch, _init_state, check_data, make_config

SIM_LAMBDAS = [1e-5, 2e-5, 3e-5, 6e-5, 1e-4]
SIM_GAMMAS = [0.0] + list(np.geomspace(1e-5, 50, 20))


def teacher(length: int, seed: int = 0):
    model = awd.MLP(features=(32, 32), out=1)
    variables = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, length)))
    return lambda x: model.apply(variables, x)


def bench_fit(x, teacher_fn, batch_size, *, level, lam, gam, repeats):
    cfg = make_config(
        teacher_fn, x, level=level, mode="zero", interpretation_on=gam != 0, weights=None, method="saliency",
        target=0, dims=1, steps=32, optimizer=None, learning_rate=1e-3, batch_size=batch_size, epochs=1,
        shuffle=True,
    )
    epoch = jax.jit(functools.partial(_epoch, cfg=cfg))
    h0 = awd.init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    state = _init_state(h0, cfg)
    key = jax.random.PRNGKey(0)
    lam, gam = jnp.float32(lam), jnp.float32(gam)
    t0 = time.perf_counter()
    out = epoch(state, x, key, 0, lam, gam)
    jax.block_until_ready(out)
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        out = epoch(out[0], x, key, r + 1, lam, gam)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    n_steps = -(-x.shape[0] // cfg.batch_size)
    best = min(times)
    return {"batch_size": cfg.batch_size, "steps_per_epoch": n_steps, "epoch_s": best, "steps_per_s": n_steps / best,
                "step_ms": 1e3 * best / n_steps, "samples_per_s": x.shape[0] / best, "compile_plus_first_epoch_s": first}


def bench_sweep(x, teacher_fn, *, level, lambdas, gammas, epochs, batch_size):
    kw = {"level": level, "epochs": epochs, "batch_size": batch_size, "progress": False, "seed": 0}
    h0 = awd.init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    t0 = time.perf_counter()
    awd.sweep(h0, teacher_fn, x, sparsity=lambdas, interpretation=gammas, **kw)
    wall = time.perf_counter() - t0  # compile included (each sweep call compiles its program)
    cells = len(lambdas) * len(gammas)
    return {"grid": [len(lambdas), len(gammas)], "epochs": epochs, "batch_size": batch_size, "n": int(x.shape[0]),
                "wall_s": wall, "cell_epochs_per_s": cells * epochs / wall}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: runs in seconds")
    p.add_argument("--out", default="results/bench_fit.json")
    p.add_argument("--n", type=int, default=None, help="training samples (default 50000, quick 2000)")
    p.add_argument("--batch-sizes", type=int, nargs="*", default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--sweep-epochs", type=int, default=1)
    p.add_argument("--sweep-n", type=int, default=None, help="samples for the sweep (default n)")
    p.add_argument("--no-sweep", action="store_true")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", message="Level value of")
    n = args.n or (2000 if args.quick else 50000)
    batch_sizes = args.batch_sizes or ([100] if args.quick else [100, 300, 1000, 3000, 10000])
    repeats = args.repeats or (1 if args.quick else 3)
    length, level = 64, 4
    x = check_data(np.random.default_rng(0).normal(size=(n, length)).astype(np.float32), 1)
    f = teacher(length)
    rows = []
    print(f"backend {jax.default_backend()} ({jax.devices()[0].device_kind}), n={n}, L={length}, J={level}")
    print(f"{'batch':>7} {'steps/ep':>9} {'steps/s':>9} {'ms/step':>9} {'samples/s':>11} {'compile+1st (s)':>16}")
    for bs in batch_sizes:
        r = bench_fit(x, f, bs, level=level, lam=0.1, gam=1.0, repeats=repeats)
        rows.append(r)
        print(f"{r['batch_size']:>7} {r['steps_per_epoch']:>9} {r['steps_per_s']:>9.1f} {r['step_ms']:>9.3f} "
              f"{r['samples_per_s']:>11.0f} {r['compile_plus_first_epoch_s']:>16.1f}", flush=True)
    sweep_row = None
    if not args.no_sweep:
        lams, gams = (SIM_LAMBDAS[:1], SIM_GAMMAS[:2]) if args.quick else (SIM_LAMBDAS, SIM_GAMMAS)
        ns = args.sweep_n or (min(n, 500) if args.quick else n)
        sweep_row = bench_sweep(x[:ns], f, level=level, lambdas=lams, gammas=gams, epochs=args.sweep_epochs,
                                batch_size=100)
        print(f"sweep {sweep_row['grid'][0]}x{sweep_row['grid'][1]} grid, {args.sweep_epochs} epoch(s), n={ns}: "
              f"{sweep_row['wall_s']:.1f} s ({sweep_row['cell_epochs_per_s']:.3f} cell-epochs/s, "
              f"compile included)")
    result = {"setting": {"n": n, "length": length, "level": level, "mode": "zero", "teacher": "MLP 64-32-32-1", "sparsity": 0.1,
                               "interpretation": 1.0, "method": "saliency", "quick": args.quick},
                  "device": {"backend": jax.default_backend(), "kind": jax.devices()[0].device_kind,
                              "platform": platform.platform(), "jax": jax.__version__},
                  "fit": rows, "sweep": sweep_row}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
