"""Shared fixtures: float64 switch, compilation counter, the slow marker, the studies' quick presets."""

import pathlib
import subprocess
import sys
import warnings

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~10 s (run with -m slow)")


@pytest.fixture
def x64():
    """Run the test with jax_enable_x64, restoring the previous setting afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.fixture(autouse=True)
def _quiet_boundary_warning():
    # J = 4 on short signals triggers pywt's "level too high" warning; it is expected here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Level value of")
        yield


_COMPILES = [0]


def _on_duration_event(name, duration, **kwargs):
    if name == "/jax/core/compile/backend_compile_duration":
        _COMPILES[0] += 1


jax.monitoring.register_event_duration_secs_listener(_on_duration_event)


@pytest.fixture
def compile_counter():
    """``count()`` → XLA compilations so far, from ``jax.monitoring``'s public duration events."""
    return lambda: _COMPILES[0]


@pytest.fixture(scope="session")
def quick_preset(tmp_path_factory):
    """``quick_preset(study)`` runs ``python experiments/<study>.py --quick`` (a subprocess: the
    scripts are commands) once per test session and returns ``(completed process, folder)``.

    Every study writes into the same folder (their file names differ), so the end-to-end tests
    and the documentation build share the runs instead of repeating them.
    """
    folder = tmp_path_factory.mktemp("quick_results")
    runs = {}

    def run(study: str):
        if study not in runs:
            script = str(ROOT / "experiments" / f"{study}.py")
            runs[study] = subprocess.run([sys.executable, script, "--quick", "--out", str(folder)], cwd=str(folder),
                                         check=False, capture_output=True, text=True, timeout=900)
        return runs[study], folder

    return run

