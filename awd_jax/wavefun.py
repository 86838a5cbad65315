"""Scaling function, wavelet and wavelet distance of a filter (docs/method.md#reading-the-wavelet).

The cascade algorithm reproduces PyWavelets' ``Wavelet.wavefun`` for orthogonal
filter banks: start from the single coefficient ``sqrt(2)**level`` and apply
``level`` synthesis steps (upsample by two, full convolution) with the lowpass
``h`` (for φ), or first with the highpass ``g`` and then ``level - 1`` times with
``h`` (for ψ). The result is placed on the grid ``x = arange(n) / 2**level``
after one leading zero and padded with trailing zeros.

Length convention. pywt has two code paths that differ by one trailing zero:

* the *reference* convention (default, docs/method.md#reading-the-wavelet): what the reference code got from
  ``pywt.Wavelet(name, filter_bank=...)`` (a wavelet not flagged orthogonal):
  ``n = (N - 1) * 2**level`` samples on ``[0, (n - 1) / 2**level]``; for ``N = 10``,
  ``level = 5``: 288 samples on ``[0, 8.96875]``;
* pywt's orthogonal path (``pywt.Wavelet('db5').wavefun(5)``, or a wavelet from
  :func:`awd_jax.to_pywt`): one more sample, a zero at ``x = N - 1``
  (289 samples on ``[0, 9]``). Ask for it with ``include_end=True``.

Both are equal on their common samples (same sign). For ``N = 2`` (Haar) pywt pads
to ``2**level + 2`` samples in both paths, and so do we.
"""

from __future__ import annotations

import functools
from typing import Any, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax import _validate
from awd_jax.filters import WaveletLike, highpass

__all__ = ["wavefun", "wavefun_length", "wavelet_distance", "filter_distance"]


def _check_level(level: Any) -> int:
    return _validate.integer(level, "level", least=1)


def wavefun_length(filter_len: int, level: int, include_end: bool = False) -> int:
    """Number of samples :func:`wavefun` returns for a filter of length ``filter_len``.

    ``max((N-1)·2**level + include_end, keep + 2)`` with ``keep = (N-1)·2**level - N + 2``
    the length of the cascade itself (pywt's ``fix_output_length``).
    """
    p = 2**level
    keep = _cascade_length(filter_len, level)
    return max((filter_len - 1) * p + int(include_end), keep + 2)


def _cascade_length(filter_len: int, level: int) -> int:
    n = 1
    for _ in range(level):
        n = 2 * n + filter_len - 2
    return n


def _upsample_full_conv(c: jax.Array, f: jax.Array) -> jax.Array:
    """One synthesis step: insert zeros between samples (length 2L-1), full convolution."""
    up = jnp.zeros((2 * c.shape[0] - 1,), c.dtype).at[::2].set(c)
    return jnp.convolve(up, f, mode="full", precision=jax.lax.Precision.HIGHEST)


def _as_filter(h: WaveletLike) -> jax.Array:
    return _validate.filter_taps(h, "h", finite=False)


@functools.partial(jax.jit, static_argnames=("level", "include_end"))
def _wavefun(h: jax.Array, level: int, include_end: bool) -> Tuple[jax.Array, jax.Array, jax.Array]:
    n_taps = h.shape[0]
    g = highpass(h)
    start = jnp.full((1,), np.sqrt(2.0) ** level, h.dtype)
    phi = _upsample_full_conv(start, h)
    psi = _upsample_full_conv(start, g)
    for _ in range(level - 1):
        phi = _upsample_full_conv(phi, h)
        psi = _upsample_full_conv(psi, h)
    n_out = wavefun_length(n_taps, level, include_end)
    right = n_out - 1 - phi.shape[0]
    zero = jnp.zeros((1,), h.dtype)
    tail = jnp.zeros((right,), h.dtype)
    phi = jnp.concatenate([zero, phi, tail])
    psi = jnp.concatenate([zero, psi, tail])
    x = jnp.asarray(np.arange(n_out) / 2.0**level, dtype=h.dtype)
    return phi, psi, x


def wavefun(
    h: WaveletLike, level: int = 5, *, include_end: bool = False
) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """Scaling function φ and wavelet ψ of the filter ``h`` by the cascade algorithm.

    Args:
      h: the lowpass filter (pywt ``rec_lo``), shape ``(N,)``: a 1-D array (may be
        traced; gradients flow to it), a pywt name or a ``pywt.Wavelet``.
      level: number of cascade iterations (static); the grid step is ``2**-level``.
      include_end: ``False`` (default): the reference convention, ``(N-1)·2**level``
        samples (288 for ``N = 10``, ``level = 5``), equal to the first samples of
        pywt's output. ``True``: exactly pywt's orthogonal ``wavefun`` (one more
        trailing zero).

    Returns:
      ``(phi, psi, x)``, each of shape ``(n,)`` with ``n = wavefun_length(N, level,
      include_end)``, in ``h``'s float dtype (float32 by default).
    """
    level = _check_level(level)
    return _wavefun(_as_filter(h), level, bool(include_end))


def _safe_norm(sq: jax.Array) -> jax.Array:
    """sqrt with a zero (not NaN) gradient at 0, so d(h, h) can be differentiated."""
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


def _circular_distance(a: jax.Array, b: jax.Array, p: int = 2) -> jax.Array:
    """``min_s min(‖roll(a, s) − b‖_p, ‖roll(a[::-1], s) − b‖_p)`` for equal-length 1-D arrays (p = 1 or 2)."""
    n = a.shape[0]
    # roll(v, s)[i] = v[(i - s) % n]; one row per shift s
    idx = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n

    def norms(v: jax.Array) -> jax.Array:
        diff = v[idx] - b[None, :]
        return jnp.sum(jnp.abs(diff), axis=-1) if p == 1 else _safe_norm(jnp.sum(diff**2, axis=-1))

    return jnp.minimum(jnp.min(norms(a)), jnp.min(norms(a[::-1])))


def _pad_to_common(a: jax.Array, b: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """Zero-pad the shorter of two 1-D arrays at the end."""
    n = max(a.shape[0], b.shape[0])
    return jnp.pad(a, (0, n - a.shape[0])), jnp.pad(b, (0, n - b.shape[0]))


@functools.partial(jax.jit, static_argnames=("level",))
def _wavelet_distance(h_a: jax.Array, h_b: jax.Array, level: int) -> jax.Array:
    dtype = jnp.result_type(h_a.dtype, h_b.dtype)
    _, psi_a, _ = _wavefun(h_a.astype(dtype), level, False)
    _, psi_b, _ = _wavefun(h_b.astype(dtype), level, False)
    return _circular_distance(*_pad_to_common(psi_a, psi_b))


def wavelet_distance(h_a: WaveletLike, h_b: WaveletLike, level: int = 5) -> jax.Array:
    """Shift- and flip-invariant distance between the wavelets ψ of two filters (docs/method.md#reading-the-wavelet).

    ψ of each filter comes from :func:`wavefun` (reference convention); the shorter
    is zero-padded at the end to the common length ``n``, then

    ``d = min_s min(‖roll(ψ_a, s) − ψ_b‖₂, ‖roll(ψ_a[::-1], s) − ψ_b‖₂)``

    over all ``n`` circular shifts ``s``. Symmetric in its arguments; 0 for equal
    filters. Reference values: d(sym5, db5) = 1.28044, d(coif2, db5) = 3.52819.

    Args:
      h_a, h_b: filters of shapes ``(N_a,)`` and ``(N_b,)`` (arrays, possibly traced,
        pywt names or ``pywt.Wavelet``); lengths may differ.
      level: cascade level (static).

    Returns:
      A scalar array (float dtype of the filters).
    """
    level = _check_level(level)
    return _wavelet_distance(_as_filter(h_a), _as_filter(h_b), level)


@jax.jit
def _filter_distance(h_a: jax.Array, h_b: jax.Array) -> jax.Array:
    dtype = jnp.result_type(h_a.dtype, h_b.dtype)
    return _circular_distance(*_pad_to_common(h_a.astype(dtype), h_b.astype(dtype)), p=1)


def filter_distance(h_a: WaveletLike, h_b: WaveletLike) -> jax.Array:
    """Shift- and flip-invariant L1 distance between two lowpass filters.

    The distance the reference repository's simulation notebooks report (its
    ``dist``): the shorter filter is zero-padded at the end to the common length
    ``n``, then ``min_s min(Σ|roll(h_a, s) − h_b|, Σ|roll(h_a[::-1], s) − h_b|)`` over
    the ``n`` circular shifts. It compares the filters, not ψ, so it stays small for
    filters that are far from orthogonal; docs/method.md#reading-the-wavelet :func:`wavelet_distance` is the
    one the simulation selects by. Values: d(sym5, db5) = 0.625316,
    d(coif2, db5) = 1.106507, d(db5, db5) = 0.

    Args:
      h_a, h_b: filters ``(N_a,)`` and ``(N_b,)`` (arrays, possibly traced, pywt names or
        ``pywt.Wavelet``); lengths may differ.

    Returns:
      A scalar array (float dtype of the filters).
    """
    return _filter_distance(_as_filter(h_a), _as_filter(h_b))
