"""Results of ``fit`` and ``sweep`` (:class:`FitResult`, :class:`SweepResult`) and their files.

Both save to and load from one ``.npz`` file (no pickle).

Layout of the file:

* ``__awd_metadata__``: a uint8 array holding UTF-8 JSON with ``format``
  (``"awd_jax.result"``), ``format_version``, ``kind`` (``"fit"`` or ``"sweep"``),
  ``class``, ``config`` (every setting of the run), ``versions`` (awd_jax, jax,
  numpy, pywt, python) and ``fields``: how to rebuild each attribute of the result.
* ``field/<name>``: array attributes (``h`` ...), dtype and shape preserved.
* ``dict/<name>/<i>``: arrays of dict-of-array attributes (``history``); the keys are
  in the metadata, in order.

Scalars, strings, lists and JSON-serialisable dicts (``config``) live in the
metadata. :func:`load_result` reads with ``allow_pickle=False`` and rebuilds
:class:`FitResult` or :class:`SweepResult`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import zipfile
from typing import Any, Dict, List, Tuple

import numpy as np

from awd_jax._version import __version__
from awd_jax.filters import to_pywt

__all__ = ["FitResult", "SweepResult", "FORMAT", "FORMAT_VERSION", "save_result", "load_result", "read_metadata"]

FORMAT = "awd_jax.result"
FORMAT_VERSION = 1
_META_KEY = "__awd_metadata__"
_KINDS = {"FitResult": "fit", "SweepResult": "sweep"}
_SWEEP_FIELDS = ("h", "history", "sparsity", "interpretation", "config", "diverged", "epochs_run")


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`.

    Attributes:
      h: final filter ``(N,)`` (the last finite one when the run diverged).
      history: term name (``LossTerms`` fields and ``"total"``) → ``(epochs_run,)`` per-epoch means.
      config: every setting, JSON-serialisable.
      diverged: whether a non-finite loss or filter stopped the run.
      epochs_run: epochs executed (including a diverging one, excluding none).
      starts: ``(R, N)`` starting filter of each of the ``R`` starts (``restarts``; row 0
        is ``h0``), or ``None`` for a plain run.
      objectives: ``(R,)`` each start's final objective on the evaluation samples (after
        ``refine``), or ``None``.
      objectives_before_refine: ``(R,)`` the same before the L-BFGS finish, or ``None``.
      best_start: the start ``h`` comes from (the lowest objective).
    """

    h: np.ndarray
    history: dict
    config: dict
    diverged: bool = False
    epochs_run: int = 0
    starts: np.ndarray | None = None
    objectives: np.ndarray | None = None
    objectives_before_refine: np.ndarray | None = None
    best_start: int = 0

    @property
    def objective(self) -> float | None:
        """The kept filter's final objective (``None`` for a plain run)."""
        return None if self.objectives is None else float(self.objectives[self.best_start])

    def to_pywt(self, name: str = "awd"):
        """The learned filter as a ``pywt.Wavelet``."""
        return to_pywt(self.h, name)

    def save(self, path: str) -> None:
        """Save with :func:`save_result`."""
        return save_result(self, path)


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Outcome of :func:`sweep` on a grid of ``n_λ × n_γ`` cells.

    Attributes:
      h: ``(n_λ, n_γ, N)`` final filters. h0: ``(n_λ, n_γ, N)`` each cell's starting filter.
      history: term name → ``(n_λ, n_γ, epochs)`` per-epoch means (NaN after a divergence).
      sparsity: ``(n_λ,)`` λ grid (ascending). interpretation: ``(n_γ,)`` γ grid (ascending).
      diverged: ``(n_λ, n_γ)`` bool. epochs_run: ``(n_λ, n_γ)`` int.
      config: settings shared by every cell (JSON-serialisable).
      starts, objectives, objectives_before_refine, best_start: with ``restarts``/``refine``,
        each cell's :class:`FitResult` fields stacked: ``(n_λ, n_γ, R, N)``,
        ``(n_λ, n_γ, R)``, ``(n_λ, n_γ, R)``, ``(n_λ, n_γ)``; ``None`` otherwise.
    """

    h: np.ndarray
    h0: np.ndarray
    history: dict
    sparsity: np.ndarray
    interpretation: np.ndarray
    diverged: np.ndarray
    epochs_run: np.ndarray
    config: dict
    starts: np.ndarray | None = None
    objectives: np.ndarray | None = None
    objectives_before_refine: np.ndarray | None = None
    best_start: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.sparsity), len(self.interpretation))

    def cell(self, i: int, j: int) -> FitResult:
        """Cell ``(i, j)`` (λ = ``sparsity[i]``, γ = ``interpretation[j]``) as a :class:`FitResult`."""
        n_lam, n_gam = self.shape
        if not (0 <= i < n_lam and 0 <= j < n_gam):
            raise IndexError(f"cell: ({i}, {j}) is outside the {n_lam} x {n_gam} grid.")
        run = int(self.epochs_run[i, j])
        config = dict(self.config)
        config.update(
            sparsity=float(self.sparsity[i]),
            interpretation=float(self.interpretation[j]),
            h0=[float(v) for v in self.h0[i, j]],
        )
        history = {k: np.asarray(v[i, j, :run]) for k, v in self.history.items()}
        extra = {}
        if self.objectives is not None:
            before = self.objectives_before_refine
            extra = dict(starts=np.asarray(self.starts[i, j]), objectives=np.asarray(self.objectives[i, j]),
                         objectives_before_refine=None if before is None else np.asarray(before[i, j]),
                         best_start=int(self.best_start[i, j]))
        return FitResult(np.asarray(self.h[i, j]), history, config, bool(self.diverged[i, j]), run, **extra)

    def save(self, path: str) -> None:
        """Save with :func:`save_result`."""
        return save_result(self, path)


def _versions() -> Dict[str, str]:
    import jax
    import pywt

    return {
        "awd_jax": __version__,
        "jax": jax.__version__,
        "numpy": np.__version__,
        "pywt": pywt.__version__,
        "python": platform.python_version(),
    }


def _is_array(value: Any) -> bool:
    import jax

    return isinstance(value, (np.ndarray, jax.Array))


def _to_json(value: Any, where: str) -> Any:
    """Plain-JSON copy of ``value`` (NumPy scalars/small arrays converted), or TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if _is_array(value):
        return np.asarray(value).tolist()
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: expected string keys for JSON, got key {k!r}.")
            out[k] = _to_json(v, f"{where}[{k!r}]")
        return out
    raise TypeError(
        f"{where}: cannot store a {type(value).__name__} (expected arrays, numbers, strings, lists or dicts)."
    )


def _result_fields(result: Any) -> List[Tuple[str, Any]]:
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return [(f.name, getattr(result, f.name)) for f in dataclasses.fields(result)]
    if hasattr(result, "_asdict"):
        return list(result._asdict().items())
    return [(n, getattr(result, n)) for n in _SWEEP_FIELDS if hasattr(result, n)]


def save_result(result: Any, path: "str | os.PathLike") -> None:
    """Write a ``FitResult`` or ``SweepResult`` to ``path`` (an ``.npz`` file, written atomically).

    Args:
      result: :class:`FitResult` or :class:`SweepResult`.
      path: destination; written exactly there (no suffix is added).

    Raises:
      TypeError: ``result`` is neither, or holds a value that cannot be stored.
    """
    cls = type(result).__name__
    if cls not in _KINDS:
        raise TypeError(f"result: expected a FitResult or SweepResult, got {cls}.")
    arrays: Dict[str, np.ndarray] = {}
    fields = []
    for name, value in _result_fields(result):
        if _is_array(value):
            arrays[f"field/{name}"] = np.asarray(value)
            fields.append({"name": name, "encoding": "array"})
        elif isinstance(value, dict) and value and all(_is_array(v) for v in value.values()):
            keys = list(value.keys())
            for i, k in enumerate(keys):
                arrays[f"dict/{name}/{i}"] = np.asarray(value[k])
            fields.append({"name": name, "encoding": "dict_of_arrays", "keys": [str(k) for k in keys]})
        else:
            fields.append({"name": name, "encoding": "json", "value": _to_json(value, f"result.{name}")})
    config = getattr(result, "config", None)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": _KINDS[cls],
        "class": cls,
        "config": _to_json(config, "result.config") if config is not None else None,
        "versions": _versions(),
        "fields": fields,
    }
    arrays[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".awd_tmp_", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read(path: str) -> Tuple[dict, Dict[str, np.ndarray]]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: no such file {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise ValueError("a single array, not an .npz archive")
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"path {path!r}: not a readable awd_jax result file ({err}).") from err
    if _META_KEY not in data:
        raise ValueError(f"path {path!r}: no {_META_KEY!r} entry; not an awd_jax result file.")
    try:
        meta = json.loads(data.pop(_META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"path {path!r}: corrupt metadata ({err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"path {path!r}: metadata format is not {FORMAT!r}.")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"path {path!r}: format_version {version!r} is not supported (this awd_jax reads <= {FORMAT_VERSION}); "
            f"upgrade awd_jax."
        )
    if meta.get("kind") not in ("fit", "sweep"):
        raise ValueError(f"path {path!r}: unknown result kind {meta.get('kind')!r}, expected 'fit' or 'sweep'.")
    return meta, data


def read_metadata(path: "str | os.PathLike") -> dict:
    """The JSON metadata of a saved result (kind, config, versions, fields)."""
    return _read(os.fspath(path))[0]


def load_result(path: "str | os.PathLike") -> Any:
    """Read a file written by :func:`save_result` and rebuild the result object.

    Returns:
      :class:`FitResult` (kind ``"fit"``) or :class:`SweepResult` (kind ``"sweep"``).

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: a truncated, foreign or newer-format file (the message names ``path``).
    """
    path = os.fspath(path)
    meta, data = _read(path)
    kwargs: Dict[str, Any] = {}
    try:
        for spec in meta["fields"]:
            name, enc = spec["name"], spec["encoding"]
            if enc == "array":
                kwargs[name] = data[f"field/{name}"]
            elif enc == "dict_of_arrays":
                kwargs[name] = {k: data[f"dict/{name}/{i}"] for i, k in enumerate(spec["keys"])}
            elif enc == "json":
                kwargs[name] = spec["value"]
            else:
                raise ValueError(f"unknown field encoding {enc!r}")
    except KeyError as err:
        raise ValueError(f"path {path!r}: incomplete result file, missing entry {err}.") from err
    cls = FitResult if meta["kind"] == "fit" else SweepResult
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(
            f"path {path!r}: saved fields {sorted(kwargs)} do not match {cls.__name__} of this awd_jax ({err})."
        ) from err
