"""Matplotlib figures for inspecting a (learned) wavelet. Optional extra ``plot``.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global
state, no display needed); save it with ``fig.savefig(path)`` or show it in a
notebook. matplotlib is imported lazily: ``import awd_jax.plotting`` works without
it and the functions raise an ImportError naming the extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from awd_jax.filters import WaveletLike, highpass, lowpass

__all__ = [
    "plot_filters",
    "plot_wavelet",
    "plot_history",
    "plot_coefficients",
    "plot_kernels",
    "plot_activation_maps",
]


def _figure(figsize: Tuple[float, float]):
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "awd_jax.plotting needs matplotlib; install it with `pip install 'awd_jax[plot]'` "
            "(or `pip install matplotlib`)."
        ) from err
    return Figure(figsize=figsize, layout="constrained")


def _np_filter(h: WaveletLike) -> np.ndarray:
    return np.asarray(lowpass(h), dtype=np.float64)


def _named_filters(h: Any) -> List[Tuple[str, np.ndarray]]:
    if isinstance(h, Mapping):
        return [(str(k), _np_filter(v)) for k, v in h.items()]
    label = h if isinstance(h, str) else "h"
    return [(label, _np_filter(h))]


def plot_filters(h: Any, title: Optional[str] = None):
    """Stem plots of the lowpass ``h`` and its highpass ``g``.

    Args:
      h: a filter ``(N,)`` (array, pywt name, ``pywt.Wavelet``) or a dict label → filter
        to compare several (drawn side by side with small offsets).
    """
    items = _named_filters(h)
    fig = _figure((9, 3.2))
    ax_h, ax_g = fig.subplots(1, 2, sharey=True)
    width = 0.8 / max(len(items), 1)
    for i, (label, f) in enumerate(items):
        off = (i - (len(items) - 1) / 2) * width
        n = np.arange(f.shape[0]) + off
        for ax, taps in ((ax_h, f), (ax_g, np.asarray(highpass(f)))):
            markerline, stemlines, _ = ax.stem(n, taps, label=label, basefmt=" ")
            color = f"C{i}"
            markerline.set_color(color)
            stemlines.set_color(color)
    for ax, name in ((ax_h, "lowpass h"), (ax_g, "highpass g")):
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("tap n")
    if len(items) > 1:
        ax_h.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_wavelet(h: WaveletLike, reference: Optional[WaveletLike] = "db5", level: int = 5,
                 label: str = "learned"):
    """Scaling function φ and wavelet ψ of ``h`` (cascade, :func:`awd_jax.wavefun`), with a reference.

    Args:
      h: the learned filter ``(N,)`` (or a name).
      reference: a named/array filter drawn dashed for comparison, or ``None``.
      level: cascade level.
      label: legend label of ``h``.

    The title reports :func:`awd_jax.wavelet_distance` to the reference.
    """
    from awd_jax.wavefun import wavefun, wavelet_distance

    fig = _figure((9, 3.2))
    ax_phi, ax_psi = fig.subplots(1, 2)
    curves = [(label, h, "-")]
    if reference is not None:
        ref_label = reference if isinstance(reference, str) else "reference"
        curves.append((ref_label, reference, "--"))
    for name, f, style in curves:
        phi, psi, x = (np.asarray(a, np.float64) for a in wavefun(_np_filter(f), level))
        ax_phi.plot(x, phi, style, label=name)
        ax_psi.plot(x, psi, style, label=name)
    ax_phi.set_title("scaling function φ")
    ax_psi.set_title("wavelet ψ")
    ax_phi.set_ylabel("φ(x)")
    ax_psi.set_ylabel("ψ(x)")
    for ax in (ax_phi, ax_psi):
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("x (cascade grid, in samples of the filter)")
        ax.legend(fontsize="small")
    if reference is not None:
        d = float(wavelet_distance(_np_filter(h), _np_filter(reference), level))
        fig.suptitle(f"wavelet distance to {curves[1][0]}: {d:.4g}")
    return fig


def plot_history(history: Any, keys: Optional[Sequence[str]] = None, logy: bool = True):
    """Per-epoch loss terms.

    Args:
      history: dict name → ``(epochs,)`` array (``FitResult.history``), or an object with
        a ``.history`` attribute; arrays with leading grid axes (``SweepResult.history``,
        ``(nλ, nγ, epochs)``) draw one thin line per run.
      keys: which terms (default: all with a non-zero entry).
      logy: logarithmic y axis (non-positive values are masked).
    """
    if hasattr(history, "history") and not isinstance(history, Mapping):
        history = history.history
    if not isinstance(history, Mapping) or not history:
        raise TypeError(f"history: expected a non-empty dict name → array, got {type(history).__name__}.")
    if keys is None:
        keys = [k for k, v in history.items() if np.any(np.asarray(v) != 0)] or list(history)
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"keys: {missing} not in history (has {list(history)}).")
    fig = _figure((6.5, 4))
    ax = fig.subplots()
    for i, k in enumerate(keys):
        v = np.asarray(history[k], np.float64)
        runs = v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v[None]
        epochs = np.arange(1, runs.shape[1] + 1)
        for j, run in enumerate(runs):
            y = np.where(run > 0, run, np.nan) if logy else run
            ax.plot(epochs, y, color=f"C{i % 10}", lw=1.5 if runs.shape[0] == 1 else 0.6,
                    alpha=1.0 if runs.shape[0] == 1 else 0.5, label=k if j == 0 else None)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss term")
    ax.legend(fontsize="small")
    return fig


def _leaves_with_labels(coeffs: Any, name: str) -> List[Tuple[str, Any]]:
    if not isinstance(coeffs, (list, tuple)) or not coeffs:
        raise TypeError(f"{name}: expected a non-empty coefficient list, got {type(coeffs).__name__}.")
    depth = len(coeffs) - 1
    out = [(f"cA{depth}", coeffs[0])]
    for i, item in enumerate(coeffs[1:]):
        lev = depth - i
        if isinstance(item, (list, tuple)):
            out += [(f"c{b}{lev}", a) for b, a in zip("HVD", item)]
        else:
            out.append((f"cD{lev}", item))
    return out


def plot_coefficients(coeffs: Any, attributions: Any = None, index: int = 0):
    """Wavelet coefficients (and attributions) of one sample, one row per array.

    Args:
      coeffs: ``wavedec`` output (arrays ``(B, ..., L_j)``) or ``wavedec2`` output.
      attributions: matching attributions (same structure) or ``None``.
      index: which sample of the batch.

    1-D bands are drawn as stems, 2-D bands as images (extra leading axes are averaged).
    """
    c_items = _leaves_with_labels(coeffs, "coeffs")
    a_items = _leaves_with_labels(attributions, "attributions") if attributions is not None else None
    if a_items is not None and [np.shape(a) for _, a in a_items] != [np.shape(c) for _, c in c_items]:
        raise ValueError(
            f"attributions: expected the structure/shapes of coeffs "
            f"{[np.shape(c) for _, c in c_items]}, got {[np.shape(a) for _, a in a_items]}."
        )
    batch = np.shape(c_items[0][1])[0] if np.ndim(c_items[0][1]) else 0
    if not isinstance(index, (int, np.integer)) or not 0 <= index < batch:
        raise ValueError(f"index: expected 0 <= index < {batch} (batch size), got {index!r}.")
    cols = 1 if a_items is None else 2
    fig = _figure((4.5 * cols, 1.4 * len(c_items) + 0.6))
    axes = np.asarray(fig.subplots(len(c_items), cols, squeeze=False))
    for col, items, what in ((0, c_items, "coefficients"), (1, a_items, "attributions")):
        if items is None:
            continue
        for row, (label, arr) in enumerate(items):
            ax = axes[row, col]
            sample = np.asarray(arr, np.float64)[index]
            two_d = any(isinstance(c, (list, tuple)) for c in coeffs)
            if two_d and sample.ndim >= 2:
                img = sample.reshape((-1,) + sample.shape[-2:]).mean(axis=0)
                lim = np.max(np.abs(img)) or 1.0
                im = ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
                fig.colorbar(im, ax=ax, shrink=0.8)
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                v = sample.reshape(-1, sample.shape[-1]).mean(axis=0) if sample.ndim > 1 else sample
                ax.stem(np.arange(v.shape[0]), v, basefmt=" ", markerfmt=f"C{col}.", linefmt=f"C{col}-")
                ax.axhline(0.0, color="0.6", lw=0.8)
            ax.set_ylabel(label, rotation=0, ha="right", va="center")
            if row == 0:
                ax.set_title(f"{what} (sample {index})")
    return fig


def _kernel_list(kernels: Any) -> List[Tuple[str, np.ndarray]]:
    from awd_jax.features import Kernels

    if isinstance(kernels, Kernels):
        return [(k, np.asarray(v, np.float64)) for k, v in kernels._asdict().items()]
    if isinstance(kernels, Mapping):
        return [(str(k), np.asarray(v, np.float64)) for k, v in kernels.items()]
    if hasattr(kernels, "ndim") and np.ndim(kernels) == 2:
        return [("kernel", np.asarray(kernels, np.float64))]
    if isinstance(kernels, (list, tuple)):
        return [(f"kernel{i}", np.asarray(v, np.float64)) for i, v in enumerate(kernels)]
    raise TypeError(f"kernels: expected Kernels, a dict, a list or one 2-D kernel, got {type(kernels).__name__}.")


def plot_kernels(kernels: Any):
    """2-D kernels as images (shared symmetric colour scale), e.g. :func:`awd_jax.features.kernels_3x3` output."""
    items = _kernel_list(kernels)
    for name, k in items:
        if k.ndim != 2:
            raise ValueError(f"kernels[{name!r}]: expected a 2-D kernel, got shape {k.shape}.")
    lim = max(float(np.max(np.abs(k))) for _, k in items) or 1.0
    fig = _figure((2.6 * len(items) + 0.8, 2.8))
    axes = np.atleast_1d(fig.subplots(1, len(items)))
    im = None
    for ax, (name, k) in zip(axes, items):
        im = ax.imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
        for (i, j), v in np.ndenumerate(k):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    return fig


def plot_activation_maps(image: Any, kernels: Any, show_peaks: bool = True):
    """An image and each kernel's filtered map ('valid', aligned with the interior).

    Args:
      image: ``(H, W)`` (or ``(1, H, W)``).
      kernels: anything :func:`awd_jax.features.filter_maps` accepts.
      show_peaks: mark the image's peaks (pixels above their 8 neighbours).
    """
    from awd_jax.features import filter_maps, peak_mask

    img = np.asarray(image, np.float64)
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"image: expected one image (H, W), got shape {img.shape}.")
    maps = filter_maps(img[None], kernels)
    peaks = np.asarray(peak_mask(img[None]))[0] if show_peaks else None
    n = len(maps) + 1
    fig = _figure((2.8 * n, 3.0))
    axes = np.atleast_1d(fig.subplots(1, n))
    panels = [("image (interior)", img[1:-1, 1:-1])] + [(k, np.asarray(v, np.float64)[0]) for k, v in maps.items()]
    for ax, (name, m) in zip(axes, panels):
        im = ax.imshow(m, cmap="viridis")
        fig.colorbar(im, ax=ax, shrink=0.7)
        if peaks is not None:
            ys, xs = np.nonzero(peaks)
            ax.scatter(xs, ys, s=12, facecolors="none", edgecolors="r", linewidths=0.8)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
