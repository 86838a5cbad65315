"""Tecator near-infrared spectra (sktime's bundled copy): the 1D case study's stand-in data.

172 training and 43 test meat samples, absorbance at 100 wavelengths (850–1050 nm),
target fat %. Ships inside the sktime wheel (no download). ``sktime`` is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

__all__ = ["load_tecator_split", "Standardiser", "snv"]


def load_tecator_split(split: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(X (n, 100) float32, y (n,) float64)`` for ``split`` in ``{"train", "test"}``."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}.")
    from sktime.datasets import load_tecator

    X, y = load_tecator(split=split, return_type="numpy3D")
    X = np.asarray(X, np.float32)
    if X.ndim != 3 or X.shape[1] != 1:
        raise ValueError(f"load_tecator returned X of shape {X.shape}; expected (n, 1, L).")
    return X[:, 0, :], np.asarray(y, np.float64)


def snv(X: np.ndarray) -> np.ndarray:
    """Standard normal variate: each spectrum minus its own mean, over its own std (per sample)."""
    X = np.asarray(X, np.float64)
    if X.ndim != 2:
        raise ValueError(f"X: expected spectra (n, L), got shape {X.shape}.")
    sd = X.std(axis=1, keepdims=True)
    return (X - X.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


@dataclass(frozen=True)
class Standardiser:
    """Input/target scaling fitted on the training split only.

    ``x' = (pre(x) − mean_spectrum) / scale`` where ``pre`` is :func:`snv` (``snv=True``)
    or the identity, ``mean_spectrum`` the per-wavelength training mean and ``scale``
    one scalar (the std of all centred training values), so the spectra keep their
    shape (a per-wavelength std would distort what the wavelet sees).
    ``y' = (y − y_mean) / y_std``.
    """

    mean_spectrum: np.ndarray
    scale: float
    y_mean: float
    y_std: float
    snv: bool

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, *, use_snv: bool = True) -> "Standardiser":
        Xp = snv(X) if use_snv else np.asarray(X, np.float64)
        mean = Xp.mean(axis=0)
        scale = float((Xp - mean).std())
        y = np.asarray(y, np.float64)
        return cls(mean, scale, float(y.mean()), float(y.std()), bool(use_snv))

    def x(self, X: np.ndarray) -> np.ndarray:
        Xp = snv(X) if self.snv else np.asarray(X, np.float64)
        return ((Xp - self.mean_spectrum) / self.scale).astype(np.float32)

    def y(self, y: np.ndarray) -> np.ndarray:
        return ((np.asarray(y, np.float64) - self.y_mean) / self.y_std).astype(np.float32)

    def y_inverse(self, y_scaled: np.ndarray) -> np.ndarray:
        return np.asarray(y_scaled, np.float64) * self.y_std + self.y_mean
