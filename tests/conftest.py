"""Shared fixtures: float64 switch, compilation counter, the slow marker, the repository on sys.path."""

import os
import sys
import warnings

import jax
import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))


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
