"""Save and restore the state of a ``fit`` run, so that a killed run can resume.

One checkpoint is one ``.npz`` file, :data:`CHECKPOINT_FILE`, in the run's
``checkpoint_dir``; each save replaces it whole.

Why npz and not orbax-checkpoint: the state is a few KB (a filter of ~10 floats, the
optax state, the per-epoch history). Orbax would add a heavy dependency and async,
multi-host machinery that buys nothing at this size. The file is awd_jax's one container
(:mod:`awd_jax._npz`, shared with result files): a single ``np.savez`` to a temporary file
in the same folder, fsync'ed, followed by ``os.replace``, which is atomic on POSIX (the
rename happens within one filesystem), so a kill at any moment leaves either the old or
the new checkpoint, never a torn one. At worst a kill during the write leaves a stray
``.awd_checkpoint-*.tmp`` file next to it, which is never read and may be deleted.

Layout of the file (read back with ``allow_pickle=False``):

* ``__awd_checkpoint__``: a uint8 array holding UTF-8 JSON with ``format``
  (``"awd_jax.checkpoint"``), ``format_version``, ``epoch``, ``ok``, ``fingerprint``,
  ``treedef`` (``str`` of the optimiser state's ``PyTreeDef``), ``leaves`` (the
  ``shape`` and ``dtype`` of each of its leaves, in ``jax.tree_util`` flattening order)
  and ``dtypes`` (of ``h``, ``key``, ``history``; extension dtypes such as bfloat16 are
  stored by ``.npy`` as raw bytes and reinterpreted on load).
* ``h`` ``(N,)``, ``key`` (PRNG key data), ``history`` ``(epoch, n_terms)``.
* ``opt_state/<i>``: the optimiser state's leaves.

:func:`load_checkpoint` returns ``None`` when there is no checkpoint (a fresh start) and
raises ``ValueError`` when there is one it cannot use: an unreadable (corrupt) file, one
written by a different configuration (see :func:`fingerprint_of`), or an optimiser state
of another structure. It never silently starts afresh over an existing checkpoint.
"""

from __future__ import annotations

import json
import operator
import os
import pathlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax._npz import Container

__all__ = [
    "CHECKPOINT_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "RESUMABLE_KEYS",
    "Checkpoint",
    "fingerprint_of",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FILE = "awd_checkpoint.npz"
FORMAT = "awd_jax.checkpoint"
FORMAT_VERSION = 1
#: configuration keys that may change between a run and its resumption (dropped by :func:`fingerprint_of`)
RESUMABLE_KEYS = ("epochs",)

_META_KEY = "__awd_checkpoint__"
_OPT_PREFIX = "opt_state/"
_TMP_PREFIX = ".awd_checkpoint-"
_TMP_SUFFIX = ".tmp"
#: the file container (shared with result files: awd_jax._npz)
_CONTAINER = Container(
    FORMAT, FORMAT_VERSION, _META_KEY, "awd_jax checkpoint", argument="checkpoint_dir",
    advice="delete it to start afresh, or pick another checkpoint_dir", tmp_prefix=_TMP_PREFIX,
    tmp_suffix=_TMP_SUFFIX,
)


class Checkpoint(NamedTuple):
    """The state of a ``fit`` run after ``epoch`` completed epochs.

    Attributes:
      epoch: epochs completed (the run resumes at epoch index ``epoch``).
      h: filter ``(N,)``.
      opt_state: optax state pytree; after :func:`load_checkpoint` its leaves are
        ``np.ndarray`` and its treedef is the template's.
      key: PRNG key data (uint32 array: ``jax.random.key_data`` of the run's key, or the
        raw ``jax.random.PRNGKey`` array). A typed key is accepted by
        :func:`save_checkpoint` and stored as its key data.
      history: ``(epoch, n_terms)`` per-epoch means.
      ok: ``False`` once the run diverged.
      fingerprint: JSON-serialisable run configuration, without the keys that may change
        on resumption (build it with :func:`fingerprint_of`).
    """

    epoch: int
    h: np.ndarray
    opt_state: Any
    key: np.ndarray
    history: np.ndarray
    ok: bool
    fingerprint: dict


def _json_round_trip(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what}: expected a JSON-serialisable dict ({err}).") from err


def fingerprint_of(config: dict) -> dict:
    """The part of a run's ``config`` that must match for a checkpoint to be resumed.

    Drops :data:`RESUMABLE_KEYS` (``"epochs"``: a run may be resumed with more or fewer
    epochs) and returns a JSON-round-tripped copy (tuples become lists, keys strings), so
    it compares equal to the fingerprint read back from a checkpoint.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict, got {type(config).__name__}.")
    return _json_round_trip({k: v for k, v in config.items() if k not in RESUMABLE_KEYS}, "config")


def _key_data(key: Any) -> np.ndarray:
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key)


def _leaf_specs(leaves: list) -> list[dict]:
    return [{"shape": list(leaf.shape), "dtype": str(leaf.dtype)} for leaf in leaves]


def save_checkpoint(directory: str | os.PathLike, ckpt: Checkpoint) -> pathlib.Path:
    """Write ``ckpt`` atomically to ``directory / CHECKPOINT_FILE`` and return that path.

    Creates ``directory`` if needed. Arrays (NumPy or JAX) are stored bit-exactly with
    their dtypes; the optimiser state may be any optax state pytree (its leaves are
    stored in ``jax.tree_util`` order, with the treedef's string to check it on load).

    Raises:
      ValueError: ``h`` not 1-D, ``history`` not ``(epoch, n_terms)``, negative ``epoch``.
      TypeError: ``fingerprint`` not a JSON-serialisable dict, ``epoch`` not an int.
    """
    directory = pathlib.Path(directory)
    epoch = operator.index(ckpt.epoch)
    if epoch < 0:
        raise ValueError(f"epoch: expected a non-negative int, got {epoch}.")
    h = np.asarray(ckpt.h)
    if h.ndim != 1:
        raise ValueError(f"h: expected a 1-D filter (N,), got shape {h.shape}.")
    history = np.asarray(ckpt.history)
    if history.ndim != 2 or history.shape[0] != epoch:
        raise ValueError(f"history: expected shape (epoch={epoch}, n_terms), got {history.shape}.")
    if not isinstance(ckpt.fingerprint, dict):
        raise TypeError(f"fingerprint: expected a dict, got {type(ckpt.fingerprint).__name__}.")
    leaves, treedef = jax.tree_util.tree_flatten(ckpt.opt_state)
    leaves = [np.asarray(leaf) for leaf in leaves]
    meta = {
        "epoch": epoch,
        "ok": bool(ckpt.ok),
        "fingerprint": _json_round_trip(ckpt.fingerprint, "fingerprint"),
        "treedef": str(treedef),
        "leaves": _leaf_specs(leaves),
    }
    arrays = {"h": h, "key": _key_data(ckpt.key), "history": history}
    meta["dtypes"] = {name: str(value.dtype) for name, value in arrays.items()}
    arrays.update({f"{_OPT_PREFIX}{i}": leaf for i, leaf in enumerate(leaves)})

    if directory.exists() and not directory.is_dir():
        raise ValueError(f"checkpoint_dir: expected a folder, got the file {str(directory)!r}.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:  # a file on the way
        raise ValueError(f"checkpoint_dir: {str(directory)!r} cannot be created ({err}).") from err
    path = directory / CHECKPOINT_FILE
    _CONTAINER.write(path, meta, arrays)
    return path


def _read(path: pathlib.Path) -> tuple[dict, dict]:
    """``(metadata, arrays)`` of a checkpoint file, or ``ValueError`` (corrupt, newer format)."""
    meta, data = _CONTAINER.read(path)
    try:
        _check_meta(meta, data)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _CONTAINER.corrupt(path, f"{type(err).__name__}: {err}") from err
    return meta, data


def _check_meta(meta: dict, data: dict) -> None:
    """Internal consistency of a checkpoint; raises KeyError/TypeError/ValueError."""
    epoch, ok, fingerprint = meta["epoch"], meta["ok"], meta["fingerprint"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"bad epoch {epoch!r}")
    if not isinstance(ok, bool):
        raise ValueError(f"bad ok flag {ok!r}")
    if not isinstance(fingerprint, dict):
        raise ValueError("fingerprint is not a dict")
    if not isinstance(meta["treedef"], str):
        raise ValueError("treedef is not a string")
    specs = meta["leaves"]
    if not isinstance(specs, list):
        raise ValueError("leaves is not a list")
    dtypes = meta["dtypes"]
    for name in ("h", "key", "history"):
        if name not in data:
            raise ValueError(f"missing array {name!r}")
        data[name] = _as_dtype(data[name], dtypes[name], name)
    if data["h"].ndim != 1:
        raise ValueError(f"h has shape {data['h'].shape}")
    if data["history"].ndim != 2 or data["history"].shape[0] != epoch:
        raise ValueError(f"history has shape {data['history'].shape} for epoch {epoch}")
    opt_names = {name for name in data if name.startswith(_OPT_PREFIX)}
    if opt_names != {f"{_OPT_PREFIX}{i}" for i in range(len(specs))}:
        raise ValueError(f"{len(specs)} optimiser-state leaves described, arrays {sorted(opt_names)}")
    for i, spec in enumerate(specs):
        name = f"{_OPT_PREFIX}{i}"
        leaf = data[name] = _as_dtype(data[name], spec["dtype"], name)
        if list(leaf.shape) != spec["shape"]:
            raise ValueError(f"{name} has shape {leaf.shape}, described as {tuple(spec['shape'])}")


def _as_dtype(array: np.ndarray, dtype: str, name: str) -> np.ndarray:
    """``array`` with its recorded ``dtype``; extension dtypes (bfloat16 ...) come back from
    ``.npy`` as raw void bytes of the same size and are reinterpreted bit for bit."""
    if str(array.dtype) == dtype:
        return array
    if array.dtype.kind == "V":
        target = jnp.dtype(dtype)
        if target.itemsize == array.dtype.itemsize:
            return array.view(target)
    raise ValueError(f"{name} has dtype {array.dtype}, described as {dtype}")


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _same(a: Any, b: Any) -> bool:
    # the JSON text makes NaN equal to NaN; == makes 1 equal to 1.0
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or a == b


def _fingerprint_diff(saved: dict, requested: dict) -> list[str]:
    missing = object()
    diffs = []
    for name in sorted(set(saved) | set(requested)):
        a, b = saved.get(name, missing), requested.get(name, missing)
        if a is missing or b is missing or not _same(a, b):
            sa = "<absent>" if a is missing else _show(a)
            sb = "<absent>" if b is missing else _show(b)
            diffs.append(f"{name} saved {sa}, requested {sb}")
    return diffs


def load_checkpoint(directory: str | os.PathLike, *, opt_state_template: Any, fingerprint: dict) -> Checkpoint | None:
    """Read the checkpoint in ``directory``, or ``None`` when there is none (fresh start).

    Args:
      directory: the run's ``checkpoint_dir``.
      opt_state_template: an optimiser state of the run's optimiser (e.g.
        ``optimizer.init(h0)``); the restored state takes its treedef, and its leaves'
        shapes and dtypes must match the saved ones.
      fingerprint: the requested run's :func:`fingerprint_of`; compared (after a JSON
        round trip) with the saved one.

    Returns:
      The :class:`Checkpoint`, bit-exact (``opt_state`` leaves as ``np.ndarray``), or
      ``None`` when ``directory`` or its :data:`CHECKPOINT_FILE` does not exist.

    Raises:
      ValueError: the file is unreadable or inconsistent ("corrupt"), has a newer format
        version, was written by a different configuration (every differing key listed
        with its saved and requested values), or holds an optimiser state whose structure
        differs from ``opt_state_template``.
      TypeError: ``fingerprint`` not a JSON-serialisable dict.
    """
    directory = pathlib.Path(directory)
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return None
    meta, data = _read(path)

    if not isinstance(fingerprint, dict):
        raise TypeError(f"fingerprint: expected a dict, got {type(fingerprint).__name__}.")
    diffs = _fingerprint_diff(meta["fingerprint"], _json_round_trip(fingerprint, "fingerprint"))
    if diffs:
        raise ValueError(
            f"checkpoint_dir: the checkpoint in {str(directory)!r} was written by a different configuration: "
            + "; ".join(diffs)
            + ". Resume with the same settings, or delete the checkpoint or pick another checkpoint_dir to "
            "start afresh."
        )

    template_leaves, treedef = jax.tree_util.tree_flatten(opt_state_template)
    template_specs = _leaf_specs([np.asarray(leaf) for leaf in template_leaves])
    problems = []
    if str(treedef) != meta["treedef"]:
        problems.append(f"saved structure {meta['treedef']}, requested {treedef}")
    if len(template_specs) != len(meta["leaves"]):
        problems.append(f"saved {len(meta['leaves'])} leaves, requested {len(template_specs)}")
    else:
        for i, (saved, wanted) in enumerate(zip(meta["leaves"], template_specs)):
            if saved != wanted:
                problems.append(
                    f"leaf {i} saved shape {tuple(saved['shape'])} dtype {saved['dtype']}, "
                    f"requested shape {tuple(wanted['shape'])} dtype {wanted['dtype']}"
                )
    if problems:
        raise ValueError(
            f"checkpoint_dir: the optimiser state in {str(path)!r} does not match the requested optimiser's "
            f"state structure: " + "; ".join(problems)
            + ". Use the same optimiser and dtype, or delete the checkpoint or pick another checkpoint_dir."
        )

    leaves = [data[f"{_OPT_PREFIX}{i}"] for i in range(len(template_specs))]
    return Checkpoint(
        epoch=meta["epoch"],
        h=data["h"],
        opt_state=jax.tree_util.tree_unflatten(treedef, leaves),
        key=data["key"],
        history=data["history"],
        ok=meta["ok"],
        fingerprint=meta["fingerprint"],
    )
