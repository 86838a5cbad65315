"""Throughput, device scaling and peak memory of AWD training (``awd_jax.fit``).

* throughput: training samples/s, steps/s and ms/step against batch size and size of the
  data: 1D signals of length 64 … 65 536 and 2D maps 64² … 512² (``--quick``: one small
  1D case; 2D programs take 10-50 s to compile on a CPU). Level 4, capped by
  ``awd_jax.dwt_max_level`` (never a boundary-effects level), db5 start, zero mode,
  λ = 0.1, γ = 1, saliency. The teacher is a fixed random feature model
  ``f(x) = tanh(flatten(x) @ P) @ v`` (P ``(H·W or L, 8)``, v ``(8,)``): it works at any
  size, costs less than the transform, and has a non-zero Hessian, so every step pays the
  transform plus the double derivative of the interpretation term. Each case calls
  ``fit(..., epochs=1, progress=False)`` on ``batch_size × steps`` samples with the same
  teacher function object and settings: the first call compiles, later calls reuse the
  compiled program and are timed (best of the timed calls); ``compile_s`` is the first
  call's time minus the best timed call's.
* scaling: the same ``fit`` with ``devices=jax.devices()[:k]`` for k = 1, 2, 4 (the batch
  split over the devices along the batch axis), ms/step, speed-up over k = 1 and the
  largest absolute difference of the learned filter from the k = 1 filter. On a CPU the
  devices are forced host devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``,
  ``JAX_PLATFORMS=cpu``) that share the machine's cores: this measures the overhead and
  the correctness of the sharded path, not a speed-up. On a GPU/TPU the real devices are
  used (k above ``jax.device_count()`` is skipped). With ``devices`` ``fit`` streams the
  batches from host memory; a last row (``path = "default"``, not in ``--quick``) times
  the same case with ``devices=None`` (data on the default device) for comparison.
  Skipped with a message when ``fit`` has no ``devices=`` keyword.
* memory: every case runs in its own Python process, so its peak is its own: the
  device's ``memory_stats()["peak_bytes_in_use"]`` on a GPU/TPU
  (``memory_kind = "device_peak_bytes_in_use"``), else the process's peak resident set
  size (``"process_peak_rss"``, which includes the Python/JAX runtime and XLA's compiler:
  ``baseline_memory_bytes`` is the same number just before the first ``fit``).

    python benchmarks/bench_scale.py            # about 12 minutes on a 2-core CPU
    python benchmarks/bench_scale.py --quick    # under a minute: a smoke test, not a measurement

Writes ``<out>/bench_scale.json`` (``--out``, default ``results/``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time


FILTER_LEN = 10  # db5
MAX_LEVEL = 4
SPARSITY, INTERPRETATION = 0.1, 1.0
FEATURES = 8  # random features of the teacher

FULL_1D = dict(sizes=[64, 1024, 16384, 65536], batch_sizes=[8, 64, 512], max_elements=1 << 22, target=1 << 24)
FULL_2D = dict(sizes=[64, 256, 512], batch_sizes=[4, 32], max_elements=1 << 21, target=1 << 22)
QUICK_1D = dict(sizes=[64], batch_sizes=[8], max_elements=1 << 22, target=1 << 14)
QUICK_2D = dict(sizes=[], batch_sizes=[4], max_elements=1 << 21, target=1 << 14)  # 2D compiles take 10-50 s
FULL_SCALING = dict(dims=1, size=16384, batch_size=64, steps=16)
QUICK_SCALING = dict(dims=1, size=64, batch_size=8, steps=8)
DEVICE_COUNTS = (1, 2, 4)
MIN_STEPS, MAX_STEPS = 4, 256

CPU_SCALING_NOTE = (
    "CPU: the k devices are forced host devices (XLA_FLAGS=--xla_force_host_platform_device_count=4) that "
    "share this machine's {cores} CPU core(s); this measures the overhead and correctness of the sharded "
    "(SPMD) path, not a device speed-up (k host devices can keep up to {cores} cores busy where one device's "
    "program runs largely on one thread, and a smaller per-device batch can be cheaper per sample).")
ACCEL_SCALING_NOTE = "{backend}: real devices ({count} available); k above the device count is skipped."


# ----------------------------------------------------------------------------------------------
# worker side (one case per process)
# ----------------------------------------------------------------------------------------------

def _teacher(shape, seed=0):
    """``f(x) = tanh(flatten(x) @ P) @ v``: any size, cheap, non-zero Hessian."""
    import jax.numpy as jnp
    import numpy as np

    d = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    p = jnp.asarray(rng.standard_normal((d, FEATURES)) / np.sqrt(d), jnp.float32)
    v = jnp.asarray(rng.standard_normal((FEATURES,)), jnp.float32)

    def teacher(x):
        return jnp.tanh(x.reshape(x.shape[0], -1) @ p) @ v

    return teacher


def _data(n, shape, seed=0):
    import numpy as np

    return np.random.default_rng(seed).standard_normal((n,) + tuple(shape), dtype=np.float32)


def level_for(size: int) -> int:
    import awd_jax

    return max(1, min(MAX_LEVEL, awd_jax.dwt_max_level(size, FILTER_LEN)))


def device_info() -> dict:
    import jax

    dev = jax.devices()[0]
    return {"device": str(dev), "device_kind": dev.device_kind, "backend": jax.default_backend(),
            "device_count": jax.device_count(), "jax_version": jax.__version__}


def peak_memory() -> tuple[int, str]:
    """Peak bytes: the device's allocator peak off the CPU, else this process's peak RSS."""
    import jax

    if jax.default_backend() != "cpu":
        try:
            stats = jax.devices()[0].memory_stats() or {}
        except Exception:  # noqa: BLE001 -- some backends do not implement it
            stats = {}
        if "peak_bytes_in_use" in stats:
            return int(stats["peak_bytes_in_use"]), "device_peak_bytes_in_use"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "process_peak_rss"


def _timed_calls(call, min_time, max_repeats):
    """First call (compile + run), then timed calls until ``min_time`` s or ``max_repeats``."""
    t0 = time.perf_counter()
    first_result = call()
    first = time.perf_counter() - t0
    times, result = [], first_result
    while not times or (sum(times) < min_time and len(times) < max_repeats):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return first, times, result


def run_throughput(case: dict) -> dict:
    import jax.numpy as jnp

    import awd_jax

    dims, size, bs, steps = case["dims"], case["size"], case["batch_size"], case["steps"]
    shape = (size,) * dims
    level = level_for(size)
    teacher = _teacher(shape)
    x = jnp.asarray(_data(bs * steps, shape))
    baseline, kind = peak_memory()
    kw = dict(level=level, mode="zero", dims=dims, sparsity=SPARSITY, interpretation=INTERPRETATION,
              batch_size=bs, epochs=1, progress=False)
    first, times, _ = _timed_calls(lambda: awd_jax.fit("db5", teacher, x, **kw), case["min_time"],
                                   case["max_repeats"])
    peak, kind = peak_memory()
    best = min(times)
    return {"dims": dims, "shape": list(shape), "batch_size": bs, "level": level, "steps": steps,
            "n_samples": bs * steps, "epochs": 1, "steps_per_s": steps / best, "ms_per_step": 1e3 * best / steps,
            "samples_per_s": bs * steps / best, "compile_s": max(0.0, first - best), "first_call_s": first,
            "timed_calls_s": times, "peak_memory_bytes": peak, "baseline_memory_bytes": baseline,
            "memory_kind": kind, **device_info()}


def fit_has_devices() -> bool:
    import awd_jax

    return "devices" in inspect.signature(awd_jax.fit).parameters


def run_scaling(case: dict) -> dict:
    import jax
    import numpy as np

    import awd_jax

    info = device_info()
    if not fit_has_devices():
        return {"rows": [], "skipped": "awd_jax.fit has no devices= keyword yet: scaling not measured", **info}
    dims, size, bs, steps = case["dims"], case["size"], case["batch_size"], case["steps"]
    shape = (size,) * dims
    level = level_for(size)
    teacher = _teacher(shape)
    x = _data(bs * steps, shape)  # host (NumPy) data: with devices= fit streams each batch's shards
    kw = dict(level=level, mode="zero", dims=dims, sparsity=SPARSITY, interpretation=INTERPRETATION,
              batch_size=bs, epochs=1, progress=False)
    runs = [("sharded", k) for k in case["device_counts"] if k <= jax.device_count()]
    if case.get("default_path"):
        runs.append(("default", 1))
    rows, h1, ms1 = [], None, None
    skipped_k = [k for k in case["device_counts"] if k > jax.device_count()]
    for path, k in runs:
        if bs % k:
            rows.append({"devices": k, "path": path, "batch_size": bs,
                         "error": f"batch_size {bs} not divisible by {k}"})
            continue
        devices = jax.devices()[:k] if path == "sharded" else None
        data = x if path == "sharded" else jax.numpy.asarray(x)
        first, times, result = _timed_calls(lambda: awd_jax.fit("db5", teacher, data, devices=devices, **kw),
                                            case["min_time"], case["max_repeats"])
        best = min(times)
        h = np.asarray(result.h, np.float64)
        ms = 1e3 * best / steps
        if h1 is None:
            h1, ms1 = h, ms
        rows.append({"devices": k, "path": path, "device_list": [str(d) for d in (devices or jax.devices()[:1])],
                     "batch_size": bs, "per_device_batch": bs // k, "steps": steps, "ms_per_step": ms,
                     "steps_per_s": steps / best, "samples_per_s": bs * steps / best,
                     "compile_s": max(0.0, first - best), "speedup_vs_1": ms1 / ms,
                     "max_abs_diff_vs_1": float(np.max(np.abs(h - h1)))})
    return {"rows": rows, "skipped": None, "skipped_device_counts": skipped_k, "dims": dims, "shape": list(shape),
            "level": level, **info}


def worker(spec_json: str, out_path: str) -> None:
    import warnings

    warnings.filterwarnings("ignore", message="Level value of")
    spec = json.loads(spec_json)
    task = spec.pop("task")
    if task == "info":
        result = device_info()
    elif task == "throughput":
        result = run_throughput(spec)
    elif task == "scaling":
        result = run_scaling(spec)
    else:
        raise ValueError(f"unknown task {task!r}")
    with open(out_path, "w") as fh:
        json.dump(result, fh)


# ----------------------------------------------------------------------------------------------
# driver side (never initialises a JAX backend itself, so a GPU/TPU is free for the workers)
# ----------------------------------------------------------------------------------------------

def _spawn(spec: dict, env: dict | None = None, timeout: float | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec), "--worker-out", out]
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
            return {"error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
        with open(out) as fh:
            return json.load(fh)


def throughput_cases(grid: dict, dims: int) -> list[dict]:
    cases = []
    for size in grid["sizes"]:
        elems = size ** dims
        for bs in grid["batch_sizes"]:
            if bs * elems > grid["max_elements"]:
                continue
            steps = int(min(MAX_STEPS, max(MIN_STEPS, round(grid["target"] / (bs * elems)))))
            cases.append({"dims": dims, "size": size, "batch_size": bs, "steps": steps})
    return cases


def scaling_env(backend: str) -> dict:
    env = dict(os.environ)
    if backend == "cpu":
        flags = [f for f in env.get("XLA_FLAGS", "").split()
                 if not f.startswith("--xla_force_host_platform_device_count")]
        env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={max(DEVICE_COUNTS)}"])
        env["JAX_PLATFORMS"] = "cpu"
    return env


def _fmt_bytes(b):
    return "-" if b is None else f"{b / 2 ** 20:.0f}"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one small 1D case, tiny scaling case (< 1 minute)")
    p.add_argument("--out", default="results", help="directory for bench_scale.json")
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--min-time", type=float, default=None, help="seconds of timed calls per case (default 1, quick 0)")
    p.add_argument("--max-repeats", type=int, default=None, help="most timed calls per case (default 5, quick 1)")
    p.add_argument("--scaling-size", type=int, default=None, help="signal length of the scaling case")
    p.add_argument("--scaling-batch", type=int, default=None, help="global batch size of the scaling case")
    p.add_argument("--scaling-steps", type=int, default=None, help="steps (batches) per fit call in the scaling case")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per worker process")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.worker_out)
        return {}

    t_start = time.perf_counter()
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    min_time = args.min_time if args.min_time is not None else (0.0 if args.quick else 1.0)
    max_repeats = args.max_repeats or (1 if args.quick else 5)
    timing = {"min_time": min_time, "max_repeats": max_repeats}
    grid_1d, grid_2d = (QUICK_1D, QUICK_2D) if args.quick else (FULL_1D, FULL_2D)
    cases = [] if args.no_throughput else throughput_cases(grid_1d, 1) + throughput_cases(grid_2d, 2)

    info = None
    rows = []
    if cases:
        print(f"{'dims':>4} {'shape':>12} {'batch':>6} {'J':>2} {'steps':>6} {'steps/s':>9} {'ms/step':>9} "
              f"{'samples/s':>10} {'compile s':>10} {'peak MiB':>9} {'base MiB':>9}", flush=True)
    for case in cases:
        r = _spawn({"task": "throughput", **case, **timing}, timeout=args.timeout)
        if "error" in r:
            r = {**case, "shape": [case["size"]] * case["dims"], "level": None, "steps_per_s": None,
                 "ms_per_step": None, "samples_per_s": None, "compile_s": None, "peak_memory_bytes": None,
                 "memory_kind": None, "error": r["error"]}
            shape = "x".join(map(str, r["shape"]))
            print(f"{case['dims']:>4} {shape:>12} {case['batch_size']:>6} failed: {r['error']}", flush=True)
        else:
            info = info or {k: r.pop(k) for k in ("device", "device_kind", "backend", "device_count", "jax_version")}
            for k in ("device", "device_kind", "backend", "device_count", "jax_version"):
                r.pop(k, None)
            print(f"{r['dims']:>4} {'x'.join(map(str, r['shape'])):>12} {r['batch_size']:>6} {r['level']:>2} "
                  f"{r['steps']:>6} {r['steps_per_s']:>9.1f} {r['ms_per_step']:>9.2f} {r['samples_per_s']:>10.0f} "
                  f"{r['compile_s']:>10.1f} {_fmt_bytes(r['peak_memory_bytes']):>9} "
                  f"{_fmt_bytes(r['baseline_memory_bytes']):>9}", flush=True)
        rows.append(r)
    if info is None:
        info = _spawn({"task": "info"}, timeout=args.timeout)
        if "error" in info:
            raise RuntimeError(f"cannot start a JAX worker: {info['error']}")
    memory_kinds = sorted({r["memory_kind"] for r in rows if r.get("memory_kind")})
    print(f"backend {info['backend']} ({info['device']}, {info['device_kind']}), {info['device_count']} device(s); "
          f"memory: {', '.join(memory_kinds) or '-'} (per case, own process)", flush=True)

    scaling, scaling_info = [], {"skipped": "--no-scaling"}
    if not args.no_scaling:
        sc = dict(QUICK_SCALING if args.quick else FULL_SCALING)
        sc["size"] = args.scaling_size or sc["size"]
        sc["batch_size"] = args.scaling_batch or sc["batch_size"]
        sc["steps"] = args.scaling_steps or sc["steps"]
        note = (CPU_SCALING_NOTE.format(cores=os.cpu_count()) if info["backend"] == "cpu"
                else ACCEL_SCALING_NOTE.format(backend=info["backend"], count=info["device_count"]))
        res = _spawn({"task": "scaling", **sc, "device_counts": list(DEVICE_COUNTS), "default_path": not args.quick,
                      **timing}, env=scaling_env(info["backend"]), timeout=args.timeout)
        scaling_info = {"note": note, "case": sc, "skipped": res.get("skipped") or res.get("error"),
                        "backend": res.get("backend"), "device_count": res.get("device_count"),
                        "devices": None, "skipped_device_counts": res.get("skipped_device_counts"),
                        "level": res.get("level")}
        scaling = res.get("rows", [])
        shape = "x".join([str(sc["size"])] * sc["dims"])
        print(f"\nscaling: {sc['dims']}D {shape}, global batch {sc['batch_size']}, {sc['steps']} steps per call "
              f"({res.get('device_count', '?')} {res.get('backend', '?')} device(s) in the worker)")
        print(f"  {note}")
        if scaling_info["skipped"]:
            print(f"  skipped: {scaling_info['skipped']}")
        else:
            print(f"  {'devices':>7} {'path':>8} {'batch/dev':>9} {'ms/step':>9} {'samples/s':>10} {'compile s':>10} "
                  f"{'speedup':>8} {'max|h-h1|':>10}")
            for r in scaling:
                if "error" in r:
                    print(f"  {r['devices']:>7} {r['path']:>8} error: {r['error']}")
                    continue
                print(f"  {r['devices']:>7} {r['path']:>8} {r['per_device_batch']:>9} {r['ms_per_step']:>9.2f} "
                      f"{r['samples_per_s']:>10.0f} {r['compile_s']:>10.1f} {r['speedup_vs_1']:>7.2f}x "
                      f"{r['max_abs_diff_vs_1']:>10.2e}")
            if res.get("skipped_device_counts"):
                print(f"  k = {res['skipped_device_counts']} skipped: only {res['device_count']} device(s)")

    report = {
        "benchmark": "bench_scale",
        "quick": args.quick,
        "device": info["device"], "device_kind": info["device_kind"], "backend": info["backend"],
        "device_count": info["device_count"], "jax_version": info["jax_version"],
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "setting": {"wavelet": "db5", "mode": "zero", "max_level": MAX_LEVEL, "sparsity": SPARSITY,
                    "interpretation": INTERPRETATION, "method": "saliency", "dtype": "float32",
                    "teacher": f"tanh(flatten(x) @ P) @ v, P (size, {FEATURES}), v ({FEATURES},), fixed random",
                    "timing": "fit(..., epochs=1) on batch_size*steps samples; first call compiles; best of the "
                              f"later calls (at least one, until {min_time} s or {max_repeats} calls); "
                              "compile_s = first call - best call",
                    "memory": "one process per throughput case; device_peak_bytes_in_use off the CPU, else the "
                              "process's peak RSS (runtime and compiler included; baseline_memory_bytes = peak "
                              "before the first fit)"},
        "throughput": rows,
        "memory_kind": memory_kinds[0] if len(memory_kinds) == 1 else memory_kinds,
        "scaling": scaling,
        "scaling_info": scaling_info,
        "wall_s": time.perf_counter() - t_start,
    }
    report["scaling_info"]["devices"] = [r.get("device_list") for r in scaling] or None
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "bench_scale.json")
    with open(path, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"\ntotal {report['wall_s']:.0f} s; wrote {path}")
    return report


if __name__ == "__main__":
    main()
