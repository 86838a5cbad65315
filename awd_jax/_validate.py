"""The argument rules every entry point uses (internal).

``fit``, ``sweep``, ``awd_loss``, ``attributions``, ``compression_factor_for``, the
transforms and :class:`awd_jax.Objective` check their arguments with these functions, so
one bad value gets one error everywhere. Every message names the argument, what was
expected and what was received: ``"level: expected an int >= 0, got float 2.7."``.

Rules:

* :func:`integer` — counts and sizes (``level``, ``epochs``, ``batch_size``, ``steps``,
  ``target``, ``seed``, ``length`` ...): a Python or NumPy int; ``bool``, floats (even
  ``2.0``) and strings are refused with :class:`ArgumentTypeError`, values below the least
  allowed with ``ValueError``.
* :func:`number` — λ (``sparsity``), γ (``interpretation``), ``learning_rate``,
  ``threshold``: a finite real number ``>= 0``; traced values pass unchecked.
  :func:`grid` is the same rule for the 1-D grids of ``sweep``.
* :func:`choice` and :func:`dims` — a value from a fixed set.
* :func:`data_dtype`, :func:`data_layout`, :func:`as_data` — samples: real numbers
  (floating kept, integers become JAX's default float; complex, bool and other dtypes
  refused), at least ``dims + 1`` dimensions with a leading sample/batch axis, at least
  one sample, finite (checked on concrete values only).
* :func:`as_float` — JAX's default float for non-float input (the one float coercion).
* :func:`filter_taps` — a lowpass ``h`` (name, ``pywt.Wavelet`` or even-length 1-D array)
  as an array; finite taps (concrete values only); the errors name the argument (``h0``).
* :func:`teacher` — ``teacher_fn`` is callable (or ``None`` where that is allowed).
* :func:`coeff_leaves` — a coefficient structure (lists/tuples of arrays, tuples of 2-D
  bands, dicts of n-D bands) flattened to its arrays and their paths.
* :func:`checkpoint_dir` — a folder that is, or can be created as, a directory.

Imports flow one way: this module imports nothing from awd_jax but :mod:`awd_jax.filters`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax.filters import lowpass

__all__ = [
    "ArgumentTypeError", "describe", "is_traced", "float_dtype", "as_float", "integer", "number", "grid",
    "choice", "dims", "data_dtype", "data_layout", "as_data", "check_finite", "filter_taps", "teacher",
    "coeff_leaves", "checkpoint_dir", "array_like", "DIMS",
]

#: ``dims`` values: signals, images, volumes
DIMS = (1, 2, 3)


class ArgumentTypeError(TypeError, ValueError):
    """A scalar argument of the wrong kind (``True`` or ``2.7`` where an int is expected, a string
    where a number is): a ``TypeError``, and a ``ValueError`` too, since a number of the wrong kind
    is also a bad value, so code catching either sees it (as ``numpy.exceptions.AxisError`` is both
    a ``ValueError`` and an ``IndexError``)."""


def describe(value: Any, limit: int = 60) -> str:
    """``"float 2.7"``: the type name and a (shortened) repr of a received value."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def is_traced(value: Any) -> bool:
    """Whether ``value`` is a JAX tracer (its values are unknown until run)."""
    return isinstance(value, jax.core.Tracer)


def float_dtype() -> np.dtype:
    """JAX's default float: float32, or float64 with ``jax_enable_x64``."""
    return np.dtype(jnp.zeros(()).dtype)


# ---------------------------------------------------------------------------
# scalars
# ---------------------------------------------------------------------------


def integer(value: Any, name: str, *, least: int | None = None, none_ok: bool = False) -> int | None:
    """``value`` as a Python int (``None`` passes when ``none_ok``).

    Raises:
      ArgumentTypeError: not a Python/NumPy int (``bool``, floats such as ``2.0``, strings, arrays).
      ValueError: below ``least``.
    """
    if value is None and none_ok:
        return None
    want = "an int" + ("" if least is None else f" >= {least}") + (" or None" if none_ok else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{name}: expected {want}, got {describe(value)}.")
    if least is not None and value < least:
        raise ValueError(f"{name}: expected {want}, got {int(value)}.")
    return int(value)


def _real_scalar(value: Any) -> float | None:
    """``float(value)`` for a real number (Python, NumPy scalar or 0-d concrete array), else ``None``."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (np.ndarray, jax.Array)) and value.shape == () and value.dtype.kind in "iuf":
        return float(value)
    return None


def number(value: Any, name: str, *, least: float = 0.0, check_jax_arrays: bool = True) -> Any:
    """A finite real number ``>= least`` (λ, γ, learning rates, thresholds).

    Traced values pass unchecked (``sweep`` vmaps over λ and γ), and so do JAX arrays with
    ``check_jax_arrays=False`` (the objective, where they are the engine's (possibly traced)
    values; checking a concrete one would wait for the device). Returns ``value`` itself
    for arrays and a Python float otherwise.

    Raises:
      ArgumentTypeError: not a real number (``bool``, a string, a non-scalar or complex array).
      ValueError: NaN, infinite, or below ``least``.
    """
    if is_traced(value) or (not check_jax_arrays and isinstance(value, jax.Array)):
        return value
    want = f"a finite number >= {least:g}"
    v = _real_scalar(value)
    if v is None:
        raise ArgumentTypeError(f"{name}: expected {want}, got {describe(value)}.")
    if not math.isfinite(v) or v < least:
        raise ValueError(f"{name}: expected {want}, got {v!r}.")
    return value if isinstance(value, (np.ndarray, jax.Array)) else v


def grid(values: Any, name: str) -> np.ndarray:
    """A non-empty 1-D grid of finite numbers ``>= 0`` (a scalar is a grid of one), sorted ascending, float64.

    Raises:
      ArgumentTypeError: an entry that is not a real number.
      ValueError: empty, not 1-D, or an entry NaN, infinite or negative.
    """
    if isinstance(values, (str, bytes, Mapping)) or values is None:
        raise ArgumentTypeError(f"{name}: expected a number or a 1-D sequence of numbers, got {describe(values)}.")
    items = values if isinstance(values, (list, tuple, np.ndarray, jax.Array, range)) else [values]
    try:
        arr = np.asarray(items)
    except (TypeError, ValueError) as err:  # ragged nesting
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of values ({err}).") from None
    if arr.dtype.kind not in "iuf":
        flat = list(np.ravel(np.asarray(items, dtype=object)))
        bad = next((v for v in flat if _real_scalar(v) is None), flat[0] if flat else items)
        raise ArgumentTypeError(f"{name}: expected finite non-negative numbers, got {describe(bad)}.")
    arr = np.atleast_1d(arr.astype(np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of values, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name}: expected finite non-negative values, got {arr.tolist()}.")
    return np.sort(arr)


def choice(value: Any, choices: Sequence[str], name: str) -> str:
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}.")
    return value


def dims(value: Any) -> int:
    """``dims``: 1 (signals), 2 (images) or 3 (volumes)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value not in DIMS:
        raise ValueError(f"dims: expected 1 (signals), 2 (images) or 3 (volumes), got {value!r}.")
    return int(value)


# ---------------------------------------------------------------------------
# arrays: data and the float coercion
# ---------------------------------------------------------------------------


def as_float(x: Any) -> jax.Array:
    """``x`` as a JAX array of a float dtype: floating arrays kept (traced stay traced), anything
    else cast to JAX's default float. Callers check the dtype first (:func:`data_dtype`) where
    integers are the only other kind allowed."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(float_dtype())


def data_dtype(dtype: Any, name: str) -> np.dtype:
    """The dtype samples of ``dtype`` are computed in: floating kept, integers → JAX's default float.

    Raises:
      TypeError: complex (the objective and the teachers are real), bool, or non-numeric.
    """
    dtype = np.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.floating):
        return dtype
    if jnp.issubdtype(dtype, jnp.integer):
        return float_dtype()
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(
            f"{name}: expected real numbers (a floating-point or integer array), got complex dtype {dtype}; "
            f"the objective is defined for real data (pass x.real, or the real and imaginary parts as channels)."
        )
    raise TypeError(f"{name}: expected a real floating-point or integer array, got dtype {dtype}.")


def _layout(dims_: int, batch: str) -> str:
    return {1: f"({batch}, ..., L)", 2: f"({batch}, ..., H, W)", 3: f"({batch}, ..., D, H, W)"}[dims_]


def data_layout(shape: Sequence[int], dims_: int, name: str, batch: str = "n") -> None:
    """At least ``dims + 1`` dimensions (a leading sample/batch axis ``batch``) and one sample.

    Raises:
      ValueError: too few dimensions for ``dims`` (e.g. ``dims=2`` on ``(B, L)``), or no sample.
    """
    shape = tuple(int(s) for s in shape)
    need = dims_ + 1
    if len(shape) < need:
        raise ValueError(
            f"{name}: expected at least {need} dimensions {_layout(dims_, batch)} for dims={dims_}, "
            f"got shape {shape}."
        )
    if shape[0] < 1:
        raise ValueError(f"{name}: expected at least one sample, got shape {shape}.")


def check_finite(x: Any, name: str) -> None:
    """NaN/inf in a concrete ``x`` raise ``ValueError``; traced values pass (and so does a concrete
    array met inside a ``jit`` trace, where the check itself would be traced)."""
    if is_traced(x):
        return
    xp = np if isinstance(x, np.ndarray) else jnp
    finite = xp.isfinite(x)
    all_finite = finite.all()
    if is_traced(all_finite):
        return
    if not bool(all_finite):
        bad = int((~finite).sum())
        raise ValueError(f"{name}: expected finite values, found {bad} NaN/inf entries.")


def array_like(x: Any, name: str) -> Any:
    """``x`` itself when it has ``shape`` and ``dtype``, else ``np.asarray(x)``; TypeError for non-arrays."""
    if isinstance(x, (str, bytes, Mapping, set)) or x is None:
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}.")
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected an array or a nested sequence of numbers ({err}).") from None


def as_data(x: Any, dims_: int, name: str = "data", *, batch: str = "n", finite: bool = True) -> jax.Array:
    """Samples ``(n, ..., L)`` (``dims=1``), ``(n, ..., H, W)`` (2) or ``(n, ..., D, H, W)`` (3) as a
    JAX array of a float dtype: the dtype, layout and finiteness rules above.

    Raises:
      TypeError: not an array, or not real numbers.
      ValueError: too few dimensions, no sample, NaN/inf (concrete values only).
    """
    x = array_like(x, name)
    dtype = data_dtype(x.dtype, name)
    data_layout(x.shape, dims_, name, batch)
    if finite and isinstance(x, np.ndarray):
        check_finite(x, name)  # on the host, before any copy to the device
        finite = False
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):  # integers: JAX's default float
        x = x.astype(dtype)
    if finite:
        check_finite(x, name)
    return x


# ---------------------------------------------------------------------------
# filters, teachers, coefficient structures, folders
# ---------------------------------------------------------------------------


def filter_taps(h: Any, name: str = "h", dtype: Any = None, *, finite: bool = True) -> jax.Array:
    """A lowpass filter (pywt name, orthogonal ``pywt.Wavelet`` or even-length 1-D array) as a JAX array.

    In ``dtype`` when given, else floating arrays keep theirs and the rest (names, integer
    taps) take JAX's default float. With ``finite``, concrete taps must be finite.

    Raises:
      TypeError/ValueError: :func:`awd_jax.lowpass`'s, naming ``name``; ``ValueError`` for NaN/inf taps.
    """
    try:
        taps = lowpass(h)
    except (TypeError, ValueError) as err:
        text = str(err)
        if text.startswith(f"{name}:"):
            raise
        raise type(err)(f"{name}{text[1:]}" if text.startswith("h:") else f"{name}: {text}") from None
    if finite and not is_traced(taps):
        values = np.asarray(taps)
        if not np.all(np.isfinite(values)):
            where = np.flatnonzero(~np.isfinite(values)).tolist()
            raise ValueError(f"{name}: expected finite filter taps, got NaN/inf at index {where} "
                             f"(filter {values.tolist()}).")
    out = jnp.asarray(taps) if dtype is None else jnp.asarray(taps).astype(dtype)
    return out if jnp.issubdtype(out.dtype, jnp.floating) else out.astype(float_dtype())


def teacher(teacher_fn: Any, *, none_ok: bool = True) -> Any:
    """``teacher_fn`` when it is callable (or ``None`` where the interpretation term may be dropped)."""
    if teacher_fn is None and none_ok:
        return None
    if not callable(teacher_fn):
        allowed = " or None" if none_ok else ""
        raise TypeError(
            f"teacher_fn: expected a callable x -> (B,) or (B, K) (or teacher_fn(params, x)){allowed}, "
            f"got {describe(teacher_fn)}."
        )
    return teacher_fn


def coeff_leaves(coeffs: Any, name: str = "coeffs") -> tuple[list, list[str]]:
    """The arrays of a coefficient structure and their paths (``"[1][0]"``, ``"[2]['ad']"``).

    A structure is a non-empty list or tuple of groups (``wavedec``'s ``[cA_J, cD_J, ...]``); a
    group is an array, a list/tuple of arrays (``wavedec2``'s ``(cH, cV, cD)``) or a dict of
    arrays (``wavedecn``'s details, keys in sorted order, as ``jax.tree_util``). Arrays are
    anything with ``shape`` and ``dtype`` (tracers included); lists and tuples give the same
    paths, so two structures compare by their paths.

    Raises:
      TypeError: the top level is not a list/tuple, or a leaf is not an array.
      ValueError: an empty list, tuple or dict.
    """
    if not isinstance(coeffs, (list, tuple)):
        raise TypeError(
            f"{name}: expected a list of arrays (1D, [cA_J, cD_J, ..., cD_1]), a list with (cH, cV, cD) "
            f"tuples (2D) or with dicts of arrays (n-D), got {type(coeffs).__name__}."
        )
    leaves: list = []
    paths: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, (list, tuple)):
            items = list(enumerate(node))
        elif isinstance(node, Mapping):
            items = [(k, node[k]) for k in sorted(node)]
        elif hasattr(node, "shape") and hasattr(node, "dtype"):
            leaves.append(node)
            paths.append(path)
            return
        else:
            raise TypeError(f"{name}{path}: expected an array, got {describe(node)}.")
        if not items:
            raise ValueError(f"{name}{path}: empty coefficient structure (expected arrays in it).")
        for key, sub in items:
            walk(sub, f"{path}[{key!r}]" if isinstance(key, str) else f"{path}[{key}]")

    walk(coeffs, "")
    return leaves, paths


def checkpoint_dir(path: Any) -> None:
    """``checkpoint_dir`` (``None`` or a path) is a folder or can be created as one.

    Raises:
      TypeError: not a ``str``/``os.PathLike``.
      ValueError: it is a file, lies below a file, or its nearest existing folder is not writable.
    """
    if path is None:
        return
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir: expected None or a folder path (str or os.PathLike), got {describe(path)}.")
    target = os.path.abspath(os.fspath(path))
    if os.path.exists(target) and not os.path.isdir(target):
        raise ValueError(f"checkpoint_dir: expected a folder, got the file {target!r}.")
    existing = target
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise ValueError(f"checkpoint_dir: {target!r} cannot be created: {existing!r} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"checkpoint_dir: the folder {existing!r} is not writable, so {target!r} cannot hold "
                         f"a checkpoint.")
