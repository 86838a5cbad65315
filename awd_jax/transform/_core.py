"""The separable n-D transform: one jitted code path for 1D, 2D and n-D.

Coefficients are dicts keyed like pywt's ``dwtn``: one letter per transformed axis,
in ``axes`` order, ``'a'`` for the lowpass and ``'d'`` for the highpass band
(``'ad'``: lowpass along ``axes[0]``, highpass along ``axes[1]``). 1D and 2D layouts
are views of these dicts made by the public functions.

Static: ``modes`` and ``axes`` (tuples, one entry per transformed axis), ``level``,
``impl`` (resolved). Traced: data, coefficients and the per-axis filter banks.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp

from awd_jax.filters import FilterBank
from awd_jax.transform._bank import analysis, synthesis

__all__ = ["dwtn_core", "idwtn_core", "wavedecn_core", "waverecn_core", "match_approx"]

Coeffs = dict  # {'aa': array, 'ad': array, ...}


def _dwtn(x: jax.Array, banks: Sequence[FilterBank], modes: Sequence[str], axes: Sequence[int],
          impl: str) -> Coeffs:
    """One level along each of ``axes`` in turn (pywt's ``dwtn``), keys in pywt's order."""
    coeffs = {"": x}
    for axis, bank, mode in zip(axes, banks, modes):
        split = {}
        for key, arr in coeffs.items():
            split[key + "a"], split[key + "d"] = analysis(arr, bank, mode, axis, impl)
        coeffs = split
    return coeffs


def _idwtn(coeffs: Coeffs, banks: Sequence[FilterBank], modes: Sequence[str], axes: Sequence[int],
           impl: str) -> jax.Array:
    """Inverse of :func:`_dwtn`; every key of length ``len(axes)`` present (zeros filled in)."""
    for depth in range(len(axes) - 1, -1, -1):
        axis, bank, mode = axes[depth], banks[depth], modes[depth]
        merged = {}
        for key in {k[:depth] for k in coeffs}:
            merged[key] = synthesis(coeffs[key + "a"], coeffs[key + "d"], bank, mode, axis, impl)
        coeffs = merged
    return coeffs[""]


def match_approx(a: jax.Array, shape: Sequence[int]) -> jax.Array:
    """pywt's rule: drop the last approximation sample where it is one longer than the details."""
    for ax, size in enumerate(shape):
        if a.shape[ax] == size + 1:
            a = jax.lax.slice_in_dim(a, 0, size, axis=ax)
    return a


@functools.partial(jax.jit, static_argnames=("modes", "axes", "impl"))
def dwtn_core(x, banks, modes, axes, impl) -> Coeffs:
    """Jitted :func:`_dwtn`."""
    return _dwtn(x, banks, modes, axes, impl)


@functools.partial(jax.jit, static_argnames=("modes", "axes", "impl"))
def idwtn_core(coeffs, banks, modes, axes, impl) -> jax.Array:
    """Jitted :func:`_idwtn`."""
    return _idwtn(coeffs, banks, modes, axes, impl)


@functools.partial(jax.jit, static_argnames=("level", "modes", "axes", "impl"))
def wavedecn_core(x, banks, level, modes, axes, impl) -> list:
    """``[cA_J, details_J, ..., details_1]``, each ``details`` a dict without the ``'a…a'`` key."""
    approx_key = "a" * len(axes)
    details = []
    a = x
    for _ in range(level):
        coeffs = _dwtn(a, banks, modes, axes, impl)
        a = coeffs.pop(approx_key)
        details.append(coeffs)
    return [a] + details[::-1]


@functools.partial(jax.jit, static_argnames=("modes", "axes", "impl"))
def waverecn_core(approx, details, banks, modes, axes, impl) -> jax.Array:
    """Inverse of :func:`wavedecn_core`; ``details`` complete dicts (zeros filled in).

    ``approx`` is the coarsest approximation; each level's approximation is cropped to
    its details' shape by :func:`match_approx` before it is merged.
    """
    approx_key = "a" * len(axes)
    a = approx
    for level_details in details:
        shape = next(iter(level_details.values())).shape
        a = _idwtn({**level_details, approx_key: match_approx(a, shape)}, banks, modes, axes, impl)
    return a


def zeros_for(shape: Sequence[int], dtype) -> jax.Array:
    """A zero band (for coefficients given as ``None`` or left out)."""
    return jnp.zeros(tuple(shape), dtype)
