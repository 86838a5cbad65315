"""awd_jax.checkpoint: bit-exact round trips, fresh start, corrupt files, mismatches, atomic writes."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from awd_jax import checkpoint as ck
from awd_jax.checkpoint import CHECKPOINT_FILE, Checkpoint, fingerprint_of, load_checkpoint, save_checkpoint

N_TERMS = 9

OPTIMIZERS = {
    "adam": lambda: optax.adam(1e-3),
    "clip_sgd_momentum": lambda: optax.chain(optax.clip(1.0), optax.sgd(0.1, momentum=0.9)),
}


def _config(**overrides):
    config = {
        "level": 4, "mode": "zero", "learning_rate": 0.001, "epochs": 5, "seed": 0, "optimizer": "adam",
        "data_shape": (20, 64), "h0": [0.1, 0.2, 0.7], "weights": {"wavelet": 1.0, "sparsity": 1.0},
    }
    config.update(overrides)
    return config


def _state(opt, dtype, epoch=3, seed=0, ok=True, config=None):
    """A checkpoint whose optimiser-state leaves hold random values (no optimiser steps: fast)."""
    rng = np.random.default_rng(seed)

    def fill(leaf):
        leaf = np.asarray(leaf)
        if np.issubdtype(leaf.dtype, np.integer):
            return jnp.asarray(rng.integers(1, 100, leaf.shape), leaf.dtype)
        return jnp.asarray(rng.standard_normal(leaf.shape), leaf.dtype)

    h = jnp.asarray(rng.standard_normal(8), dtype)
    state = jax.tree_util.tree_map(fill, opt.init(h))
    key = jax.random.PRNGKey(seed + 7)
    history = rng.standard_normal((epoch, N_TERMS)).astype(dtype)
    return Checkpoint(epoch, h, state, key, history, ok, fingerprint_of(config or _config()))


def _assert_bit_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def _assert_same(loaded: Checkpoint, saved: Checkpoint):
    assert loaded.epoch == saved.epoch and loaded.ok == saved.ok
    assert loaded.fingerprint == saved.fingerprint
    for name in ("h", "key", "history"):
        _assert_bit_equal(getattr(loaded, name), getattr(saved, name))
    assert jax.tree_util.tree_structure(loaded.opt_state) == jax.tree_util.tree_structure(saved.opt_state)
    for x, y in zip(jax.tree_util.tree_leaves(loaded.opt_state), jax.tree_util.tree_leaves(saved.opt_state)):
        assert isinstance(x, np.ndarray)
        _assert_bit_equal(x, y)


def _load(directory, opt, dtype, config=None):
    template = opt.init(jnp.zeros(8, dtype))
    return load_checkpoint(directory, opt_state_template=template, fingerprint=fingerprint_of(config or _config()))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_round_trip_float32(tmp_path, name):
    opt = OPTIMIZERS[name]()
    saved = _state(opt, jnp.float32, ok=False)
    path = save_checkpoint(tmp_path / "run", saved)
    assert path == tmp_path / "run" / CHECKPOINT_FILE and path.exists()
    loaded = _load(tmp_path / "run", opt, jnp.float32)
    _assert_same(loaded, saved)
    assert loaded.h.dtype == np.float32 and loaded.ok is False
    assert [p.name for p in (tmp_path / "run").iterdir()] == [CHECKPOINT_FILE]  # no temp file left


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_round_trip_float64(tmp_path, x64, name):
    opt = OPTIMIZERS[name]()
    saved = _state(opt, jnp.float64)
    assert saved.h.dtype == jnp.float64
    save_checkpoint(tmp_path, saved)
    loaded = _load(tmp_path, opt, jnp.float64)
    _assert_same(loaded, saved)
    # the restored state drives the optimiser exactly like the original one
    update = jax.jit(opt.update)
    grad = jnp.linspace(-1.0, 1.0, 8, dtype=jnp.float64)
    u1, s1 = update(grad, saved.opt_state, saved.h)
    u2, s2 = update(grad, loaded.opt_state, loaded.h)
    _assert_bit_equal(u1, u2)
    for x, y in zip(jax.tree_util.tree_leaves(s1), jax.tree_util.tree_leaves(s2)):
        _assert_bit_equal(x, y)


def test_overwrite_keeps_latest_and_edge_cases(tmp_path):
    opt = OPTIMIZERS["adam"]()
    save_checkpoint(tmp_path, _state(opt, jnp.float32, epoch=1))
    saved = _state(opt, jnp.float32, epoch=0)._replace(key=jax.random.key(3))  # typed key, empty history
    save_checkpoint(str(tmp_path), saved)
    loaded = _load(tmp_path, opt, jnp.float32)
    assert loaded.epoch == 0 and loaded.history.shape == (0, N_TERMS)
    _assert_bit_equal(loaded.key, jax.random.key_data(jax.random.key(3)))


def test_bfloat16_leaves_round_trip(tmp_path):
    opt = optax.sgd(0.1, momentum=0.9)
    saved = _state(opt, jnp.bfloat16)
    save_checkpoint(tmp_path, saved)
    _assert_same(_load(tmp_path, opt, jnp.bfloat16), saved)


def test_missing_directory_or_file_is_fresh_start(tmp_path):
    opt = OPTIMIZERS["adam"]()
    assert _load(tmp_path / "does" / "not" / "exist", opt, jnp.float32) is None
    assert _load(tmp_path, opt, jnp.float32) is None  # directory exists, no checkpoint in it


def test_save_validates(tmp_path):
    saved = _state(OPTIMIZERS["adam"](), jnp.float32)
    with pytest.raises(ValueError, match="history"):
        save_checkpoint(tmp_path, saved._replace(epoch=4))
    with pytest.raises(ValueError, match="h: expected"):
        save_checkpoint(tmp_path, saved._replace(h=np.zeros((2, 4))))
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path, saved._replace(fingerprint={"teacher": object()}))
    assert not list(tmp_path.iterdir())


def _corrupt_message(directory):
    with pytest.raises(ValueError) as info:
        _load(directory, OPTIMIZERS["adam"](), jnp.float32)
    message = str(info.value)
    assert "corrupt" in message and str(directory / CHECKPOINT_FILE) in message
    assert "checkpoint_dir" in message and "delete" in message
    return message


def test_truncated_file_is_corrupt(tmp_path):
    path = save_checkpoint(tmp_path, _state(OPTIMIZERS["adam"](), jnp.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _corrupt_message(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x00garbage bytes, not a zip archive" * 10, b"PK\x03\x04" + b"\xff" * 64])
def test_garbage_file_is_corrupt(tmp_path, content):
    (tmp_path / CHECKPOINT_FILE).write_bytes(content)
    _corrupt_message(tmp_path)


def test_wrong_npz_contents_are_corrupt(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    with open(path, "wb") as f:  # a valid npz without the metadata entry
        np.savez(f, h=np.zeros(3))
    _corrupt_message(tmp_path)
    with open(path, "wb") as f:  # metadata that is not JSON
        np.savez(f, **{"__awd_checkpoint__": np.frombuffer(b"{not json", np.uint8), "h": np.zeros(3)})
    _corrupt_message(tmp_path)
    with open(path, "wb") as f:  # a single .npy array under the checkpoint's name
        np.save(f, np.zeros(3))
    _corrupt_message(tmp_path)


def test_fingerprint_mismatch_lists_every_key(tmp_path):
    opt = OPTIMIZERS["adam"]()
    save_checkpoint(tmp_path, _state(opt, jnp.float32))
    requested = _config(learning_rate=0.01, seed=1, extra="new")
    with pytest.raises(ValueError) as info:
        _load(tmp_path, opt, jnp.float32, config=requested)
    message = str(info.value)
    assert "different configuration" in message and str(tmp_path) in message
    assert "learning_rate saved 0.001, requested 0.01" in message
    assert "seed saved 0, requested 1" in message
    assert 'extra saved <absent>, requested "new"' in message
    assert "level" not in message


def test_fingerprint_ignores_epochs_and_json_representation(tmp_path):
    opt = OPTIMIZERS["adam"]()
    saved = _state(opt, jnp.float32, config=_config(data_shape=(20, 64), learning_rate=float("nan")))
    save_checkpoint(tmp_path, saved)
    # a different epoch count, a list instead of a tuple, the same NaN: the same configuration
    requested = _config(epochs=50, data_shape=[20, 64], learning_rate=float("nan"))
    assert _load(tmp_path, opt, jnp.float32, config=requested).epoch == saved.epoch
    assert "epochs" not in fingerprint_of(requested)
    assert fingerprint_of(requested)["data_shape"] == [20, 64]


def test_optimizer_structure_mismatch(tmp_path):
    save_checkpoint(tmp_path, _state(OPTIMIZERS["adam"](), jnp.float32))
    with pytest.raises(ValueError, match="optimiser state .* does not match"):
        _load(tmp_path, optax.sgd(0.1), jnp.float32)
    with pytest.raises(ValueError, match="leaf 1 saved shape \\(8,\\) dtype float32, requested shape \\(5,\\)"):
        load_checkpoint(tmp_path, opt_state_template=optax.adam(1e-3).init(jnp.zeros(5)),
                        fingerprint=fingerprint_of(_config()))


def test_structure_mismatch_in_dtype(tmp_path, x64):
    save_checkpoint(tmp_path, _state(OPTIMIZERS["adam"](), jnp.float32))
    with pytest.raises(ValueError, match="dtype float32, requested shape \\(8,\\) dtype float64"):
        _load(tmp_path, OPTIMIZERS["adam"](), jnp.float64)


def test_write_is_atomic(tmp_path, monkeypatch):
    opt = OPTIMIZERS["adam"]()
    first = _state(opt, jnp.float32, epoch=2)
    save_checkpoint(tmp_path, first)
    real_savez = np.savez

    def savez_then_die(file, *args, **kwargs):
        real_savez(file, *args, **kwargs)  # the whole archive reaches the temporary file ...
        file.seek(file.tell() // 2)
        file.truncate()  # ... then half of it is lost and the writer is killed
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(np, "savez", savez_then_die)
    try:
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(tmp_path, _state(opt, jnp.float32, epoch=5, seed=1))
    finally:
        monkeypatch.undo()
        leftovers = [p for p in tmp_path.iterdir() if p.name != CHECKPOINT_FILE]
        for p in leftovers:
            os.remove(p)
    assert leftovers == []
    _assert_same(_load(tmp_path, opt, jnp.float32), first)


def test_fingerprint_of_rejects_non_json():
    with pytest.raises(TypeError, match="JSON"):
        fingerprint_of({"teacher": object()})
    with pytest.raises(TypeError, match="dict"):
        fingerprint_of([("epochs", 1)])
    assert ck.RESUMABLE_KEYS == ("epochs",)


def test_checkpoint_dir_that_is_a_file(tmp_path):
    saved = _state(OPTIMIZERS["adam"](), jnp.float32)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="checkpoint_dir: expected a folder"):
        save_checkpoint(tmp_path / "file", saved)
    with pytest.raises(ValueError, match="checkpoint_dir: .* cannot be created"):
        save_checkpoint(tmp_path / "file" / "below", saved)


def test_checkpoint_and_result_files_share_one_container(tmp_path):
    from awd_jax import results
    assert type(ck._CONTAINER) is type(results._CONTAINER)
    path = save_checkpoint(tmp_path, _state(OPTIMIZERS["adam"](), jnp.float32))
    with pytest.raises(ValueError, match="not a readable awd_jax result file.*no '__awd_metadata__' entry"):
        results.load_result(path)  # a checkpoint is not a result file, and the message says so
    meta, _ = ck._CONTAINER.read(path)
    assert meta["format"] == ck.FORMAT and meta["format_version"] == ck.FORMAT_VERSION
