"""Streaming data, devices, checkpoint/resume and determinism of ``fit`` and ``sweep``."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from awd_jax import fit, init_filter, sweep
from awd_jax.checkpoint import CHECKPOINT_FILE
from awd_jax.stream import as_mesh

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
KW = {"level": 2, "sparsity": 0.1, "batch_size": 10, "learning_rate": 1e-2, "progress": False}


def _data(n=55, length=32, seed=0):
    return np.random.default_rng(seed).normal(size=(n, length)).astype(np.float32)


def _h0():
    return init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)


class Samples:
    """A minimal dataset: ``__len__`` and ``__getitem__`` over samples, nothing else."""

    def __init__(self, x):
        self.x = x
        self.reads = 0

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.reads += 1
        return self.x[i]


def _teacher(x):
    w = jnp.cos(0.3 * jnp.arange(x.shape[-1], dtype=x.dtype))
    return jnp.tanh(x @ w)


def _same(a, b):
    np.testing.assert_array_equal(a.h, b.h)
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k])


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("chunk_size", [None, 40])
def test_streamed_memmap_and_sequence_equal_in_memory(tmp_path, chunk_size):
    x = _data()  # 55 samples, batch 10: a masked short last batch; chunk 40 leaves a short last chunk
    ref = fit(_h0(), None, x, epochs=3, **KW)
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    seq = Samples(x)
    for data in (mm, seq):
        got = fit(_h0(), None, data, epochs=3, chunk_size=chunk_size, **KW)
        _same(ref, got)
    # one read for the sample shape, then each epoch reads its 6 batches once (the padded last one too)
    assert seq.reads == 1 + 3 * 60


def test_stream_flag_and_numpy_array():
    x = _data(40)
    ref = fit(_h0(), None, x, epochs=2, **KW)
    _same(ref, fit(_h0(), None, x, epochs=2, stream=True, chunk_size=10, **KW))
    with pytest.raises(ValueError, match="stream"):
        fit(_h0(), None, Samples(x), epochs=1, stream=False, **KW)
    with pytest.raises(TypeError, match="stream"):
        fit(_h0(), None, x, epochs=1, stream="yes", **KW)
    with pytest.raises(ValueError, match="chunk_size"):
        fit(_h0(), None, x, epochs=1, stream=True, chunk_size=0, **KW)


def test_streamed_bad_data_is_reported():
    x = _data(30)
    x[17, 3] = np.nan
    with pytest.raises(ValueError, match=r"data: expected finite values.*sample\(s\) \[17\]"):
        fit(_h0(), None, Samples(x), epochs=1, **KW)

    class Flat(Samples):
        def __getitem__(self, i):
            return self.x[i, 0]

    with pytest.raises(ValueError, match=r"data: expected at least 2 dimensions"):
        fit(_h0(), None, Flat(x), epochs=1, **KW)


@pytest.mark.slow
def test_sweep_streamed_equals_in_memory():
    x = _data(40)
    kw = {"level": 2, "sparsity": [0.0, 0.1], "interpretation": [0.0, 0.5], "epochs": 2, "batch_size": 12,
          "progress": False}  # teacher=None: every γ column runs the same program (the teacher's case: slow test)
    for warm in (True, False):
        ref = sweep(_h0(), None, x, warm_start=warm, **kw)
        got = sweep(_h0(), None, Samples(x), warm_start=warm, chunk_size=24, **kw)
        np.testing.assert_allclose(got.h, ref.h, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got.history["total"], ref.history["total"], rtol=1e-6)


# --------------------------------------------------------------------------- devices


def test_devices_validation_and_single_device_mesh():
    x = _data(40)
    ref = fit(_h0(), None, x, epochs=2, **KW)
    _same(ref, fit(_h0(), None, x, epochs=2, devices=jax.devices()[:1], **KW))
    assert as_mesh(None) is None and as_mesh(jax.devices()[0]).axis_names == ("batch",)
    with pytest.raises(TypeError, match="devices"):
        fit(_h0(), None, x, epochs=1, devices=["cpu:0"], **KW)
    with pytest.raises(TypeError, match="devices"):
        fit(_h0(), None, x, epochs=1, devices=3, **KW)


_DEVICE_SCRIPT = textwrap.dedent(
    """
    import warnings; warnings.filterwarnings("ignore")
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh
    from awd_jax import fit, init_filter, sweep
    assert jax.device_count() == 4, jax.devices()
    x = np.random.default_rng(0).normal(size=(50, 32)).astype(np.float32)
    f = lambda z: jnp.tanh(z @ jnp.cos(0.3 * jnp.arange(32.0)))
    h0 = init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    kw = dict(level=2, sparsity=0.1, interpretation=0.5, epochs=2, batch_size=12, learning_rate=1e-2, progress=False)
    ref = fit(h0, f, x, **kw)
    for devs in (jax.devices()[:2], Mesh(np.array(jax.devices()).reshape(2, 2), ("a", "b"))):
        got = fit(h0, f, x, devices=devs, **kw)
        np.testing.assert_allclose(got.h, ref.h, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got.history["total"], ref.history["total"], rtol=1e-5)
    try:
        fit(h0, f, x, devices=jax.devices()[:4], **dict(kw, batch_size=10))
        raise SystemExit("no error for batch_size 10 on 4 devices")
    except ValueError as e:
        assert "multiple of the number of devices (4)" in str(e), e
    skw = dict(level=2, sparsity=[0.0, 0.1, 0.2], interpretation=[0.0, 0.5], epochs=2, batch_size=12, progress=False)
    ref = sweep(h0, f, x, **skw)
    for extra in ({"devices": jax.devices()}, {"devices": jax.devices(), "stream": True}):
        got = sweep(h0, f, x, **extra, **skw)
        np.testing.assert_allclose(got.h, ref.h, rtol=1e-6, atol=1e-7)
    print("DEVICES OK")
    """
)


@pytest.mark.slow
def test_four_forced_cpu_devices_equal_one(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", _DEVICE_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0 and "DEVICES OK" in out.stdout, out.stdout + out.stderr


# --------------------------------------------------------------------------- checkpoints


def test_resume_equals_one_run_and_errors(tmp_path):
    x = _data()
    ref = fit(_h0(), None, x, epochs=6, **KW)
    first = fit(_h0(), None, x, epochs=3, checkpoint_dir=tmp_path, **KW)
    assert first.epochs_run == 3
    resumed = fit(_h0(), None, x, epochs=6, checkpoint_dir=tmp_path, checkpoint_every=2, **KW)
    _same(ref, resumed)
    # a finished run given the same folder returns the stored result without training
    again = fit(_h0(), None, x, epochs=6, checkpoint_dir=tmp_path, **KW)
    _same(ref, again)
    with pytest.raises(ValueError, match="learning_rate saved 0.01, requested 0.1"):
        fit(_h0(), None, x, epochs=6, checkpoint_dir=tmp_path, **dict(KW, learning_rate=0.1))
    with pytest.raises(ValueError, match="already holds 6 epochs"):
        fit(_h0(), None, x, epochs=2, checkpoint_dir=tmp_path, **KW)
    with pytest.raises(ValueError, match="checkpoint_every"):
        fit(_h0(), None, x, epochs=2, checkpoint_dir=tmp_path / "other", checkpoint_every=0, **KW)
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        fit(_h0(), None, x, epochs=6, checkpoint_dir=tmp_path, **KW)


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time, warnings; warnings.filterwarnings("ignore")
    import jax, jax.numpy as jnp, numpy as np
    from awd_jax import fit, init_filter
    x = np.random.default_rng(0).normal(size=(55, 32)).astype(np.float32)
    h0 = init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    slow = lambda epoch, h, terms: time.sleep(float(sys.argv[2]))
    r = fit(h0, None, x, level=2, sparsity=0.1, batch_size=10, learning_rate=1e-2, epochs=8,
            progress=False, checkpoint_dir=sys.argv[1], callback=slow)
    np.save(sys.argv[1] + "/h.npy", r.h)
    np.save(sys.argv[1] + "/total.npy", r.history["total"])
    """
)


@pytest.mark.slow
def test_killed_run_resumes_identically(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=REPO)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(killed), "1.0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while not (killed / CHECKPOINT_FILE).exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.2)
        time.sleep(1.5)  # mid-way: a few epochs saved, more to go
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "h.npy").exists()  # it really died before the end
    for folder, pause in ((killed, "0"), (clean, "0")):
        done = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(folder), pause], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(killed / "h.npy"), np.load(clean / "h.npy"))
    np.testing.assert_array_equal(np.load(killed / "total.npy"), np.load(clean / "total.npy"))
    assert np.load(clean / "total.npy").shape == (8,)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_result():
    x = _data(40)
    kw = dict(KW, interpretation=0.5, epochs=2)
    a = fit(_h0(), _teacher, x, seed=7, **kw)
    b = fit(_h0(), _teacher, x, seed=7, **kw)
    _same(a, b)
    assert a.config == b.config
    c = fit(_h0(), _teacher, x, seed=8, **kw)
    assert not np.array_equal(a.h, c.h)


_HOST_SCRIPT = textwrap.dedent(
    """
    import sys, warnings; warnings.filterwarnings("ignore")
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2, process_id=int(sys.argv[1]))
    import jax.numpy as jnp, numpy as np
    from awd_jax import fit, init_filter
    assert jax.process_count() == 2 and len(jax.devices()) == 4 and len(jax.local_devices()) == 2
    x = np.random.default_rng(0).normal(size=(50, 32)).astype(np.float32)
    f = lambda z: jnp.tanh(z @ jnp.cos(0.3 * jnp.arange(32.0)))
    h0 = init_filter("db5", key=jax.random.PRNGKey(0), noise=0.3)
    kw = dict(level=2, sparsity=0.1, interpretation=0.5, epochs=2, batch_size=12, learning_rate=1e-2, progress=False)
    got = fit(h0, f, x, devices=jax.devices(), **kw)
    np.save(sys.argv[3], got.h)
    """
)


@pytest.mark.slow
def test_two_processes_with_jax_distributed_equal_one(tmp_path):
    """The multi-host recipe, run as two processes (2 CPU devices each) on this machine."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu",
               PYTHONPATH=REPO)
    procs = [
        subprocess.Popen([sys.executable, "-c", _HOST_SCRIPT, str(i), f"localhost:{port}", str(tmp_path / f"h{i}.npy")],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    try:
        outs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
    ref = fit(_h0(), _teacher, _data(50), epochs=2, interpretation=0.5, **dict(KW, batch_size=12))
    for i in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"h{i}.npy"), ref.h, rtol=1e-6, atol=1e-7)
