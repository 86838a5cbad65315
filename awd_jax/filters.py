"""Filters: the learned lowpass ``h``, its tied highpass ``g`` and pywt export.

Conventions (SPEC §1): ``h`` is PyWavelets' ``rec_lo`` (``dec_lo[::-1]``), of even
length ``N``; the highpass is never free, ``g[n] = (-1)**n * h[N-1-n]`` (= pywt's
``rec_hi``). A learned ``h`` exports to pywt as the filter bank
``(dec_lo, dec_hi, rec_lo, rec_hi) = (h[::-1], g[::-1], h, g)``.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import pywt

WaveletLike = Union[str, "pywt.Wavelet", jax.Array, np.ndarray]

__all__ = ["WaveletLike", "lowpass", "highpass", "init_filter", "to_pywt"]


@functools.lru_cache(maxsize=None)
def _discrete_names() -> frozenset:
    return frozenset(pywt.wavelist(kind="discrete"))


def _named_wavelet(name: str) -> pywt.Wavelet:
    if name not in _discrete_names():
        raise ValueError(
            f"wavelet: unknown wavelet name {name!r}; expected one of PyWavelets' "
            f"orthogonal discrete wavelets such as 'db5', 'sym5', 'coif2' or 'haar' "
            f"(see pywt.wavelist(kind='discrete'))."
        )
    return pywt.Wavelet(name)


@functools.lru_cache(maxsize=None)
def _named_lowpass(name: str) -> np.ndarray:
    h = _from_pywt(_named_wavelet(name))
    h.setflags(write=False)
    return h


def _from_pywt(wavelet: pywt.Wavelet) -> np.ndarray:
    if not wavelet.orthogonal:
        raise ValueError(
            f"wavelet: {wavelet.name!r} is not orthogonal; only orthogonal wavelets "
            f"can be learned (AWD ties analysis and synthesis filters), so "
            f"biorthogonal families such as 'bior*'/'rbio*' are not accepted."
        )
    return np.asarray(wavelet.rec_lo, dtype=np.float64)


def lowpass(wavelet: WaveletLike) -> Union[np.ndarray, jax.Array]:
    """The paper's lowpass filter ``h`` (pywt ``rec_lo``) from a wavelet.

    Args:
      wavelet: a pywt name (``"db5"``), a ``pywt.Wavelet`` or a 1-D array of even
        length (returned unchanged, so traced arrays stay traced).

    Returns:
      ``h`` of shape ``(N,)``: float64 NumPy for names and ``pywt.Wavelet``, the
      array itself otherwise.

    Raises:
      ValueError: unknown or non-orthogonal wavelet; array not 1-D, empty or of
        odd length.
      TypeError: anything else, or a complex/non-numeric array.
    """
    if isinstance(wavelet, str):
        return _named_lowpass(wavelet)
    if isinstance(wavelet, pywt.Wavelet):
        return _from_pywt(wavelet)
    if isinstance(wavelet, (jax.Array, np.ndarray, list, tuple)):
        h = wavelet if isinstance(wavelet, (jax.Array, np.ndarray)) else np.asarray(wavelet)
        if not (jnp.issubdtype(h.dtype, jnp.floating) or jnp.issubdtype(h.dtype, jnp.integer)):
            raise TypeError(f"h: expected a real floating-point filter, got dtype {h.dtype}.")
        if h.ndim != 1:
            raise ValueError(f"h: expected a 1-D filter of shape (N,), got shape {tuple(h.shape)}.")
        if h.shape[0] == 0 or h.shape[0] % 2:
            raise ValueError(
                f"h: expected an even, non-zero filter length N (orthogonal wavelet "
                f"filters have even length), got N = {h.shape[0]}."
            )
        return h
    raise TypeError(
        f"wavelet: expected a pywt wavelet name, a pywt.Wavelet or a 1-D array, "
        f"got {type(wavelet).__name__}."
    )


def highpass(h: Any) -> Union[np.ndarray, jax.Array]:
    """Tied highpass ``g[n] = (-1)**n * h[N-1-n]`` (pywt ``rec_hi``); shape ``(N,)``."""
    h = lowpass(h)
    xp = np if isinstance(h, np.ndarray) else jnp
    n = h.shape[0]
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(h.dtype)
    return signs * h[::-1] if xp is np else jnp.asarray(signs, h.dtype) * h[::-1]


def init_filter(
    wavelet: WaveletLike,
    *,
    key: Optional[jax.Array] = None,
    noise: float = 0.0,
    scale: float = 1.0,
    const: float = 0.0,
    dtype: Any = None,
) -> jax.Array:
    """Initial filter ``h0 = scale * h_named + noise * N(0, 1) + const`` (SPEC §1).

    Args:
      wavelet: anything :func:`lowpass` accepts.
      key: ``jax.random`` key for the noise; required when ``noise != 0``.
      noise, scale, const: the reference's noise_factor, init_factor, const_factor.
      dtype: output dtype (default: JAX's default float).

    Returns:
      ``h0`` of shape ``(N,)`` as a JAX array.
    """
    h = jnp.asarray(lowpass(wavelet), dtype=dtype if dtype is not None else jnp.zeros(()).dtype)
    out = scale * h + const
    if noise != 0.0:
        if key is None:
            raise ValueError("key: a jax.random key is required when noise != 0.")
        out = out + noise * jax.random.normal(key, h.shape, h.dtype)
    return out


def to_pywt(h: WaveletLike, name: str = "awd") -> pywt.Wavelet:
    """A ``pywt.Wavelet`` whose filter bank is ``(h[::-1], g[::-1], h, g)``.

    The result works with every pywt function (``pywt.wavedec``, ``wavefun`` ...).
    """
    h = np.asarray(lowpass(h), dtype=np.float64)
    g = np.asarray(highpass(h))
    wavelet = pywt.Wavelet(name, filter_bank=(h[::-1].tolist(), g[::-1].tolist(), h.tolist(), g.tolist()))
    wavelet.orthogonal = True
    wavelet.biorthogonal = True
    return wavelet
