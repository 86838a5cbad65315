"""One level of a two-channel filter bank along one axis, in three implementations.

Every transform (1D, 2D, n-D, single and multilevel) is built from :func:`analysis`
(``x`` → ``(cA, cD)`` along ``axis``) and :func:`synthesis` (its inverse), which
reproduce pywt's convolutions exactly (``docs/method.md#transform``):

* ``cA[k] = Σ_j dec_lo[j] · xe[2k + N - 1 - j]``, where ``xe`` is ``x`` extended by
  ``N - 2`` samples on the left (``N/2 - 1`` on both sides for periodization), i.e.
  pywt's convolution with ``dec_lo`` kept at the odd samples (``cD`` likewise with
  ``dec_hi``);
* synthesis upsamples ``cA``/``cD``, convolves with ``rec_lo``/``rec_hi`` and keeps
  pywt's central ``2M - N + 2`` samples (``2M`` for periodization), computed as two
  polyphase correlations.

The filters are ordinary (traceable) arrays of a :class:`~awd_jax.filters.FilterBank`.
Implementations, all with the same arithmetic (registered in :data:`BANKS`):

* ``"fused"``: the sum over the taps of strided slices times the tap; XLA fuses it
  into one loop per level. Fastest on CPU.
* ``"conv"``: ``jax.lax.conv_general_dilated`` (stride-2 correlation for analysis,
  polyphase correlation for synthesis); maps onto cuDNN / TPU convolution units.
* ``"matrix"``: each level is one dense matrix product along the axis. A level is
  linear in each filter for a fixed input, so its matrix is ``tensordot(filter, S)``
  with a constant structure tensor ``S`` ``(N, rows, cols)`` that depends only on
  (length, N, mode) and is cached. Few, large ops: suited to short signals that are
  differentiated twice (the AWD objective). ``S`` grows as ``N·L²``: axes longer
  than :data:`MATRIX_MAX_LEN` are refused.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax import _validate
from awd_jax._extension import extend
from awd_jax.filters import FilterBank

__all__ = ["IMPLS", "BANKS", "MATRIX_MAX_LEN", "FUSED_MAX_TAPS", "resolve_impl", "dwt_coeff_len",
           "analysis", "synthesis"]

#: ``impl="matrix"`` refuses axes longer than this (its constant tensor holds
#: ``N · L · 2M ≈ N·L²`` entries per level and is embedded in the compiled program).
MATRIX_MAX_LEN = 1024

#: ``"auto"`` uses the fused bank on CPU up to this filter length; longer filters
#: unroll into programs that take XLA long to compile, so they use convolutions.
FUSED_MAX_TAPS = 24

_HIGHEST = jax.lax.Precision.HIGHEST


def dwt_coeff_len(length: int, filter_len: int, mode: str) -> int:
    """Coefficients per band after one level: ``floor((L+N-1)/2)``, ``ceil(L/2)`` for periodization."""
    if mode == "periodization":
        return (length + 1) // 2
    return (length + filter_len - 1) // 2


def _slice(x: jax.Array, start: int, stop: int, axis: int, stride: int = 1) -> jax.Array:
    return jax.lax.slice_in_dim(x, start, stop, stride, axis=axis)


def _check_analysis_len(length: int, mode: str, axis: int) -> None:
    if length < 2 and mode in ("reflect", "antireflect"):
        raise ValueError(
            f"data: {mode!r} mode needs at least 2 samples along axis {axis}, got {length} "
            f"(a level's input may shrink to 1 sample for short filters; use a lower level)."
        )


def _analysis_pads(length: int, n: int, mode: str) -> tuple[int, int, int]:
    """``(M, left, right)``: coefficients per band and the extension on each side."""
    m = dwt_coeff_len(length, n, mode)
    if mode == "periodization":
        return m, n // 2 - 1, n // 2 - 1
    return m, n - 2, 2 * m - length


def _synthesis_layout(m: int, n: int, mode: str, axis: int) -> tuple[int, list[int], list[int], int, int]:
    """Static polyphase layout of one synthesis level.

    Returns ``(count, parity, starts, pad_left, pad_right)``: the output has ``2*count``
    samples, ``x[2p + r] = Σ_j rec[2j + parity[r]] · c[starts[r] + p - j]`` over the
    ``N/2`` taps ``j``, with ``c`` wrapped by the pads (periodization only).
    """
    q = n // 2 - 1
    if mode == "periodization":
        pad_l, pad_r = q - q // 2, (q + 1) // 2
        parity = [r % 2 if q % 2 == 0 else 1 - r for r in (0, 1)]
        starts = [(r + q) // 2 + pad_l for r in (0, 1)]
        return m, parity, starts, pad_l, pad_r
    count = m - q
    if count < 1:
        raise ValueError(
            f"coeffs: {m} coefficients per band along axis {axis} are too few for a reconstruction "
            f"filter of length {n}; expected at least {n // 2}."
        )
    return count, [0, 1], [q, q], 0, 0


# ---------------------------------------------------------------------------
# fused and conv: correlations of (polyphase) slices
# ---------------------------------------------------------------------------


def _correlate(x: jax.Array, kernels: jax.Array, out_len: int, axis: int, stride: int, impl: str) -> list[jax.Array]:
    """``out[c][k] = Σ_{ci, i} kernels[c, ci, i] · x[ci][stride·k + i]`` along ``axis``.

    ``x`` stacks ``C_in`` inputs on a new leading axis; ``kernels`` is ``(C_out, C_in, K)``.
    """
    c_out, c_in, taps = kernels.shape
    if impl == "conv":
        moved = jnp.moveaxis(x, axis + 1, -1)  # (C_in, batch..., L)
        batch = moved.shape[1:-1]
        lhs = jnp.moveaxis(moved.reshape((c_in, -1, moved.shape[-1])), 0, 1)  # (B, C_in, L)
        y = jax.lax.conv_general_dilated(lhs, kernels, window_strides=(stride,), padding="VALID",
                                         dimension_numbers=("NCH", "OIH", "NCH"), precision=_HIGHEST)
        y = y[..., :out_len]
        return [jnp.moveaxis(y[:, c].reshape(batch + (out_len,)), -1, axis) for c in range(c_out)]
    # fused: polyphase split so that every tap reads a contiguous slice; each slice is
    # taken once and shared by all output channels (fewer ops to differentiate)
    phases = [_slice(x, p, x.shape[axis + 1], axis + 1, stride) for p in range(stride)]
    windows = [[_slice(phases[i % stride][ci], i // stride, i // stride + out_len, axis) for ci in range(c_in)]
               for i in range(taps)]
    outs = []
    for c in range(c_out):
        terms = [kernels[c, ci, i] * windows[i][ci] for i in range(taps) for ci in range(c_in)]
        outs.append(functools.reduce(jnp.add, terms))
    return outs


def _analysis_corr(x: jax.Array, bank: FilterBank, mode: str, axis: int, impl: str) -> tuple[jax.Array, jax.Array]:
    n = bank.dec_lo.shape[0]
    m, left, right = _analysis_pads(x.shape[axis], n, mode)
    xe = extend(x, left, right, mode, axis)
    kernels = jnp.stack([bank.dec_lo[::-1], bank.dec_hi[::-1]])[:, None, :]
    lo, hi = _correlate(xe[None], kernels, m, axis, 2, impl)
    return lo, hi


def _synthesis_corr(ca: jax.Array, cd: jax.Array, bank: FilterBank, mode: str, axis: int, impl: str) -> jax.Array:
    n = bank.rec_lo.shape[0]
    half, q = n // 2, n // 2 - 1
    count, parity, starts, pad_l, pad_r = _synthesis_layout(ca.shape[axis], n, mode, axis)
    c = jnp.stack([ca, cd])  # (2, ...)
    if pad_l or pad_r:
        c = jnp.pad(c, [(0, 0)] + [(pad_l, pad_r) if d == axis else (0, 0) for d in range(ca.ndim)], mode="wrap")
    # one correlation window covering both phases: x_r[p] = Σ_i K[r, :, i] c[base + p + i]
    base = min(starts) - q
    width = max(starts) - min(starts) + half
    rows = []
    for r in (0, 1):
        shift = starts[r] - q - base
        taps = jnp.stack([bank.rec_lo[parity[r]::2][::-1], bank.rec_hi[parity[r]::2][::-1]])  # (2, half)
        rows.append(jnp.pad(taps, [(0, 0), (shift, width - half - shift)]))
    kernels = jnp.stack(rows)  # (2 phases, 2 inputs, width)
    c = _slice(c, base, base + count + width - 1, axis + 1)
    even, odd = _correlate(c, kernels, count, axis, 1, impl)
    out = jnp.stack([even, odd], axis=axis + 1)
    shape = list(ca.shape)
    shape[axis] = 2 * count
    return out.reshape(shape)


# ---------------------------------------------------------------------------
# matrix: every level as one matrix product with tensordot(filter, S)
# ---------------------------------------------------------------------------


def _check_matrix_len(length: int, axis: int) -> None:
    if length > MATRIX_MAX_LEN:
        raise ValueError(
            f"impl: 'matrix' builds a dense (length x length) matrix per level and supports at most "
            f"MATRIX_MAX_LEN={MATRIX_MAX_LEN} samples along the transformed axis, got {length} along "
            f"axis {axis}; use impl='fused' or impl='conv' for long signals."
        )


@functools.lru_cache(maxsize=256)
def _analysis_structure(length: int, n: int, mode: str) -> np.ndarray:
    """``S`` ``(N, M, L)`` with ``cA = tensordot(dec_lo[::-1], S) @ x`` (and ``cD`` with ``dec_hi``).

    ``S[t][k] = E[2k + t]`` where ``E`` ``(L_ext, L)`` is the extension as a matrix
    (the same :func:`extend` the other banks run, evaluated in NumPy on the identity).
    """
    m, left, right = _analysis_pads(length, n, mode)
    ext = extend(np.eye(length), left, right, mode, axis=0)
    s = np.stack([ext[t: t + 2 * m: 2] for t in range(n)])
    s.setflags(write=False)
    return s


@functools.lru_cache(maxsize=256)
def _synthesis_structure(m: int, n: int, mode: str) -> np.ndarray:
    """``T`` ``(N, L_out, M)`` with ``x = tensordot(rec_lo, T) @ cA + tensordot(rec_hi, T) @ cD``.

    From the polyphase layout of :func:`_synthesis_layout`: with the one-hot filter
    ``e_t``, output ``2p + r`` reads coefficient ``starts[r] + p - j`` (wrapped for
    periodization) when ``t = 2j + parity[r]``.
    """
    count, parity, starts, pad_l, _ = _synthesis_layout(m, n, mode, 0)
    t_mat = np.zeros((n, 2 * count, m))
    p = np.arange(count)
    for t in range(n):
        for r in (0, 1):
            if t % 2 != parity[r]:
                continue
            src = starts[r] + p - (t - parity[r]) // 2 - pad_l
            src = src % m if mode == "periodization" else src
            t_mat[t, 2 * p + r, src] = 1.0
    t_mat.setflags(write=False)
    return t_mat


@functools.lru_cache(maxsize=256)
def _flat(kind: str, size: int, n: int, mode: str, dtype: np.dtype) -> tuple[np.ndarray, tuple[int, int]]:
    tensor = (_analysis_structure if kind == "analysis" else _synthesis_structure)(size, n, mode)
    flat = tensor.reshape(n, -1).astype(dtype)
    flat.setflags(write=False)
    return flat, tensor.shape[1:]


def _level_matrix(filt: jax.Array, kind: str, size: int, mode: str) -> jax.Array:
    flat, rows_cols = _flat(kind, size, filt.shape[0], mode, np.dtype(filt.dtype))
    return jnp.dot(filt, flat, precision=_HIGHEST).reshape(rows_cols)


def _apply_matrix(x: jax.Array, mat: jax.Array, axis: int) -> jax.Array:
    """``mat @ x`` along ``axis``: ``(..., cols, ...)`` → ``(..., rows, ...)``."""
    if axis == 0:  # the rows land where the axis was
        return jax.lax.dot_general(mat, x, (((1,), (0,)), ((), ())), precision=_HIGHEST)
    y = jax.lax.dot_general(x, mat, (((axis,), (1,)), ((), ())), precision=_HIGHEST)
    return y if axis == x.ndim - 1 else jnp.moveaxis(y, -1, axis)


def _analysis_matrix(x: jax.Array, bank: FilterBank, mode: str, axis: int) -> tuple[jax.Array, jax.Array]:
    length = x.shape[axis]
    _check_matrix_len(length, axis)
    mat = jnp.concatenate([_level_matrix(bank.dec_lo[::-1], "analysis", length, mode),
                           _level_matrix(bank.dec_hi[::-1], "analysis", length, mode)])
    both = _apply_matrix(x, mat, axis)
    m = mat.shape[0] // 2
    return _slice(both, 0, m, axis), _slice(both, m, 2 * m, axis)


def _synthesis_matrix(ca: jax.Array, cd: jax.Array, bank: FilterBank, mode: str, axis: int) -> jax.Array:
    m = ca.shape[axis]
    n = bank.rec_lo.shape[0]
    count = _synthesis_layout(m, n, mode, axis)[0]
    _check_matrix_len(2 * count, axis)
    mat = jnp.concatenate([_level_matrix(bank.rec_lo, "synthesis", m, mode),
                           _level_matrix(bank.rec_hi, "synthesis", m, mode)], axis=1)
    return _apply_matrix(jnp.concatenate([ca, cd], axis=axis), mat, axis)


# ---------------------------------------------------------------------------
# the registry, resolved once at the boundary
# ---------------------------------------------------------------------------


class Bank(NamedTuple):
    """One implementation: ``analysis(x, bank, mode, axis)`` and ``synthesis(cA, cD, bank, mode, axis)``."""

    analysis: Callable
    synthesis: Callable


BANKS: dict[str, Bank] = {
    "fused": Bank(functools.partial(_analysis_corr, impl="fused"), functools.partial(_synthesis_corr, impl="fused")),
    "conv": Bank(functools.partial(_analysis_corr, impl="conv"), functools.partial(_synthesis_corr, impl="conv")),
    "matrix": Bank(_analysis_matrix, _synthesis_matrix),
}

#: Accepted values of ``impl``: ``"auto"`` and the registered banks.
IMPLS = ("auto",) + tuple(BANKS)


def resolve_impl(impl: str, filter_len: int = 0) -> str:
    """``impl`` with ``"auto"`` resolved: fused on CPU for filters up to :data:`FUSED_MAX_TAPS`, else conv."""
    _validate.choice(impl, IMPLS, "impl")
    if impl == "auto":
        return "fused" if jax.default_backend() == "cpu" and filter_len <= FUSED_MAX_TAPS else "conv"
    return impl


def analysis(x: jax.Array, bank: FilterBank, mode: str, axis: int, impl: str) -> tuple[jax.Array, jax.Array]:
    """One analysis level along ``axis``: ``(cA, cD)``, each ``dwt_coeff_len`` long (``impl`` resolved)."""
    _check_analysis_len(x.shape[axis], mode, axis)
    return BANKS[impl].analysis(x, bank, mode, axis)


def synthesis(ca: jax.Array, cd: jax.Array, bank: FilterBank, mode: str, axis: int, impl: str) -> jax.Array:
    """One synthesis level along ``axis`` (pywt's ``idwt``): ``2M - N + 2`` samples, ``2M`` for periodization."""
    return BANKS[impl].synthesis(ca, cd, bank, mode, axis)
