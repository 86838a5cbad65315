"""pytest plugin: run PyWavelets' own discrete-transform tests against awd_jax.

Load it in a fresh interpreter (it switches on ``jax_enable_x64`` for the whole
process), with this directory on ``sys.path``::

    PYTHONPATH=tests python -m pytest -p _pywt_adapter --pyargs pywt.tests.test_dwt_idwt ...

``tests/test_pywt_suite.py`` does exactly that. In ``pytest_configure`` the plugin

* enables x64 (before anything creates a JAX array), imports awd_jax and replaces the
  attributes ``pywt.<name>`` for the names in :data:`SUBSTITUTABLE` that awd_jax
  provides with thin wrappers: all arguments pass through unchanged and every JAX
  array in the result becomes a writable NumPy copy (``np.array(x)``, so dtypes are
  kept; list/tuple/dict structure preserved). pywt's internals (``pywt._dwt``,
  ``pywt._multilevel``, ``fswavedecn``, ``swt``, ``coeffs_to_array`` ...) keep
  pywt's own code: only the attributes of the ``pywt`` package are touched;
* deselects the tests listed in :data:`NOT_APPLICABLE` (tests that exercise only pywt
  functions awd_jax does not provide), each with its reason;
* clears JAX's compilation caches after a test once the process holds more than
  ``AWD_PYWT_MAX_MAPS`` (default 40000; 0: never) memory mappings, so that the
  thousands of programs these files compile stay under Linux's ``vm.max_map_count``;
* skips, with a reason, the tests whose only substitutable calls are to names awd_jax
  does not provide (yet): they would otherwise test pywt against itself and pass.

Which functions each test calls is read from the test module's source (``pywt.<name>``
attribute references in the test and in the module-level helpers it calls):
:func:`pywt_names_used`. When ``AWD_PYWT_REPORT`` names a file, the plugin writes a
JSON report there at the end of the session (substituted/missing names, deselected and
skipped tests with reasons, JAX cache clears); when ``AWD_PYWT_PROGRESS`` names a file, it appends one
JSON line per test start and outcome (so a crash still leaves the results so far); when
``AWD_PYWT_DONE`` names a file of nodeids (one a line), those tests are left out (they ran
in an earlier interpreter that then died; see ``tests/test_pywt_suite.py``).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import time
from typing import Any, Callable

import numpy as np
import pywt

__all__ = [
    "SUBSTITUTABLE",
    "NOT_APPLICABLE",
    "not_applicable",
    "substituted",
    "missing",
    "to_numpy",
    "wrap",
    "install",
    "pywt_names_used",
]

#: the pywt attributes replaced by wrappers around ``awd_jax.<name>`` (when it exists)
SUBSTITUTABLE = (
    "dwt", "idwt", "wavedec", "waverec",
    "dwt2", "idwt2", "wavedec2", "waverec2",
    "dwtn", "idwtn", "wavedecn", "waverecn",
)

_PAD = ("exercises only pywt.pad (signal extension as a public function), which awd_jax does "
        "not provide; no substituted transform is called")
_FS = ("exercises only pywt.fswavedecn/fswaverecn (fully separable transform, pywt's own code "
       "calling pywt internals), which awd_jax does not provide; no substituted transform is called")

#: {"<test file>::<test name>": reason}: tests that cannot apply to awd_jax, decided by
#: reading each test; every other test in the five files calls a substituted function.
NOT_APPLICABLE: dict[str, str] = {
    "test_dwt_idwt.py::test_dwt_coeff_len":
        "exercises only pywt.dwt_coeff_len and pywt.Modes.modes; neither is substituted (awd_jax's "
        "dwt_coeff_len is covered by tests/test_transform.py), so it would test pywt against itself",
    "test_dwt_idwt.py::test_pad_1d": _PAD,
    "test_dwt_idwt.py::test_pad_errors": _PAD,
    "test_dwt_idwt.py::test_pad_nd": _PAD,
    "test_modes.py::test_available_modes":
        "exercises only pywt.Modes internals (mode list and Modes.from_object); no transform is called",
    "test_multilevel.py::test_coeffs_to_array":
        "exercises only pywt.coeffs_to_array on hand-made lists; no substituted transform is called",
    "test_multilevel.py::test_fswavedecn_fswaverecn_roundtrip": _FS,
    "test_multilevel.py::test_fswavedecn_fswaverecn_zero_levels": _FS,
    "test_multilevel.py::test_fswavedecn_fswaverecn_variable_levels": _FS,
    "test_multilevel.py::test_fswavedecn_fswaverecn_variable_wavelets_and_modes": _FS,
    "test_multilevel.py::test_fswavedecn_fswaverecn_axes_subsets": _FS,
    "test_multilevel.py::test_fswavedecnresult": _FS,
}

_SUBSTITUTED: list[str] = []
_MISSING: list[str] = []
_ORIGINALS: dict[str, Callable] = {}
_REPORT: dict[str, Any] = {"deselected": {}, "skipped_unprovided": {}}


def not_applicable() -> dict[str, str]:
    """The tests deselected as not applicable, ``{"<file>::<test>": reason}`` (a copy)."""
    return dict(NOT_APPLICABLE)


def substituted() -> list[str]:
    """The pywt names replaced by awd_jax wrappers in this process (empty until installed)."""
    return list(_SUBSTITUTED)


def missing() -> list[str]:
    """The names of :data:`SUBSTITUTABLE` that awd_jax does not provide (pywt's code stays)."""
    return list(_MISSING)


# ---------------------------------------------------------------------------
# the wrappers
# ---------------------------------------------------------------------------


def to_numpy(obj: Any) -> Any:
    """JAX (and NumPy) arrays → writable NumPy copies, recursively through list/tuple/dict."""
    import jax

    if isinstance(obj, (jax.Array, np.ndarray)):
        return np.array(obj)  # a copy: writable, dtype kept
    if isinstance(obj, dict):
        return type(obj)((k, to_numpy(v)) for k, v in obj.items())
    if isinstance(obj, tuple):
        items = [to_numpy(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, list):
        return [to_numpy(v) for v in obj]
    return obj


def wrap(fn: Callable, name: str) -> Callable:
    """``fn`` with its result passed through :func:`to_numpy`; arguments untouched."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return to_numpy(fn(*args, **kwargs))

    wrapper._awd_jax_target = fn  # type: ignore[attr-defined]
    wrapper._awd_jax_name = name  # type: ignore[attr-defined]
    return wrapper


def install() -> list[str]:
    """Enable x64, import awd_jax and substitute the provided names on ``pywt``; idempotent."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import awd_jax

    if _SUBSTITUTED or _MISSING:
        return substituted()
    for name in SUBSTITUTABLE:
        fn = getattr(awd_jax, name, None)
        if not callable(fn):
            _MISSING.append(name)
            continue
        _ORIGINALS[name] = getattr(pywt, name)
        setattr(pywt, name, wrap(fn, name))
        _SUBSTITUTED.append(name)
    return substituted()


# ---------------------------------------------------------------------------
# which pywt functions a test calls
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _module_uses(path: str) -> dict[str, frozenset[str]]:
    """``{function name: pywt attributes it references, helpers included}`` for one module."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    funcs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for name, node in funcs.items():
        attrs, local = set(), set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "pywt":
                attrs.add(sub.attr)
            elif isinstance(sub, ast.Name) and sub.id in funcs and sub.id != name:
                local.add(sub.id)
        direct[name], calls[name] = attrs, local
    out = {}
    for name in funcs:
        seen, todo, attrs = {name}, [name], set()
        while todo:
            cur = todo.pop()
            attrs |= direct[cur]
            for nxt in calls[cur] - seen:
                seen.add(nxt)
                todo.append(nxt)
        out[name] = frozenset(attrs)
    return out


def pywt_names_used(path: str, test_name: str) -> frozenset[str]:
    """The ``pywt.<name>`` attributes test ``test_name`` of file ``path`` references."""
    return _module_uses(os.path.abspath(path)).get(test_name, frozenset())


def _key(item) -> str:
    return f"{os.path.basename(str(item.path))}::{getattr(item, 'originalname', None) or item.name}"


# ---------------------------------------------------------------------------
# pytest hooks
# ---------------------------------------------------------------------------


def pytest_configure(config):
    import pytest

    config.addinivalue_line("markers", "slow: Tests that are slow (pywt's marker).")
    try:
        install()
    except Exception as exc:  # e.g. awd_jax mid-rewrite: say so instead of an INTERNALERROR
        raise pytest.UsageError(f"_pywt_adapter: cannot substitute awd_jax into pywt: {exc!r}") from exc


def pytest_collection_modifyitems(session, config, items):
    import pytest

    done_path = os.environ.get("AWD_PYWT_DONE")  # exact nodeids (--deselect matches prefixes)
    done = set()
    if done_path and os.path.exists(done_path):
        with open(done_path, encoding="utf-8") as f:
            done = {line.strip() for line in f if line.strip()}
    keep, drop, already = [], [], []
    for item in items:
        key = _key(item)
        if item.nodeid in done:
            already.append(item)
            continue
        if key in NOT_APPLICABLE:
            _REPORT["deselected"][item.nodeid] = "not applicable: " + NOT_APPLICABLE[key]
            drop.append(item)
            continue
        keep.append(item)
        if getattr(item, "path", None) is None or not str(item.path).endswith(".py"):
            continue
        used = pywt_names_used(str(item.path), getattr(item, "originalname", None) or item.name)
        wanted = used & set(SUBSTITUTABLE)
        if wanted and not wanted & set(_SUBSTITUTED):
            reason = (f"awd_jax does not provide {', '.join(sorted(wanted))}: the test would only "
                      "exercise pywt's own code")
            _REPORT["skipped_unprovided"][item.nodeid] = reason
            item.add_marker(pytest.mark.skip(reason=reason))
    if already:  # ran in an earlier interpreter that then died: not reported as deselected
        for item in already:
            _REPORT["deselected"][item.nodeid] = "ran in an earlier interpreter (restart after a crash)"
    if drop or already:
        config.hook.pytest_deselected(items=drop + already)
        items[:] = keep


def pytest_deselected(items):
    for item in items:
        _REPORT["deselected"].setdefault(item.nodeid, "deselected by -m/-k/--deselect")


def _progress(record: dict) -> None:
    path = os.environ.get("AWD_PYWT_PROGRESS")
    if path:  # one JSON line per event, flushed: survives a crash of the interpreter
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _message(report) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # skip: (path, lineno, reason)
        return str(longrepr[-1])
    crash = getattr(longrepr, "reprcrash", None)
    return str(crash.message if crash is not None else longrepr)


def pytest_runtest_logstart(nodeid, location):
    _progress({"nodeid": nodeid, "event": "start", "t": time.time()})


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _progress({"nodeid": report.nodeid, "event": report.when, "outcome": report.outcome,
                   "duration": round(report.duration, 3), "message": _message(report)[:2000]})


def _map_count() -> int:
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:  # not Linux
        return 0


def pytest_runtest_teardown(item, nextitem):
    # Every XLA executable JAX keeps compiled holds ~30 memory mappings; the thousands of
    # shapes x wavelets x modes of these files exceed Linux's vm.max_map_count (65530) in one
    # process, and the next compilation then segfaults. Past the threshold, drop JAX's caches.
    limit = int(os.environ.get("AWD_PYWT_MAX_MAPS", "40000"))
    if limit <= 0:
        return
    count = _map_count()
    if count > limit:
        import jax

        jax.clear_caches()
        _REPORT.setdefault("cache_clears", []).append({"after": item.nodeid, "maps": count,
                                                       "maps_after": _map_count()})
        _progress({"nodeid": item.nodeid, "event": "clear_caches", "maps": count})


def pytest_report_header(config):
    return [f"awd_jax substitutes pywt.{{{', '.join(_SUBSTITUTED)}}}; not provided: {_MISSING or 'none'}"]


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.section("awd_jax pywt adapter")
    tr.write_line(f"substituted: {', '.join(_SUBSTITUTED) or 'none'}")
    tr.write_line(f"not provided by awd_jax (pywt's code kept): {', '.join(_MISSING) or 'none'}")
    na = [k for k, v in _REPORT["deselected"].items() if v.startswith("not applicable")]
    tr.write_line(f"deselected as not applicable: {len(na)}; skipped as unprovided: "
                  f"{len(_REPORT['skipped_unprovided'])}")


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("AWD_PYWT_REPORT")
    if not path:
        return
    try:
        import awd_jax

        module = getattr(getattr(awd_jax, "dwt", None), "__module__", None)
    except Exception:  # pragma: no cover - awd_jax failed to import; install() raised already
        module = None
    report = {
        "substituted": substituted(),
        "missing": missing(),
        "awd_jax_dwt_module": module,
        "not_applicable": not_applicable(),
        "deselected": dict(_REPORT["deselected"]),
        "skipped_unprovided": {k: v for k, v in _REPORT["skipped_unprovided"].items()
                               if k not in _REPORT["deselected"]},
        "cache_clears": list(_REPORT.get("cache_clears", [])),
        "exitstatus": int(exitstatus),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=True)
