"""Lognormal weak-lensing convergence maps from jax-cosmo spectra (stand-in for MassiveNuS).

Recipe (documented in ``docs/method.md#data-used-in-this-repository``; every number is an argument):

1. **Spectrum.** For each cosmology ``Ω_m`` (``Ω_c = Ω_m − Ω_b`` of Planck15, ``σ8`` fixed),
   the convergence power spectrum ``C_ℓ`` of sources at redshift ``z_source`` (a delta
   n(z), no shape noise) is computed with ``jax_cosmo.angular_cl.angular_cl`` on a
   log-spaced ℓ grid and interpolated log–log onto the FFT grid of the map.
2. **Flat sky.** A square patch of ``field_deg`` degrees on ``npix × npix`` pixels
   (pixel area ``a``) with periodic boundaries; the 2-D wavenumber of FFT mode ``k`` is
   ``ℓ = 2π |fftfreq(npix, d=pixel_rad)|`` and the mode ``ℓ = 0`` gets no power.
3. **Lognormal.** κ = λ (exp(g − σ_g²/2) − 1) with shift λ = ``shift``. So that κ has
   the target spectrum, the Gaussian field g uses the standard lognormal correction:
   the periodic correlation function ξ_κ = IFFT(C_ℓ / a) becomes
   ξ_g = ln(1 + ξ_κ / λ²), whose spectrum C_g = a·Re FFT(ξ_g) is clipped at 0.
4. **Draws.** Each map is ``g = Re IFFT(FFT(w) · sqrt(C_g / a))`` with ``w`` standard
   normal white noise on the grid (NumPy ``default_rng``), then the lognormal transform
   with ``σ_g² = ξ_g(0)``.

Everything is NumPy after step 1; ``jax_cosmo`` is imported only by :func:`convergence_cl`
(so the map maker can be used with any spectrum). Caveat: MassiveNuS varies neutrino
mass, Ω_m and A_s with N-body physics; this stand-in varies Ω_m (σ8 fixed) with a
lognormal approximation, so the maps carry less non-Gaussian information.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "import_jax_cosmo",
    "LensingSpec",
    "convergence_cl",
    "ell_grid",
    "node_ells",
    "lognormal_spectrum",
    "lognormal_maps",
    "simulate_lensing",
]


def import_jax_cosmo():
    """Import ``jax_cosmo``, working around its use of ``pkg_resources``.

    jax-cosmo 0.1.0 reads its version with ``pkg_resources``, which setuptools >= 81 no
    longer ships. When that import is missing, a minimal stand-in module (backed by
    ``importlib.metadata``) is registered first; nothing else of jax-cosmo uses it.

    Raises:
      ImportError: jax-cosmo is not installed (``pip install jax-cosmo``).
    """
    import importlib
    import sys

    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import importlib.metadata as metadata
        import types

        stub = types.ModuleType("pkg_resources")
        stub.DistributionNotFound = metadata.PackageNotFoundError
        stub.get_distribution = lambda name: types.SimpleNamespace(version=metadata.version(name))
        sys.modules.setdefault("pkg_resources", stub)
    return importlib.import_module("jax_cosmo")


@dataclass(frozen=True)
class LensingSpec:
    """Map geometry and physics shared by every cosmology.

    Attributes:
      npix: pixels per side. field_deg: side of the patch in degrees.
      z_source: source redshift (delta n(z)). sigma8: fixed amplitude.
      shift: lognormal shift λ. omega_b: baryon density (Planck15's 0.0486).
      n_ell: points of the ℓ grid on which ``angular_cl`` is evaluated.
    """

    npix: int = 64
    field_deg: float = 3.5
    z_source: float = 1.0
    sigma8: float = 0.8
    shift: float = 0.02
    omega_b: float = 0.0486
    n_ell: int = 48

    def __post_init__(self):
        if not isinstance(self.npix, (int, np.integer)) or self.npix < 4:
            raise ValueError(f"npix: expected an int >= 4, got {self.npix!r}.")
        for name in ("field_deg", "z_source", "sigma8", "shift"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)!r}.")

    @property
    def pixel_rad(self) -> float:
        """Pixel side in radians."""
        return np.deg2rad(self.field_deg) / self.npix


def ell_grid(spec: LensingSpec) -> np.ndarray:
    """``(npix, npix)`` multipole ℓ = 2π|k| of each FFT mode (``ℓ[0, 0] = 0``)."""
    k = 2.0 * np.pi * np.fft.fftfreq(spec.npix, d=spec.pixel_rad)
    return np.hypot(k[:, None], k[None, :])


def convergence_cl(omega_m: Sequence[float], ell: np.ndarray, spec: LensingSpec = LensingSpec()) -> np.ndarray:
    """Convergence ``C_ℓ`` for each Ω_m at multipoles ``ell`` (jax-cosmo; needs ``jax_cosmo``).

    Args:
      omega_m: matter densities, each > ``spec.omega_b``.
      ell: ``(n,)`` positive multipoles.

    Returns:
      ``(len(omega_m), n)`` float64 spectra.
    """
    import jax
    import jax.numpy as jnp

    jc = import_jax_cosmo()

    ell = np.asarray(ell, np.float64)
    if ell.ndim != 1 or np.any(ell <= 0):
        raise ValueError(f"ell: expected a 1-D array of positive multipoles, got shape {ell.shape}.")
    oms = np.atleast_1d(np.asarray(omega_m, np.float64))
    if np.any(~(oms > spec.omega_b)):
        raise ValueError(f"omega_m: expected values above omega_b = {spec.omega_b}, got {oms.tolist()}.")

    @jax.jit
    def one(omega_c):  # compiled once, then ~1 s per cosmology on CPU
        cosmo = jc.Planck15(Omega_c=omega_c, Omega_b=spec.omega_b, sigma8=spec.sigma8)
        probe = jc.probes.WeakLensing([jc.redshift.delta_nz(spec.z_source)], sigma_e=0.0)
        return jc.angular_cl.angular_cl(cosmo, jnp.asarray(ell, jnp.float32), [probe])

    out = []
    for om in oms:
        out.append(np.asarray(one(jnp.float32(om - spec.omega_b)), np.float64).reshape(-1))
    return np.stack(out)


def lognormal_spectrum(cl_fn: Callable[[np.ndarray], np.ndarray], spec: LensingSpec) -> Tuple[np.ndarray, float]:
    """Gaussian-field spectrum on the FFT grid that gives κ the spectrum ``cl_fn`` after the lognormal map.

    Args:
      cl_fn: ``ℓ (m,) -> C_ℓ (m,)`` for positive ℓ.

    Returns:
      ``(C_g (npix, npix), σ_g²)``.
    """
    ell = ell_grid(spec)
    area = spec.pixel_rad**2
    cl = np.zeros_like(ell)
    pos = ell > 0
    cl[pos] = cl_fn(ell[pos])
    xi_kappa = np.fft.ifft2(cl / area).real
    arg = 1.0 + xi_kappa / spec.shift**2
    if np.any(arg <= 0):
        raise ValueError(
            f"shift: λ = {spec.shift} is too small for this spectrum (1 + ξ_κ/λ² <= 0 somewhere); use a larger shift."
        )
    xi_g = np.log(arg)
    cl_g = np.clip(np.fft.fft2(xi_g).real * area, 0.0, None)
    cl_g[0, 0] = 0.0
    sigma2 = float(np.sum(cl_g) / (area * spec.npix**2))
    return cl_g, sigma2


def lognormal_maps(cl_g: np.ndarray, sigma2: float, n: int, spec: LensingSpec, rng: np.random.Generator,
                   batch: int = 1000) -> np.ndarray:
    """``n`` lognormal κ maps ``(n, npix, npix)`` float32 from the Gaussian spectrum ``cl_g``."""
    area = spec.pixel_rad**2
    amp = np.sqrt(cl_g / area)
    out = np.empty((n, spec.npix, spec.npix), np.float32)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        w = rng.standard_normal((m, spec.npix, spec.npix))
        g = np.fft.ifft2(np.fft.fft2(w) * amp).real
        out[start : start + m] = spec.shift * (np.exp(g - sigma2 / 2.0) - 1.0)
    return out


def _interp_loglog(ell_nodes: np.ndarray, cl_nodes: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    log_l, log_c = np.log(ell_nodes), np.log(np.clip(cl_nodes, 1e-300, None))

    def fn(ell: np.ndarray) -> np.ndarray:
        return np.exp(np.interp(np.log(ell), log_l, log_c))

    return fn


def simulate_lensing(
    omega_m: Sequence[float],
    n_per_cosmology: int,
    *,
    seed: int = 0,
    spec: LensingSpec = LensingSpec(),
    cl_cache: Optional[Dict[float, np.ndarray]] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Lognormal κ maps for every Ω_m, ``n_per_cosmology`` each.

    Cosmology ``k`` (position in ``omega_m``) draws from ``default_rng([seed, k])``, so a
    split is reproducible and different seeds give independent splits.

    Args:
      omega_m: the cosmologies (Ω_m values).
      n_per_cosmology: maps per cosmology (>= 1).
      seed: split seed.
      spec: geometry and physics.
      cl_cache: optional dict Ω_m → C_ℓ nodes on ``node_ells(spec)``, filled and reused
        (spectra cost ~1 s each; pass the same dict for train/val/test).

    Returns:
      ``(maps (n, npix, npix) float32, omega_m per map (n,) float64)``, cosmologies in order.
    """
    if isinstance(n_per_cosmology, bool) or not isinstance(n_per_cosmology, (int, np.integer)) or n_per_cosmology < 1:
        raise ValueError(f"n_per_cosmology: expected an int >= 1, got {n_per_cosmology!r}.")
    oms = np.atleast_1d(np.asarray(omega_m, np.float64))
    if oms.ndim != 1 or oms.size == 0:
        raise ValueError(f"omega_m: expected a non-empty 1-D sequence, got shape {oms.shape}.")
    nodes = node_ells(spec)
    cache = {} if cl_cache is None else cl_cache
    missing = [om for om in oms if float(om) not in cache]
    if missing:
        for om, cl in zip(missing, convergence_cl(missing, nodes, spec)):
            cache[float(om)] = cl
    maps, labels = [], []
    for k, om in enumerate(oms):
        cl_g, sigma2 = lognormal_spectrum(_interp_loglog(nodes, cache[float(om)]), spec)
        rng = np.random.default_rng([int(seed), k])
        maps.append(lognormal_maps(cl_g, sigma2, int(n_per_cosmology), spec, rng))
        labels.append(np.full(int(n_per_cosmology), om))
    return np.concatenate(maps), np.concatenate(labels)


def node_ells(spec: LensingSpec) -> np.ndarray:
    """The log-spaced ℓ nodes at which ``C_ℓ`` is computed: covers every mode of the map."""
    ell = ell_grid(spec)
    lo = 0.5 * ell[ell > 0].min()
    hi = 1.05 * ell.max()
    return np.geomspace(lo, hi, spec.n_ell)
