"""The benchmark scripts' quick modes run, so they cannot rot (speed is never asserted)."""

import importlib.util
import json
import os

import pytest

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH_DIR, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_transform_quick(tmp_path):
    report = _load("bench_transform").main(["--quick", "--out", str(tmp_path)])
    with open(tmp_path / "bench_transform.json") as f:
        saved = json.load(f)
    assert saved["rows"] == report["rows"]
    impls = {(r["op"], r["impl"]) for r in saved["rows"]}
    for op in ("wavedec", "waverec"):
        assert {(op, "pywt"), (op, "fused"), (op, "conv")} <= impls
    assert ("wavedec2", "fused") in impls
    assert all(r["ms"] > 0 and r["speedup"] > 0 for r in saved["rows"])
    assert saved["device"] and saved["backend"]


@pytest.mark.slow
def test_bench_fit_quick(tmp_path):
    out = tmp_path / "bench_fit.json"
    _load("bench_fit").main(["--quick", "--out", str(out)])
    with open(out) as f:
        saved = json.load(f)
    assert saved and os.path.getsize(out) > 0
