"""Filter penalties of the AWD objective (docs/method.md#objective): pure functions of ``h``.

Each keeps the reference code's 0.5 factor (the paper writes them without it).
All are polynomials in ``h``: real arithmetic only, differentiable any number of times,
jittable, in ``h``'s float dtype.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax import _validate
from awd_jax.filters import highpass

__all__ = ["Penalties", "cmf", "conv", "hsum", "l2norm", "lsum", "penalties"]


class Penalties(NamedTuple):
    """The five filter penalties, each a scalar."""

    lsum: jax.Array
    hsum: jax.Array
    l2norm: jax.Array
    cmf: jax.Array
    conv: jax.Array


def _as_filter(h: Any) -> jax.Array:
    """``h`` (an even-length 1-D array, or a name) in a float dtype; NaN taps allowed (they show in the value)."""
    return _validate.filter_taps(h, "h", finite=False)


def lsum(h: Any) -> jax.Array:
    """``0.5 (Σ h − √2)²``; ``h``: ``(N,)`` → scalar."""
    h = _as_filter(h)
    return 0.5 * (jnp.sum(h) - jnp.sqrt(jnp.asarray(2.0, h.dtype))) ** 2


def hsum(h: Any) -> jax.Array:
    """``0.5 (Σ g)²`` with the tied highpass ``g``; ``h``: ``(N,)`` → scalar."""
    h = _as_filter(h)
    return 0.5 * jnp.sum(highpass(h)) ** 2


def l2norm(h: Any) -> jax.Array:
    """``0.5 (Σ h² − 1)²``; ``h``: ``(N,)`` → scalar."""
    h = _as_filter(h)
    return 0.5 * (jnp.sum(h * h) - 1.0) ** 2


def cmf(h: Any) -> jax.Array:
    """Conjugate-mirror condition ``0.5 Σ_{k<N/2} (H[k] + H[k+N/2] − 2)²``.

    ``H = |DFT_N(h)|²`` (N-point DFT, no padding), computed with real cos/sin sums.
    """
    h = _as_filter(h)
    n = h.shape[0]
    ang = 2.0 * np.pi * np.outer(np.arange(n), np.arange(n)) / n  # (k, t), float64 on host
    re = jnp.asarray(np.cos(ang), h.dtype) @ h
    im = jnp.asarray(np.sin(ang), h.dtype) @ h
    power = re * re + im * im
    half = n // 2
    return 0.5 * jnp.sum((power[:half] + power[half:] - 2.0) ** 2)


def conv(h: Any) -> jax.Array:
    """Orthogonality to even shifts: ``0.5 Σ_{j=0..N} (r(2j−N) − δ_{j,N/2})²``.

    ``r(m) = Σ_k h[k] h[k+m]`` (zero outside ``|m| < N``; ``r(−m) = r(m)``).
    """
    h = _as_filter(h)
    n = h.shape[0]
    total = jnp.zeros((), h.dtype)
    for j in range(n + 1):
        m = abs(2 * j - n)
        r = jnp.sum(h[: n - m] * h[m:]) if m < n else jnp.zeros((), h.dtype)
        total = total + (r - (1.0 if 2 * j == n else 0.0)) ** 2
    return 0.5 * total


def penalties(h: Any) -> Penalties:
    """All five penalties of ``h`` (``(N,)``) as a :class:`Penalties` of scalars."""
    h = _as_filter(h)
    return Penalties(lsum(h), hsum(h), l2norm(h), cmf(h), conv(h))
