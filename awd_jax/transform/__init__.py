"""PyWavelets-exact, differentiable discrete wavelet transforms (1D, 2D and n-D).

A drop-in for PyWavelets' discrete transforms: the same names, argument order,
defaults (``mode="symmetric"``), coefficient layouts, dtypes and exception types as
``pywt.dwt``/``idwt``/``wavedec``/``waverec``, their ``…2`` and ``…n`` variants, for
every pywt mode, orthogonal and biorthogonal wavelets and custom filter banks, real
and complex data. 1D and 2D are cases of one separable n-D code path.

What differs from pywt: results are (immutable) JAX arrays, and the filters may be
traced, so ``jit``, ``vmap`` (over data and filters), ``grad`` with respect to data and
filters and ``grad`` of ``grad`` work. ``wavelet`` may also be a lowpass ``h`` ``(N,)``
(its orthogonal bank is derived, ``docs/method.md#filters``) or a
:class:`~awd_jax.filters.FilterBank` of four arrays. float64 and complex128 need
``jax.config.update("jax_enable_x64", True)``, as everywhere in JAX; without it they
compute in float32/complex64. To edit coefficients in place as with pywt, copy them
to NumPy first: ``c = [np.array(a) for a in wavedec(...)]``.

Extras, keyword-only: ``impl`` (``"auto"``, ``"fused"``, ``"conv"``, ``"matrix"``; see
:mod:`awd_jax.transform._bank`), ``length=`` (:func:`waverec`) and ``shape=``
(:func:`waverec2`, :func:`waverecn`) to crop an odd-length reconstruction back.
"""

from awd_jax.transform._api import (
    dwt,
    dwt2,
    dwt_coeff_len,
    dwt_max_level,
    dwtn,
    dwtn_max_level,
    idwt,
    idwt2,
    idwtn,
    wavedec,
    wavedec2,
    wavedecn,
    waverec,
    waverec2,
    waverecn,
)
from awd_jax.transform._bank import FUSED_MAX_TAPS, IMPLS, MATRIX_MAX_LEN, resolve_impl

__all__ = [
    "IMPLS", "FUSED_MAX_TAPS", "MATRIX_MAX_LEN", "resolve_impl",
    "dwt", "idwt", "wavedec", "waverec",
    "dwt2", "idwt2", "wavedec2", "waverec2",
    "dwtn", "idwtn", "wavedecn", "waverecn",
    "dwt_coeff_len", "dwt_max_level", "dwtn_max_level",
]
