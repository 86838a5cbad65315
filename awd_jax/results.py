"""Results of ``fit`` and ``sweep`` (:class:`FitResult`, :class:`SweepResult`) and their files.

Both save to and load from one ``.npz`` file (no pickle), in the container that
checkpoints use too (:mod:`awd_jax._npz`: atomic write, JSON metadata, ``allow_pickle=False``).

Layout of the file:

* ``__awd_metadata__``: a uint8 array holding UTF-8 JSON with ``format``
  (``"awd_jax.result"``), ``format_version``, ``kind`` (``"fit"`` or ``"sweep"``),
  ``class``, ``config`` (every setting of the run), ``versions`` (awd_jax, jax,
  numpy, pywt, python) and ``fields``: how to rebuild each attribute of the result.
* ``field/<name>``: array attributes (``h`` ...), dtype and shape preserved.
* ``dict/<name>/<i>``: arrays of dict-of-array attributes (``history``); the keys are
  in the metadata, in order.

Scalars, strings, lists and JSON-serialisable dicts (``config``) live in the
metadata. :func:`load_result` reads with ``allow_pickle=False``, checks every field
against the result type (dtype kind and shape of each array, type of each scalar) and
rebuilds :class:`FitResult` or :class:`SweepResult`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from typing import Any, Dict, List, Tuple

import numpy as np

from awd_jax._npz import Container
from awd_jax._version import __version__
from awd_jax.filters import to_pywt

__all__ = ["FitResult", "SweepResult", "FORMAT", "FORMAT_VERSION", "save_result", "load_result", "read_metadata"]

FORMAT = "awd_jax.result"
FORMAT_VERSION = 1
_META_KEY = "__awd_metadata__"
_KINDS = {"FitResult": "fit", "SweepResult": "sweep"}
_SWEEP_FIELDS = ("h", "history", "sparsity", "interpretation", "config", "diverged", "epochs_run")
_ENCODINGS = ("array", "dict_of_arrays", "json")
#: the file container (shared with checkpoints: awd_jax._npz)
_CONTAINER = Container(FORMAT, FORMAT_VERSION, _META_KEY, "awd_jax result file")


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
      path: destination; written exactly there (no suffix is added). Its folder must exist.

    Raises:
      TypeError: ``result`` is neither, or holds a value that cannot be stored.
      FileNotFoundError: the folder of ``path`` does not exist.
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
        "kind": _KINDS[cls],
        "class": cls,
        "config": _to_json(config, "result.config") if config is not None else None,
        "versions": _versions(),
        "fields": fields,
    }
    _CONTAINER.write(path, meta, arrays)


def _read(path: str) -> Tuple[dict, Dict[str, np.ndarray]]:
    meta, data = _CONTAINER.read(path)
    if meta.get("kind") not in ("fit", "sweep"):
        raise ValueError(f"path {path!r}: unknown result kind {meta.get('kind')!r}, expected 'fit' or 'sweep'.")
    fields = meta.get("fields")
    ok = isinstance(fields, list) and all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and f.get("encoding") in _ENCODINGS
        and (f["encoding"] != "dict_of_arrays" or (isinstance(f.get("keys"), list)
                                                   and all(isinstance(k, str) for k in f["keys"])))
        and (f["encoding"] != "json" or "value" in f)
        for f in fields
    )
    if not ok:
        raise _CONTAINER.corrupt(path, "malformed 'fields' in the metadata (expected a list of {name, encoding} "
                                       f"with encodings {_ENCODINGS})")
    return meta, data


def read_metadata(path: "str | os.PathLike") -> dict:
    """The JSON metadata of a saved result (kind, config, versions, fields)."""
    return _read(os.fspath(path))[0]


def load_result(path: "str | os.PathLike") -> Any:
    """Read a file written by :func:`save_result` and rebuild the result object.

    Every field is checked against the result type (arrays of the right dtype kind, shapes
    that agree with each other, scalars of the right type) before the object is built.

    Returns:
      :class:`FitResult` (kind ``"fit"``) or :class:`SweepResult` (kind ``"sweep"``).

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: a truncated, foreign or newer-format file, or one whose fields do not fit the
        result type (the message names ``path`` and the field).
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
            else:
                kwargs[name] = spec["value"]
    except KeyError as err:
        raise ValueError(f"path {path!r}: incomplete result file, missing entry {err}.") from err
    cls = FitResult if meta["kind"] == "fit" else SweepResult
    names = {f.name for f in dataclasses.fields(cls)}
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    if not required <= set(kwargs) <= names:
        raise ValueError(
            f"path {path!r}: saved fields {sorted(kwargs)} do not match {cls.__name__} of this awd_jax "
            f"(missing {sorted(required - set(kwargs))}, unknown {sorted(set(kwargs) - names)})."
        )
    try:
        (_check_fit if cls is FitResult else _check_sweep)(kwargs)
    except ValueError as err:
        raise ValueError(f"path {path!r}: {err}; not a valid {cls.__name__} file.") from None
    return cls(**kwargs)


# ---------------------------------------------------------------------------
# the fields of each result type
# ---------------------------------------------------------------------------

_KIND_NAMES = {"f": "floating-point", "b": "bool", "i": "integer"}


def _array(value: Any, name: str, kind: str, ndim: int) -> np.ndarray:
    """``value`` is an ``ndim``-D array of dtype kind ``kind`` ("f", "b" or "i" for signed/unsigned ints)."""
    kinds = "iu" if kind == "i" else kind
    if not isinstance(value, np.ndarray):
        raise ValueError(f"field {name}: expected a {_KIND_NAMES[kind]} array, got {type(value).__name__}")
    if value.dtype.kind not in kinds or value.ndim != ndim:
        raise ValueError(f"field {name}: expected a {ndim}-D {_KIND_NAMES[kind]} array, got dtype {value.dtype} "
                         f"shape {value.shape}")
    return value


def _shape(value: np.ndarray, name: str, shape: Tuple[int, ...]) -> None:
    if value.shape != shape:
        raise ValueError(f"field {name}: expected shape {shape}, got {value.shape}")


def _check_common(kw: dict) -> None:
    if not isinstance(kw.get("config"), dict):
        raise ValueError(f"field config: expected a dict, got {type(kw.get('config')).__name__}")
    history = kw.get("history")
    if not isinstance(history, dict):
        raise ValueError(f"field history: expected a dict of arrays, got {type(history).__name__}")


def _check_fit(kw: dict) -> None:
    """The fields of a :class:`FitResult`: ``h (N,)``, history ``(epochs_run,)`` each, bools and ints, and
    the ``(R, N)``/``(R,)`` arrays of restarts."""
    _check_common(kw)
    h = _array(kw["h"], "h", "f", 1)
    epochs_run = kw.get("epochs_run", 0)
    if isinstance(epochs_run, bool) or not isinstance(epochs_run, int) or epochs_run < 0:
        raise ValueError(f"field epochs_run: expected an int >= 0, got {epochs_run!r}")
    for key, values in kw["history"].items():
        _shape(_array(values, f"history[{key!r}]", "f", 1), f"history[{key!r}]", (epochs_run,))
    if not isinstance(kw.get("diverged", False), bool):
        raise ValueError(f"field diverged: expected a bool, got {kw['diverged']!r}")
    best = kw.get("best_start", 0)
    if isinstance(best, bool) or not isinstance(best, int) or best < 0:
        raise ValueError(f"field best_start: expected an int >= 0, got {best!r}")
    starts = kw.get("starts")
    n_starts = None
    if starts is not None:
        _shape(_array(starts, "starts", "f", 2), "starts", (starts.shape[0], h.shape[0]))
        n_starts = starts.shape[0]
    for name in ("objectives", "objectives_before_refine"):
        if kw.get(name) is not None:
            values = _array(kw[name], name, "f", 1)
            if n_starts is not None:
                _shape(values, name, (n_starts,))
            n_starts = values.shape[0]
    if n_starts is not None and best >= n_starts:
        raise ValueError(f"field best_start: expected an index below the {n_starts} starts, got {best}")


def _check_sweep(kw: dict) -> None:
    """The fields of a :class:`SweepResult` on an ``n_λ × n_γ`` grid of filters of length N."""
    _check_common(kw)
    lams = _array(kw["sparsity"], "sparsity", "f", 1)
    gams = _array(kw["interpretation"], "interpretation", "f", 1)
    grid = (lams.shape[0], gams.shape[0])
    h = _array(kw["h"], "h", "f", 3)
    _shape(h, "h", grid + h.shape[2:])
    _shape(_array(kw["h0"], "h0", "f", 3), "h0", h.shape)
    _shape(_array(kw["diverged"], "diverged", "b", 2), "diverged", grid)
    epochs_run = _array(kw["epochs_run"], "epochs_run", "i", 2)
    _shape(epochs_run, "epochs_run", grid)
    epochs = None
    for key, values in kw["history"].items():
        values = _array(values, f"history[{key!r}]", "f", 3)
        epochs = values.shape[2] if epochs is None else epochs
        _shape(values, f"history[{key!r}]", grid + (epochs,))
    if epochs_run.size and (epochs_run.min() < 0 or (epochs is not None and epochs_run.max() > epochs)):
        raise ValueError(f"field epochs_run: expected values in [0, {epochs}], got {epochs_run.tolist()}")
    n_starts = None
    if kw.get("starts") is not None:
        starts = _array(kw["starts"], "starts", "f", 4)
        n_starts = starts.shape[2]
        _shape(starts, "starts", grid + (n_starts, h.shape[2]))
    for name in ("objectives", "objectives_before_refine"):
        if kw.get(name) is not None:
            values = _array(kw[name], name, "f", 3)
            n_starts = values.shape[2] if n_starts is None else n_starts
            _shape(values, name, grid + (n_starts,))
    if kw.get("best_start") is not None:
        best = _array(kw["best_start"], "best_start", "i", 2)
        _shape(best, "best_start", grid)
        if best.size and (best.min() < 0 or (n_starts is not None and best.max() >= n_starts)):
            raise ValueError(f"field best_start: expected indices in [0, {n_starts}), got {best.tolist()}")
