"""The AWD objective (``docs/method.md#objective``): reconstruction + filter penalties + λ·sparsity + γ·interpretation.

``awd_loss(h, teacher_fn, x, objective)`` is a pure function of ``h`` and a minibatch
``x``; jittable and differentiable in ``h`` (the interpretation term is a gradient of the
teacher, so its ``h``-gradient is a second derivative). The :class:`Objective` and
``teacher_fn`` are static; ``sparsity``, ``interpretation`` and ``teacher_params`` may be
traced (``sweep`` vmaps over λ and γ).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from awd_jax import _validate
from awd_jax.attributions import (
    attributions_from_coeffs,
    bind_teacher,
    decompose,
    objective_impl,
    reconstruct,
)
from awd_jax._config import Objective, Weights, as_objective, as_weights
from awd_jax.penalties import penalties

__all__ = ["LossTerms", "Objective", "Weights", "as_weights", "awd_loss", "reduce_coeffs"]


class LossTerms(NamedTuple):
    """Every unweighted term of the objective (scalars); ``sparsity``/``interpretation`` before λ/γ."""

    rec: jax.Array
    lsum: jax.Array
    hsum: jax.Array
    l2norm: jax.Array
    cmf: jax.Array
    conv: jax.Array
    sparsity: jax.Array
    interpretation: jax.Array


def reduce_coeffs(arrays: list, batch: Any, mask: jax.Array | None = None) -> jax.Array:
    """``(1/(J+1)) Σ_groups Σ |a| / B``: the J+1 groups are ``cA_J`` and each level's detail(s).

    With ``mask`` ``(B,)`` (0/1), sample ``b``'s contribution is weighted by ``mask[b]`` and
    ``batch`` should be ``Σ mask``.
    """
    leaves, _ = _validate.coeff_leaves(arrays, "coeffs")
    if mask is None:
        total = sum(jnp.sum(jnp.abs(leaf)) for leaf in leaves)
    else:
        total = sum(jnp.sum(_per_sample(jnp.abs(leaf)) * mask) for leaf in leaves)
    return total / len(arrays) / batch


def _per_sample(a: jax.Array) -> jax.Array:
    """``(B, ...)`` → ``(B,)`` sums."""
    return jnp.sum(a.reshape(a.shape[0], -1), axis=1)


def awd_loss(
    h: Any,
    teacher_fn: Callable | None,
    x: Any,
    objective: Objective | None = None,
    *,
    sparsity: float | jax.Array = 0.0,
    interpretation: float | jax.Array = 0.0,
    teacher_params: Any = None,
    mask: jax.Array | None = None,
    **settings: Any,
) -> tuple[jax.Array, LossTerms]:
    """AWD loss of filter ``h`` on a minibatch (``docs/method.md#objective``).

    Args:
      h: ``(N,)`` lowpass filter (or a name / orthogonal ``pywt.Wavelet``).
      teacher_fn: ``x -> (B,)``/``(B, K)``, or ``teacher_fn(teacher_params, x)`` when
        ``teacher_params`` is given; ``None`` drops the interpretation term (0).
      x: ``(B, ..., L)`` (``dims=1``), ``(B, ..., H, W)`` (2) or ``(B, ..., D, H, W)`` (3).
      objective: the static settings (:class:`~awd_jax.Objective`); or give them as
        keywords (``level=4, mode="zero", ...``), which build one.
      sparsity: λ. interpretation: γ (both may be traced; Python and NumPy numbers must be finite, >= 0).
      teacher_params: the teacher's parameters, traced (a pytree such as Flax ``variables``).
      mask: optional ``(B,)`` 0/1 sample weights; masked-out samples contribute nothing and
        ``B`` becomes ``Σ mask`` (exact padding of a short final batch; samples must not
        interact in the teacher, as ``docs/method.md#attribution-methods`` assumes).

    Raises:
      TypeError: complex or non-numeric ``x``; ``teacher_fn`` not callable, failing under tracing or
        returning non-floats; ``sparsity``/``interpretation`` not numbers.
      ValueError: ``x`` with too few dimensions for ``dims`` (``dims=2`` on ``(B, L)``), no sample or
        NaN/inf (concrete values); ``h`` not a valid filter or with NaN/inf taps; negative or non-finite
        ``sparsity``/``interpretation``; teacher output of the wrong shape; bad objective settings.

    Returns:
      ``(total, terms)``: scalar total and the unweighted :class:`LossTerms`, where
      ``rec = Σ (x̂ − x)² / B`` (``x̂`` cropped to ``x``'s size for odd sizes) and
      sparsity / interpretation are :func:`reduce_coeffs` of the coefficients / attributions.
    """
    obj = as_objective(objective, settings, "awd_loss")
    w = obj.weights
    teacher_fn = _validate.teacher(teacher_fn)
    # Python/NumPy numbers are checked; JAX arrays are the engine's (possibly traced) values
    sparsity = _validate.number(sparsity, "sparsity", check_jax_arrays=False)
    interpretation = _validate.number(interpretation, "interpretation", check_jax_arrays=False)
    x = _validate.as_data(x, obj.dims, "x", batch="B")
    h = _validate.filter_taps(h, "h", x.dtype)
    if mask is None:
        batch = x.shape[0]
    else:
        mask = jnp.asarray(mask, x.dtype)
        if mask.shape != (x.shape[0],):
            raise ValueError(f"mask: expected shape ({x.shape[0]},), got {tuple(mask.shape)}.")
        batch = jnp.sum(mask)
    impl = objective_impl(obj.impl, x.shape, obj.dims)
    coeffs = decompose(x, h, obj.mode, obj.level, obj.dims, impl)
    x_hat = reconstruct(coeffs, h, obj.mode, obj.dims, x.shape, impl)
    sq = (x_hat - x) ** 2
    rec = (jnp.sum(sq) if mask is None else jnp.sum(_per_sample(sq) * mask)) / batch
    pen = penalties(h)
    sparse = reduce_coeffs(coeffs, batch, mask)
    skip_interp = teacher_fn is None or (isinstance(interpretation, (int, float)) and interpretation == 0)
    if skip_interp:
        interp = jnp.zeros((), x.dtype)
    else:
        attr = attributions_from_coeffs(
            bind_teacher(teacher_fn, teacher_params), x, coeffs, h, mode=obj.mode, method=obj.method,
            target=obj.target, dims=obj.dims, steps=obj.steps, impl=impl,
        )
        interp = reduce_coeffs(attr, batch, mask)
    terms = LossTerms(rec, pen.lsum, pen.hsum, pen.l2norm, pen.cmf, pen.conv, sparse, interp)
    total = (
        rec
        + w.lsum * pen.lsum
        + w.hsum * pen.hsum
        + w.l2norm * pen.l2norm
        + w.cmf * pen.cmf
        + w.conv * pen.conv
        + sparsity * sparse
        + interpretation * interp
    )
    return total, terms
