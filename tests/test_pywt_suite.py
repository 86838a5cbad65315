"""PyWavelets' own discrete-transform tests, run against awd_jax.

The five test files shipped in the installed pywt wheel (``pywt/tests/``) run, unmodified
and uncopied, in a fresh interpreter with the plugin ``tests/_pywt_adapter.py``, which
substitutes ``pywt.dwt`` ... ``pywt.waverecn`` by wrappers around the awd_jax functions
of the same name (a fresh interpreter because the plugin enables ``jax_enable_x64``
process-wide). Counts, failures, timings and the not-applicable list go to
``results/pywt_suite.json`` (one entry per run: ``fast``, ``all``, ``sanity``).

* ``test_adapter_substitutes``: the plugin really replaces ``pywt.dwt`` (and only the
  public attributes), and the wrapper returns what awd_jax returns, as NumPy.
* ``test_not_applicable_matches_sources``: the not-applicable list is exactly the tests
  that call none of the substitutable functions (read from pywt's sources).
* ``test_pywt_suite_fast``: ``test_dwt_idwt``, ``test_modes``, ``test_multidim`` without
  pywt's slow tests and without the all-wavelets × all-modes loop of ``test_multidim``.
* ``test_pywt_suite_all`` (slow): all five files, pywt's slow tests included
  (``test_matlab_compatibility.py::test_accuracy_precomputed``, the all-wavelets loops).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
RESULTS = REPO / "results" / "pywt_suite.json"
ADAPTER = "_pywt_adapter"  # tests/_pywt_adapter.py, importable with tests/ on PYTHONPATH

FAST_FILES = ("test_dwt_idwt", "test_modes", "test_multidim")
ALL_FILES = FAST_FILES + ("test_multilevel", "test_matlab_compatibility")
# every wavelet (~100) × every mode through dwtn/idwtn: one compilation per filter
# length and mode; it runs in the slow suite
FAST_EXCLUDE = ("test_dwdtn_idwtn_allwavelets",)

# with a complete drop-in: fast 47 pass (53 collected, 5 not applicable, 1 excluded);
# all 108 pass (121 collected, 12 not applicable, the MATLAB-bridge test skipped by pywt)
MIN_PASSED_FAST = 40
MIN_PASSED_ALL = 95

TIMEOUT_FAST_S = 900
TIMEOUT_ALL_S = 3600
MAX_RESTARTS = 3  # fresh interpreters after a crash (see run_pywt)


def _adapter():
    """The plugin module, imported here only for its tables (no x64, nothing installed)."""
    if ADAPTER in sys.modules:
        return sys.modules[ADAPTER]
    spec = importlib.util.spec_from_file_location(ADAPTER, TESTS / f"{ADAPTER}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[ADAPTER] = mod
    spec.loader.exec_module(mod)
    return mod


def _site_packages() -> Path:
    import pywt

    return Path(pywt.__file__).resolve().parent.parent


def _env(report: Path, progress: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    # the adapter; then any PYTHONPATH given (it may point at another awd_jax); then this checkout
    given = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), *given, str(REPO)])
    env["JAX_ENABLE_X64"] = "1"  # the plugin enables it too, before awd_jax is imported
    env["AWD_PYWT_REPORT"] = str(report)
    if progress is not None:
        env["AWD_PYWT_PROGRESS"] = str(progress)
    return env


def pytest_command(targets: list[str], tmp: Path, rootdir: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """``python -m pytest`` with the adapter, isolated from this repository's pytest settings."""
    ini = tmp / "empty.ini"
    ini.write_text("[pytest]\n")
    return [
        sys.executable, "-m", "pytest",
        "-c", str(ini), "--rootdir", str(rootdir),  # not setup.cfg: no --strict-markers, no testpaths
        "-p", "no:cacheprovider",
        "-p", ADAPTER,
        "-q", "-rfE", "--tb=short",
        "--junitxml", str(tmp / "junit.xml"),
        *extra,
        *targets,
    ]


def _first_line(message: str) -> str:
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    if not lines:
        return ""
    first = lines[0]
    if first.rstrip(": ") in ("AssertionError", "Failed") and len(lines) > 1:
        first = f"{first.rstrip()} {lines[1]}"
    return first[:300]


def _short(module: str, name: str) -> str:
    return f"{module}.py::{name}"


def parse_junit(path: Path) -> dict[str, tuple[str, str]]:
    """``{"<file>.py::<test>": (outcome, first error line)}``; outcome passed/failed/errors/skipped."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        cls, name = case.get("classname") or "", case.get("name") or ""
        key = _short(cls.rsplit(".", 1)[-1], name) if cls else name  # a collection error has no class
        kind, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
                message = child.get("message") or child.text or ""
                break
        if out.get(key, ("passed",))[0] not in ("failed", "errors"):  # a teardown error adds a 2nd case
            out[key] = (kind, _first_line(message))
    return out


def parse_progress(path: Path, returncode) -> tuple[dict[str, tuple[str, str]], list[str], list[str]]:
    """The adapter's progress lines: outcomes so far, nodeids started, and the test that died (if any)."""
    out: dict[str, tuple[str, str]] = {}
    started: list[str] = []
    done: set[str] = set()
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        nodeid = ev["nodeid"]
        key = _short(Path(nodeid.split("::", 1)[0]).stem, nodeid.split("::", 1)[-1])
        if ev["event"] == "start":
            started.append(nodeid)
            continue
        if ev["event"] not in ("setup", "call", "teardown"):
            continue
        done.add(nodeid)
        if ev["outcome"] == "failed":
            new = ("failed" if ev["event"] == "call" else "errors", _first_line(ev["message"]))
        elif ev["outcome"] == "skipped":
            new = ("skipped", _first_line(ev["message"]))
        else:
            new = ("passed", "")
        if out.get(key, ("passed",))[0] not in ("failed", "errors"):
            out[key] = new
    crashed = [n for n in started if n not in done]
    for nodeid in crashed:
        key = _short(Path(nodeid.split("::", 1)[0]).stem, nodeid.split("::", 1)[-1])
        out[key] = ("errors", f"CRASH: the test interpreter died (exit {returncode}) while running this test")
    return out, started, crashed


def summarize(outcomes: dict[str, tuple[str, str]]) -> dict:
    """Totals, per-file counts and the failing tests (id, kind, first error line)."""
    totals = dict(passed=0, failed=0, errors=0, skipped=0)
    per_file: dict[str, dict[str, int]] = {}
    failing = []
    for key, (kind, message) in outcomes.items():
        module = key.split(".py::", 1)[0]
        per_file.setdefault(module, dict(passed=0, failed=0, errors=0, skipped=0))[kind] += 1
        totals[kind] += 1
        if kind in ("failed", "errors"):
            failing.append({"id": key, "kind": "failure" if kind == "failed" else "error", "first_line": message})
    return dict(totals, per_file=per_file, failing=failing)


def _save(run: str, record: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault("runs", {})[run] = record
    data["not_applicable"] = _adapter().not_applicable()
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _run_once(cmd: list[str], tmp: Path, env: dict, timeout: float) -> tuple[int | None, str]:
    try:
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        parts = [exc.stdout, exc.stderr]
        return None, "".join(p.decode(errors="replace") if isinstance(p, bytes) else (p or "") for p in parts)


def run_pywt(run: str, modules: tuple[str, ...], tmp: Path, extra: tuple[str, ...], timeout: int,
             max_restarts: int = MAX_RESTARTS) -> dict:
    """Run pywt's test ``modules`` with the adapter; return (and save) the parsed record.

    If the interpreter dies (a segfault in XLA, say), the test it was running is recorded
    as an error and the tests not yet run go on in a fresh interpreter (at most
    ``max_restarts`` times), so one crash does not hide the other results.
    """
    targets = ["--pyargs", *(f"pywt.tests.{m}" for m in modules)]
    outcomes: dict[str, tuple[str, str]] = {}
    segments, done_ids, logs = [], [], []
    report = None
    t_start = time.perf_counter()
    for attempt in range(max_restarts + 1):
        seg = tmp / f"segment{attempt}"
        seg.mkdir()
        rep_path, progress = seg / "adapter_report.json", seg / "progress.jsonl"
        cmd = pytest_command(targets, seg, _site_packages(), extra)
        env = _env(rep_path, progress)
        if done_ids:  # exact nodeids for the adapter to leave out (--deselect would match prefixes)
            (seg / "done.txt").write_text("\n".join(done_ids) + "\n")
            env["AWD_PYWT_DONE"] = str(seg / "done.txt")
        left = timeout - (time.perf_counter() - t_start)
        t0 = time.perf_counter()
        rc, out = _run_once(cmd, seg, env, max(left, 1))
        wall = time.perf_counter() - t0
        logs.append(f"$ {' '.join(cmd)}\n{out}\n[exit {rc} after {wall:.1f} s]\n")
        crashed: list[str] = []
        if (seg / "junit.xml").exists():
            outcomes.update(parse_junit(seg / "junit.xml"))
        elif progress.exists():  # died or timed out: what ran so far, and where it stopped
            seg_out, started, crashed = parse_progress(progress, rc)
            outcomes.update(seg_out)
            done_ids += started
        if rep_path.exists():
            report = json.loads(rep_path.read_text())
        segments.append({"command": " ".join(cmd), "returncode": rc, "wall_s": round(wall, 1), "crashed": crashed,
                         "output_tail": out[-6000:]})
        if rc is None or not crashed:
            break
    wall = time.perf_counter() - t_start
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    log = RESULTS.with_name(f"pywt_suite_{run}.log")
    log.write_text("\n".join(logs))
    record = {"command": segments[0]["command"], "returncode": segments[-1]["returncode"], "wall_s": round(wall, 1),
              "log": str(log.relative_to(REPO)), "crashed": [c for s in segments for c in s["crashed"]],
              "restarts": len(segments) - 1, "timed_out": segments[-1]["returncode"] is None}
    record.update(summarize(outcomes))
    if report is not None:
        record["substituted"] = report["substituted"]
        record["missing"] = report["missing"]
        record["awd_jax_dwt_module"] = report["awd_jax_dwt_module"]
        deselected = {k: v for k, v in report["deselected"].items() if k not in done_ids}
        record["deselected"] = deselected
        record["deselected_count"] = len(deselected)
        record["skipped_unprovided"] = report["skipped_unprovided"]
        for nodeid in deselected:
            counts = record["per_file"].setdefault(Path(nodeid.split("::", 1)[0]).stem,
                                                   dict(passed=0, failed=0, errors=0, skipped=0))
            counts["deselected"] = counts.get("deselected", 0) + 1
    durations: dict[str, float] = {}
    clears = []
    for attempt in range(len(segments)):
        progress = tmp / f"segment{attempt}" / "progress.jsonl"
        for line in progress.read_text().splitlines() if progress.exists() else []:
            ev = json.loads(line)
            if "duration" in ev:
                durations[ev["nodeid"]] = round(durations.get(ev["nodeid"], 0.0) + ev["duration"], 2)
            elif ev["event"] == "clear_caches":
                clears.append({"after": ev["nodeid"], "maps": ev["maps"]})
    record["jax_cache_clears"] = clears
    record["slowest_s"] = [[k, v] for k, v in sorted(durations.items(), key=lambda kv: -kv[1])[:10]]
    _save(run, record)
    record["output_tail"] = segments[-1]["output_tail"]
    return record


def _check(record: dict, min_passed: int) -> None:
    head = (f"pywt suite ({record['command']}) ran {record['wall_s']} s "
            f"[{record.get('passed')} passed, {record.get('failed')} failed, {record.get('errors')} errors, "
            f"{record.get('skipped')} skipped, {record.get('deselected_count')} deselected; log {record['log']}]")
    if record["timed_out"]:
        pytest.fail(f"{head}: timed out\n{record['output_tail'][-3000:]}", pytrace=False)
    if not record["per_file"] and not record["failing"]:
        pytest.fail(f"{head}: no test results (exit {record['returncode']})\n{record['output_tail']}",
                    pytrace=False)
    if record["failing"]:
        lines = [f"  {f['id']} [{f['kind']}]: {f['first_line']}" for f in record["failing"]]
        pytest.fail(f"{head}; awd_jax lacks {record.get('missing')}\n" + "\n".join(lines), pytrace=False)
    assert record["returncode"] == 0, f"{head}: exit {record['returncode']}\n{record['output_tail']}"
    assert record["passed"] >= min_passed, (
        f"{head}: only {record['passed']} passed (want >= {min_passed}); awd_jax lacks {record.get('missing')}; "
        f"skipped as unprovided: {sorted(record.get('skipped_unprovided', {}))}"
    )


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


def test_not_applicable_matches_sources():
    """Deselected = exactly the tests calling none of the substitutable pywt functions."""
    adapter = _adapter()
    tests_dir = _site_packages() / "pywt" / "tests"
    calls_none = set()
    for module in ALL_FILES:
        path = tests_dir / f"{module}.py"
        for name, used in adapter._module_uses(str(path)).items():
            if name.startswith("test_") and not used & set(adapter.SUBSTITUTABLE):
                calls_none.add(f"{module}.py::{name}")
    assert set(adapter.not_applicable()) == calls_none
    assert all(reason.strip() for reason in adapter.not_applicable().values())


def test_adapter_substitutes(tmp_path):
    """In the subprocess, ``pywt.dwt`` is the wrapper and returns awd_jax's result as NumPy."""
    (tmp_path / "test_sanity.py").write_text(textwrap.dedent(f"""
        import jax
        import numpy as np
        import pywt
        import pywt._dwt
        import pywt._multilevel
        import awd_jax
        import {ADAPTER} as adapter

        def test_substituted():
            assert jax.config.jax_enable_x64
            assert "dwt" in adapter.substituted()
            assert pywt.dwt is not adapter._ORIGINALS["dwt"]
            assert pywt.dwt._awd_jax_target is awd_jax.dwt
            got = pywt.dwt([1, 2, 3, 4], "db2")
            want = awd_jax.dwt([1, 2, 3, 4], "db2")
            assert type(got) is type(want) and len(got) == len(want) == 2
            for g, w in zip(got, want):
                assert type(g) is np.ndarray and g.flags.writeable
                assert g.dtype == np.asarray(w).dtype == np.float64
                np.testing.assert_array_equal(g, np.asarray(w))
                g[...] = 0  # a copy: writing into it is fine

        def test_only_public_attributes():
            for name in adapter.substituted():
                assert getattr(pywt, name)._awd_jax_target is getattr(awd_jax, name)
            for name in adapter.missing():
                assert not hasattr(getattr(pywt, name), "_awd_jax_target")
            # pywt's internals keep pywt's code
            assert pywt._dwt.dwt is adapter._ORIGINALS["dwt"]
            assert not hasattr(pywt._multilevel.wavedec, "_awd_jax_target")
            for name in ("swt", "fswavedecn", "coeffs_to_array", "pad", "dwt_max_level"):
                assert getattr(pywt, name).__module__.startswith("pywt"), name
    """))
    report = tmp_path / "adapter_report.json"
    cmd = pytest_command([str(tmp_path / "test_sanity.py")], tmp_path, tmp_path)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(report), capture_output=True, text=True, timeout=600)
    record = {"command": " ".join(cmd), "returncode": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1)}
    if (tmp_path / "junit.xml").exists():
        record.update(summarize(parse_junit(tmp_path / "junit.xml")))
    if report.exists():
        rep = json.loads(report.read_text())
        record.update(substituted=rep["substituted"], missing=rep["missing"])
    _save("sanity", record)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert record.get("passed") == 2


def test_pywt_suite_fast(tmp_path):
    record = run_pywt(
        "fast", FAST_FILES, tmp_path,
        ("-m", "not slow", "-k", " and ".join(f"not {name}" for name in FAST_EXCLUDE)),
        TIMEOUT_FAST_S,
    )
    _check(record, MIN_PASSED_FAST)


@pytest.mark.slow
def test_pywt_suite_all(tmp_path):
    record = run_pywt("all", ALL_FILES, tmp_path, ("-m", "slow or not slow"), TIMEOUT_ALL_S)
    _check(record, MIN_PASSED_ALL)
