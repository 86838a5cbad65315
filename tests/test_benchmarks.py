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
def test_bench_fit_quick(tmp_path, monkeypatch):
    # main() asks for one CPU device per core via XLA_FLAGS; keep that out of later subprocesses
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    out = tmp_path / "bench_fit.json"
    _load("bench_fit").main(["--quick", "--out", str(out)])
    with open(out) as f:
        saved = json.load(f)
    assert saved and os.path.getsize(out) > 0


@pytest.mark.slow
def test_bench_scale_quick(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH_DIR, "bench_scale.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "bench_scale.json") as f:
        saved = json.load(f)
    for key in ("device", "backend", "device_count", "jax_version", "throughput", "scaling", "scaling_info"):
        assert key in saved
    assert saved["throughput"], "no throughput case ran"
    for row in saved["throughput"]:
        assert "error" not in row, row.get("error")
        for key in ("dims", "shape", "batch_size", "level", "steps_per_s", "ms_per_step", "samples_per_s",
                    "compile_s", "peak_memory_bytes", "memory_kind"):
            assert key in row
        assert row["ms_per_step"] > 0 and row["peak_memory_bytes"] > 0
        assert row["memory_kind"] in ("device_peak_bytes_in_use", "process_peak_rss")
    if saved["scaling_info"]["skipped"] is None:  # fit(devices=) exists
        counts = [r["devices"] for r in saved["scaling"] if r["path"] == "sharded"]
        assert counts[0] == 1 and len(counts) >= 2  # forced host devices on a CPU: at least k = 1, 2
        for row in saved["scaling"]:
            for key in ("devices", "batch_size", "ms_per_step", "samples_per_s", "speedup_vs_1", "max_abs_diff_vs_1"):
                assert key in row
            assert row["max_abs_diff_vs_1"] < 1e-4
