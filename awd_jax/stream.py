"""Training data that stays on the host, and batches placed on one or many devices.

``fit`` and ``sweep`` keep small in-memory data on the device and gather each batch there
(one compiled epoch). Data that should not be copied to the device whole — a NumPy
memmap, an array larger than :data:`STREAM_AUTO_BYTES`, any object with ``__len__`` and
``__getitem__`` over samples — is *streamed*: every epoch draws the same permutation as
the in-memory path (``jax.random.permutation(fold_in(PRNGKey(seed), epoch), n)``), cuts
it into the same batches (the short last batch padded and masked the same way), and
moves ``chunk`` consecutive batches at a time to the device(s), a background thread
reading the next chunk while the current one trains. The arithmetic per batch is the
in-memory path's, so results agree to float rounding.

Devices: ``devices`` (a sequence of JAX devices or a ``jax.sharding.Mesh``) makes a
:class:`~jax.sharding.Mesh` whose axes all shard the batch axis (``NamedSharding``);
the filter and optimiser state are replicated. With devices the data are always
streamed (each device receives only its shard of each batch).
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from awd_jax import _validate

__all__ = [
    "CHUNK_BYTES",
    "STREAM_AUTO_BYTES",
    "HostData",
    "as_mesh",
    "chain_devices",
    "host_data",
    "split_cpu_into_devices",
    "wants_stream",
]

#: ``stream=None`` streams NumPy arrays larger than this (memmaps and sequences always)
STREAM_AUTO_BYTES = 1 << 30
#: default bytes of samples moved to the device per chunk
CHUNK_BYTES = 64 << 20


class HostData(NamedTuple):
    """Samples kept on the host: ``n`` samples shaped ``sample_shape``, read with :meth:`take`."""

    data: Any
    n: int
    sample_shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,) + self.sample_shape

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Samples ``idx`` ``(k,)`` → ``(k, *sample_shape)`` in ``dtype`` (reads in sorted order)."""
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        if isinstance(self.data, np.ndarray):
            rows = self.data[sorted_idx]
        else:
            rows = np.stack([np.asarray(self.data[int(i)]) for i in sorted_idx])
        out = np.empty((idx.shape[0],) + self.sample_shape, self.dtype)
        out[order] = rows
        return out


def _is_sequence(data: Any) -> bool:
    return (
        not isinstance(data, (np.ndarray, jax.Array, list, tuple, str, bytes))
        and hasattr(data, "__len__")
        and hasattr(data, "__getitem__")
        and not hasattr(data, "shape")
    )


def wants_stream(data: Any, stream: bool | None, mesh: Mesh | None) -> bool:
    """Whether ``data`` is streamed (see the module docstring)."""
    if stream is not None and not isinstance(stream, bool):
        raise TypeError(f"stream: expected True, False or None (automatic), got {stream!r}.")
    if stream is False and _is_sequence(data):
        raise ValueError("stream: a sequence of samples can only be streamed; pass stream=None or True.")
    if stream is not None:
        return stream or mesh is not None
    big = isinstance(data, np.ndarray) and data.nbytes > STREAM_AUTO_BYTES
    return mesh is not None or _is_sequence(data) or isinstance(data, np.memmap) or big


def host_data(data: Any, dims: int) -> HostData:
    """Validate host data ``(n, ..., L)`` / ``(n, ..., H, W)`` without reading it all.

    Finiteness is checked chunk by chunk as the first epoch reads it.
    """
    if isinstance(data, jax.Array):
        data = np.asarray(data)
    if _is_sequence(data):
        n = len(data)
        if n < 1:
            raise ValueError("data: expected at least one sample, got n = 0.")
        first = np.asarray(data[0])
        sample_shape, dtype = first.shape, first.dtype
    else:
        if not hasattr(data, "shape"):
            data = np.asarray(data)
        if data.ndim < 1 or data.shape[0] < 1:
            raise ValueError(f"data: expected at least one sample, got shape {tuple(data.shape)}.")
        n, sample_shape, dtype = int(data.shape[0]), tuple(data.shape[1:]), data.dtype
    dtype = _validate.data_dtype(dtype, "data")
    _validate.data_layout((n,) + tuple(sample_shape), dims, "data")
    return HostData(data, n, tuple(int(s) for s in sample_shape), np.dtype(dtype))


def as_mesh(devices: Sequence[jax.Device] | Mesh | None) -> Mesh | None:
    """``None`` → None (single default device); devices → a 1-axis ``("batch",)`` mesh; a Mesh as is."""
    if devices is None:
        return None
    if isinstance(devices, Mesh):
        return devices
    if isinstance(devices, jax.Device):
        devices = [devices]
    try:
        devs = list(devices)
    except TypeError:
        raise TypeError(
            f"devices: expected None, a sequence of jax devices or a jax.sharding.Mesh, got {type(devices).__name__}."
        ) from None
    if not devs or not all(isinstance(d, jax.Device) for d in devs):
        raise TypeError(f"devices: expected a non-empty sequence of jax devices (e.g. jax.devices()), got {devices!r}.")
    if len(set(devs)) != len(devs):
        raise ValueError(f"devices: expected distinct devices, got {devs}.")
    return Mesh(np.asarray(devs), ("batch",))


def batch_spec(mesh: Mesh, leading: int = 0) -> NamedSharding:
    """Sharding of arrays ``(leading..., B, ...)`` split along B over every mesh axis."""
    return NamedSharding(mesh, PartitionSpec(*([None] * leading), tuple(mesh.axis_names)))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every leaf of ``tree`` as a global array replicated over ``mesh`` (one host or many)."""
    rep = replicated(mesh)
    return jax.tree_util.tree_map(lambda leaf: _global(np.asarray(leaf), rep), tree)


def mesh_size(mesh: Mesh | None) -> int:
    return 1 if mesh is None else int(mesh.devices.size)


class Chunk(NamedTuple):
    """``k`` batches on the device: ``xs (k, B, ...)``, ``masks (k, B)`` or None, ``valid (k,)``."""

    xs: jax.Array
    masks: jax.Array | None
    valid: jax.Array
    n_valid: int


def epoch_batches(perm, batch_size: int, xp: Any = np):
    """The epoch's batches ``(n_batches, B)`` of sample indices and their masks (None when B divides n).

    The one definition of the batch layout, used on the device (``xp=jax.numpy``, traced)
    and for streamed data (``xp=numpy``): the short last batch is topped up with the first
    samples of the permutation, masked out.
    """
    n = perm.shape[0]
    n_batches = -(-n // batch_size)
    pad = n_batches * batch_size - n
    if not pad:
        return perm.reshape(n_batches, batch_size), None
    idx = xp.concatenate([perm, perm[:pad]]).reshape(n_batches, batch_size)
    masks = xp.concatenate([xp.ones(n), xp.zeros(pad)]).reshape(n_batches, batch_size)
    return idx, masks


def chunks(
    src: HostData,
    idx: np.ndarray,
    masks: np.ndarray | None,
    per_chunk: int,
    *,
    sharding: NamedSharding | None,
    check_finite: bool,
) -> Iterator[Chunk]:
    """Chunks of ``per_chunk`` batches, read one ahead on a background thread.

    Every chunk has the same shape (one compiled program): the last is filled up with
    copies of its first batch, flagged ``valid = False`` (computed, then discarded).
    """
    n_batches, bs = idx.shape
    starts = list(range(0, n_batches, per_chunk))

    def load(start: int):
        rows = idx[start:start + per_chunk]
        n_valid = rows.shape[0]
        fill = per_chunk - n_valid
        flat = rows.reshape(-1)
        x = src.take(flat)
        if check_finite and not np.all(np.isfinite(x)):
            bad = np.flatnonzero(~np.all(np.isfinite(x.reshape(x.shape[0], -1)), axis=1))
            samples = sorted(set(int(flat[i]) for i in bad))
            raise ValueError(
                f"data: expected finite values, found NaN/inf in sample(s) {samples[:10]}"
                f"{' ...' if len(samples) > 10 else ''}."
            )
        x = x.reshape((n_valid, bs) + src.sample_shape)
        if fill:  # copies of the first batch, computed and discarded
            x = np.concatenate([x, np.repeat(x[:1], fill, axis=0)])
        m = None
        if masks is not None:
            m = masks[start:start + per_chunk]
            if fill:
                m = np.concatenate([m, np.repeat(m[:1], fill, axis=0)])
            m = m.astype(src.dtype)
        valid = np.arange(per_chunk) < n_valid
        if sharding is None:
            put = jax.device_put
            return Chunk(put(x), None if m is None else put(m), put(valid), n_valid)
        return Chunk(_global(x, sharding), None if m is None else _global(m, sharding),
                     _global(valid, replicated(sharding.mesh)), n_valid)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load, starts[0])
        for nxt in starts[1:] + [None]:
            current = pending.result()
            if nxt is not None:
                pending = pool.submit(load, nxt)
            yield current


def _global(a: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from the host copy ``a``: each process fills only its own devices' shards
    (so the same code runs on one host or many after ``jax.distributed.initialize``)."""
    return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])


def batches_per_chunk(chunk_size: int | None, batch_size: int, n_batches: int, sample_bytes: int) -> int:
    """Batches moved per transfer: ``chunk_size`` samples (default :data:`CHUNK_BYTES` worth)."""
    chunk_size = _validate.integer(chunk_size, "chunk_size", least=1, none_ok=True)
    if chunk_size is None:
        per = max(1, CHUNK_BYTES // max(1, batch_size * sample_bytes))
    else:
        per = max(1, chunk_size // batch_size)
    return min(per, n_batches)


def split_cpu_into_devices() -> int:
    """Ask XLA for one CPU device per available core; returns the number requested.

    XLA:CPU runs one program mostly on one thread; AWD steps on small signals are too
    small to split within a program, but programs on different devices run side by side,
    so ``sweep(..., devices=jax.devices())`` then trains its independent chains in
    parallel. Call it before JAX starts its backend (the first array operation; importing
    ``jax`` or ``awd_jax`` is fine); a ``--xla_force_host_platform_device_count`` already in
    ``XLA_FLAGS`` wins. GPU/TPU devices are unaffected.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores > 1 and "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={cores}".strip()
    return cores


def chain_devices() -> list[jax.Device] | None:
    """Devices to spread independent sweep chains over: all of them when there are several, else None."""
    return jax.devices() if jax.device_count() > 1 else None
