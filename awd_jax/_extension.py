"""Signal extension: every PyWavelets mode as one padding function, and mode names.

``extend(x, left, right, mode, axis)`` equals ``pywt.pad`` along ``axis`` for any
pad widths (also wider than the signal), and is linear in ``x`` so it
differentiates and vmaps like any ``jax.numpy`` code. Widths are static Python ints.

:func:`mode_name` resolves what pywt accepts as a mode (a name, one of pywt's
deprecated aliases such as ``"zpd"``, or pywt's integer ``Modes`` value) to the name,
with pywt's exception types for bad values.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pywt

__all__ = ["MODES", "mode_name", "extend"]

#: The nine pywt signal-extension modes, in pywt's order.
MODES: tuple[str, ...] = tuple(pywt.Modes.modes)

#: pywt's deprecated mode names and what they were renamed to.
DEPRECATED_MODES = {"zpd": "zero", "cpd": "constant", "sp1": "smooth", "sym": "symmetric",
                    "ppd": "periodic", "per": "periodization"}

#: pywt's integer ``Modes`` values (``pywt.Modes.zero == 0`` ...) and their names.
_MODE_BY_VALUE = {int(getattr(pywt.Modes, m)): m for m in MODES}


def mode_name(mode: Any, name: str = "mode") -> str:
    """The pywt mode name for ``mode`` (a name, a deprecated alias or pywt's integer value).

    Raises:
      TypeError: ``mode`` is neither a string nor an integer (e.g. ``None``), as pywt.
      ValueError: an unknown name or an integer outside pywt's modes, as pywt.
    """
    if isinstance(mode, str):
        if mode in MODES:
            return mode
        if mode in DEPRECATED_MODES:
            new = DEPRECATED_MODES[mode]
            warnings.warn(f"{name}: {mode!r} is pywt's deprecated name of {new!r}; use {new!r}.",
                          DeprecationWarning, stacklevel=3)
            return new
        raise ValueError(f"{name}: unknown signal-extension mode {mode!r}; expected one of {', '.join(MODES)}.")
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, (bool, np.bool_)):
        if int(mode) in _MODE_BY_VALUE:
            return _MODE_BY_VALUE[int(mode)]
        raise ValueError(f"{name}: {int(mode)} is not a pywt mode value; expected 0..{len(MODES) - 1} or a name "
                         f"({', '.join(MODES)}).")
    raise TypeError(f"{name}: expected a mode name such as 'symmetric' or 'zero', got {type(mode).__name__}.")


def _widths(ndim: int, axis: int, left: int, right: int) -> list[tuple[int, int]]:
    widths = [(0, 0)] * ndim
    widths[axis] = (left, right)
    return widths


@functools.lru_cache(maxsize=None)
def _antisymmetric_signs(length: int, left: int, right: int) -> np.ndarray:
    # pywt's antisymmetric extension is its symmetric one with every other
    # reflected segment negated; padding ones reveals that static sign pattern.
    return pywt.pad(np.ones(length), (left, right), "antisymmetric")


def _shape_along(axis: int, ndim: int, n: int) -> tuple[int, ...]:
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


def _take(x, start: int, stop: int, axis: int):
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def extend(x, left: int, right: int, mode: str, axis: int = -1):
    """Extend ``x`` by ``left``/``right`` samples along ``axis`` as ``pywt.pad`` does.

    Args:
      x: array ``(..., L, ...)`` with ``L >= 1`` along ``axis``: a JAX array, or a NumPy
        array (then computed in NumPy, e.g. for constant structure matrices).
      left, right: non-negative static widths.
      mode: one of :data:`MODES` (``periodization`` first repeats the last sample of
        an odd-length signal, then wraps, as pywt does).
      axis: the axis to extend.

    Returns:
      array with ``L + left + right`` samples along ``axis`` (one more for an odd
      signal in periodization mode).
    """
    xp = np if isinstance(x, np.ndarray) else jnp
    axis = axis % x.ndim
    length = x.shape[axis]
    if mode == "periodization" and length % 2:
        x = xp.concatenate([x, _take(x, length - 1, length, axis)], axis=axis)
        length += 1
    if left == 0 and right == 0:
        return x
    widths = _widths(x.ndim, axis, left, right)
    if mode == "zero":
        return xp.pad(x, widths)
    if mode == "constant":
        return xp.pad(x, widths, mode="edge")
    if mode in ("symmetric", "reflect"):
        return xp.pad(x, widths, mode=mode)
    if mode in ("periodic", "periodization"):
        return xp.pad(x, widths, mode="wrap")
    if mode == "antireflect":
        return xp.pad(x, widths, mode="reflect", reflect_type="odd")
    if mode == "antisymmetric":
        signs = _antisymmetric_signs(length, left, right).astype(x.dtype)
        return xp.pad(x, widths, mode="symmetric") * signs.reshape(_shape_along(axis, x.ndim, signs.size))
    if mode == "smooth":
        first = _take(x, 0, 1, axis)
        last = _take(x, length - 1, length, axis)
        if length == 1:  # no slope to continue: pywt repeats the sample
            return xp.pad(x, widths, mode="edge")
        slope_l = first - _take(x, 1, 2, axis)
        slope_r = last - _take(x, length - 2, length - 1, axis)
        k_l = np.arange(left, 0, -1, dtype=np.float64).astype(x.dtype).reshape(_shape_along(axis, x.ndim, left))
        k_r = np.arange(1, right + 1, dtype=np.float64).astype(x.dtype).reshape(_shape_along(axis, x.ndim, right))
        return xp.concatenate([first + k_l * slope_l, x, last + k_r * slope_r], axis=axis)
    raise ValueError(f"mode: unknown signal-extension mode {mode!r}; expected one of {', '.join(MODES)}.")
