"""Filters: the learned lowpass ``h``, its tied highpass ``g``, filter banks and pywt export.

Conventions (``docs/method.md#filters``): ``h`` is PyWavelets' ``rec_lo``
(``dec_lo[::-1]``), of even length ``N``; the highpass is never free,
``g[n] = (-1)**n * h[N-1-n]`` (= pywt's ``rec_hi``). A learned ``h`` exports to pywt
as the filter bank ``(dec_lo, dec_hi, rec_lo, rec_hi) = (h[::-1], g[::-1], h, g)``.

The transforms take any two-channel bank (:class:`FilterBank`: orthogonal, biorthogonal
or custom, four possibly traced arrays); AWD itself learns orthogonal ``h`` only.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import pywt

__all__ = [
    "WaveletLike", "FilterBank", "filter_bank", "lowpass", "highpass", "init_filter", "to_pywt",
    "lattice_filter", "lattice_free_filter", "lattice_angles", "lattice_project",
]


class FilterBank(NamedTuple):
    """A two-channel filter bank in pywt's layout; each field a ``(N,)`` array (may be traced).

    ``dec_lo``/``dec_hi`` analyse (pywt convolves with them), ``rec_lo``/``rec_hi``
    synthesise. A lowpass ``h`` gives the orthogonal bank ``(h[::-1], g[::-1], h, g)``.
    """

    dec_lo: Any
    dec_hi: Any
    rec_lo: Any
    rec_hi: Any


WaveletLike = Union[str, "pywt.Wavelet", FilterBank, jax.Array, np.ndarray]


@functools.lru_cache(maxsize=None)
def _discrete_names() -> frozenset:
    return frozenset(pywt.wavelist(kind="discrete"))


@functools.lru_cache(maxsize=None)
def _continuous_names() -> frozenset:
    return frozenset(pywt.wavelist(kind="continuous"))


def _continuous_error(what: str) -> ValueError:
    return ValueError(
        f"wavelet: {what} is a continuous wavelet; the discrete transforms need a discrete "
        f"wavelet (see pywt.wavelist(kind='discrete'))."
    )


def _named_wavelet(name: str) -> pywt.Wavelet:
    if name not in _discrete_names():
        family = name.split("-")[0].rstrip("0123456789.")
        if name in _continuous_names() or family in ("cmor", "shan", "fbsp", "cgau", "gaus"):
            raise _continuous_error(repr(name))
        raise ValueError(
            f"wavelet: unknown wavelet name {name!r}; expected one of PyWavelets' "
            f"discrete wavelets such as 'db5', 'sym5', 'coif2', 'bior2.2' or 'haar' "
            f"(see pywt.wavelist(kind='discrete'))."
        )
    return pywt.Wavelet(name)


@functools.lru_cache(maxsize=None)
def _named_bank(name: str) -> FilterBank:
    return _bank_from_pywt(_named_wavelet(name))


def _readonly(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    a.setflags(write=False)
    return a


def _bank_from_pywt(wavelet: Any) -> FilterBank:
    """The four filters of a ``pywt.Wavelet`` (or any object with pywt's ``filter_bank``)."""
    bank = FilterBank(*(_readonly(f) for f in wavelet.filter_bank))
    for lo, hi, kind in ((bank.dec_lo, bank.dec_hi, "dec"), (bank.rec_lo, bank.rec_hi, "rec")):
        if lo.shape != hi.shape or lo.size < 2 or lo.size % 2:
            raise ValueError(
                f"wavelet: the {kind} filters of {getattr(wavelet, 'name', 'the wavelet')!r} have lengths "
                f"{lo.size} and {hi.size}; expected two filters of one even length >= 2."
            )
    return bank


def _tied_bank(h: Any) -> FilterBank:
    g = highpass(h)
    return FilterBank(h[::-1], g[::-1], h, g)


def _is_filter_values(wavelet: Any) -> bool:
    """A list/tuple of plain numbers (a lowpass filter), not a sequence of wavelets."""
    return isinstance(wavelet, (list, tuple)) and len(wavelet) > 0 and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in wavelet
    )


def is_single_wavelet(wavelet: Any) -> bool:
    """Whether ``wavelet`` is one wavelet (not a per-axis sequence of them)."""
    return (isinstance(wavelet, (str, pywt.Wavelet, pywt.ContinuousWavelet, FilterBank, jax.Array, np.ndarray))
            or hasattr(wavelet, "filter_bank") or _is_filter_values(wavelet))


def filter_bank(wavelet: WaveletLike, dtype: Any = None) -> FilterBank:
    """The :class:`FilterBank` of a wavelet.

    Args:
      wavelet: a pywt name (``"db5"``, ``"bior2.2"``), a ``pywt.Wavelet`` (orthogonal,
        biorthogonal or built from a custom ``filter_bank``), a :class:`FilterBank`
        of four arrays, or a lowpass ``h`` ``(N,)`` (its tied orthogonal bank).
        Arrays stay arrays (traced values stay traced).
      dtype: if given, every filter is cast to it (JAX arrays).

    Raises:
      ValueError: unknown or continuous wavelet; filters of odd or unequal length.
      TypeError: anything else.
    """
    if isinstance(wavelet, FilterBank):
        bank = FilterBank(*(_check_filter(f, f"wavelet.{field}") for f, field in zip(wavelet, FilterBank._fields)))
        if bank.dec_lo.shape != bank.dec_hi.shape or bank.rec_lo.shape != bank.rec_hi.shape:
            raise ValueError(
                f"wavelet: a FilterBank needs dec_lo/dec_hi and rec_lo/rec_hi of equal lengths, got "
                f"{[int(f.shape[0]) for f in bank]}."
            )
    elif isinstance(wavelet, str):
        bank = _named_bank(wavelet)
    elif isinstance(wavelet, pywt.ContinuousWavelet):
        raise _continuous_error(f"pywt.ContinuousWavelet {wavelet.name!r}")
    elif isinstance(wavelet, pywt.Wavelet) or hasattr(wavelet, "filter_bank"):
        bank = _bank_from_pywt(wavelet)
    else:
        bank = _tied_bank(lowpass(wavelet))
    if dtype is None:
        return bank
    return FilterBank(*(jnp.asarray(f, dtype) if isinstance(f, np.ndarray) else f.astype(dtype) for f in bank))


@functools.lru_cache(maxsize=None)
def _named_lowpass(name: str) -> np.ndarray:
    h = _from_pywt(_named_wavelet(name))
    h.setflags(write=False)
    return h


def _from_pywt(wavelet: pywt.Wavelet) -> np.ndarray:
    if isinstance(wavelet, pywt.ContinuousWavelet):
        raise _continuous_error(f"pywt.ContinuousWavelet {wavelet.name!r}")
    if not wavelet.orthogonal:
        raise ValueError(
            f"wavelet: {wavelet.name!r} is not orthogonal; AWD learns orthogonal filters (one "
            f"lowpass h, analysis and synthesis tied), so a biorthogonal wavelet such as "
            f"'bior*'/'rbio*' cannot be a start or a lowpass. The transforms accept it directly."
        )
    return np.asarray(wavelet.rec_lo, dtype=np.float64)


def _check_filter(h: Any, name: str) -> Any:
    h = h if isinstance(h, (jax.Array, np.ndarray)) else np.asarray(h)
    if not (jnp.issubdtype(h.dtype, jnp.floating) or jnp.issubdtype(h.dtype, jnp.integer)):
        raise TypeError(f"{name}: expected a real floating-point filter, got dtype {h.dtype}.")
    if h.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D filter of shape (N,), got shape {tuple(h.shape)}.")
    if h.shape[0] < 2 or h.shape[0] % 2:
        raise ValueError(
            f"{name}: expected an even filter length N >= 2 (two-channel wavelet filters have even "
            f"length), got N = {h.shape[0]}."
        )
    return h


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
    if isinstance(wavelet, FilterBank):
        raise ValueError(
            "wavelet: a FilterBank has no single lowpass h; AWD learns orthogonal filters given by "
            "their lowpass (pass h, a name or an orthogonal pywt.Wavelet)."
        )
    if isinstance(wavelet, (jax.Array, np.ndarray, list, tuple)):
        if isinstance(wavelet, (list, tuple)) and not _is_filter_values(wavelet):
            raise TypeError(
                f"h: expected a 1-D filter of numbers, got a {type(wavelet).__name__} of "
                f"{[type(v).__name__ for v in wavelet][:4]}."
            )
        return _check_filter(wavelet, "h")
    raise TypeError(
        f"wavelet: expected a pywt wavelet name, a pywt.Wavelet, a FilterBank or a 1-D array, "
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
    """Initial filter ``h0 = scale * h_named + noise * N(0, 1) + const`` (docs/method.md#filters).

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


# ---------------------------------------------------------------------------
# the paraunitary lattice (docs/method.md#lattice)
# ---------------------------------------------------------------------------


def _rotation(theta: jax.Array) -> jax.Array:
    """``R(θ) = [[cos θ, sin θ], [−sin θ, cos θ]]`` for ``θ (...)`` → ``(..., 2, 2)``."""
    c, s = jnp.cos(theta), jnp.sin(theta)
    return jnp.stack([jnp.stack([c, s], -1), jnp.stack([-s, c], -1)], -2)


def _float_angles(angles: Any) -> jax.Array:
    a = jnp.asarray(angles)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        a = a.astype(jnp.zeros(()).dtype)
    if a.ndim < 1:
        raise ValueError(f"angles: expected an array (..., K), got a scalar of shape {tuple(a.shape)}.")
    return a


def lattice_filter(angles: Any) -> jax.Array:
    """Angles ``(..., K)`` → orthogonal lowpass ``(..., 2K)`` (``docs/method.md#factorisation``).

    ``E(z) = R(θ_{K−1}) Λ(z) ⋯ Λ(z) R(θ_0)``; ``h[2n] = E₀₀[n]``, ``h[2n+1] = E₀₁[n]``. For every
    value of the angles ``Σ_k h[k] h[k+2m] = δ_m``; ``Σh = √2·cos(Σθ − π/4)``. Pure, jittable,
    differentiable and vmappable; keeps the angles' float dtype.
    """
    a = _float_angles(angles)
    if a.shape[-1] < 1:
        raise ValueError("angles: expected at least one angle (K >= 1), got an empty last axis.")
    return _lattice(a)


@jax.jit
def _lattice(a: jax.Array) -> jax.Array:
    """:func:`lattice_filter` of validated angles (one compiled program per shape, also when
    called outside ``jit``)."""
    k = a.shape[-1]
    e = _rotation(a[..., 0])[..., None]  # (..., 2, 2, 1): coefficients of z^-n
    for i in range(1, k):
        zero = jnp.zeros(e.shape[:-3] + (2, 1), e.dtype)
        row0 = jnp.concatenate([e[..., 0, :, :], zero], -1)
        row1 = jnp.concatenate([zero, e[..., 1, :, :]], -1)  # Λ(z): the second row delayed
        delayed = jnp.stack([row0, row1], -3)
        e = jnp.einsum("...ij,...jcn->...icn", _rotation(a[..., i]), delayed)
    return jnp.stack([e[..., 0, 0, :], e[..., 0, 1, :]], -1).reshape(a.shape[:-1] + (2 * k,))


@jax.jit
def _lattice_free(a: jax.Array) -> jax.Array:
    last = jnp.asarray(np.pi / 4, a.dtype) - jnp.sum(a, axis=-1, keepdims=True)
    return _lattice(jnp.concatenate([a, last], axis=-1))


def lattice_free_filter(free: Any) -> jax.Array:
    """``K − 1`` free angles ``(..., K−1)`` → ``(..., 2K)`` with the DC condition built in.

    The last angle is ``θ_{K−1} = π/4 − Σ free``, so ``Σh = √2`` exactly
    (``docs/method.md#dc-condition``); an empty last axis gives Haar.
    """
    return _lattice_free(_float_angles(free))


def _wrap_half(theta: float) -> float:
    """``θ`` into ``(−π/2, π/2]`` (a rotation by π only flips signs, absorbed by the next stage)."""
    t = (theta + np.pi / 2) % np.pi - np.pi / 2
    return np.pi / 2 if t == -np.pi / 2 else t


def _peel(h: np.ndarray) -> np.ndarray:
    """Angles ``(K,)`` of an even-length filter by peeling (exact in exact arithmetic when ``h`` is
    orthogonal; rounding grows with ``K``, so :func:`_polish` finishes the job)."""
    k = h.size // 2
    e00, e01 = h[0::2], h[1::2]
    e = np.array([[e00, e01], [-e01[::-1], e00[::-1]]])  # paraunitary, det E = z^-(K-1)
    angles = np.zeros(k)
    for i in range(k - 1, 0, -1):
        a, b = e[0, :, 0], e[1, :, 0]
        j = int(np.argmax(np.abs(a) + np.abs(b)))
        theta = _wrap_half(float(np.arctan2(-b[j], a[j])))
        c, s = np.cos(theta), np.sin(theta)
        row0, row1 = c * e[0] - s * e[1], s * e[0] + c * e[1]
        e = np.array([row0[:, :-1], row1[:, 1:]])
        angles[i] = theta
    angles[0] = float(np.arctan2(e[0, 1, 0], e[0, 0, 0]))
    return angles


def _lattice_np(angles: np.ndarray) -> np.ndarray:
    """:func:`lattice_filter` in float64 NumPy for a stack of angles ``(B, K)`` → ``(B, 2K)``."""
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # (B, K, 2, 2)
    e = rot[:, 0, :, :, None]  # (B, 2, 2, 1): coefficients of z^-n
    for i in range(1, angles.shape[1]):
        delayed = np.zeros(e.shape[:3] + (e.shape[3] + 1,))
        delayed[:, 0, :, :-1], delayed[:, 1, :, 1:] = e[:, 0], e[:, 1]  # Λ(z): the second row delayed
        e = np.einsum("bij,bjcn->bicn", rot[:, i], delayed)
    return np.stack([e[:, 0, 0], e[:, 0, 1]], -1).reshape(angles.shape[0], -1)


def _lattice_jacobian(angles: np.ndarray) -> np.ndarray:
    """``(2K, K)`` Jacobian of :func:`_lattice_np` at ``angles (K,)``: column ``i`` is the filter with
    ``R(θ_i)`` replaced by ``dR/dθ = R(θ_i + π/2)`` (the map is linear in each rotation)."""
    turned = angles[None, :] + np.eye(angles.size) * (np.pi / 2)
    return _lattice_np(turned).T


def _full_angles(free: np.ndarray) -> np.ndarray:
    """``K − 1`` free angles → ``K`` angles summing to π/4 (the DC condition)."""
    return np.append(free, np.pi / 4 - free.sum())


def _polish(target: np.ndarray, free: np.ndarray, iterations: int = 100) -> tuple[np.ndarray, float]:
    """Levenberg–Marquardt on ``‖lattice_free_filter(free) − target‖`` in float64 from ``free (K−1,)``.

    Returns the free angles (each in ``[−π, π)``) and the final residual norm.
    """
    def residual(f):
        return _lattice_np(_full_angles(f)[None])[0] - target

    r = residual(free)
    cost, damping = float(r @ r), 1e-6
    for _ in range(iterations):
        if cost < 1e-30 or free.size == 0:
            break
        jac = _lattice_jacobian(_full_angles(free))
        jac = jac[:, :-1] - jac[:, -1:]  # the last angle moves against the free ones
        normal, rhs = jac.T @ jac, jac.T @ r
        while damping < 1e12:
            step = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), rhs)
            trial = free - step
            r_trial = residual(trial)
            new_cost = float(r_trial @ r_trial)
            if new_cost < cost:
                converged = cost - new_cost <= 1e-14 * cost
                free, r, cost, damping = trial, r_trial, new_cost, max(damping / 10, 1e-12)
                break
            damping *= 10
        else:
            break
        if converged:
            break
    return np.remainder(free + np.pi, 2 * np.pi) - np.pi, float(np.sqrt(cost))


def _orthogonality_error(h: np.ndarray) -> float:
    n = h.size
    lags = [float(np.dot(h[: n - 2 * m], h[2 * m:])) - (1.0 if m == 0 else 0.0) for m in range(n // 2)]
    return max(abs(v) for v in lags)


def _float64_filter(h: WaveletLike) -> tuple[np.ndarray, Any]:
    """``h`` (any :func:`lowpass` input, even length) as float64 NumPy ``(N,)``, and the dtype to return."""
    h_in = lowpass(h)
    dtype = h_in.dtype if np.issubdtype(np.asarray(h_in).dtype, np.floating) else np.float32
    return np.asarray(h_in, np.float64).reshape(-1), jax.dtypes.canonicalize_dtype(dtype)


def lattice_angles(h: WaveletLike) -> jax.Array:
    """Inverse of :func:`lattice_filter` for an orthogonal ``h`` ``(2K,)`` with ``Σh = √2``: angles ``(K,)``.

    ``lattice_filter(lattice_angles(h)) == h`` to rounding, and the angles sum to π/4: the
    first ``K − 1`` lie in ``[−π, π)`` and the last is π/4 minus their sum, so
    ``lattice_free_filter(lattice_angles(h)[:-1]) == h`` too. The angles are peeled
    (``docs/method.md#peeling-inverse``) and then polished by least squares in float64, which
    keeps the round trip at rounding level for long filters too. Concrete values only (not
    traceable); returns ``h``'s float dtype.

    Raises:
      ValueError: ``h`` of odd length, not orthogonal, with ``Σh ≠ √2``, or too ill-conditioned
        for the factorisation to reproduce it.
    """
    x, dtype = _float64_filter(h)
    tol = 1e-6 if np.dtype(dtype) == np.float64 else 1e-4
    err = _orthogonality_error(x)
    if err > tol:
        raise ValueError(
            f"h: expected an orthogonal filter (max |Σ h[k]h[k+2m] − δ_m| <= {tol:g} for {np.dtype(dtype)}), "
            f"got an error of {err:.3g}; use lattice_project for the nearest one."
        )
    total = float(x.sum())
    if abs(total - np.sqrt(2)) > tol * 10:
        hint = " (−h has Σ = √2)" if abs(total + np.sqrt(2)) <= tol * 10 else ""
        raise ValueError(f"h: expected Σh = √2 (one vanishing moment), got Σh = {total:.6g}{hint}.")
    free, err = _fit_free_angles(x)
    if err > max(tol, 1e-12 * np.sqrt(x.size)) * 10:
        raise ValueError(
            f"h: no lattice angles reproduce this filter to {tol * 10:g} (best L2 error {err:.3g}); it has "
            f"{x.size} taps, some as small as {np.min(np.abs(x)):.3g}, too ill-conditioned for the factorisation."
        )
    return jnp.asarray(_full_angles(free), dtype)


def lattice_project(h: WaveletLike) -> jax.Array:
    """The ``K − 1`` free angles whose :func:`lattice_free_filter` is nearest to any even-length ``h`` (L2).

    For an orthogonal ``h`` with ``Σh = √2`` these are ``lattice_angles(h)[:-1]``; otherwise a
    deterministic least-squares fit (Levenberg–Marquardt in float64 from the peeled angles of
    ``h`` and from 31 fixed pseudo-random angle vectors), each free angle in ``[−π, π)``.
    Concrete values only; returns ``h``'s float dtype.
    """
    x, dtype = _float64_filter(h)
    return jnp.asarray(_fit_free_angles(x)[0], dtype)


#: starts of the least-squares fit of :func:`_fit_free_angles` (the peeled angles, then fixed random ones)
_FIT_STARTS = 32


def _fit_free_angles(x: np.ndarray) -> tuple[np.ndarray, float]:
    """The free angles ``(K−1,)`` of the lattice filter nearest to ``x (2K,)`` and its L2 distance.

    :func:`_polish` from the peeled angles, then from fixed pseudo-random angle vectors until one
    reproduces ``x`` to rounding (or all :data:`_FIT_STARTS` were tried); the best is kept.
    """
    k = x.size // 2
    rng = np.random.default_rng(0)
    best, best_err = None, np.inf
    for i in range(_FIT_STARTS):
        start = _peel(x)[:-1] if i == 0 else rng.uniform(-np.pi / 2, np.pi / 2, k - 1)
        free, err = _polish(x, start)
        if err < best_err:
            best, best_err = free, err
        if best_err < 1e-12 * np.sqrt(x.size):  # x itself is such a filter
            break
    return best, best_err
