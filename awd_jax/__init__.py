"""awd_jax: Adaptive Wavelet Distillation in JAX.

The top level holds the core: filters and modes, the transforms, the AWD objective
(penalties, attributions, loss), ``fit`` and ``sweep``, scale (devices, checkpoints),
result files, wavefun and distances, and the metrics. ``import awd_jax`` loads JAX,
optax and PyWavelets only — never scikit-learn, scipy.stats, pandas, matplotlib or Flax.

The case-study pieces live in namespaces, imported on first attribute access (PEP 562),
so ``import awd_jax; awd_jax.features.WaveletFeatures`` works without an explicit import:

* ``awd_jax.features`` — interpretable predictors (``WaveletFeatures``, ``TemplateRegressor``,
  ``top_k_per_scale``, ``kernels_3x3``, ``peak_counts``, …; needs scikit-learn).
* ``awd_jax.teachers`` — small Flax teachers (``MLP``, ``LSTMRegressor``, ``CNN1D``,
  ``ResNet2D``) and ``train_teacher``.
* ``awd_jax.data`` — the simulation data and the case studies' loaders.
* ``awd_jax.plotting`` — matplotlib figures (optional extra ``plot``).

Layers (modules import downward only): filters/modes → transform → penalties,
attributions → objective → fit → sweep; analysis (wavefun, metrics, io) beside them. The
namespaces above sit on top: no core module imports them.
"""

import importlib as _importlib

# filters and transforms
from awd_jax.filters import (
    FilterBank,
    filter_bank,
    highpass,
    init_filter,
    lattice_angles,
    lattice_filter,
    lattice_free_filter,
    lattice_project,
    lowpass,
    to_pywt,
)
from awd_jax._extension import MODES
from awd_jax.transform import (
    IMPLS,
    dwt,
    dwt2,
    dwt_coeff_len,
    dwt_max_level,
    dwtn,
    dwtn_max_level,
    idwt,
    idwt2,
    idwtn,
    wavedec,
    wavedec2,
    wavedecn,
    waverec,
    waverec2,
    waverecn,
)

# the AWD objective, training and sweeps
from awd_jax.penalties import Penalties, penalties
from awd_jax.attributions import METHODS, attributions
from awd_jax.objective import LossTerms, Objective, Weights, awd_loss
from awd_jax.fit import FitResult, Search, fit
from awd_jax.sweep import SweepResult, sweep
from awd_jax.stream import chain_devices, split_cpu_into_devices
from awd_jax._compilation import enable_compilation_cache
from awd_jax.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

# reading a learned wavelet: φ/ψ, distances, metrics, result files
from awd_jax.wavefun import filter_distance, wavefun, wavelet_distance
from awd_jax.metrics import compression_factor, compression_factor_for, r2, r2_bootstrap, rmse, rmse_bootstrap
from awd_jax.results import load_result, save_result

from awd_jax._version import __version__ as __version__

__all__ = [
    # filters and transforms
    "MODES", "IMPLS", "FilterBank", "filter_bank", "lowpass", "highpass", "init_filter", "to_pywt",
    "lattice_filter", "lattice_free_filter", "lattice_angles", "lattice_project",
    "dwt", "idwt", "wavedec", "waverec", "dwt2", "idwt2", "wavedec2", "waverec2",
    "dwtn", "idwtn", "wavedecn", "waverecn", "dwt_coeff_len", "dwt_max_level", "dwtn_max_level",
    # objective, training, sweeps
    "Penalties", "penalties", "METHODS", "attributions", "Objective", "Weights", "LossTerms", "awd_loss",
    "FitResult", "fit", "Search", "SweepResult", "sweep",
    # scale: devices and checkpoints
    "split_cpu_into_devices", "chain_devices", "enable_compilation_cache", "Checkpoint", "save_checkpoint",
    "load_checkpoint",
    # analysis: result files, wavefun and distances, metrics
    "save_result", "load_result", "wavefun", "wavelet_distance", "filter_distance",
    "compression_factor", "compression_factor_for", "r2", "r2_bootstrap", "rmse", "rmse_bootstrap",
]

# namespaces imported on first attribute access (PEP 562)
_LAZY_SUBMODULES = ("features", "teachers", "data", "plotting")

# names that left the top level for a namespace, for a helpful AttributeError
_MOVED = {
    **dict.fromkeys(
        ("Kernels", "TemplateRegressor", "WaveletFeatures", "filter_maps", "kernels_3x3", "laplace_kernel",
         "peak_counts", "peak_mask", "roberts_cross", "top_k_per_scale"),
        "features",
    ),
    **dict.fromkeys(("MLP", "LSTMRegressor", "CNN1D", "ResNet2D", "train_teacher"), "teachers"),
}


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        # importing binds the submodule as an attribute of the package: later lookups skip this hook
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _MOVED:
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}; it moved to "
            f"`{__name__}.{_MOVED[name]}.{name}` (`from {__name__}.{_MOVED[name]} import {name}`)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
