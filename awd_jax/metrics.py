"""Scores reported by the AWD experiments (docs/method.md#reading-the-wavelet, #experiments).

* :func:`compression_factor`: the fraction of wavelet coefficients that are both
  large and important (lower = more compressed).
* :func:`r2`, :func:`rmse`, :func:`rmse_bootstrap`: prediction scores.
"""

from __future__ import annotations

import dataclasses

from typing import Any, Callable, List, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from awd_jax._config import Objective, as_objective
from awd_jax.attributions import attributions, decompose, objective_impl
from awd_jax.filters import lowpass

__all__ = ["compression_factor", "compression_factor_for", "r2", "rmse", "rmse_bootstrap"]


def _leaves(tree: Any, name: str, path: str = "") -> Tuple[List[Any], List[str]]:
    """Flatten a pywt-style coefficient structure (lists/tuples of arrays).

    Returns the leaves and a structural signature per leaf (its path), so two
    structures can be compared with a readable message.
    """
    if isinstance(tree, (list, tuple)):
        if len(tree) == 0:
            raise ValueError(f"{name}: empty coefficient structure at {path or 'top level'}.")
        leaves, paths = [], []
        for i, sub in enumerate(tree):
            sub_leaves, sub_paths = _leaves(sub, name, f"{path}[{i}]")
            leaves += sub_leaves
            paths += sub_paths
        return leaves, paths
    if hasattr(tree, "shape") and hasattr(tree, "dtype"):
        return [tree], [path]
    raise TypeError(
        f"{name}: expected a list of arrays (1D, [cA_J, cD_J, ..., cD_1]) or a list with "
        f"(cH, cV, cD) tuples (2D), got {type(tree).__name__} at {path or 'top level'}."
    )


def _describe(tree: Any) -> str:
    if isinstance(tree, (list, tuple)):
        inner = ", ".join(_describe(t) for t in tree)
        return f"[{inner}]" if isinstance(tree, list) else f"({inner})"
    return str(tuple(getattr(tree, "shape", ())))


def _compression_counts(coeffs: Any, attributions: Any, threshold: float) -> Tuple[jax.Array, int]:
    c_leaves, c_paths = _leaves(coeffs, "coeffs")
    a_leaves, a_paths = _leaves(attributions, "attributions")
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
      of coefficients). Jittable.

    Raises:
      ValueError: the two structures differ in nesting, number of arrays or shapes.
      TypeError: a leaf is not an array.
    """
    count, total = _compression_counts(coeffs, attributions, threshold)
    return count / total


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
    """
    obj = dataclasses.replace(as_objective(objective, settings, "compression_factor_for"), method="saliency")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}.")
    n = int(np.shape(x)[0])
    count, total = 0, 0
    for start in range(0, n, int(batch_size)):
        xb = jnp.asarray(x[start : start + batch_size])
        if not jnp.issubdtype(xb.dtype, jnp.floating):
            xb = xb.astype(jnp.zeros(()).dtype)
        hb = jnp.asarray(lowpass(h), xb.dtype)
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
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot: expected an int >= 2, got {n_boot!r}.")
    yt, yp = _pair(y_true, y_pred)
    sq = np.mean((yt - yp) ** 2, axis=1)  # per-sample squared error, (n,)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, sq.shape[0], size=(int(n_boot), sq.shape[0]))
    boots = np.sqrt(sq[idx].mean(axis=1))
    return float(np.sqrt(sq.mean())), float(boots.std(ddof=1))
