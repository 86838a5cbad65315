"""Interpretable predictors built from a (learned) wavelet (docs/method.md#experiments).

1D (molecular-partner study):

* :func:`top_k_per_scale`: the ``k`` largest signed coefficients of each array.
* :class:`WaveletFeatures`: a scikit-learn transformer wrapping the wavelet
  transform (optionally learning the filter with :func:`awd_jax.fit`) and
  :func:`top_k_per_scale`.

2D (cosmology study):

* :func:`kernels_3x3`: the LL/LH/HL/HH 3×3 kernels cut from a filter;
  :func:`laplace_kernel` and :func:`roberts_cross` are the baselines.
* :func:`filter_maps`, :func:`peak_mask`, :func:`peak_counts`: peak histograms of
  filtered maps.
* :class:`TemplateRegressor`: nearest training cosmology under the Mahalanobis-type
  distance ``(x − μ_k)ᵀ C_k⁺ (x − μ_k)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from awd_jax import _validate
from awd_jax.filters import WaveletLike, highpass, lowpass
from awd_jax.transform import wavedec

__all__ = [
    "top_k_per_scale",
    "Kernels",
    "kernels_3x3",
    "laplace_kernel",
    "roberts_cross",
    "filter_maps",
    "peak_mask",
    "peak_counts",
    "TemplateRegressor",
    "WaveletFeatures",
]

_HIGHEST = jax.lax.Precision.HIGHEST


# ---------------------------------------------------------------------------
# 1D: top-k coefficients per scale
# ---------------------------------------------------------------------------


def top_k_per_scale(coeffs: Any, k: int = 6) -> jax.Array:
    """The ``k`` largest signed coefficients of each array, sorted descending.

    Follows the reference: per array, the ``k`` largest *values* (not magnitudes),
    largest first; non-batch dimensions of an array are flattened first.

    Args:
      coeffs: ``[cA_J, cD_J, ..., cD_1]`` as :func:`awd_jax.wavedec` returns, each of
        shape ``(B, ...)``. 2D structures (``(cH, cV, cD)`` tuples) are accepted;
        each band then counts as an array (``3J + 1`` arrays).
      k: features per array (static).

    Returns:
      ``(B, k·(J+1))``: array 0's top ``k``, then array 1's, ... (jittable).

    Raises:
      ValueError: ``k < 1``, an array without a batch axis, differing batch sizes,
        or ``k`` larger than an array's size per sample.
    """
    k = _validate.integer(k, "k", least=1)
    leaves, _ = _validate.coeff_leaves(coeffs, "coeffs")
    batch = None
    out = []
    for i, c in enumerate(leaves):
        if c.ndim < 2:
            raise ValueError(
                f"coeffs: array {i} has shape {tuple(c.shape)}; expected (B, ...) with a "
                f"leading batch axis (use x[None] for a single signal)."
            )
        if batch is None:
            batch = c.shape[0]
        elif c.shape[0] != batch:
            raise ValueError(
                f"coeffs: array {i} has batch size {c.shape[0]}, expected {batch} like array 0."
            )
        flat = jnp.reshape(jnp.asarray(c), (c.shape[0], -1))
        if k > flat.shape[1]:
            raise ValueError(
                f"k: {k} is larger than scale {i}, which holds {flat.shape[1]} coefficients "
                f"per sample (shape {tuple(c.shape)}); choose k <= {flat.shape[1]} or a "
                f"smaller level."
            )
        out.append(jax.lax.top_k(flat, int(k))[0])
    return jnp.concatenate(out, axis=1)


# ---------------------------------------------------------------------------
# 2D: kernels, filtered maps, peaks
# ---------------------------------------------------------------------------


class Kernels(NamedTuple):
    """The four 3×3 kernels of a filter: ``LL = h⊗h``, ``LH = g⊗h``, ``HL = h⊗g``, ``HH = g⊗g``."""

    LL: jax.Array
    LH: jax.Array
    HL: jax.Array
    HH: jax.Array


def _max_variance_window(f: jax.Array, width: int = 3) -> jax.Array:
    n = f.shape[0]
    idx = np.arange(n - width + 1)[:, None] + np.arange(width)[None, :]
    windows = f[idx]  # (n - width + 1, width)
    start = jnp.argmax(jnp.var(windows, axis=1))
    return jax.lax.dynamic_slice(f, (start,), (width,))


def kernels_3x3(h: WaveletLike) -> Kernels:
    """3×3 kernels cut from the lowpass ``h`` and its highpass ``g`` (docs/method.md#experiments).

    For ``h`` and for ``g`` separately, the 3-tap window (``f[i:i+3]``) of largest
    variance is kept (first one on ties). Every one of the ``N - 2`` windows is
    considered; the reference code looped over ``range(N - 3)`` and so never looked at
    the last window (an off-by-one), which can change the result for some filters.
    Then ``LL = outer(h3, h3)``, ``LH = outer(g3, h3)``, ``HL = outer(h3, g3)``,
    ``HH = outer(g3, g3)``, and the mean is subtracted from LH, HL and HH.

    Args:
      h: filter of shape ``(N,)``, ``N >= 4`` (array, possibly traced, or a pywt name).

    Returns:
      :class:`Kernels` of four ``(3, 3)`` arrays (jittable, differentiable almost
      everywhere).
    """
    h = _validate.filter_taps(h, "h", finite=False)
    if h.shape[0] < 4:
        raise ValueError(f"h: expected a filter with at least 4 taps for 3×3 kernels, got N = {h.shape[0]}.")
    g = highpass(h)
    h3, g3 = _max_variance_window(h), _max_variance_window(g)
    centre = lambda k: k - jnp.mean(k)  # noqa: E731
    return Kernels(
        LL=jnp.outer(h3, h3),
        LH=centre(jnp.outer(g3, h3)),
        HL=centre(jnp.outer(h3, g3)),
        HH=centre(jnp.outer(g3, g3)),
    )


def laplace_kernel(dtype: Any = None) -> jax.Array:
    """The Laplace baseline ``10/3 · [[-.05, -.2, -.05], [-.2, 1, -.2], [-.05, -.2, -.05]]``, (3, 3)."""
    k = np.array([[-0.05, -0.2, -0.05], [-0.2, 1.0, -0.2], [-0.05, -0.2, -0.05]]) * (10.0 / 3.0)
    return jnp.asarray(k, dtype=dtype if dtype is not None else _validate.float_dtype())


def _as_images(images: Any) -> jax.Array:
    if not (hasattr(images, "shape") and hasattr(images, "dtype")):
        images = np.asarray(images)
    _validate.data_dtype(images.dtype, "images")
    x = _validate.as_float(images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"images: expected shape (B, H, W) or (H, W), got {tuple(x.shape)}.")
    if x.shape[1] < 3 or x.shape[2] < 3:
        raise ValueError(
            f"images: expected images of at least 3×3 pixels (peaks need 8 neighbours), "
            f"got {x.shape[1]}×{x.shape[2]}."
        )
    return x


def _correlate_valid(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """'valid' 2D cross-correlation of (B, H, W) with (kh, kw) → (B, H-kh+1, W-kw+1)."""
    kernel = jnp.asarray(kernel, x.dtype)
    out = jax.lax.conv_general_dilated(
        x[:, None], kernel[None, None], (1, 1), "VALID", precision=_HIGHEST
    )
    return out[:, 0]


def roberts_cross(images: Any) -> jax.Array:
    """Roberts-cross map aligned with the interior pixels (docs/method.md#experiments), ``(B, H-2, W-2)``.

    ``Σ_crops sqrt((crop ⋆ Rx)² + (crop ⋆ Ry)²)`` with ``Rx = [[0, 1], [-1, 0]]``,
    ``Ry = [[1, 0], [0, -1]]`` ('valid' cross-correlation ⋆) over the four
    ``(H-1)×(W-1)`` crops ``img[:-1,:-1]``, ``img[:-1,1:]``, ``img[1:,:-1]``, ``img[1:,1:]``.

    Args:
      images: ``(B, H, W)`` or ``(H, W)``, ``H, W >= 3``.
    """
    x = _as_images(images)
    rx = jnp.array([[0.0, 1.0], [-1.0, 0.0]], x.dtype)
    ry = jnp.array([[1.0, 0.0], [0.0, -1.0]], x.dtype)
    total = 0.0
    for crop in (x[:, :-1, :-1], x[:, :-1, 1:], x[:, 1:, :-1], x[:, 1:, 1:]):
        total = total + jnp.sqrt(_correlate_valid(crop, rx) ** 2 + _correlate_valid(crop, ry) ** 2)
    return total


KernelSpec = Union[None, np.ndarray, jax.Array, Callable[[jax.Array], jax.Array]]


def _kernel_items(kernels: Any) -> List[tuple]:
    if isinstance(kernels, Kernels):
        return list(kernels._asdict().items())
    if isinstance(kernels, Mapping):
        return list(kernels.items())
    if kernels is None or callable(kernels) or (hasattr(kernels, "ndim") and kernels.ndim == 2):
        return [("kernel", kernels)]
    if isinstance(kernels, (list, tuple)):
        return [(f"kernel{i}", k) for i, k in enumerate(kernels)]
    if hasattr(kernels, "ndim") and kernels.ndim == 3:
        return [(f"kernel{i}", k) for i, k in enumerate(kernels)]
    raise TypeError(
        f"kernels: expected a Kernels tuple, a dict name → kernel, a list of 2-D kernels or "
        f"one 2-D kernel, got {type(kernels).__name__}."
    )


def _interior_map(x: jax.Array, name: str, kernel: KernelSpec) -> jax.Array:
    """Filtered map cropped to the interior pixels ``x[:, 1:-1, 1:-1]``: (B, H-2, W-2)."""
    height, width = x.shape[1], x.shape[2]
    if kernel is None:  # raw peak heights
        return x[:, 1:-1, 1:-1]
    if callable(kernel) and not hasattr(kernel, "shape"):
        out = kernel(x)
        if tuple(out.shape) != (x.shape[0], height - 2, width - 2):
            raise ValueError(
                f"kernels[{name!r}]: a map function must return (B, H-2, W-2) = "
                f"{(x.shape[0], height - 2, width - 2)}, got {tuple(out.shape)}."
            )
        return out
    k = jnp.asarray(kernel)
    if k.ndim != 2:
        raise ValueError(f"kernels[{name!r}]: expected a 2-D kernel, got shape {tuple(k.shape)}.")
    kh, kw = k.shape
    if kh > height or kw > width:
        raise ValueError(
            f"images: {height}×{width} images are smaller than kernel {name!r} of size {kh}×{kw}."
        )
    out = _correlate_valid(x, k)
    # valid-map pixel (i, j) is centred on image pixel (i + (kh-1)//2, j + (kw-1)//2);
    # keep the part over the interior rows 1..H-2, columns 1..W-2
    oy, ox = (kh - 1) // 2, (kw - 1) // 2
    r0, c0 = max(1, oy), max(1, ox)
    r1, c1 = min(height - 2, oy + out.shape[1] - 1), min(width - 2, ox + out.shape[2] - 1)
    if (r0, c0, r1, c1) != (1, 1, height - 2, width - 2):
        raise ValueError(
            f"kernels[{name!r}]: a {kh}×{kw} kernel's valid map does not cover the interior "
            f"pixels; use a 1×1, 2×2 or 3×3 kernel, or pass a map function."
        )
    return out[:, r0 - oy : r1 - oy + 1, c0 - ox : c1 - ox + 1]


def filter_maps(images: Any, kernels: Any) -> Dict[str, jax.Array]:
    """Each kernel's 'valid' cross-correlation map aligned with the interior pixels.

    Args:
      images: ``(B, H, W)`` or ``(H, W)``.
      kernels: :class:`Kernels`, a dict name → kernel, a list of kernels or one kernel.
        A kernel is a 2-D array (1×1 to 3×3; a 3×3 'valid' map is already the interior),
        a function ``images (B, H, W) → map (B, H-2, W-2)`` such as
        :func:`roberts_cross`, or ``None`` (raw pixel values).

    Returns:
      dict name → ``(B, H-2, W-2)`` map.
    """
    x = _as_images(images)
    return {name: _interior_map(x, name, k) for name, k in _kernel_items(kernels)}


def peak_mask(images: Any) -> jax.Array:
    """Peaks: interior pixels strictly above all 8 neighbours, ``(B, H-2, W-2)`` bool."""
    x = _as_images(images)
    h, w = x.shape[1], x.shape[2]
    centre = x[:, 1:-1, 1:-1]
    mask = jnp.ones(centre.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            mask = mask & (centre > x[:, 1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx])
    return mask


def _histogram(values: jax.Array, mask: jax.Array, edges: jax.Array) -> jax.Array:
    """Masked ``np.histogram`` per sample: (B, P) values → (B, len(edges) - 1) counts."""
    n_bins = edges.shape[0] - 1
    idx = jnp.searchsorted(edges, values, side="right") - 1
    idx = jnp.where(values == edges[-1], n_bins - 1, idx)  # last edge is inclusive
    inside = mask & (idx >= 0) & (idx < n_bins)
    idx = jnp.clip(idx, 0, n_bins - 1)
    weights = inside.astype(values.dtype)
    return jax.vmap(lambda i, w: jnp.zeros((n_bins,), values.dtype).at[i].add(w))(idx, weights)


def peak_counts(images: Any, kernels: Any, bins: Any) -> jax.Array:
    """Histograms of filtered maps at the image's peaks (docs/method.md#experiments).

    Peaks are found on the image itself (:func:`peak_mask`); each kernel's map
    (:func:`filter_maps`) is read at those pixels and binned like ``np.histogram``
    (half-open bins, last edge inclusive, values outside dropped).

    Args:
      images: ``(B, H, W)`` (or ``(H, W)``), ``H, W >= 3`` and at least the kernel size.
      kernels: see :func:`filter_maps` (e.g. :func:`kernels_3x3` output).
      bins: increasing edges of shape ``(n_edges,)`` shared by all kernels, or a list
        with one edge array per kernel.

    Returns:
      ``(B, Σ_kernels (n_edges − 1))`` counts (``n_kernels·(len(bins) − 1)`` for shared
      bins), kernels in order, in the images' float dtype.
    """
    x = _as_images(images)
    maps = filter_maps(x, kernels)
    if isinstance(bins, (list, tuple)) and len(bins) and hasattr(bins[0], "__len__"):
        if len(bins) != len(maps):
            raise ValueError(f"bins: expected {len(maps)} edge arrays (one per kernel), got {len(bins)}.")
        edge_list = list(bins)
    else:
        edge_list = [bins] * len(maps)
    mask = peak_mask(x).reshape(x.shape[0], -1)
    out = []
    for (name, m), edges in zip(maps.items(), edge_list):
        e = jnp.asarray(edges, x.dtype)
        if e.ndim != 1 or e.shape[0] < 2:
            raise ValueError(f"bins: expected at least 2 increasing edges for {name!r}, got shape {tuple(e.shape)}.")
        out.append(_histogram(m.reshape(x.shape[0], -1), mask, e))
    return jnp.concatenate(out, axis=1)


# ---------------------------------------------------------------------------
# scikit-learn estimators
# ---------------------------------------------------------------------------


class TemplateRegressor(RegressorMixin, BaseEstimator):
    """Nearest-template regression (the cosmology study's predictor, docs/method.md#experiments).

    ``fit`` groups the training samples by their unique target value ``y_k`` (one
    cosmology; unique rows for 2-D ``y``) and stores each group's mean ``μ_k`` and the
    pseudo-inverse ``C_k⁺`` of its covariance. ``predict`` returns the ``y_k``
    minimising ``(x − μ_k)ᵀ C_k⁺ (x − μ_k)``. ``score`` is R².

    Every group needs at least two samples.

    Fitted attributes: ``targets_`` (K,) or (K, m), ``means_`` (K, d),
    ``precisions_`` (K, d, d), ``n_features_in_``.
    """

    def __init__(self, rcond: float = 1e-15):
        self.rcond = rcond

    def fit(self, X: Any, y: Any) -> "TemplateRegressor":
        X, y = check_X_y(X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        targets, inverse = np.unique(y, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        means, precisions = [], []
        for k in range(targets.shape[0]):
            group = X[inverse == k]
            if group.shape[0] < 2:
                raise ValueError(
                    f"y: every target value needs at least 2 training samples to estimate a "
                    f"covariance; {targets[k]!r} has {group.shape[0]}."
                )
            means.append(group.mean(axis=0))
            cov = np.atleast_2d(np.cov(group, rowvar=False))
            precisions.append(np.linalg.pinv(cov, rcond=self.rcond, hermitian=True))
        self.targets_ = targets
        self.means_ = np.stack(means)
        self.precisions_ = np.stack(precisions)
        self.n_features_in_ = X.shape[1]
        return self

    def distances(self, X: Any) -> np.ndarray:
        """``(n, K)`` distances ``(x − μ_k)ᵀ C_k⁺ (x − μ_k)``."""
        check_is_fitted(self, "means_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: expected {self.n_features_in_} features, got {X.shape[1]}.")
        diff = X[:, None, :] - self.means_[None]  # (n, K, d)
        return np.einsum("nkd,kde,nke->nk", diff, self.precisions_, diff)

    def predict(self, X: Any) -> np.ndarray:
        """Target of the nearest template: ``(n,)`` (or ``(n, m)`` for 2-D ``y``)."""
        return self.targets_[np.argmin(self.distances(X), axis=1)]


class WaveletFeatures(TransformerMixin, BaseEstimator):
    """Top-k wavelet coefficients per scale as a scikit-learn transformer (docs/method.md#experiments).

    ``transform(X) = top_k_per_scale(wavedec(X, h_, mode=mode, level=level), k)``: ``(n, L)``
    signals → ``(n, k·(level+1))`` features.

    Args:
      wavelet: the (initial) filter: a pywt name, ``pywt.Wavelet`` or a 1-D array ``h``.
      level: decomposition levels ``J``.
      k: coefficients kept per array.
      mode: pywt signal-extension mode.
      teacher_fn: when given, ``fit`` learns the filter with :func:`awd_jax.fit`
        (``h0`` = ``wavelet``, data = ``X``); otherwise ``fit`` keeps ``wavelet``.
      fit_kwargs: extra keyword arguments for :func:`awd_jax.fit` (e.g.
        ``{"sparsity": 1e-3, "interpretation": 0.1, "epochs": 50}``). scikit-learn
        forbids ``**kwargs`` in estimator constructors, hence an explicit dict.

    Fitted attributes: ``h_`` (N,) the filter used, ``fit_result_`` (the
    :class:`awd_jax.fit.FitResult` or ``None``), ``n_features_in_``.
    """

    def __init__(
        self,
        wavelet: WaveletLike = "db5",
        level: int = 4,
        k: int = 6,
        mode: str = "zero",
        teacher_fn: Optional[Callable] = None,
        fit_kwargs: Optional[dict] = None,
    ):
        self.wavelet = wavelet
        self.level = level
        self.k = k
        self.mode = mode
        self.teacher_fn = teacher_fn
        self.fit_kwargs = fit_kwargs

    def _signals(self, X: Any) -> np.ndarray:
        X = check_array(X, dtype=(np.float32, np.float64))
        return X

    def fit(self, X: Any, y: Any = None) -> "WaveletFeatures":
        X = self._signals(X)
        h0 = jnp.asarray(lowpass(self.wavelet), X.dtype if jax.config.jax_enable_x64 else jnp.float32)
        self.fit_result_ = None
        if self.teacher_fn is not None:
            from awd_jax.fit import fit as awd_fit  # lazy: heavy, and above us in the layering

            kwargs = dict(self.fit_kwargs or {})
            clash = sorted(set(kwargs) & {"level", "mode", "dims"})
            if clash:
                raise ValueError(
                    f"fit_kwargs: {clash} must not be given here; set WaveletFeatures' own "
                    f"level/mode (dims is always 1)."
                )
            kwargs.update(level=self.level, mode=self.mode)
            self.fit_result_ = awd_fit(h0, self.teacher_fn, jnp.asarray(X, h0.dtype), **kwargs)
            h0 = jnp.asarray(self.fit_result_.h)
        elif self.fit_kwargs:
            raise ValueError("fit_kwargs: only used together with teacher_fn, which is None.")
        self.h_ = np.asarray(h0)
        self.n_features_in_ = X.shape[1]
        # fail early on a k larger than a scale
        self.transform(X[:1])
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["cA{J}_0", ..., "cA{J}_{k-1}", "cD{J}_0", ..., "cD1_{k-1}"]``: array, then rank."""
        check_is_fitted(self, "h_")
        arrays = [f"cA{self.level}"] + [f"cD{j}" for j in range(self.level, 0, -1)]
        return np.asarray([f"{a}_{r}" for a in arrays for r in range(self.k)], dtype=object)

    def transform(self, X: Any) -> np.ndarray:
        """``(n, L)`` → ``(n, k·(level+1))`` NumPy features."""
        check_is_fitted(self, "h_")
        X = self._signals(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: expected signals of length {self.n_features_in_}, got {X.shape[1]}.")
        coeffs = wavedec(jnp.asarray(X), jnp.asarray(self.h_, X.dtype), level=self.level, mode=self.mode)
        return np.asarray(top_k_per_scale(coeffs, self.k))
