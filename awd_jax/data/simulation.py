"""The simulation study's synthetic data (docs/method.md#experiments, paper §5 / Fig. 3).

``x ~ N(0, I_length)`` and ``y = scale · Σ_{i ∈ locations} cD_band[i] + noise · ε``
with ``ε ~ N(0, 1)``, where ``cD_band`` is the ``band``-th finest detail array of
the ``level``-level DWT of ``x`` with ``wavelet`` in ``mode``. With the defaults
(``length=64``, db5, zero mode, ``level=4``, ``band=3``) the detail array is the
paper's cD3 (15 coefficients) and ``y = 2·(cD3[7] + cD3[8] + cD3[9]) + 0.1·ε``.

Randomness: NumPy's ``Generator`` (PCG64). ``seed`` seeds a
``np.random.SeedSequence`` that is split into two independent child streams, one
for ``x`` and one for ``ε``; ``x`` is drawn row by row, so for a fixed ``seed`` the
first ``m`` samples of ``simulate(n)`` are the samples of ``simulate(m)`` for any
``m <= n`` (same ``length``). Use different seeds for training and test sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax.filters import WaveletLike, lowpass
from awd_jax._extension import MODES
from awd_jax.transform import dwt_coeff_len, wavedec

__all__ = ["detail_lengths", "simulate", "simulation_target"]


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}.")
    return int(value)


def _check_real(value: object, name: str, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(float(value)):
        raise TypeError(f"{name}: expected a finite real number, got {value!r}.")
    if nonnegative and value < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value}.")
    return float(value)


def detail_lengths(length: int, filter_len: int, level: int, mode: str = "zero") -> tuple[int, ...]:
    """Lengths of ``(cD_1, ..., cD_level)`` (finest first) for a signal of ``length`` samples.

    For ``length=64``, ``filter_len=10``, ``level=4``, zero mode: ``(36, 22, 15, 12)``.
    """
    out = []
    n = length
    for _ in range(level):
        n = dwt_coeff_len(n, filter_len, mode)
        out.append(n)
    return tuple(out)


def _check_config(
    length: int, locations: Sequence[int], band: int, wavelet: WaveletLike, level: int, mode: str
) -> tuple[int, tuple[int, ...], int, np.ndarray, int, str]:
    """Validate the transform settings; return them normalised (``h`` as NumPy)."""
    length = _check_int(length, "length", 1)
    level = _check_int(level, "level", 1)
    band = _check_int(band, "band", 1)
    if band > level:
        raise ValueError(
            f"band: expected 1 <= band <= level = {level} (1 = finest detail cD1), got {band}."
        )
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: expected one of {tuple(MODES)}, got {mode!r}.")
    h = np.asarray(lowpass(wavelet))
    n_band = detail_lengths(length, h.shape[0], level, mode)[band - 1]
    if isinstance(locations, (str, bytes)) or not isinstance(locations, Sequence):
        raise TypeError(
            f"locations: expected a sequence of ints (indices into cD{band}), "
            f"got {type(locations).__name__}."
        )
    locs = tuple(locations)
    if len(locs) == 0:
        raise ValueError("locations: expected at least one index into the detail array, got none.")
    for i in locs:
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f"locations: expected ints, got {i!r} ({type(i).__name__}).")
        if not 0 <= i < n_band:
            raise ValueError(
                f"locations: index {i} is out of range; cD{band} of a length-{length} signal "
                f"({level}-level {mode}-mode transform, filter length {h.shape[0]}) has "
                f"{n_band} coefficients, so expected 0 <= i < {n_band}; got {locs}."
            )
    if len(set(locs)) != len(locs):
        raise ValueError(f"locations: expected distinct indices, got {locs}.")
    return length, tuple(int(i) for i in locs), band, h, level, mode


def simulation_target(
    x: jax.Array,
    *,
    scale: float = 2.0,
    locations: Sequence[int] = (7, 8, 9),
    band: int = 3,
    wavelet: WaveletLike = "db5",
    level: int = 4,
    mode: str = "zero",
) -> jax.Array:
    """The noiseless response ``scale · Σ_{i ∈ locations} cD_band[i]`` of signals ``x``.

    Args:
      x: signals of shape ``(..., length)``.
      scale, locations, band, wavelet, level, mode: as :func:`simulate`.

    Returns:
      shape ``x.shape[:-1]``, in ``x``'s float dtype.
    """
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError("x: expected signals of shape (..., length), got a scalar.")
    scale = _check_real(scale, "scale")
    _, locs, band, h, level, mode = _check_config(x.shape[-1], locations, band, wavelet, level, mode)
    with warnings.catch_warnings():
        # J = 4 exceeds pywt.dwt_max_level(64, 10) = 2: intended (docs/method.md#experiments)
        warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)
        coeffs = wavedec(x, h, level=level, mode=mode, axis=-1)
    detail = coeffs[-band]
    return scale * jnp.sum(detail[..., jnp.asarray(locs)], axis=-1)


def simulate(
    n: int,
    *,
    length: int = 64,
    seed: int = 0,
    scale: float = 2.0,
    locations: Sequence[int] = (7, 8, 9),
    band: int = 3,
    noise: float = 0.1,
    wavelet: WaveletLike = "db5",
    level: int = 4,
    mode: str = "zero",
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` samples of the simulation study (docs/method.md#experiments).

    Args:
      n: number of samples (>= 1).
      length: signal length (>= 1); 64 in the paper.
      seed: non-negative int seeding NumPy's ``SeedSequence`` (two child streams:
        ``x``, then ``ε``; see the module docstring).
      scale: factor on the sum of the selected coefficients (2 in the paper).
      locations: distinct indices into the detail array ``cD_band`` (0-based).
      band: which detail array, counted from the finest: 1 = cD1 (``coeffs[-1]`` in
        pywt order ``[cA_J, cD_J, ..., cD_1]``), 3 = cD3 (``coeffs[-3]``).
      noise: standard deviation of the additive Gaussian noise (>= 0).
      wavelet: the generating wavelet (name, ``pywt.Wavelet`` or lowpass ``h``).
      level: number of decomposition levels J (>= band); deeper than
        ``pywt.dwt_max_level`` is allowed (the paper's J = 4 on length 64 is).
      mode: signal-extension mode, one of :data:`awd_jax.MODES`.

    Returns:
      ``(x, y)``: float32 NumPy arrays of shapes ``(n, length)`` and ``(n,)``.

    Raises:
      ValueError: an argument out of range, naming it (e.g. ``locations`` beyond the
        length of ``cD_band``).
      TypeError: an argument of the wrong type.
    """
    n = _check_int(n, "n", 1)
    seed = _check_int(seed, "seed", 0)
    noise = _check_real(noise, "noise", nonnegative=True)
    scale = _check_real(scale, "scale")
    length, locs, band, h, level, mode = _check_config(length, locations, band, wavelet, level, mode)
    x_seq, eps_seq = np.random.SeedSequence(seed).spawn(2)
    x = np.random.default_rng(x_seq).standard_normal((n, length), dtype=np.float32)
    eps = np.random.default_rng(eps_seq).standard_normal(n, dtype=np.float32)
    target = simulation_target(
        jnp.asarray(x), scale=scale, locations=locs, band=band, wavelet=h, level=level, mode=mode
    )
    y = np.asarray(target, dtype=np.float32) + np.float32(noise) * eps
    return x, y.astype(np.float32)
