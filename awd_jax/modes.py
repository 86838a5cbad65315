"""Signal extension: every PyWavelets mode as one padding function.

``extend(x, left, right, mode, axis)`` equals ``pywt.pad`` along ``axis`` for any
pad widths (also wider than the signal), and is linear in ``x`` so it
differentiates and vmaps like any ``jax.numpy`` code. Widths are static Python ints.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pywt

__all__ = ["MODES", "check_mode", "extend"]

#: The nine pywt signal-extension modes, in pywt's order.
MODES: tuple[str, ...] = tuple(pywt.Modes.modes)


def check_mode(mode: str) -> str:
    """Return ``mode`` if pywt knows it, else raise a ValueError naming the choices."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: unknown signal-extension mode {mode!r}; expected one of {', '.join(MODES)}.")
    return mode


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


def extend(x: jax.Array, left: int, right: int, mode: str, axis: int = -1) -> jax.Array:
    """Extend ``x`` by ``left``/``right`` samples along ``axis`` as ``pywt.pad`` does.

    Args:
      x: array ``(..., L, ...)`` with ``L >= 1`` along ``axis``.
      left, right: non-negative static widths.
      mode: one of :data:`MODES` (``periodization`` first repeats the last sample of
        an odd-length signal, then wraps, as pywt does).
      axis: the axis to extend.

    Returns:
      array with ``L + left + right`` samples along ``axis``.
    """
    axis = axis % x.ndim
    length = x.shape[axis]
    if mode == "periodization" and length % 2:
        x = jnp.concatenate([x, jax.lax.slice_in_dim(x, length - 1, length, axis=axis)], axis=axis)
        length += 1
    if left == 0 and right == 0:
        return x
    widths = _widths(x.ndim, axis, left, right)
    if mode == "zero":
        return jnp.pad(x, widths)
    if mode == "constant":
        return jnp.pad(x, widths, mode="edge")
    if mode in ("symmetric", "reflect"):
        return jnp.pad(x, widths, mode=mode)
    if mode in ("periodic", "periodization"):
        return jnp.pad(x, widths, mode="wrap")
    if mode == "antireflect":
        return jnp.pad(x, widths, mode="reflect", reflect_type="odd")
    if mode == "antisymmetric":
        signs = _antisymmetric_signs(length, left, right).astype(x.dtype)
        return jnp.pad(x, widths, mode="symmetric") * signs.reshape(_shape_along(axis, x.ndim, signs.size))
    if mode == "smooth":
        first = jax.lax.slice_in_dim(x, 0, 1, axis=axis)
        last = jax.lax.slice_in_dim(x, length - 1, length, axis=axis)
        if length == 1:  # no slope to continue: pywt repeats the sample
            return jnp.pad(x, widths, mode="edge")
        slope_l = first - jax.lax.slice_in_dim(x, 1, 2, axis=axis)
        slope_r = last - jax.lax.slice_in_dim(x, length - 2, length - 1, axis=axis)
        k_l = np.arange(left, 0, -1, dtype=np.float64).astype(x.dtype).reshape(_shape_along(axis, x.ndim, left))
        k_r = np.arange(1, right + 1, dtype=np.float64).astype(x.dtype).reshape(_shape_along(axis, x.ndim, right))
        return jnp.concatenate([first + k_l * slope_l, x, last + k_r * slope_r], axis=axis)
    raise ValueError(f"mode: unknown signal-extension mode {mode!r}; expected one of {', '.join(MODES)}.")
