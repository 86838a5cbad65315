"""``awd_jax.enable_compilation_cache``: compiled programs written once and reused by a new process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import awd_jax
from awd_jax._compilation import default_cache_dir

CODE = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp
    from jax import monitoring
    import awd_jax

    events = []
    monitoring.register_event_listener(lambda name, **kw: events.append(name))
    folder = awd_jax.enable_compilation_cache(sys.argv[1], min_compile_time_s=0)
    x = jnp.arange(64.0).reshape(2, 32)
    coeffs = jax.jit(lambda x: awd_jax.wavedec(x, "db3", level=2))(x)
    print(json.dumps({"folder": str(folder), "hits": events.count("/jax/compilation_cache/cache_hits"),
                      "sum": float(sum(c.sum() for c in coeffs))}))
""")


def _run(cache: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CODE, cache], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_second_process_reads_the_programs_back(tmp_path):
    cache = str(tmp_path / "cache")
    first = _run(cache)
    assert first["folder"] == cache and first["hits"] == 0
    assert os.listdir(cache)  # programs written
    second = _run(cache)
    assert second["hits"] >= 1 and second["sum"] == first["sum"]


def test_default_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "awd_jax" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == type(tmp_path)(os.path.expanduser("~")) / ".cache" / "awd_jax" / "jax"


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"path": 3}, TypeError, "path: expected a folder path"),
    ({"min_compile_time_s": -1.0}, ValueError, "min_compile_time_s: expected a finite number >= 0"),
    ({"min_compile_time_s": float("nan")}, ValueError, "min_compile_time_s"),
    ({"min_compile_time_s": True}, ValueError, "min_compile_time_s"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        awd_jax.enable_compilation_cache(**kwargs)
