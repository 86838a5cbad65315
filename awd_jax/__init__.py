"""awd_jax: Adaptive Wavelet Distillation in JAX.

Layers (modules import downward only): filters/modes → transform → penalties,
attributions → objective → fit → sweep; analysis (wavefun, metrics, features, io) and
plotting (``awd_jax.plotting``, needs matplotlib) sit beside them.
"""

# filters and transforms
from awd_jax.filters import FilterBank, filter_bank, highpass, init_filter, lowpass, to_pywt
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
from awd_jax.objective import LossTerms, Weights, awd_loss
from awd_jax.fit import FitResult, fit
from awd_jax.sweep import SweepResult, sweep
from awd_jax.stream import chain_devices, split_cpu_into_devices
from awd_jax.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from awd_jax.teachers import CNN1D, MLP, LSTMRegressor, ResNet2D, r2_score, train_teacher

# reading a learned wavelet: φ/ψ, distances, metrics, interpretable features, result files
from awd_jax.wavefun import filter_distance, wavefun, wavelet_distance
from awd_jax.metrics import compression_factor, compression_factor_for, r2, rmse, rmse_bootstrap
from awd_jax.features import (
    Kernels,
    TemplateRegressor,
    WaveletFeatures,
    filter_maps,
    kernels_3x3,
    laplace_kernel,
    peak_counts,
    peak_mask,
    roberts_cross,
    top_k_per_scale,
)
from awd_jax.io import load_result, save_result

__version__ = "0.1.0"

__all__ = [
    # filters and transforms
    "MODES", "IMPLS", "FilterBank", "filter_bank", "lowpass", "highpass", "init_filter", "to_pywt",
    "dwt", "idwt", "wavedec", "waverec", "dwt2", "idwt2", "wavedec2", "waverec2",
    "dwtn", "idwtn", "wavedecn", "waverecn", "dwt_coeff_len", "dwt_max_level", "dwtn_max_level",
    # objective, training, sweeps
    "Penalties", "penalties", "METHODS", "attributions", "Weights", "LossTerms", "awd_loss",
    "FitResult", "fit", "SweepResult", "sweep",
    # scale: devices and checkpoints
    "split_cpu_into_devices", "chain_devices", "Checkpoint", "save_checkpoint", "load_checkpoint",
    "MLP", "LSTMRegressor", "CNN1D", "ResNet2D", "train_teacher", "r2_score",
    # analysis
    "wavefun", "wavelet_distance", "filter_distance", "compression_factor", "compression_factor_for", "r2", "rmse",
    "rmse_bootstrap", "top_k_per_scale", "Kernels", "kernels_3x3", "laplace_kernel", "roberts_cross",
    "filter_maps", "peak_mask", "peak_counts", "TemplateRegressor", "WaveletFeatures",
    "save_result", "load_result",
]
