"""Throughput of AWD training in the simulation setting (docs/method.md#experiments).

n = 50 000 signals of length 64, J = 4, zero mode, MLP teacher 64→32→32→1 (random
weights: throughput does not depend on training the teacher), λ = 0.1, γ = 1, saliency.

* fit: steps/s of one compiled epoch (``lax.scan`` over the minibatches) for several batch
  sizes, compile time reported separately;
* sweep: the 5 × 21 simulation grid (docs/method.md#training) with warm start, ``--sweep-epochs`` epochs
  per cell, as cell-epochs/s;
* reference: the original implementation's (``awave`` 0.1, PyTorch) training step in the same
  setting, timed in the same run, and the ratio awd_jax steps/s ÷ reference steps/s. Needs
  ``import torch, awave`` (the optional ``reference`` extra); skipped with ``--no-reference``,
  recorded as ``"reference": null`` (with the reason) when unavailable.

Usage: ``python benchmarks/bench_fit.py [--quick] [--no-reference] [--out results/bench_fit.json]``.
``--quick`` shrinks everything so the script runs in seconds (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
import warnings


import jax
import jax.numpy as jnp
import numpy as np

import awd_jax as awd
from awd_jax._engine import _epoch, _init_state, check_data, make_config
from awd_jax.teachers import MLP

SIM_LAMBDAS = [1e-5, 2e-5, 3e-5, 6e-5, 1e-4]
SIM_GAMMAS = [0.0] + list(np.geomspace(1e-5, 50, 20))


def teacher(length: int, seed: int = 0):
    model = MLP(features=(32, 32), out=1)
    variables = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, length)))
    return lambda x: model.apply(variables, x)


def bench_fit(x, teacher_fn, batch_size, *, level, lam, gam, repeats, impl="auto"):
    cfg = make_config(
        teacher_fn, x, awd.Objective(level=level, mode="zero", impl=impl), interpretation_on=gam != 0,
        optimizer=None, learning_rate=1e-3, batch_size=batch_size, epochs=1, shuffle=True,
    )
    epoch = jax.jit(functools.partial(_epoch, cfg=cfg))
    h0 = awd.init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    state = _init_state(h0, cfg)
    key = jax.random.PRNGKey(0)
    lam, gam = jnp.float32(lam), jnp.float32(gam)
    t0 = time.perf_counter()
    out = epoch(state, x, key, 0, lam, gam, None)
    jax.block_until_ready(out)
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        out = epoch(out[0], x, key, r + 1, lam, gam, None)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    n_steps = -(-x.shape[0] // cfg.batch_size)
    best = min(times)
    return {"batch_size": cfg.batch_size, "steps_per_epoch": n_steps, "epoch_s": best, "steps_per_s": n_steps / best,
            "step_ms": 1e3 * best / n_steps, "samples_per_s": x.shape[0] / best,
            "compile_plus_first_epoch_s": first}


def bench_sweep(x, teacher_fn, *, level, lambdas, gammas, epochs, batch_size, full_epochs=50):
    """Time the grid twice with the same settings: the first call compiles, the second reuses
    the compiled program. The full grid's time is estimated as compile + full_epochs/epochs × run."""
    kw = {"level": level, "epochs": epochs, "batch_size": batch_size, "progress": False, "seed": 0}
    h0 = awd.init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    walls = []
    for _ in range(2):
        t0 = time.perf_counter()
        awd.sweep(h0, teacher_fn, x, sparsity=lambdas, interpretation=gammas, devices=awd.chain_devices(), **kw)
        walls.append(time.perf_counter() - t0)
    cells = len(lambdas) * len(gammas)
    run, compile_s = walls[1], max(walls[0] - walls[1], 0.0)
    return {"grid": [len(lambdas), len(gammas)], "epochs": epochs, "batch_size": batch_size, "n": int(x.shape[0]),
            "first_call_s": walls[0], "wall_s": run, "compile_s": compile_s,
            "cell_epochs_per_s": cells * epochs / run, "devices": jax.device_count(),
            "full_epochs": full_epochs, "full_grid_estimate_s": compile_s + run * full_epochs / epochs}


CMF_PATCH_NOTE = (
    "awave.losses._CMF_loss replaced in memory: awave 0.1 computes it with the removed torch.rfft-era API "
    "(on current torch it silently returns a wrong complex value); the replacement is docs/method.md#objective: "
    "H = abs(torch.fft.fft(h))**2, 0.5*sum_{k<N/2}(H[k]+H[k+N/2]-2)**2")


def reference_available():
    """``(True, None)`` when ``torch`` and ``awave`` import, else ``(False, reason)``."""
    try:
        import awave  # noqa: F401
        import torch  # noqa: F401
        from awave.utils.train import Trainer  # noqa: F401
    except Exception as e:  # noqa: BLE001 -- ImportError, or a broken install (any error means: not available)
        return False, f"import torch, awave failed: {type(e).__name__}: {e}"
    return True, None


def _patch_awave_cmf():
    """Replace ``awave.losses._CMF_loss`` (old torch FFT API) with the docs/method.md formula via torch.fft.fft."""
    import awave.losses
    import torch

    if getattr(awave.losses._CMF_loss, "_awd_patched", False):
        return

    def _CMF_loss(w_transform):
        h = w_transform.h0.reshape(-1)
        n = h.numel()
        assert n % 2 == 0, "length of lowpass filter should be even"
        big_h = torch.abs(torch.fft.fft(h)) ** 2
        return 0.5 * torch.sum((big_h[: n // 2] + big_h[n // 2:] - 2) ** 2)

    _CMF_loss._awd_patched = True
    awave.losses._CMF_loss = _CMF_loss  # Loss.__call__ looks the name up in the module at call time


def reference_step_time(batch_size, x, *, level=4, lam=0.1, gam=1.0, teacher_seed=0, threads=2, warmup=3,
                        blocks=5, block_s=2.0, max_steps_per_block=50, seed=0):
    """Steady-state time of one training step of the original implementation (awave 0.1, PyTorch).

    Same setting as :func:`bench_fit`: awave's ``DWT1d(wave='db5', mode='zero', J=level)`` with
    the same initial filter as awd_jax (db5 + 0.3·N(0,1) from the same JAX key), a torch MLP
    64→32→32→1 with the same weights as :func:`teacher`, TRIM with residuals + saliency on
    output 0, ``Loss`` with the 5 filter-penalty weights 1, lamL1wave=λ, lamL1attr=γ, Adam lr 1e-3.
    One step is the reference's own ``Trainer._train_iteration`` (zero_grad, transform, inverse,
    attributions with create_graph, loss, backward, Adam step, ``loss.item()``). Batches are
    pre-drawn from a shuffled copy of ``x`` (data loading is not timed). After ``warmup`` steps,
    ``blocks`` blocks of k steps are timed (k chosen so a block takes about ``block_s``);
    the median block gives ms/step.
    """
    import awave
    import torch
    from awave.utils.train import Trainer

    _patch_awave_cmf()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    length = x.shape[-1]

    wt = awave.DWT1d(wave="db5", mode="zero", J=level)
    h0 = np.array(awd.init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3), dtype=np.float32)
    with torch.no_grad():  # awave's h0 parameter is pywt's rec_lo, i.e. docs/method.md#filters h, like awd_jax's
        wt.h0.copy_(torch.from_numpy(h0).reshape(1, 1, -1))

    params = MLP(features=(32, 32), out=1).init(jax.random.PRNGKey(teacher_seed), jnp.zeros((1, length)))
    params = jax.tree_util.tree_map(np.array, params["params"])
    layers = []
    for i, name in enumerate(sorted(params, key=lambda k: int(k.split("_")[-1]))):
        kernel, bias = params[name]["kernel"], params[name]["bias"]
        lin = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
            lin.bias.copy_(torch.from_numpy(bias))
        layers += [lin, torch.nn.ReLU()] if i < len(params) - 1 else [lin]
    mlp = torch.nn.Sequential(torch.nn.Flatten(), *layers).eval()
    for p in mlp.parameters():
        p.requires_grad_(False)

    optimizer = torch.optim.Adam(wt.parameters(), lr=1e-3)
    loss_f = awave.get_loss_f(lamlSum=1.0, lamhSum=1.0, lamL2norm=1.0, lamCMF=1.0, lamConv=1.0,
                              lamL1wave=float(lam), lamL1attr=float(gam))
    trainer = Trainer(mlp, wt, optimizer, loss_f, target=0, device="cpu", use_residuals=True,
                      attr_methods="Saliency")
    wt.train()

    xt = torch.from_numpy(np.array(x, dtype=np.float32)).reshape(x.shape[0], 1, length)
    xt = xt[torch.randperm(xt.shape[0])]
    n_batches = max(1, xt.shape[0] // batch_size)
    batches = [xt[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]
    counter = [0]

    def step():
        b = batches[counter[0] % n_batches]
        counter[0] += 1
        return trainer._train_iteration(b)

    loss = None
    t_last = None
    for _ in range(max(1, warmup)):
        t0 = time.perf_counter()
        loss = step()
        t_last = time.perf_counter() - t0
    k = int(max(1, min(max_steps_per_block, round(block_s / max(t_last, 1e-6)))))
    block_ms = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(k):
            loss = step()
        block_ms.append(1e3 * (time.perf_counter() - t0) / k)
    step_ms = float(np.median(block_ms))
    return {"batch_size": int(batches[0].shape[0]), "step_ms": step_ms, "steps_per_s": 1e3 / step_ms,
            "samples_per_s": 1e3 * batches[0].shape[0] / step_ms, "block_step_ms": block_ms,
            "steps_per_block": k, "warmup_steps": max(1, warmup), "last_loss": float(loss)}


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
    p.add_argument("--impl", default="auto", choices=awd.IMPLS,
                   help="transform implementation of the objective for the per-batch rows (default auto)")
    p.add_argument("--one-cpu-device", action="store_true",
                   help="do not split the CPU into one XLA device per core (the sweep then runs on one device)")
    p.add_argument("--no-reference", action="store_true", help="skip the original implementation's timing")
    p.add_argument("--reference-threads", type=int, default=2,
                   help="torch.set_num_threads for the reference (default 2; on a loaded machine 1 can be much faster)")
    p.add_argument("--reference-batch-sizes", type=int, nargs="*", default=None,
                   help="batch sizes timed for the reference (default: all of --batch-sizes)")
    args = p.parse_args(argv)
    if not args.one_cpu_device:
        awd.split_cpu_into_devices()  # before the first array operation
    warnings.filterwarnings("ignore", message="Level value of")
    n = args.n or (2000 if args.quick else 50000)
    batch_sizes = args.batch_sizes or ([100] if args.quick else [100, 300, 1000, 3000, 10000])
    repeats = args.repeats or (1 if args.quick else 3)
    length, level = 64, 4
    x = check_data(np.random.default_rng(0).normal(size=(n, length)).astype(np.float32), 1)
    f = teacher(length)
    rows = []
    print(f"backend {jax.default_backend()} ({jax.devices()[0].device_kind}), n={n}, L={length}, J={level}")
    if args.no_reference:
        ref_ok, ref_reason = False, "skipped (--no-reference)"
    else:
        ref_ok, ref_reason = reference_available()
    ref_batch_sizes = set(batch_sizes if args.reference_batch_sizes is None else args.reference_batch_sizes)
    ref_kw = ({"warmup": 1, "blocks": 2, "block_s": 0.2} if args.quick else {"warmup": 3, "blocks": 5, "block_s": 2.0})
    if ref_ok:
        print(f"reference: awave 0.1 on torch {__import__('torch').__version__}, {args.reference_threads} thread(s); "
              f"NOTE {CMF_PATCH_NOTE}")
    else:
        print(f"reference: not measured ({ref_reason})")
    print(f"{'batch':>7} {'steps/ep':>9} {'steps/s':>9} {'ms/step':>9} {'samples/s':>11} {'compile+1st (s)':>16}"
          f" {'ref ms/step':>12} {'ratio':>8}")
    ref_rows = []
    for bs in batch_sizes:
        r = bench_fit(x, f, bs, level=level, lam=0.1, gam=1.0, repeats=repeats, impl=args.impl)
        rr = None
        if ref_ok and bs in ref_batch_sizes:
            rr = reference_step_time(bs, x, level=level, lam=0.1, gam=1.0, threads=args.reference_threads,
                                     **ref_kw)
            ref_rows.append(rr)
        r["reference_step_ms"] = rr["step_ms"] if rr else None
        # awd_jax steps/s ÷ reference steps/s (same batch size, same run)
        r["ratio_vs_reference"] = r["steps_per_s"] / rr["steps_per_s"] if rr else None
        rows.append(r)
        ref_txt = f" {rr['step_ms']:>12.2f} {r['ratio_vs_reference']:>7.1f}x" if rr else f" {'-':>12} {'-':>8}"
        print(f"{r['batch_size']:>7} {r['steps_per_epoch']:>9} {r['steps_per_s']:>9.1f} {r['step_ms']:>9.3f} "
              f"{r['samples_per_s']:>11.0f} {r['compile_plus_first_epoch_s']:>16.1f}" + ref_txt, flush=True)
    if ref_ok:
        import torch
        reference = {
            "implementation": "awave 0.1 (original AWD code, PyTorch), Trainer._train_iteration",
            "torch": torch.__version__, "threads": args.reference_threads, "monkeypatch": CMF_PATCH_NOTE,
            "setting": "DWT1d('db5', mode='zero', J=4), same initial filter and MLP weights as awd_jax; TRIM with "
                       "residuals, Saliency, target 0; Loss: 5 penalty weights 1, lamL1wave=0.1, lamL1attr=1; "
                       "Adam lr 1e-3",
            "timing": "steady state: warm-up steps, then the median of timed blocks of steps; batches pre-drawn "
                      "from a shuffled copy of the data (DataLoader not timed); awd_jax is timed per compiled "
                      "epoch (shuffling included), best of repeats",
            "ratio": "awd_jax steps/s / reference steps/s at the same batch size",
            "fit": ref_rows,
        }
    else:
        reference = None
    sweep_row = None
    if not args.no_sweep:
        lams, gams = (SIM_LAMBDAS[:1], SIM_GAMMAS[:2]) if args.quick else (SIM_LAMBDAS, SIM_GAMMAS)
        ns = args.sweep_n or (min(n, 500) if args.quick else n)
        sweep_row = bench_sweep(x[:ns], f, level=level, lambdas=lams, gammas=gams, epochs=args.sweep_epochs,
                                batch_size=100)
        print(f"sweep {sweep_row['grid'][0]}x{sweep_row['grid'][1]} grid, {args.sweep_epochs} epoch(s), n={ns}, "
              f"{sweep_row['devices']} device(s): {sweep_row['wall_s']:.1f} s compiled "
              f"(+{sweep_row['compile_s']:.1f} s compile; {sweep_row['cell_epochs_per_s']:.3f} cell-epochs/s) -> "
              f"{sweep_row['full_epochs']} epochs: about {sweep_row['full_grid_estimate_s'] / 60:.1f} min")
    result = {"setting": {"n": n, "length": length, "level": level, "mode": "zero", "teacher": "MLP 64-32-32-1",
                          "impl": args.impl, "sparsity": 0.1,
                               "interpretation": 1.0, "method": "saliency", "quick": args.quick},
                  "device": {"backend": jax.default_backend(), "kind": jax.devices()[0].device_kind,
                              "platform": platform.platform(), "jax": jax.__version__},
                  "fit": rows, "sweep": sweep_row, "reference": reference,
                  "reference_reason": None if reference is not None else ref_reason}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
