"""The public transforms: PyWavelets' names, signatures, defaults, layouts, dtypes and errors.

Every function checks its arguments here (static shapes and dtypes only, so it also
works on tracers inside a user's ``jit``/``vmap``) and calls one of the four jitted
n-D cores of :mod:`awd_jax.transform._core`. See ``docs/method.md#transform``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax import _validate
from awd_jax._extension import mode_name
from awd_jax.filters import FilterBank, WaveletLike, filter_bank, is_single_wavelet
from awd_jax.transform import _core
from awd_jax.transform._bank import dwt_coeff_len as _coeff_len
from awd_jax.transform._bank import resolve_impl

__all__ = ["dwt", "idwt", "wavedec", "waverec", "dwt2", "idwt2", "wavedec2", "waverec2",
           "dwtn", "idwtn", "wavedecn", "waverecn", "dwt_coeff_len", "dwt_max_level", "dwtn_max_level"]

_DETAIL_TYPE_HINT = (
    "Unexpected detail coefficient type: {got}. Detail coefficients must be {want} as returned by "
    "{fn}. If you are using pywt.array_to_coeffs or pywt.unravel_coeffs, please specify "
    "output_format='{fn}'."
)


# ---------------------------------------------------------------------------
# argument rules
# ---------------------------------------------------------------------------


def _out_dtype(dtype: np.dtype, name: str) -> np.dtype:
    """pywt's dtype rule: float32/64 and complex64/128 kept, half → single, other reals → float64."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64, np.complex64, np.complex128):
        out = dtype
    elif dtype == np.float16 or dtype == jnp.bfloat16:
        out = np.dtype(np.float32)
    elif dtype.kind == "c":
        out = np.dtype(np.complex128)
    elif dtype.kind in "fiub":
        out = np.dtype(np.float64)
    else:
        raise TypeError(f"{name}: expected a real or complex numeric array, got dtype {dtype}.")
    return np.dtype(jax.dtypes.canonicalize_dtype(out))


def _as_data(x: Any, name: str) -> jax.Array:
    """``x`` as a JAX array in the computation's dtype (pywt's rule; JAX's x64 setting applies)."""
    x = _validate.array_like(x, name)
    if isinstance(x, np.ndarray) and x.dtype == object:
        raise TypeError(f"{name}: expected an array of numbers, got an object array.")
    dtype = _out_dtype(x.dtype, name)
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "c" and x.dtype.itemsize > 16:
            x = x.astype(np.complex128)
        elif x.dtype.kind == "f" and x.dtype.itemsize > 8:
            x = x.astype(np.float64)
        return jnp.asarray(x, dtype)
    return x if x.dtype == dtype else jnp.asarray(x).astype(dtype)


def _real_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dtype) in (np.float64, np.complex128) else np.float32)


def _mixed_dtype(dtypes: Sequence[np.dtype]) -> np.dtype:
    """pywt's rule for coefficients of several dtypes: float64, or complex128 if any is complex."""
    unique = set(np.dtype(d) for d in dtypes)
    if len(unique) == 1:
        return unique.pop()
    out = np.complex128 if any(d.kind == "c" for d in unique) else np.float64
    return np.dtype(jax.dtypes.canonicalize_dtype(out))


def _axis_error(msg: str) -> np.exceptions.AxisError:
    # numpy's AxisError is both a ValueError and an IndexError, as pywt raises it
    return np.exceptions.AxisError(msg)


def _norm_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    axis = _validate.integer(axis, name)
    if not -ndim <= axis < ndim:
        raise _axis_error(f"{name}: axis {int(axis)} is out of range for data with {ndim} dimension(s).")
    return int(axis) % ndim


def _norm_axes(axes: Any, ndim: int, *, count: Optional[int] = None, unique: bool = False,
               scalar_ok: bool = True, name: str = "axes") -> tuple[int, ...]:
    """Non-negative axes; ``None`` means all; ``count`` fixes how many (2 for the 2D functions)."""
    if axes is None:
        axes = tuple(range(ndim))
    elif isinstance(axes, (int, np.integer)) and not isinstance(axes, (bool, np.bool_)):
        if not scalar_ok:
            raise TypeError(f"{name}: expected a sequence of {count} axes such as (-2, -1), got the int {axes}.")
        axes = (axes,)
    elif not isinstance(axes, (list, tuple, range, np.ndarray)):
        raise TypeError(f"{name}: expected a sequence of ints, got {type(axes).__name__}.")
    axes = tuple(axes)
    if count is not None and len(axes) != count:
        raise ValueError(f"{name}: expected {count} axes, got {len(axes)} ({axes!r}).")
    if not axes:
        raise ValueError(f"{name}: expected at least one axis, got {axes!r}.")
    out = tuple(_norm_axis(a, ndim, name) for a in axes)
    if unique and len(set(out)) != len(out):
        raise ValueError(f"{name}: expected distinct axes for a multilevel transform, got {axes!r}.")
    return out


def _per_axis(value: Any, count: int, single: bool, name: str) -> list:
    if single:
        return [value] * count
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: expected one {name} or a sequence of one per axis, got {type(value).__name__}.")
    if len(value) == 1:
        return list(value) * count
    if len(value) != count:
        raise ValueError(f"{name}: expected one {name} or one per transformed axis ({count}), got {len(value)}.")
    return list(value)


def _modes(mode: Any, count: int) -> tuple[str, ...]:
    single = isinstance(mode, (str, int, np.integer)) or mode is None
    return tuple(mode_name(m) for m in _per_axis(mode, count, single, "mode"))


@functools.lru_cache(maxsize=512)
def _named_bank(name: str, dtype: np.dtype) -> FilterBank:
    return filter_bank(name, dtype)


def _bank(wavelet: WaveletLike, dtype: np.dtype) -> FilterBank:
    if isinstance(wavelet, str):
        return _named_bank(wavelet, np.dtype(dtype))
    return filter_bank(wavelet, dtype)


def _banks(wavelet: Any, count: int, dtype: np.dtype) -> tuple[FilterBank, ...]:
    single = is_single_wavelet(wavelet)
    if single:
        return (_bank(wavelet, dtype),) * count
    return tuple(_bank(w, dtype) for w in _per_axis(wavelet, count, False, "wavelet"))


def _impl(impl: str, banks: Sequence[FilterBank]) -> str:
    return resolve_impl(impl, max(max(b.dec_lo.shape[0], b.rec_lo.shape[0]) for b in banks))


def _check_nonempty(x: jax.Array, axes: Sequence[int]) -> None:
    for ax in axes:
        if x.shape[ax] < 1:
            raise ValueError(f"data: the signal along axis {ax} is empty (shape {tuple(x.shape)}); "
                             f"expected at least one sample.")


def _check_ndim(x: jax.Array, least: int, fn: str) -> None:
    if x.ndim < least:
        raise ValueError(f"data: {fn} needs at least {least} dimension(s), got an array of shape {tuple(x.shape)}.")


def _check_level(level: Any, sizes: Sequence[int], dec_lens: Sequence[int]) -> int:
    max_level = min(dwt_max_level(s, n) for s, n in zip(sizes, dec_lens))
    level = _validate.integer(level, "level", least=0, none_ok=True)  # TypeError/ValueError as pywt's
    if level is None:
        return max_level
    if level > max_level:
        warnings.warn(
            f"Level value of {int(level)} is too high: all coefficients will experience boundary effects.",
            UserWarning, stacklevel=4)
    return int(level)


def _crop(x: jax.Array, sizes: Sequence[Any], axes: Sequence[int], name: str) -> jax.Array:
    for ax, size in zip(axes, sizes):
        size = _validate.integer(size, name, least=1)
        if not size <= x.shape[ax]:
            raise ValueError(f"{name}: expected between 1 and {x.shape[ax]} samples along axis {ax}, got {size}.")
        x = jax.lax.slice_in_dim(x, 0, int(size), axis=ax)
    return x


def _synth_len(m: int, n: int, mode: str) -> int:
    return 2 * m if mode == "periodization" else 2 * m - n + 2


# ---------------------------------------------------------------------------
# running the cores, with complex data as real and imaginary parts
# ---------------------------------------------------------------------------


def _shift(axes: Sequence[int], by: int) -> tuple[int, ...]:
    return tuple(a + by for a in axes)


def _analyse(x: jax.Array, banks, modes, axes, impl, level=None):
    """Run the analysis core; complex ``x`` as its stacked real and imaginary parts."""
    run = (functools.partial(_core.wavedecn_core, level=level) if level is not None else _core.dwtn_core)
    if not jnp.iscomplexobj(x):
        return run(x, banks, modes=modes, axes=axes, impl=impl)
    out = run(jnp.stack([x.real, x.imag]), banks, modes=modes, axes=_shift(axes, 1), impl=impl)
    return jax.tree_util.tree_map(lambda s: jax.lax.complex(s[0], s[1]), out)


def _synthesise(run, coeffs, banks, modes, axes, impl):
    """Run a synthesis core on a coefficient pytree of one dtype; complex as real and imaginary parts."""
    leaves = jax.tree_util.tree_leaves(coeffs)
    if not any(jnp.iscomplexobj(c) for c in leaves):
        return run(coeffs, banks, modes=modes, axes=axes, impl=impl)
    stacked = jax.tree_util.tree_map(lambda c: jnp.stack([c.real, c.imag]), coeffs)
    out = run(stacked, banks, modes=modes, axes=_shift(axes, 1), impl=impl)
    return jax.lax.complex(out[0], out[1])


def _waverecn_run(coeffs, banks, modes, axes, impl):
    approx, details = coeffs
    return _core.waverecn_core(approx, details, banks, modes=modes, axes=axes, impl=impl)


def _cast_tree(tree, dtype):
    return jax.tree_util.tree_map(lambda c: c if c.dtype == dtype else c.astype(dtype), tree)


# ---------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------


def _filter_len(filter_len: Any, name: str = "filter_len") -> int:
    if isinstance(filter_len, (int, np.integer)) and not isinstance(filter_len, (bool, np.bool_)):
        return _validate.integer(filter_len, name, least=1)
    return int(filter_bank(filter_len).dec_lo.shape[0])


def dwt_coeff_len(data_len: int, filter_len: Any, mode: Any) -> int:
    """Coefficients per band after one level, as ``pywt.dwt_coeff_len``.

    Args:
      data_len: samples along the transformed axis (>= 1).
      filter_len: filter length, or anything :func:`awd_jax.filters.filter_bank` accepts.
      mode: a pywt mode.
    """
    data_len = _validate.integer(data_len, "data_len", least=1)
    return _coeff_len(data_len, _filter_len(filter_len), mode_name(mode))


def dwt_max_level(data_len: int, filter_len: Any) -> int:
    """Deepest level without boundary effects everywhere, as ``pywt.dwt_max_level``.

    ``floor(log2(data_len / (filter_len - 1)))``, 0 when the signal is shorter than the filter.
    """
    n = _filter_len(filter_len)
    data_len = _validate.integer(data_len, "data_len", least=0)
    if n < 2 or data_len < n - 1:
        return 0
    return int(np.floor(np.log2(data_len / (n - 1))))


def dwtn_max_level(shape: Sequence[int], wavelet: Any, axes: Optional[Sequence[int]] = None) -> int:
    """Deepest level for every axis of ``shape`` in ``axes`` (default: all), as ``pywt.dwtn_max_level``."""
    axes = _norm_axes(axes, len(shape))
    banks = _banks(wavelet, len(axes), np.dtype(np.float64)) if not isinstance(wavelet, (int, np.integer)) else None
    lens = [int(b.dec_lo.shape[0]) for b in banks] if banks else [int(wavelet)] * len(axes)
    return min(dwt_max_level(int(shape[a]), n) for a, n in zip(axes, lens))


# ---------------------------------------------------------------------------
# single level
# ---------------------------------------------------------------------------


def dwtn(data: Any, wavelet: Any, mode: Any = "symmetric", axes: Optional[Sequence[int]] = None, *,
         impl: str = "auto") -> dict:
    """Single-level n-D DWT, as ``pywt.dwtn``: a dict ``{'aa…': cA, 'ad…': …}``.

    Args:
      data: ``(...)`` array, real or complex (integers become floats, half precision single).
      wavelet: a pywt name, a ``pywt.Wavelet`` (orthogonal, biorthogonal, custom), a
        :class:`~awd_jax.filters.FilterBank`, a lowpass ``h`` ``(N,)`` (traced), or one
        of these per axis.
      mode: a pywt mode (or one per axis).
      axes: axes to transform, in order (default: all; repeats allowed).
      impl: ``"auto"``, ``"fused"``, ``"conv"`` or ``"matrix"`` (static).

    Returns:
      dict of ``2**len(axes)`` arrays; key letter ``i`` is ``'a'`` (lowpass) or ``'d'``
      along ``axes[i]``; each band has ``dwt_coeff_len`` samples along each axis.
    """
    x = _as_data(data, "data")
    _check_ndim(x, 1, "dwtn")
    axes = _norm_axes(axes, x.ndim)
    _check_nonempty(x, axes)
    banks = _banks(wavelet, len(axes), _real_dtype(x.dtype))
    return _analyse(x, banks, _modes(mode, len(axes)), axes, _impl(impl, banks))


def _fix_keys(coeffs: dict, where: str, allow_none: bool) -> dict:
    """pywt's rules on a detail dict: letters 'a'/'d', one key length; ``None`` dropped (or refused)."""
    if not isinstance(coeffs, dict):
        raise TypeError(f"{where}: expected a dict of arrays keyed like 'ad', got {type(coeffs).__name__}.")
    missing = [k for k, v in coeffs.items() if v is None]
    if missing and not allow_none:
        raise ValueError(
            f"{where}: the detail coefficients {missing} are None; for a multilevel transform give "
            f"zeros instead (np.zeros_like of the band).")
    bad = [k for k in coeffs if not isinstance(k, str) or not set(k) <= set("ad") or not k]
    if bad:
        raise ValueError(f"{where}: invalid keys {bad}; expected strings of 'a' and 'd' such as 'ad'.")
    if len({len(k) for k in coeffs}) > 1:
        raise ValueError(f"{where}: all keys must have the same length, got {sorted(coeffs)}.")
    return {k: _as_data(v, f"{where}[{k!r}]") for k, v in coeffs.items() if v is not None}


def _complete(bands: dict, n_axes: int, shape: Sequence[int], dtype, where: str) -> dict:
    """All ``2**n_axes`` keys, missing ones as zeros; every band of ``shape``."""
    for k, v in bands.items():
        if tuple(v.shape) != tuple(shape):
            raise ValueError(f"{where}: band {k!r} has shape {tuple(v.shape)}, expected {tuple(shape)} "
                             f"(all bands of one level have one shape).")
    keys = ["".join(p) for p in np.array(np.meshgrid(*[["a", "d"]] * n_axes, indexing="ij")).reshape(n_axes, -1).T]
    return {k: _cast_tree(bands[k], dtype) if k in bands else _core.zeros_for(shape, dtype) for k in keys}


def idwtn(coeffs: dict, wavelet: Any, mode: Any = "symmetric", axes: Optional[Sequence[int]] = None, *,
          impl: str = "auto") -> jax.Array:
    """Single-level inverse n-D DWT, as ``pywt.idwtn``; missing or ``None`` bands are zeros.

    Args:
      coeffs: dict as :func:`dwtn` returns (keys of one length, bands of one shape).
      wavelet, mode, axes, impl: as :func:`dwtn` (``axes`` default: all axes).

    Returns:
      the reconstruction, ``2M - N + 2`` samples along each transformed axis
      (``2M`` for periodization).
    """
    bands = _fix_keys(coeffs, "coeffs", allow_none=True)
    if not bands:
        raise ValueError("coeffs: every band is None or missing; expected at least one array.")
    n_axes = len(next(iter(bands)))
    ref = next(iter(bands.values()))
    axes = _norm_axes(axes, ref.ndim)
    if len(axes) != n_axes:
        raise ValueError(f"axes: {len(axes)} axes {axes} do not match the {n_axes}-letter keys of coeffs "
                         f"(e.g. {next(iter(bands))!r}).")
    dtype = _mixed_dtype([v.dtype for v in bands.values()])
    full = _complete(bands, n_axes, ref.shape, dtype, "coeffs")
    banks = _banks(wavelet, n_axes, _real_dtype(dtype))
    return _synthesise(_core.idwtn_core, full, banks, _modes(mode, n_axes), axes, _impl(impl, banks))


def dwt(data: Any, wavelet: WaveletLike, mode: Any = "symmetric", axis: int = -1, *,
        impl: str = "auto") -> tuple[jax.Array, jax.Array]:
    """Single-level 1D DWT, as ``pywt.dwt``: ``(cA, cD)``.

    Args:
      data: ``(..., L, ...)`` array (real or complex); other axes are batch.
      wavelet: a pywt name, ``pywt.Wavelet``, :class:`~awd_jax.filters.FilterBank` or
        lowpass ``h`` ``(N,)`` (traced).
      mode: a pywt mode; axis: the axis to transform.

    Returns:
      ``(cA, cD)`` with ``floor((L+N-1)/2)`` (``ceil(L/2)`` for periodization) samples along ``axis``.
    """
    x = _as_data(data, "data")
    _check_ndim(x, 1, "dwt")
    axis = _norm_axis(axis, x.ndim)
    _check_nonempty(x, (axis,))
    bank = _bank(wavelet, _real_dtype(x.dtype))
    out = _analyse(x, (bank,), (mode_name(mode),), (axis,), _impl(impl, (bank,)))
    return out["a"], out["d"]


def idwt(cA: Any, cD: Any, wavelet: WaveletLike, mode: Any = "symmetric", axis: int = -1, *,
         impl: str = "auto") -> jax.Array:
    """Single-level inverse 1D DWT, as ``pywt.idwt``; either band may be ``None`` (zeros).

    Returns ``2M - N + 2`` samples along ``axis`` (``2M`` for periodization).
    """
    if cA is None and cD is None:
        raise ValueError("cA, cD: at least one of the two coefficient arrays must be given (both are None).")
    ca = None if cA is None else _as_data(cA, "cA")
    cd = None if cD is None else _as_data(cD, "cD")
    ref = ca if ca is not None else cd
    if ca is not None and cd is not None and ca.shape != cd.shape:
        raise ValueError(f"cA, cD: expected arrays of one shape, got {tuple(ca.shape)} and {tuple(cd.shape)}.")
    axis = _norm_axis(axis, ref.ndim)
    bands = {k: v for k, v in (("a", ca), ("d", cd)) if v is not None}
    dtype = _mixed_dtype([v.dtype for v in bands.values()])
    full = _complete(bands, 1, ref.shape, dtype, "cA, cD")
    bank = _bank(wavelet, _real_dtype(dtype))
    return _synthesise(_core.idwtn_core, full, (bank,), (mode_name(mode),), (axis,), _impl(impl, (bank,)))


def dwt2(data: Any, wavelet: Any, mode: Any = "symmetric", axes: Sequence[int] = (-2, -1), *,
         impl: str = "auto") -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array]]:
    """Single-level 2D DWT, as ``pywt.dwt2``: ``(cA, (cH, cV, cD))``.

    cH is lowpass along ``axes[1]`` and highpass along ``axes[0]``, cV the reverse,
    cD highpass on both. ``wavelet`` and ``mode`` may be given per axis.
    """
    x = _as_data(data, "data")
    _check_ndim(x, 2, "dwt2")
    axes = _norm_axes(axes, x.ndim, count=2, scalar_ok=False)
    _check_nonempty(x, axes)
    banks = _banks(wavelet, 2, _real_dtype(x.dtype))
    out = _analyse(x, banks, _modes(mode, 2), axes, _impl(impl, banks))
    return out["aa"], (out["da"], out["ad"], out["dd"])


def _details_2d(details: Any, where: str) -> dict:
    if not isinstance(details, (list, tuple)) or len(details) != 3:
        raise ValueError(_DETAIL_TYPE_HINT.format(got=type(details).__name__, want="a 3-tuple (cH, cV, cD) of arrays",
                                                  fn="wavedec2") + f" (at {where})")
    return dict(zip(("da", "ad", "dd"), details))


def idwt2(coeffs: Any, wavelet: Any, mode: Any = "symmetric", axes: Sequence[int] = (-2, -1), *,
          impl: str = "auto") -> jax.Array:
    """Single-level inverse 2D DWT, as ``pywt.idwt2``; ``coeffs = (cA, (cH, cV, cD))``, ``None`` bands are zeros."""
    if not isinstance(coeffs, (list, tuple)) or len(coeffs) != 2:
        raise ValueError(f"coeffs: expected (cA, (cH, cV, cD)) as dwt2 returns, got {type(coeffs).__name__}.")
    bands = {"aa": coeffs[0], **_details_2d(coeffs[1], "coeffs[1]")}
    ndim = next((np.ndim(v) for v in bands.values() if v is not None), 2)
    axes = _norm_axes(axes, max(ndim, 2), count=2, scalar_ok=False)
    return idwtn(bands, wavelet, mode, axes, impl=impl)


# ---------------------------------------------------------------------------
# multilevel
# ---------------------------------------------------------------------------


def _wavedecn(x: jax.Array, wavelet: Any, mode: Any, level: Any, axes: tuple[int, ...], impl: str) -> list:
    _check_nonempty(x, axes)
    banks = _banks(wavelet, len(axes), _real_dtype(x.dtype))
    level = _check_level(level, [x.shape[a] for a in axes], [int(b.dec_lo.shape[0]) for b in banks])
    return _analyse(x, banks, _modes(mode, len(axes)), axes, _impl(impl, banks), level=level)


def wavedec(data: Any, wavelet: WaveletLike, mode: Any = "symmetric", level: Optional[int] = None,
            axis: int = -1, *, impl: str = "auto") -> list:
    """Multilevel 1D DWT, as ``pywt.wavedec``: ``[cA_J, cD_J, ..., cD_1]``.

    Args:
      data: ``(..., L, ...)`` array; the other axes are batch/channels.
      wavelet: as :func:`dwt`; mode: a pywt mode.
      level: J (>= 0); ``None`` means ``dwt_max_level(L, N)``. Deeper levels work with
        pywt's boundary-effects warning.
      axis: the axis to transform; impl: as :func:`dwtn`.

    Returns:
      list of ``J + 1`` arrays.
    """
    x = _as_data(data, "data")
    _check_ndim(x, 1, "wavedec")
    axis = _norm_axis(axis, x.ndim)
    out = _wavedecn(x, wavelet, mode, level, (axis,), impl)
    return [out[0]] + [d["d"] for d in out[1:]]


def wavedec2(data: Any, wavelet: Any, mode: Any = "symmetric", level: Optional[int] = None,
             axes: Sequence[int] = (-2, -1), *, impl: str = "auto") -> list:
    """Multilevel 2D DWT, as ``pywt.wavedec2``: ``[cA_J, (cH_J, cV_J, cD_J), ..., (cH_1, cV_1, cD_1)]``.

    ``level=None`` is the smallest ``dwt_max_level`` over the two axes; ``wavelet`` and
    ``mode`` may be given per axis.
    """
    x = _as_data(data, "data")
    _check_ndim(x, 2, "wavedec2")
    axes = _norm_axes(axes, x.ndim, count=2, unique=True, scalar_ok=False)
    out = _wavedecn(x, wavelet, mode, level, axes, impl)
    return [out[0]] + [(d["da"], d["ad"], d["dd"]) for d in out[1:]]


def wavedecn(data: Any, wavelet: Any, mode: Any = "symmetric", level: Optional[int] = None,
             axes: Optional[Sequence[int]] = None, *, impl: str = "auto") -> list:
    """Multilevel n-D DWT, as ``pywt.wavedecn``: ``[cA_J, {details_J}, ..., {details_1}]``.

    Each details dict has the ``2**len(axes) - 1`` keys of :func:`dwtn` other than
    ``'a…a'``. ``axes`` default: all (distinct).
    """
    x = _as_data(data, "data")
    _check_ndim(x, 1, "wavedecn")
    axes = _norm_axes(axes, x.ndim, unique=True)
    return _wavedecn(x, wavelet, mode, level, axes, impl)


def _waverecn(approx: Optional[jax.Array], levels: list[dict], wavelet: Any, mode: Any,
              axes: tuple[int, ...], impl: str) -> jax.Array:
    """Shared multilevel inverse: ``levels`` are detail dicts (values arrays), possibly empty.

    Validates the shapes level by level as pywt does (the approximation may be one
    longer than the details along the transformed axes), fills missing bands with
    zeros and runs one jitted program.
    """
    n_axes = len(axes)
    arrays = ([approx] if approx is not None else []) + [v for d in levels for v in d.values()]
    dtype = _mixed_dtype([a.dtype for a in arrays])
    banks = _banks(wavelet, n_axes, _real_dtype(dtype))
    modes = _modes(mode, n_axes)
    a_shape = None if approx is None else tuple(approx.shape)
    complete = []
    for i, d in enumerate(levels, start=1):
        where = f"coeffs[{i}]"
        if a_shape is None and not d:
            continue
        if d:
            shape = tuple(next(iter(d.values())).shape)
            if a_shape is not None:
                if len(a_shape) != len(shape):
                    raise ValueError(f"{where}: details of {len(shape)} dimensions after an approximation of "
                                     f"{len(a_shape)}; expected one rank.")
                diff = np.subtract(a_shape, shape)
                allowed = (diff == 0) | ((diff == 1) & np.isin(np.arange(len(shape)), axes) & bool(complete))
                if not np.all(allowed):
                    raise ValueError(f"{where}: details of shape {shape} do not fit the approximation of shape "
                                     f"{a_shape}; expected equal shapes (or the approximation one longer "
                                     f"along the transformed axes {axes}).")
        else:
            shape = a_shape
        for ax, bank, md in zip(axes, banks, modes):
            n = int(bank.rec_lo.shape[0])
            if md != "periodization" and shape[ax] < n // 2:
                raise ValueError(f"{where}: {shape[ax]} coefficients along axis {ax} are too few for a "
                                 f"reconstruction filter of length {n}; expected at least {n // 2}.")
        complete.append(_complete(d, n_axes, shape, dtype, where))
        new_shape = list(shape)
        for ax, bank, md in zip(axes, banks, modes):
            new_shape[ax] = _synth_len(shape[ax], int(bank.rec_lo.shape[0]), md)
        a_shape = tuple(new_shape)
        if approx is None:
            approx = _core.zeros_for(shape, dtype)
    if not complete:
        raise ValueError("coeffs: the approximation is None and every detail is empty; expected at least one array.")
    coeffs = (_cast_tree(approx, dtype), [{k: v for k, v in d.items() if k != "a" * n_axes} for d in complete])
    return _synthesise(_waverecn_run, coeffs, banks, modes, axes, _impl(impl, banks))


def _check_coeff_list(coeffs: Any, fn: str) -> None:
    if not isinstance(coeffs, (list, tuple)):
        raise ValueError(f"coeffs: expected a list of coefficient arrays as {fn} returns, got {type(coeffs).__name__}.")
    if len(coeffs) < 1:
        raise ValueError(f"coeffs: the coefficient list is empty; expected at least the approximation ({fn}).")


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) or (hasattr(x, "shape") and hasattr(x, "dtype"))


def waverec(coeffs: Sequence[Any], wavelet: WaveletLike, mode: Any = "symmetric", axis: int = -1, *,
            length: Optional[int] = None, impl: str = "auto") -> jax.Array:
    """Multilevel inverse 1D DWT, as ``pywt.waverec``.

    Args:
      coeffs: ``[cA_J, cD_J, ..., cD_1]``; ``None`` entries are zeros.
      wavelet, mode, axis, impl: as :func:`wavedec`.
      length: crop the output to this many samples along ``axis`` (an odd input of
        length L reconstructs to L + 1 samples, like pywt; pass ``length=L``).
    """
    _check_coeff_list(coeffs, "wavedec")
    for i, d in enumerate(coeffs[1:], start=1):
        if d is not None and not _is_array(d):
            raise ValueError(_DETAIL_TYPE_HINT.format(got=type(d).__name__, want="arrays", fn="wavedec")
                             + f" (at coeffs[{i}])")
    approx = None if coeffs[0] is None else _as_data(coeffs[0], "coeffs[0]")
    details = [None if d is None else _as_data(d, f"coeffs[{i}]") for i, d in enumerate(coeffs[1:], start=1)]
    ref = next((c for c in [approx] + details if c is not None), None)
    if ref is None:
        raise ValueError("coeffs: every coefficient array is None; expected at least one array.")
    axis = _norm_axis(axis, ref.ndim)
    if len(coeffs) == 1:
        out = approx
    else:
        # pywt's None rule: a missing band is zeros shaped like the other band of its level
        levels, a_shape = [], None if approx is None else approx.shape
        for i, d in enumerate(details, start=1):
            if d is None:
                if a_shape is None:
                    raise ValueError(f"coeffs[{i}]: the approximation and this detail are both None.")
                d = _core.zeros_for(a_shape, ref.dtype)
            if a_shape is not None and (len(a_shape) != d.ndim or any(
                    s != t for k, (s, t) in enumerate(zip(a_shape, d.shape)) if k != axis)):
                raise ValueError(f"coeffs[{i}]: detail of shape {tuple(d.shape)} does not fit the approximation "
                                 f"of shape {tuple(a_shape)} outside axis {axis}.")
            if a_shape is not None and a_shape[axis] not in (d.shape[axis], d.shape[axis] + 1):
                raise ValueError(f"coeffs[{i}]: coefficient shape mismatch along axis {axis}: the approximation "
                                 f"has {a_shape[axis]} samples, the detail {d.shape[axis]}; expected equal "
                                 f"(or the approximation one longer).")
            levels.append({"d": d})
            n = int(_bank(wavelet, np.dtype(np.float32)).rec_lo.shape[0])
            shape = list(d.shape)
            shape[axis] = _synth_len(d.shape[axis], n, mode_name(mode))
            a_shape = tuple(shape)
        out = _waverecn(approx, levels, wavelet, mode, (axis,), impl)
    return out if length is None else _crop(out, [length], [axis], "length")


def waverec2(coeffs: Sequence[Any], wavelet: Any, mode: Any = "symmetric", axes: Sequence[int] = (-2, -1), *,
             shape: Optional[Sequence[int]] = None, impl: str = "auto") -> jax.Array:
    """Multilevel inverse 2D DWT, as ``pywt.waverec2``.

    Args:
      coeffs: ``[cA_J, (cH_J, cV_J, cD_J), ..., (cH_1, cV_1, cD_1)]``; ``None`` bands are zeros.
      shape: crop the output to ``(H, W)`` along ``axes`` (odd sizes come back one longer, like pywt).
    """
    _check_coeff_list(coeffs, "wavedec2")
    levels = [_details_2d(d, f"coeffs[{i}]") for i, d in enumerate(coeffs[1:], start=1)]
    approx = None if coeffs[0] is None else _as_data(coeffs[0], "coeffs[0]")
    levels = [{k: _as_data(v, f"coeffs[{i}]") for k, v in d.items() if v is not None}
              for i, d in enumerate(levels, start=1)]
    ref = next((c for c in [approx] + [v for d in levels for v in d.values()] if c is not None), None)
    if ref is None:
        raise ValueError("coeffs: every coefficient array is None; expected at least one array.")
    _check_ndim(ref, 2, "waverec2")
    axes = _norm_axes(axes, ref.ndim, count=2, unique=True, scalar_ok=False)
    for i, d in enumerate(levels, start=1):
        if len({tuple(v.shape) for v in d.values()}) > 1:
            shapes = [tuple(v.shape) for v in d.values()]
            raise ValueError(f"coeffs[{i}]: expected cH, cV, cD of one shape, got {shapes}.")
    out = approx if not levels else _waverecn(approx, levels, wavelet, mode, axes, impl)
    if shape is None:
        return out
    if not isinstance(shape, (list, tuple)) or len(shape) != 2:
        raise ValueError(f"shape: expected (H, W), got {shape!r}.")
    return _crop(out, shape, axes, "shape")


def waverecn(coeffs: Sequence[Any], wavelet: Any, mode: Any = "symmetric", axes: Optional[Sequence[int]] = None, *,
             shape: Optional[Sequence[int]] = None, impl: str = "auto") -> jax.Array:
    """Multilevel inverse n-D DWT, as ``pywt.waverecn``.

    Args:
      coeffs: ``[cA_J, {details_J}, ..., {details_1}]``; missing keys are zeros, an empty
        dict is a level without details.
      axes: as :func:`wavedecn` (default: all axes of the coefficients).
      shape: crop the output to this size along ``axes``.
    """
    _check_coeff_list(coeffs, "wavedecn")
    for i, d in enumerate(coeffs[1:], start=1):
        if not isinstance(d, dict):
            raise ValueError(_DETAIL_TYPE_HINT.format(got=type(d).__name__, want="a dict of arrays", fn="wavedecn")
                             + f" (at coeffs[{i}])")
    levels = [_fix_keys(d, f"coeffs[{i}]", allow_none=False) for i, d in enumerate(coeffs[1:], start=1)]
    approx = None if coeffs[0] is None else _as_data(coeffs[0], "coeffs[0]")
    arrays = ([approx] if approx is not None else []) + [v for d in levels for v in d.values()]
    if not arrays:
        raise ValueError("coeffs: the approximation is None and every detail is empty; expected at least one array.")
    ndims = {a.ndim for a in arrays}
    if len(ndims) > 1:
        raise ValueError(f"coeffs: all coefficients must have one number of dimensions, got {sorted(ndims)}.")
    ndim = ndims.pop()
    if not levels:
        out = approx
        axes = _norm_axes(axes, ndim, unique=True)
    else:
        axes = _norm_axes(axes, ndim, unique=True)
        key_lens = {len(k) for d in levels for k in d}
        if key_lens and key_lens != {len(axes)}:
            raise ValueError(f"coeffs: detail keys of length {sorted(key_lens)} do not match the {len(axes)} "
                             f"transformed axes {axes}.")
        out = _waverecn(approx, levels, wavelet, mode, axes, impl)
    if shape is None:
        return out
    if not isinstance(shape, (list, tuple)) or len(shape) != len(axes):
        raise ValueError(f"shape: expected {len(axes)} sizes (one per transformed axis), got {shape!r}.")
    return _crop(out, shape, axes, "shape")
