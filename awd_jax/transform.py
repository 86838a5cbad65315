"""PyWavelets-exact, differentiable discrete wavelet transforms (1D and 2D).

One two-channel filter bank serves every transform: :func:`_analysis` (one level of
analysis along one axis) and :func:`_synthesis` (its inverse). 1D transforms apply
it along ``axis``; 2D transforms apply it along both ``axes`` (separable, as pywt).

Coefficients, shapes and order equal pywt's (``../shared/SPEC.md`` §2) in all nine
modes. The filter ``h`` is an ordinary (traceable) argument: ``jit``, ``vmap``,
``grad`` and ``grad`` of ``grad`` work with respect to ``h`` and ``x``. Shapes come
from static shapes only.

Three implementations of the same arithmetic, chosen with ``impl``:

* ``"fused"``: the sum over the ``N`` taps of strided slices times the tap. XLA fuses
  it into one loop; fastest on CPU.
* ``"conv"``: ``jax.lax.conv_general_dilated`` (stride-2 correlation for analysis,
  polyphase correlation for synthesis); maps onto cuDNN / TPU convolution units.
* ``"matrix"``: each level is one dense matrix product along the axis. A level is
  linear in ``h`` for fixed input, so its ``(2M, L)`` analysis matrix (``(L_out, 2M)``
  synthesis matrix) is ``tensordot(h, S)`` with a constant tensor ``S`` of shape
  ``(N, 2M, L)``: pywt's responses to unit signals under one-hot filters, computed
  once per (length, filter length, mode) in float64 NumPy and cached. Few, large ops:
  suited to short signals (the AWD objective's small batches, differentiated twice),
  where the other banks spend their time in many tiny ops. ``S`` grows as ``N·L²``,
  so axes longer than :data:`MATRIX_MAX_LEN` are refused (use ``"fused"``/``"conv"``).
* ``"auto"`` (default): ``"fused"`` on the CPU backend for filters of up to
  :data:`FUSED_MAX_TAPS` taps, ``"conv"`` elsewhere (and for longer filters, whose
  unrolled fused program takes XLA long to compile).

Integer inputs are cast to JAX's default float dtype (as pywt casts to float);
complex inputs are rejected. The computation runs in ``x``'s float dtype: float32
stays float32, float64 works (with ``jax_enable_x64``); ``h`` is cast to it.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pywt

from awd_jax.filters import WaveletLike, highpass, lowpass
from awd_jax.modes import check_mode, extend

__all__ = [
    "IMPLS",
    "dwt",
    "idwt",
    "wavedec",
    "waverec",
    "dwt2",
    "idwt2",
    "wavedec2",
    "waverec2",
    "dwt_coeff_len",
    "dwt_max_level",
]

IMPLS = ("auto", "fused", "conv", "matrix")

Coeffs1D = list  # [cA_J, cD_J, ..., cD_1]
Coeffs2D = list  # [cA_J, (cH_J, cV_J, cD_J), ..., (cH_1, cV_1, cD_1)]


# ---------------------------------------------------------------------------
# static helpers
# ---------------------------------------------------------------------------


def dwt_coeff_len(length: int, filter_len: int, mode: str) -> int:
    """Coefficients per band after one level: ``floor((L+N-1)/2)``, ``ceil(L/2)`` for periodization."""
    if mode == "periodization":
        return (length + 1) // 2
    return (length + filter_len - 1) // 2


def dwt_max_level(length: int, filter_len: int) -> int:
    """``pywt.dwt_max_level``: the deepest level without boundary effects everywhere."""
    return pywt.dwt_max_level(length, filter_len)


#: "auto" uses the fused filter bank on CPU up to this filter length; longer filters
#: unroll into programs that take XLA long to compile, so they use convolutions.
FUSED_MAX_TAPS = 24

#: ``impl="matrix"`` refuses axes longer than this (its constant tensor holds
#: ``N · L · 2M ≈ N·L²`` entries per level and is embedded in the compiled program).
MATRIX_MAX_LEN = 1024


def _resolve_impl(impl: str, filter_len: int = 0) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl: expected one of {IMPLS}, got {impl!r}.")
    if impl == "auto":
        return "fused" if jax.default_backend() == "cpu" and filter_len <= FUSED_MAX_TAPS else "conv"
    return impl


def _as_signal(x: Any, name: str = "x") -> jax.Array:
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}.")
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(
            f"{name}: complex input is not supported (dtype {x.dtype}); transform the real "
            f"and imaginary parts separately."
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        if not (jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.bool_)):
            raise TypeError(f"{name}: expected a real numeric array, got dtype {x.dtype}.")
        return jnp.asarray(x, dtype=jnp.result_type(float))
    return x if isinstance(x, jax.Array) else jnp.asarray(x)


def _filter_for(h: WaveletLike, dtype: Any) -> jax.Array:
    """``h`` as a JAX array of the computation's dtype."""
    h = lowpass(h)
    if isinstance(h, np.ndarray):
        return jnp.asarray(h.astype(dtype, copy=False))
    return h if h.dtype == dtype else h.astype(dtype)


def _norm_axis(axis: int, ndim: int, name: str = "axis") -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(axis).__name__}.")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: {axis} is out of range for an array with {ndim} dimension(s).")
    return int(axis) % ndim


def _norm_axes(axes: Sequence[int], ndim: int) -> tuple[int, int]:
    if ndim < 2:
        raise ValueError(
            f"x: a 2D transform needs at least 2 dimensions (..., H, W), got an array with {ndim}."
        )
    if len(tuple(axes)) != 2:
        raise ValueError(f"axes: expected two axes for a 2D transform, got {axes!r}.")
    a0, a1 = (_norm_axis(a, ndim, "axes") for a in axes)
    if a0 == a1:
        raise ValueError(f"axes: expected two distinct axes, got {axes!r}.")
    return a0, a1


def _check_length(length: int, axis: int) -> None:
    if length < 1:
        raise ValueError(f"x: the signal along axis {axis} is empty; expected at least one sample.")


def _check_level(level: Optional[int], length: int, filter_len: int) -> int:
    max_level = dwt_max_level(length, filter_len)
    if level is None:
        return max_level
    if not isinstance(level, (int, np.integer)) or isinstance(level, bool):
        raise TypeError(f"level: expected an int or None, got {type(level).__name__}.")
    if level < 0:
        raise ValueError(f"level: expected a non-negative level, got {level}.")
    if level > max_level:
        warnings.warn(
            f"Level value of {level} is too high: all coefficients will experience boundary effects.",
            UserWarning,
            stacklevel=3,
        )
    return int(level)


# ---------------------------------------------------------------------------
# the filter bank: one analysis level and one synthesis level along one axis
# ---------------------------------------------------------------------------


def _slice(x: jax.Array, start: int, stop: int, axis: int, stride: int = 1) -> jax.Array:
    return jax.lax.slice_in_dim(x, start, stop, stride, axis=axis)


def _to_ncw(x: jax.Array, axis: int) -> tuple[jax.Array, tuple[int, ...]]:
    """Move ``axis`` last and flatten the rest: ``(B, 1, L)`` plus the batch shape."""
    moved = jnp.moveaxis(x, axis, -1)
    batch = moved.shape[:-1]
    return moved.reshape((-1, 1, moved.shape[-1])), batch


def _from_nc_w(y: jax.Array, batch: tuple[int, ...], axis: int, ndim: int) -> list[jax.Array]:
    """Split ``(B, C, W)`` into C arrays shaped like the input with W along ``axis``."""
    return [jnp.moveaxis(y[:, c].reshape(batch + (y.shape[-1],)), -1, axis) for c in range(y.shape[1])]


def _correlate(x: jax.Array, kernels: jax.Array, out_len: int, axis: int, stride: int, impl: str) -> list[jax.Array]:
    """``out[c][k] = sum_i kernels[c, i] * x[stride*k + i]`` along ``axis``, for each channel c.

    ``x`` may carry several input channels stacked on a new leading axis 0 (then
    ``kernels`` is ``(C_out, C_in, K)`` and the inputs are summed over).
    """
    multi_in = kernels.ndim == 3
    if not multi_in:
        x, kernels = x[None], kernels[:, None, :]
    c_out, c_in, taps = kernels.shape
    if impl == "conv":
        ax = axis + 1
        moved = jnp.moveaxis(x, ax, -1)  # (C_in, batch..., L)
        batch = moved.shape[1:-1]
        lhs = jnp.moveaxis(moved.reshape((c_in, -1, moved.shape[-1])), 0, 1)  # (B, C_in, L)
        y = jax.lax.conv_general_dilated(
            lhs,
            kernels,
            window_strides=(stride,),
            padding="VALID",
            dimension_numbers=("NCH", "OIH", "NCH"),
            precision=jax.lax.Precision.HIGHEST,
        )
        return _from_nc_w(y[..., :out_len], batch, axis, x.ndim - 1)
    # fused: polyphase split so that every tap reads a contiguous slice; each slice is
    # taken once and shared by all output channels (fewer ops to differentiate)
    phases = [_slice(x, p, x.shape[axis + 1], axis + 1, stride) for p in range(stride)]
    windows = [
        [_slice(phases[i % stride][ci], i // stride, i // stride + out_len, axis) for ci in range(c_in)]
        for i in range(taps)
    ]
    outs = []
    for c in range(c_out):
        terms = [kernels[c, ci, i] * windows[i][ci] for i in range(taps) for ci in range(c_in)]
        outs.append(functools.reduce(jnp.add, terms))
    return outs


# --- impl="matrix": every level as one matrix product -------------------------------


def _check_matrix_len(length: int, axis: int) -> None:
    if length > MATRIX_MAX_LEN:
        raise ValueError(
            f"impl: 'matrix' builds a dense (length x length) matrix per level and supports at most "
            f"MATRIX_MAX_LEN={MATRIX_MAX_LEN} samples along the transformed axis, got {length} along "
            f"axis {axis}; use impl='fused' or impl='conv' for long signals."
        )


def _one_hot_bank(t: int, n: int) -> pywt.Wavelet:
    """pywt filter bank of the one-hot lowpass ``h = e_t`` (and its tied highpass)."""
    h = np.zeros(n)
    h[t] = 1.0
    g = highpass(h)
    return pywt.Wavelet(f"one_hot_{t}", filter_bank=(h[::-1], g[::-1], h, g))


@functools.lru_cache(maxsize=128)
def _analysis_tensor(length: int, n: int, mode: str) -> np.ndarray:
    """Constant ``S`` ``(N, 2M, L)``: ``[cA; cD] = tensordot(h, S) @ x`` for one analysis level.

    Column ``i`` of ``S[t]`` is pywt's (= every bank's) response to the unit signal
    ``e_i`` with the one-hot filter ``e_t``: plain float64 NumPy, also when called
    inside a trace. The entries are small integers (sums of extension weights).
    """
    eye = np.eye(length)
    s = np.stack([np.concatenate(pywt.dwt(eye, _one_hot_bank(t, n), mode, axis=0), axis=0) for t in range(n)])
    s.setflags(write=False)
    return s


@functools.lru_cache(maxsize=128)
def _synthesis_tensor(m: int, n: int, mode: str) -> np.ndarray:
    """Constant ``T`` ``(N, L_out, 2M)``: ``x = tensordot(h, T) @ [cA; cD]`` for one synthesis level."""
    ca = np.eye(m, 2 * m)  # cA = [I | 0] and cD = [0 | I]: column j is the unit input j
    cd = np.roll(ca, m, axis=1)
    t = np.stack([pywt.idwt(ca, cd, _one_hot_bank(t, n), mode, axis=0) for t in range(n)])
    t.setflags(write=False)
    return t


_TENSORS = {"analysis": _analysis_tensor, "synthesis": _synthesis_tensor}


@functools.lru_cache(maxsize=128)
def _flat_tensor(kind: str, size: int, n: int, mode: str, dtype: np.dtype) -> np.ndarray:
    """The constant tensor flattened to ``(N, rows * cols)`` in the computation's dtype."""
    tensor = _TENSORS[kind](size, n, mode)
    flat = tensor.reshape(n, -1).astype(dtype)
    flat.setflags(write=False)
    return flat


def _bank_matrix(h: jax.Array, kind: str, size: int, mode: str) -> jax.Array:
    """``tensordot(h, S)``: one level's ``(rows, cols)`` matrix for filter ``h`` (``size``: L or M)."""
    n = h.shape[0]
    flat = _flat_tensor(kind, size, n, mode, np.dtype(h.dtype))
    rows_cols = _TENSORS[kind](size, n, mode).shape[1:]
    return jnp.dot(h, flat, precision=jax.lax.Precision.HIGHEST).reshape(rows_cols)


def _apply_matrix(x: jax.Array, mat: jax.Array, axis: int) -> jax.Array:
    """``mat @ x`` along ``axis``: ``(..., cols, ...)`` → ``(..., rows, ...)``."""
    highest = jax.lax.Precision.HIGHEST
    if axis == 0:  # mat @ x: the rows land where the axis was
        return jax.lax.dot_general(mat, x, (((1,), (0,)), ((), ())), precision=highest)
    # x @ mat.T: the rows come last; moved back only for inner axes
    y = jax.lax.dot_general(x, mat, (((axis,), (1,)), ((), ())), precision=highest)
    return y if axis == x.ndim - 1 else jnp.moveaxis(y, -1, axis)


def _analysis(x: jax.Array, h: jax.Array, mode: str, axis: int, impl: str) -> tuple[jax.Array, jax.Array]:
    """One analysis level along ``axis``: ``(cA, cD)``, each ``dwt_coeff_len`` long.

    ``cA[k] = sum_m h[m] * xe[2k + m]`` (and ``g`` for ``cD``), where ``xe`` is ``x``
    extended by ``N-2`` samples on the left (``N/2-1`` periodically for
    periodization): exactly pywt's convolution with ``dec_lo = h[::-1]``.
    """
    n = h.shape[0]
    length = x.shape[axis]
    if length < 2 and mode in ("reflect", "antireflect"):
        raise ValueError(
            f"x: {mode!r} mode needs at least 2 samples along axis {axis}, got {length} "
            f"(a level's input may shrink to 1 sample for short filters; use a lower level)."
        )
    m = dwt_coeff_len(length, n, mode)
    if impl == "matrix":
        _check_matrix_len(length, axis)
        lo_hi = _apply_matrix(x, _bank_matrix(h, "analysis", length, mode), axis)
        return _slice(lo_hi, 0, m, axis), _slice(lo_hi, m, 2 * m, axis)
    if mode == "periodization":
        left = right = n // 2 - 1
    else:
        left, right = n - 2, 2 * m - length
    xe = extend(x, left, right, mode, axis)
    lo, hi = _correlate(xe, jnp.stack([h, highpass(h)]), m, axis, 2, impl)
    return lo, hi


def _synthesis(ca: jax.Array, cd: jax.Array, h: jax.Array, mode: str, axis: int, impl: str) -> jax.Array:
    """One synthesis level along ``axis`` (pywt's ``idwt``): ``2M - N + 2`` samples, ``2M`` for periodization.

    Even and odd outputs are two polyphase correlations of the stacked ``(cA, cD)``:
    ``x[2p + r] = sum_j h[2j + s_r] cA[o_r + p - j] + g[2j + s_r] cD[o_r + p - j]``.
    """
    n = h.shape[0]
    half, q = n // 2, n // 2 - 1
    m = ca.shape[axis]
    g = highpass(h)
    c = jnp.stack([ca, cd])  # (2, ...)
    if mode == "periodization":
        pad_l, pad_r = q - q // 2, (q + 1) // 2
        c = jnp.pad(c, [(0, 0)] + [(pad_l, pad_r) if d == axis else (0, 0) for d in range(ca.ndim)], mode="wrap")
        count = m
        parity = [r % 2 if q % 2 == 0 else 1 - r for r in (0, 1)]
        starts = [(r + q) // 2 + pad_l for r in (0, 1)]
    else:
        count = m - q
        if count < 1:
            raise ValueError(
                f"coeffs: {m} coefficients per band along axis {axis} are too few for a filter of "
                f"length {n}; expected at least {half}."
            )
        parity, starts = [0, 1], [q, q]
    if impl == "matrix":
        _check_matrix_len(2 * count, axis)
        both = jnp.concatenate([ca, cd], axis=axis)
        return _apply_matrix(both, _bank_matrix(h, "synthesis", m, mode), axis)
    # one correlation window covering both phases: x_r[p] = sum_i K[r, :, i] c[base + p + i]
    base = min(starts) - q
    width = max(starts) - min(starts) + half
    rows = []
    for r in (0, 1):
        shift = starts[r] - q - base
        taps = jnp.stack([h[parity[r] :: 2][::-1], g[parity[r] :: 2][::-1]])  # (2, half)
        rows.append(jnp.pad(taps, [(0, 0), (shift, width - half - shift)]))
    kernels = jnp.stack(rows)  # (2 phases, 2 inputs, width)
    c = _slice(c, base, base + count + width - 1, axis + 1)
    even, odd = _correlate(c, kernels, count, axis, 1, impl)
    out = jnp.stack([even, odd], axis=axis + 1)
    shape = list(ca.shape)
    shape[axis] = 2 * count
    return out.reshape(shape)


# ---------------------------------------------------------------------------
# jitted cores (static: level, mode, axis/axes, impl)
# ---------------------------------------------------------------------------


def _dwt_nd(x, h, mode, axes, impl):
    """One level along each of ``axes`` (one or two): ``(cA, cD)`` or ``(cA, (cH, cV, cD))``."""
    if len(axes) == 1:
        return _analysis(x, h, mode, axes[0], impl)
    lo, hi = _analysis(x, h, mode, axes[1], impl)
    aa, da = _analysis(lo, h, mode, axes[0], impl)
    ad, dd = _analysis(hi, h, mode, axes[0], impl)
    return aa, (da, ad, dd)


def _idwt_nd(ca, details, h, mode, axes, impl):
    """Inverse of :func:`_dwt_nd`."""
    if len(axes) == 1:
        return _synthesis(ca, details, h, mode, axes[0], impl)
    ch, cv, cd = details
    lo = _synthesis(ca, ch, h, mode, axes[0], impl)
    hi = _synthesis(cv, cd, h, mode, axes[0], impl)
    return _synthesis(lo, hi, h, mode, axes[1], impl)


def _match_approx(a: jax.Array, d_shape: tuple[int, ...], axes: Sequence[int]) -> jax.Array:
    """pywt's rule: drop the last approximation sample where it is one longer than the detail."""
    for ax in axes:
        if a.shape[ax] == d_shape[ax] + 1:
            a = _slice(a, 0, d_shape[ax], ax)
    return a


_dwt_core = jax.jit(_dwt_nd, static_argnames=("mode", "axes", "impl"))
_idwt_core = jax.jit(_idwt_nd, static_argnames=("mode", "axes", "impl"))


@functools.partial(jax.jit, static_argnames=("level", "mode", "axes", "impl"))
def _wavedec_core(x, h, level, mode, axes, impl):
    """``[cA_J, d_J, ..., d_1]`` with ``d`` an array (1 axis) or a (cH, cV, cD) triple (2 axes)."""
    details = []
    a = x
    for _ in range(level):
        a, d = _dwt_nd(a, h, mode, axes, impl)
        details.append(d)
    return [a] + details[::-1]


@functools.partial(jax.jit, static_argnames=("mode", "axes", "impl"))
def _waverec_core(coeffs, h, mode, axes, impl):
    a = coeffs[0]
    for d in coeffs[1:]:
        d_shape = d.shape if len(axes) == 1 else d[0].shape
        a = _idwt_nd(_match_approx(a, d_shape, axes), d, h, mode, axes, impl)
    return a


# ---------------------------------------------------------------------------
# validation of coefficient structures
# ---------------------------------------------------------------------------


def _fill_none(arrays: Sequence[Optional[jax.Array]], what: str) -> list[jax.Array]:
    """Replace ``None`` entries (pywt: "treated as zeros") by zeros shaped like a sibling."""
    present = [a for a in arrays if a is not None]
    if not present:
        raise ValueError(f"{what}: at least one coefficient array must be given (all are None).")
    ref = present[0]
    return [jnp.zeros(ref.shape, ref.dtype) if a is None else a for a in arrays]


def _cast(a: jax.Array, dtype: Any) -> jax.Array:
    return a if a.dtype == dtype else a.astype(dtype)


def _common_dtype(arrays: Sequence[jax.Array]) -> Any:
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        return jnp.result_type(*dtypes)
    return dtypes.pop()


def _check_pair(a_shape: tuple[int, ...], d_shape: tuple[int, ...], axes: Sequence[int], where: str,
                allow_longer: bool) -> None:
    """Approximation and detail shapes fit: equal, or (``allow_longer``) ``a`` one longer along ``axes``."""
    if len(a_shape) != len(d_shape):
        raise ValueError(
            f"coeffs: {where}: approximation has {len(a_shape)} dimensions but detail has {len(d_shape)}; "
            f"expected arrays of the same rank."
        )
    for ax in range(len(a_shape)):
        ok = a_shape[ax] == d_shape[ax] or (allow_longer and ax in axes and a_shape[ax] == d_shape[ax] + 1)
        if not ok:
            raise ValueError(
                f"coeffs: {where}: approximation shape {tuple(a_shape)} does not fit detail shape "
                f"{tuple(d_shape)}; expected equal shapes"
                + (" (or the approximation one longer along the transformed axes)." if allow_longer else ".")
            )


def _next_approx_shape(d_shape: tuple[int, ...], axes: Sequence[int], n: int, mode: str) -> tuple[int, ...]:
    shape = list(d_shape)
    for ax in axes:
        shape[ax] = 2 * d_shape[ax] if mode == "periodization" else 2 * d_shape[ax] - n + 2
    return tuple(shape)


def _prepare_analysis(x: Any, h: WaveletLike, mode: str, axes: tuple[int, ...], impl: str):
    """Validate an analysis call: ``(x, h, mode, axes, impl)`` ready for the jitted cores.

    ``axes`` are already normalised; each must hold at least one sample.
    """
    for ax in axes:
        _check_length(x.shape[ax], ax)
    mode = check_mode(mode)
    h = _filter_for(h, x.dtype)
    return x, h, mode, axes, _resolve_impl(impl, h.shape[0])


# ---------------------------------------------------------------------------
# public 1D API
# ---------------------------------------------------------------------------


def dwt(
    x: Any, h: WaveletLike, mode: str = "zero", axis: int = -1, *, impl: str = "auto"
) -> tuple[jax.Array, jax.Array]:
    """Single-level 1D DWT, equal to ``pywt.dwt(x, to_pywt(h), mode, axis)``.

    Args:
      x: ``(..., L, ...)`` real array; ``L >= 1`` along ``axis``.
      h: lowpass filter: pywt name, ``pywt.Wavelet`` or ``(N,)`` array (N even).
      mode: one of the nine pywt modes (``awd_jax.MODES``).
      axis: axis to transform.
      impl: ``"auto"``, ``"fused"``, ``"conv"`` or ``"matrix"`` (see the module docstring).

    Returns:
      ``(cA, cD)``, each with ``floor((L+N-1)/2)`` (``ceil(L/2)`` for periodization)
      samples along ``axis``.
    """
    x = _as_signal(x)
    return _dwt_core(*_prepare_analysis(x, h, mode, (_norm_axis(axis, x.ndim),), impl))


def idwt(cA: Any, cD: Any, h: WaveletLike, mode: str = "zero", axis: int = -1, *, impl: str = "auto") -> jax.Array:
    """Single-level inverse 1D DWT, equal to ``pywt.idwt``; either input may be ``None`` (zeros).

    Returns ``2M - N + 2`` samples along ``axis`` (``2M`` for periodization), where M
    is the number of coefficients per band.
    """
    bands = [None if c is None else _as_signal(c, name) for c, name in ((cA, "cA"), (cD, "cD"))]
    ca, cd = _fill_none(bands, "cA/cD")
    if ca.shape != cd.shape:
        raise ValueError(
            f"cA/cD: expected approximation and detail of the same shape, got {tuple(ca.shape)} and {tuple(cd.shape)}."
        )
    dtype = _common_dtype([ca, cd])
    axis = _norm_axis(axis, ca.ndim)
    mode = check_mode(mode)
    h = _filter_for(h, dtype)
    _check_pair(ca.shape, cd.shape, (axis,), "cA/cD", allow_longer=False)
    return _idwt_core(_cast(ca, dtype), _cast(cd, dtype), h, mode, (axis,), _resolve_impl(impl, h.shape[0]))


def wavedec(
    x: Any, h: WaveletLike, level: Optional[int] = None, mode: str = "zero", axis: int = -1, *, impl: str = "auto"
) -> Coeffs1D:
    """Multilevel 1D DWT, equal to ``pywt.wavedec``: ``[cA_J, cD_J, ..., cD_1]``.

    Args:
      x: ``(..., L, ...)`` real array; leading (and trailing) dimensions are batch.
      h: lowpass filter (name, ``pywt.Wavelet`` or ``(N,)`` array).
      level: J; ``None`` means ``pywt.dwt_max_level(L, N)``. Deeper levels work with
        pywt's boundary-effects warning.
      mode, axis, impl: as :func:`dwt`.

    Returns:
      list of ``J + 1`` arrays.
    """
    x = _as_signal(x)
    x, h, mode, axes, impl = _prepare_analysis(x, h, mode, (_norm_axis(axis, x.ndim),), impl)
    level = _check_level(level, x.shape[axes[0]], h.shape[0])
    return _wavedec_core(x, h, level, mode, axes, impl)


def _prepare_coeffs_1d(coeffs: Sequence[Any], axis: int, n: int, mode: str) -> tuple[list[jax.Array], int]:
    if not isinstance(coeffs, (list, tuple)) or len(coeffs) == 0:
        raise ValueError("coeffs: expected a non-empty list [cA_J, cD_J, ..., cD_1] as returned by wavedec.")
    arrays = [None if c is None else _as_signal(c, f"coeffs[{i}]") for i, c in enumerate(coeffs)]
    if arrays[0] is None and len(arrays) == 1:
        raise ValueError("coeffs: the only array is None.")
    ndim = next(a.ndim for a in arrays if a is not None)
    axis = _norm_axis(axis, ndim)
    # a None approximation is zeros of the shape the first detail expects
    if arrays[0] is None:
        arrays[0] = jnp.zeros_like(next(a for a in arrays[1:] if a is not None))
        if arrays[1] is not None:
            arrays[0] = jnp.zeros(arrays[1].shape, arrays[1].dtype)
    shape = arrays[0].shape
    for i in range(1, len(arrays)):
        if arrays[i] is None:
            arrays[i] = jnp.zeros(shape, arrays[0].dtype)
        d = arrays[i]
        _check_pair(shape, d.shape, (axis,), f"level {len(arrays) - i} (coeffs[{i}])", allow_longer=True)
        if mode != "periodization" and d.shape[axis] < n // 2:
            raise ValueError(
                f"coeffs: coeffs[{i}] has {d.shape[axis]} coefficients along axis {axis}, too few for a "
                f"filter of length {n}; expected at least {n // 2}."
            )
        shape = _next_approx_shape(d.shape, (axis,), n, mode)
    return arrays, axis


def waverec(
    coeffs: Sequence[Any],
    h: WaveletLike,
    mode: str = "zero",
    axis: int = -1,
    *,
    length: Optional[int] = None,
    impl: str = "auto",
) -> jax.Array:
    """Multilevel inverse 1D DWT, equal to ``pywt.waverec``.

    Args:
      coeffs: ``[cA_J, cD_J, ..., cD_1]`` (``None`` entries mean zeros).
      h, mode, axis, impl: as :func:`wavedec`.
      length: crop the output to this many samples along ``axis`` (an odd input of
        length L reconstructs to L + 1 samples, like pywt; pass ``length=L``).

    Raises:
      ValueError: when the coefficient shapes do not fit together.
    """
    mode = check_mode(mode)
    n = lowpass(h).shape[0]
    arrays, axis = _prepare_coeffs_1d(coeffs, axis, n, mode)
    dtype = _common_dtype(arrays)
    out = _waverec_core([_cast(a, dtype) for a in arrays], _filter_for(h, dtype), mode, (axis,), _resolve_impl(impl, n))
    return _crop(out, None if length is None else {axis: length}, "length")


def _crop(x: jax.Array, sizes: Optional[dict[int, int]], name: str) -> jax.Array:
    if not sizes:
        return x
    for ax, size in sizes.items():
        if not 0 < size <= x.shape[ax]:
            raise ValueError(f"{name}: expected at most {x.shape[ax]} samples along axis {ax}, got {size}.")
        x = _slice(x, 0, size, ax)
    return x


# ---------------------------------------------------------------------------
# public 2D API
# ---------------------------------------------------------------------------


def dwt2(
    x: Any, h: WaveletLike, mode: str = "zero", axes: Sequence[int] = (-2, -1), *, impl: str = "auto"
) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array]]:
    """Single-level 2D DWT, equal to ``pywt.dwt2``: ``(cA, (cH, cV, cD))``.

    cH is lowpass along ``axes[1]`` and highpass along ``axes[0]``, cV the reverse,
    cD highpass on both.
    """
    x = _as_signal(x)
    return _dwt_core(*_prepare_analysis(x, h, mode, _norm_axes(axes, x.ndim), impl))


def _prepare_details_2d(details: Any, where: str) -> list[Optional[jax.Array]]:
    if not isinstance(details, (list, tuple)) or len(details) != 3:
        raise ValueError(f"coeffs: {where}: expected a tuple of three detail arrays (cH, cV, cD).")
    return [None if d is None else _as_signal(d, f"{where}") for d in details]


def idwt2(
    coeffs: Any, h: WaveletLike, mode: str = "zero", axes: Sequence[int] = (-2, -1), *, impl: str = "auto"
) -> jax.Array:
    """Single-level inverse 2D DWT, equal to ``pywt.idwt2``; ``coeffs = (cA, (cH, cV, cD))``."""
    if not isinstance(coeffs, (list, tuple)) or len(coeffs) != 2:
        raise ValueError("coeffs: expected (cA, (cH, cV, cD)) as returned by dwt2.")
    ca = None if coeffs[0] is None else _as_signal(coeffs[0], "cA")
    bands = _fill_none([ca] + _prepare_details_2d(coeffs[1], "details"), "coeffs")
    ref = bands[0].shape
    if any(b.shape != ref for b in bands):
        raise ValueError(f"coeffs: expected cA, cH, cV, cD of one shape, got {[tuple(b.shape) for b in bands]}.")
    axes = _norm_axes(axes, bands[0].ndim)
    mode = check_mode(mode)
    dtype = _common_dtype(bands)
    bands = [_cast(b, dtype) for b in bands]
    h = _filter_for(h, dtype)
    return _idwt_core(bands[0], tuple(bands[1:]), h, mode, axes, _resolve_impl(impl, h.shape[0]))


def wavedec2(
    x: Any,
    h: WaveletLike,
    level: Optional[int] = None,
    mode: str = "zero",
    axes: Sequence[int] = (-2, -1),
    *,
    impl: str = "auto",
) -> Coeffs2D:
    """Multilevel 2D DWT, equal to ``pywt.wavedec2``: ``[cA_J, (cH_J, cV_J, cD_J), ..., (cH_1, cV_1, cD_1)]``.

    ``level=None`` is the smaller of ``pywt.dwt_max_level`` over the two axes.
    """
    x = _as_signal(x)
    x, h, mode, axes, impl = _prepare_analysis(x, h, mode, _norm_axes(axes, x.ndim), impl)
    level = _check_level(level, min(x.shape[ax] for ax in axes), h.shape[0])
    return _wavedec_core(x, h, level, mode, axes, impl)


def waverec2(
    coeffs: Sequence[Any],
    h: WaveletLike,
    mode: str = "zero",
    axes: Sequence[int] = (-2, -1),
    *,
    shape: Optional[Sequence[int]] = None,
    impl: str = "auto",
) -> jax.Array:
    """Multilevel inverse 2D DWT, equal to ``pywt.waverec2``.

    Args:
      coeffs: ``[cA_J, (cH_J, cV_J, cD_J), ..., (cH_1, cV_1, cD_1)]``.
      shape: crop the output to ``(H, W)`` along ``axes`` (odd sizes come back one
        longer, like pywt).
    """
    if not isinstance(coeffs, (list, tuple)) or len(coeffs) == 0:
        raise ValueError("coeffs: expected a non-empty list [cA_J, (cH_J, cV_J, cD_J), ...] as returned by wavedec2.")
    mode = check_mode(mode)
    n = lowpass(h).shape[0]
    a = None if coeffs[0] is None else _as_signal(coeffs[0], "coeffs[0]")
    levels = []
    for i, det in enumerate(coeffs[1:], start=1):
        levels.append(_prepare_details_2d(det, f"coeffs[{i}]"))
    if a is None and not levels:
        raise ValueError("coeffs: the only array is None.")
    ndim = a.ndim if a is not None else next(d.ndim for lv in levels for d in lv if d is not None)
    axes = _norm_axes(axes, ndim)
    shape_next = None if a is None else a.shape
    filled = []
    for i, lv in enumerate(levels, start=1):
        if all(d is None for d in lv):
            if shape_next is None:
                raise ValueError(f"coeffs: coeffs[{i}] and everything before it are None.")
            lv = [jnp.zeros(shape_next, a.dtype)] * 3
        lv = _fill_none(lv, f"coeffs[{i}]")
        if any(d.shape != lv[0].shape for d in lv):
            raise ValueError(
                f"coeffs: coeffs[{i}]: expected cH, cV, cD of one shape, got {[tuple(d.shape) for d in lv]}."
            )
        if shape_next is not None:
            _check_pair(shape_next, lv[0].shape, axes, f"coeffs[{i}]", allow_longer=True)
        if mode != "periodization" and min(lv[0].shape[ax] for ax in axes) < n // 2:
            raise ValueError(
                f"coeffs: coeffs[{i}] has shape {tuple(lv[0].shape)}, too few coefficients along axes "
                f"{axes} for a filter of length {n}; expected at least {n // 2} per axis."
            )
        if a is None and i == 1:
            a = jnp.zeros(lv[0].shape, lv[0].dtype)
        shape_next = _next_approx_shape(lv[0].shape, axes, n, mode)
        filled.append(tuple(lv))
    dtype = _common_dtype([a] + [d for lv in filled for d in lv])
    arrays = [_cast(a, dtype)] + [tuple(_cast(d, dtype) for d in lv) for lv in filled]
    out = _waverec_core(arrays, _filter_for(h, dtype), mode, axes, _resolve_impl(impl, n))
    if shape is None:
        return out
    if len(tuple(shape)) != 2:
        raise ValueError(f"shape: expected (H, W), got {shape!r}.")
    return _crop(out, dict(zip(axes, shape)), "shape")
