"""Throughput of awd_jax's wavedec/waverec against PyWavelets (and jaxwt when installed).

Every implementation is measured in the same run on the same data: warm-up, then the
median of repeats, with ``block_until_ready`` for JAX. Prints a table and writes JSON.

    python benchmarks/bench_transform.py            # full: (1024,1024), (8192,256), (64,16384), 2D (32,512,512)
    python benchmarks/bench_transform.py --quick    # seconds; used by the test suite
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pywt

import awd_jax

FULL_1D = [(1024, 1024), (8192, 256), (64, 16384)]
FULL_2D = [((32, 512, 512), 3)]
QUICK_1D = [(64, 256)]
QUICK_2D = [((4, 64, 64), 2)]


def _median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _ready(tree):
    return jax.block_until_ready(tree)


def _jaxwt():
    try:
        import jaxwt  # noqa: F401

        return jaxwt
    except Exception:  # optional, absent in CI
        return None


def bench_1d(shape, wavelet, level, mode, repeats) -> list[dict]:
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape).astype(np.float32)
    x = jnp.asarray(x_np)
    h = jnp.asarray(awd_jax.lowpass(wavelet), jnp.float32)
    coeffs_np = pywt.wavedec(x_np, wavelet, mode, level=level)
    coeffs = [jnp.asarray(c) for c in coeffs_np]
    rows = []
    ref_dec = _median_ms(lambda: pywt.wavedec(x_np, wavelet, mode, level=level), repeats)
    ref_rec = _median_ms(lambda: pywt.waverec(coeffs_np, wavelet, mode), repeats)
    rows.append(dict(op="wavedec", shape=list(shape), impl="pywt", ms=ref_dec, speedup=1.0))
    rows.append(dict(op="waverec", shape=list(shape), impl="pywt", ms=ref_rec, speedup=1.0))
    for impl in ("fused", "conv"):
        dec = _median_ms(lambda: _ready(awd_jax.wavedec(x, h, mode=mode, level=level, impl=impl)), repeats)
        rec = _median_ms(lambda: _ready(awd_jax.waverec(coeffs, h, mode=mode, impl=impl)), repeats)
        rows.append(dict(op="wavedec", shape=list(shape), impl=impl, ms=dec, speedup=ref_dec / dec))
        rows.append(dict(op="waverec", shape=list(shape), impl=impl, ms=rec, speedup=ref_rec / rec))
    jaxwt = _jaxwt()
    if jaxwt is not None and mode in ("zero", "symmetric", "reflect"):
        wav = pywt.Wavelet(wavelet)
        dec_fn = jax.jit(lambda x: jaxwt.wavedec(x, wav, mode=mode, level=level))
        try:
            dec = _median_ms(lambda: _ready(dec_fn(x)), repeats)
            rows.append(dict(op="wavedec", shape=list(shape), impl="jaxwt", ms=dec, speedup=ref_dec / dec))
        except Exception as err:  # jaxwt's API differs between versions
            print(f"jaxwt skipped: {err}", file=sys.stderr)
    return rows


def bench_2d(shape, wavelet, level, mode, repeats) -> list[dict]:
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape).astype(np.float32)
    x = jnp.asarray(x_np)
    h = jnp.asarray(awd_jax.lowpass(wavelet), jnp.float32)
    rows = []
    ref = _median_ms(lambda: pywt.wavedec2(x_np, wavelet, mode, level=level), repeats)
    rows.append(dict(op="wavedec2", shape=list(shape), impl="pywt", ms=ref, speedup=1.0))
    for impl in ("fused", "conv"):
        t = _median_ms(lambda: _ready(awd_jax.wavedec2(x, h, mode=mode, level=level, impl=impl)), repeats)
        rows.append(dict(op="wavedec2", shape=list(shape), impl=impl, ms=t, speedup=ref / t))
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few repeats (seconds)")
    parser.add_argument("--wavelet", default="db5")
    parser.add_argument("--mode", default="symmetric")
    parser.add_argument("--level", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default="results", help="directory for bench_transform.json")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 25)
    shapes_1d, shapes_2d = (QUICK_1D, QUICK_2D) if args.quick else (FULL_1D, FULL_2D)
    rows = []
    for shape in shapes_1d:
        rows += bench_1d(shape, args.wavelet, args.level, args.mode, repeats)
    for shape, level in shapes_2d:
        rows += bench_2d(shape, args.wavelet, level, args.mode, repeats)
    print(f"{'op':9s} {'shape':18s} {'impl':6s} {'ms':>9s} {'x pywt':>7s}")
    for r in rows:
        print(f"{r['op']:9s} {str(tuple(r['shape'])):18s} {r['impl']:6s} {r['ms']:9.3f} {r['speedup']:7.2f}")
    report = dict(
        benchmark="bench_transform",
        quick=args.quick,
        wavelet=args.wavelet,
        mode=args.mode,
        level=args.level,
        repeats=repeats,
        dtype="float32",
        device=str(jax.devices()[0]),
        backend=jax.default_backend(),
        default_impl=awd_jax.transform.resolve_impl("auto", len(awd_jax.lowpass(args.wavelet))),
        cpu_count=os.cpu_count(),
        platform=platform.platform(),
        versions=dict(awd_jax=awd_jax.__version__, jax=jax.__version__, pywt=pywt.__version__, numpy=np.__version__),
        rows=rows,
    )
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "bench_transform.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
