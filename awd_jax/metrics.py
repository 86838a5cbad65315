"""Scores reported by the AWD experiments (docs/method.md#reading-the-wavelet, #experiments).

* :func:`compression_factor`: the fraction of wavelet coefficients that are both
  large and important (lower = more compressed).
* :func:`r2`, :func:`rmse`, :func:`rmse_bootstrap`: prediction scores.
"""

from __future__ import annotations

import dataclasses

from typing import Any, Callable, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax import _validate
from awd_jax._config import Objective, as_objective
from awd_jax.attributions import attributions, decompose, objective_impl

__all__ = ["compression_factor", "compression_factor_for", "r2", "r2_bootstrap", "rmse", "rmse_bootstrap"]


def _describe(tree: Any) -> str:
    if isinstance(tree, (list, tuple)):
        inner = ", ".join(_describe(t) for t in tree)
        return f"[{inner}]" if isinstance(tree, list) else f"({inner})"
    return str(tuple(getattr(tree, "shape", ())))


def _compression_counts(coeffs: Any, attributions: Any, threshold: float) -> Tuple[jax.Array, int]:
    c_leaves, c_paths = _validate.coeff_leaves(coeffs, "coeffs")
    a_leaves, a_paths = _validate.coeff_leaves(attributions, "attributions")
    if c_paths != a_paths:
        raise ValueError(
            "attributions: expected the same structure as coeffs, "
            f"coeffs {_describe(coeffs)} vs attributions {_describe(attributions)}."
        )
    total = 0
    count = jnp.zeros((), jnp.int32)
    for path, c, a in zip(c_paths, c_leaves, a_leaves):
        if tuple(c.shape) != tuple(a.shape):
            raise ValueError(
                f"attributions{path}: expected shape {tuple(c.shape)} (as coeffs{path}), "
                f"got {tuple(a.shape)}."
            )
        keep = (jnp.abs(jnp.asarray(c)) > threshold) & (jnp.abs(jnp.asarray(a)) > threshold)
        count = count + jnp.sum(keep, dtype=jnp.int32)
        total += int(np.prod(c.shape))
    if total == 0:
        raise ValueError("coeffs: the coefficient arrays hold no elements.")
    return count, total


def compression_factor(coeffs: Any, attributions: Any, threshold: float = 1e-3) -> jax.Array:
    """Fraction of all wavelet coefficients with ``|c| > threshold`` and ``|a| > threshold``.

    Args:
      coeffs: wavelet coefficients as :func:`awd_jax.wavedec` (``[cA_J, cD_J, ...,
        cD_1]``, each ``(B, ..., L_j)``) or :func:`awd_jax.wavedec2`
        (``[cA_J, (cH_J, cV_J, cD_J), ...]``) returns them, over a test set.
      attributions: the matching attributions (same nesting and shapes; lists and
        tuples are interchangeable), e.g. saliency from :func:`awd_jax.attributions`.
      threshold: magnitude threshold (docs/method.md: 1e-3) for both.

    Returns:
      A scalar in ``[0, 1]``: (number of positions passing both tests) / (total number
      of coefficients), in the coefficients' float dtype. Jittable.

    Raises:
      ValueError: the two structures differ in nesting, number of arrays or shapes; ``threshold``
        negative or not finite.
      TypeError: a leaf is not an array.
    """
    threshold = _validate.number(threshold, "threshold")
    count, total = _compression_counts(coeffs, attributions, threshold)
    leaves = _validate.coeff_leaves(coeffs, "coeffs")[0]
    dtype = jax.dtypes.canonicalize_dtype(np.result_type(*(leaf.dtype for leaf in leaves)))
    dtype = dtype if jnp.issubdtype(dtype, jnp.floating) else _validate.float_dtype()
    return count.astype(dtype) / total  # in the coefficients' precision (float64 with x64)


def compression_factor_for(
    h: Any,
    teacher_fn: Callable,
    x: Any,
    objective: Objective | None = None,
    *,
    threshold: float = 1e-3,
    batch_size: int = 1000,
    teacher_params: Any = None,
    **settings: Any,
) -> float:
    """Compression factor of filter ``h`` on a test set (``docs/method.md#compression-factor``), in batches.

    Coefficients are the objective's transform of ``x`` and attributions the TRIM saliency
    of ``teacher_fn`` (:func:`awd_jax.attributions`).

    Args:
      h: filter ``(N,)`` (or a pywt name).
      teacher_fn: ``x (B, ...) -> (B,)`` or ``(B, K)`` (or ``teacher_fn(teacher_params, x)``).
      x: test set ``(n, ..., L)``, ``(n, ..., H, W)`` or ``(n, ..., D, H, W)``.
      objective: :class:`~awd_jax.Objective` (level, mode, target, dims; the method is
        always saliency), or keyword settings.
      threshold: magnitude threshold for coefficients and saliency.
      batch_size: samples per batch (memory only; the result does not depend on it).

    Returns:
      The fraction as a Python float.

    Raises:
      TypeError: ``teacher_fn`` not callable; complex or non-numeric ``x``.
      ValueError: ``x`` with too few dimensions for ``dims``, no sample or NaN/inf; ``h`` with
        NaN/inf taps; ``batch_size`` not an int >= 1; ``threshold`` negative or not finite.
    """
    obj = dataclasses.replace(as_objective(objective, settings, "compression_factor_for"), method="saliency")
    batch_size = _validate.integer(batch_size, "batch_size", least=1)
    threshold = _validate.number(threshold, "threshold")
    _validate.teacher(teacher_fn, none_ok=False)
    x = _validate.array_like(x, "x")
    _validate.data_dtype(x.dtype, "x")
    _validate.data_layout(x.shape, obj.dims, "x", batch="B")  # once; each batch is checked as it is read
    n = int(x.shape[0])
    h = _validate.filter_taps(h, "h")
    count, total = 0, 0
    for start in range(0, n, batch_size):
        xb = _validate.as_data(x[start : start + batch_size], obj.dims, "x", batch="B")
        hb = h.astype(xb.dtype)
        coeffs = decompose(xb, hb, obj.mode, obj.level, obj.dims, objective_impl(obj.impl, xb.shape, obj.dims))
        attr = attributions(hb, teacher_fn, xb, obj, teacher_params=teacher_params)
        c, t = _compression_counts(coeffs, attr, threshold)
        count += int(c)
        total += t
    if total == 0:
        raise ValueError("x: expected at least one sample, got an empty test set.")
    return count / total


def _pair(y_true: Any, y_pred: Any) -> Tuple[np.ndarray, np.ndarray]:
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.shape != yp.shape:
        if yt.size == yp.size and yt.squeeze().shape == yp.squeeze().shape:
            yt, yp = yt.squeeze(), yp.squeeze()
        else:
            raise ValueError(
                f"y_pred: expected the shape of y_true {yt.shape}, got {yp.shape}."
            )
    if yt.size == 0:
        raise ValueError("y_true: expected at least one sample, got an empty array.")
    return yt.reshape(yt.shape[0], -1) if yt.ndim else yt.reshape(1, 1), (
        yp.reshape(yp.shape[0], -1) if yp.ndim else yp.reshape(1, 1)
    )


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (sklearn's ``r2_score``).

    Shapes ``(n,)`` or ``(n, k)`` (then the mean over outputs, uniform average).
    """
    yt, yp = _pair(y_true, y_pred)
    ss_res = np.sum((yt - yp) ** 2, axis=0)
    ss_tot = np.sum((yt - yt.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                         np.where(ss_res > 0, 0.0, 1.0))
    return float(np.mean(score))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over all elements; shapes ``(n,)`` or ``(n, k)``."""
    yt, yp = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((yt - yp) ** 2)))


def rmse_bootstrap(
    y_true: Any, y_pred: Any, n_boot: int = 1000, seed: int = 0
) -> Tuple[float, float]:
    """RMSE and its bootstrap standard deviation.

    Resamples the ``n`` (true, predicted) pairs with replacement ``n_boot`` times
    (NumPy ``default_rng(seed)``) and reports the standard deviation of the resampled
    RMSEs.

    Returns:
      ``(rmse, std)``: the RMSE on all samples and the bootstrap std (floats).
    """
    n_boot = _validate.integer(n_boot, "n_boot", least=2)
    yt, yp = _pair(y_true, y_pred)
    sq = np.mean((yt - yp) ** 2, axis=1)  # per-sample squared error, (n,)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, sq.shape[0], size=(int(n_boot), sq.shape[0]))
    boots = np.sqrt(sq[idx].mean(axis=1))
    return float(np.sqrt(sq.mean())), float(boots.std(ddof=1))


def r2_bootstrap(y_true: Any, y_pred: Any, n_boot: int = 1000, seed: int = 0) -> Tuple[float, float]:
    """R² (:func:`r2`) and its bootstrap standard deviation.

    Resamples the ``n`` (true, predicted) pairs with replacement ``n_boot`` times (NumPy
    ``default_rng(seed)``, the same resamples as :func:`rmse_bootstrap`) and reports the
    standard deviation of the resampled R² (each with the resample's own mean).

    Returns:
      ``(r2, std)``: R² on all samples and the bootstrap std (floats).
    """
    n_boot = _validate.integer(n_boot, "n_boot", least=2)
    yt, yp = _pair(y_true, y_pred)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, yt.shape[0], size=(int(n_boot), yt.shape[0]))
    t, p = yt[idx], yp[idx]  # (n_boot, n, k)
    ss_res = np.sum((t - p) ** 2, axis=1)
    ss_tot = np.sum((t - t.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res > 0, 0.0, 1.0))
    return r2(y_true, y_pred), float(boots.mean(axis=1).std(ddof=1))

