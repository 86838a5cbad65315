"""The public surface: a light ``import awd_jax``, ``__all__``, and the lazy namespaces.

Each check runs in a fresh interpreter, since this test session has long since imported
scikit-learn, Flax and the rest.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

HEAVY = ("sklearn", "pandas", "matplotlib", "scipy.stats", "flax")
NAMESPACES = {
    "features": "WaveletFeatures",
    "teachers": "MLP",
    "data": "simulate",
    "plotting": "plot_wavelet",
}
MOVED = {
    "features": ("Kernels", "TemplateRegressor", "WaveletFeatures", "filter_maps", "kernels_3x3", "laplace_kernel",
                 "peak_counts", "peak_mask", "roberts_cross", "top_k_per_scale"),
    "teachers": ("MLP", "LSTMRegressor", "CNN1D", "ResNet2D", "train_teacher"),
}


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("JAX_PLATFORMS", "cpu")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def report():
    return _run(f"""
        import importlib, json, pkgutil, sys

        HEAVY = {HEAVY!r}
        NAMESPACES = {tuple(NAMESPACES)!r}

        def loaded():
            return sorted(m for m in HEAVY + tuple("awd_jax." + n for n in NAMESPACES) if m in sys.modules)

        import awd_jax
        out = {{"after_import": loaded(), "all": list(awd_jax.__all__), "dir": dir(awd_jax)}}
        out["missing"] = [n for n in awd_jax.__all__ if not hasattr(awd_jax, n)]
        out["after_all"] = loaded()

        # every core module, imported on its own, stays below the namespaces (imports flow one way)
        import awd_jax.transform
        core = ["awd_jax." + m.name for m in pkgutil.iter_modules(awd_jax.__path__) if m.name not in NAMESPACES]
        core += ["awd_jax.transform." + m.name for m in pkgutil.iter_modules(awd_jax.transform.__path__)]
        for name in core:
            importlib.import_module(name)
        out["core"] = core
        out["after_core"] = loaded()

        out["lazy"] = {{}}
        for ns, attr in {NAMESPACES!r}.items():
            before = "awd_jax." + ns in sys.modules
            mod = getattr(awd_jax, ns)
            out["lazy"][ns] = {{
                "before": before,
                "is_module": mod is sys.modules["awd_jax." + ns],
                "has_attr": hasattr(mod, attr),
                "cached": vars(awd_jax).get(ns) is mod,  # bound: later lookups skip __getattr__
            }}
        print(json.dumps(out))
    """)


def test_import_loads_no_heavy_dependency(report):
    assert report["after_import"] == []


def test_every_name_in_all_exists(report):
    assert report["missing"] == []
    assert len(report["all"]) == len(set(report["all"]))
    assert report["after_all"] == []  # resolving __all__ loads no namespace either


def test_core_modules_do_not_import_the_namespaces(report):
    assert {"awd_jax.fit", "awd_jax.sweep", "awd_jax.metrics", "awd_jax.results", "awd_jax.transform._api"} <= set(
        report["core"])
    assert report["after_core"] == []


def test_all_holds_the_core_only(report):
    names = set(report["all"])
    for ns, moved in MOVED.items():
        assert names.isdisjoint(moved), ns
    assert names.isdisjoint(NAMESPACES)
    for name in ("fit", "sweep", "FitResult", "SweepResult", "wavedec", "waverecn", "dwtn_max_level", "MODES",
                 "IMPLS", "awd_loss", "Checkpoint", "save_result", "load_result", "wavelet_distance",
                 "compression_factor_for", "r2", "rmse_bootstrap", "split_cpu_into_devices"):
        assert name in names, name


def test_namespaces_resolve_lazily(report):
    for ns in NAMESPACES:
        assert ns in report["dir"], ns
        state = report["lazy"][ns]
        assert not state["before"], ns
        assert state["is_module"] and state["has_attr"] and state["cached"], (ns, state)


def test_moved_names_point_to_their_namespace():
    import awd_jax

    for ns, moved in MOVED.items():
        module = getattr(awd_jax, ns)
        for name in moved:
            assert hasattr(module, name), (ns, name)
            with pytest.raises(AttributeError, match=rf"awd_jax\.{ns}\.{name}"):
                getattr(awd_jax, name)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        awd_jax.no_such_name  # noqa: B018
    assert awd_jax.features.WaveletFeatures.__module__ == "awd_jax.features"
    assert awd_jax.teachers.MLP.__module__ == "awd_jax.teachers"
