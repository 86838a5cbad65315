"""The AWD objective (SPEC §3): reconstruction + filter penalties + λ·sparsity + γ·interpretation.

``awd_loss`` is a pure function of ``h`` and a minibatch ``x``; jittable and
differentiable in ``h`` (the interpretation term is a gradient of the teacher, so its
``h``-gradient is a second derivative). ``level``, ``mode``, ``method``, ``target``,
``dims``, ``steps``, ``teacher_fn`` and ``weights`` are static; ``sparsity`` and
``interpretation`` may be traced (``sweep`` vmaps over them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from awd_jax.attributions import (
    DEFAULT_IMPL,
    attributions_from_coeffs,
    bind_teacher,
    check_dims,
    check_method,
    decompose,
    objective_impl,
    reconstruct,
)
from awd_jax.filters import lowpass
from awd_jax.penalties import penalties

__all__ = ["LossTerms", "Weights", "as_weights", "awd_loss", "reduce_coeffs"]


class Weights(NamedTuple):
    """Weights of the five filter penalties (every published experiment used 1)."""

    lsum: float = 1.0
    hsum: float = 1.0
    l2norm: float = 1.0
    cmf: float = 1.0
    conv: float = 1.0


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


def as_weights(weights: None | Weights | Mapping[str, float]) -> Weights:
    """``None`` → defaults; a dict (subset of the field names) or a :class:`Weights` → :class:`Weights`."""
    if weights is None:
        return Weights()
    if isinstance(weights, Weights):
        return Weights(*(float(w) for w in weights))
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(Weights._fields)
        if unknown:
            raise ValueError(f"weights: unknown key(s) {sorted(unknown)}; expected a subset of {Weights._fields}.")
        return Weights(**{k: float(v) for k, v in weights.items()})
    raise TypeError(f"weights: expected None, a Weights or a dict, got {type(weights).__name__}.")


def reduce_coeffs(arrays: list, batch: Any, mask: jax.Array | None = None) -> jax.Array:
    """``(1/(J+1)) Σ_groups Σ |a| / B``: the J+1 groups are ``cA_J`` and each level's detail(s).

    With ``mask`` ``(B,)`` (0/1), sample ``b``'s contribution is weighted by ``mask[b]`` and
    ``batch`` should be ``Σ mask``.
    """
    leaves = jax.tree_util.tree_leaves(arrays)
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
    x: Any,
    teacher_fn: Callable[[jax.Array], jax.Array] | None,
    *,
    level: int,
    mode: str = "zero",
    sparsity: float | jax.Array = 0.0,
    interpretation: float | jax.Array = 0.0,
    weights: None | Weights | Mapping[str, float] = None,
    method: str = "saliency",
    target: int = 0,
    dims: int = 1,
    steps: int = 32,
    impl: str = DEFAULT_IMPL,
    mask: jax.Array | None = None,
    teacher_params: Any = None,
) -> tuple[jax.Array, LossTerms]:
    """AWD loss of filter ``h`` on a minibatch.

    Args:
      h: ``(N,)`` lowpass filter.
      x: ``(B, ..., L)`` (``dims=1``) or ``(B, ..., H, W)`` (``dims=2``); B = ``x.shape[0]``.
      teacher_fn: ``x -> (B,)``/``(B, K)``; ``None`` drops the interpretation term (0).
      level: J. mode: pywt mode. sparsity: λ. interpretation: γ.
      weights: penalty weights (:class:`Weights`, dict or ``None`` for all ones).
      method, target, steps: attribution settings (see :func:`awd_jax.attributions`).
      dims: 1 (signals), 2 (images) or 3 (volumes ``(B, ..., D, H, W)``).
      impl: transform implementation (default ``"auto"``, see :func:`awd_jax.attributions.objective_impl`).
      mask: optional ``(B,)`` 0/1 sample weights; masked-out samples contribute nothing and
        ``B`` becomes ``Σ mask`` (exact padding of a short final batch; samples must not
        interact in the teacher, as ``docs/method.md#attribution-methods`` assumes).
      teacher_params: if given, the teacher is ``teacher_fn(teacher_params, x)`` with the
        parameters traced (a pytree, e.g. Flax ``variables``); new parameters of the same
        shapes reuse the compiled program.

    Returns:
      ``(total, terms)``: scalar total and the unweighted :class:`LossTerms`, where
      ``rec = Σ (x̂ − x)² / B`` (``x̂`` cropped to ``x``'s length for odd sizes) and
      sparsity / interpretation are :func:`reduce_coeffs` of the coefficients / attributions.
    """
    check_method(method)
    dims = check_dims(dims)
    w = as_weights(weights)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.zeros(()).dtype)
    h = jnp.asarray(lowpass(h)).astype(x.dtype)
    if mask is None:
        batch = x.shape[0]
    else:
        mask = jnp.asarray(mask, x.dtype)
        if mask.shape != (x.shape[0],):
            raise ValueError(f"mask: expected shape ({x.shape[0]},), got {tuple(mask.shape)}.")
        batch = jnp.sum(mask)
    impl = objective_impl(impl, x.shape, dims)
    coeffs = decompose(x, h, mode, level, dims, impl)
    x_hat = reconstruct(coeffs, h, mode, dims, x.shape, impl)
    sq = (x_hat - x) ** 2
    rec = (jnp.sum(sq) if mask is None else jnp.sum(_per_sample(sq) * mask)) / batch
    pen = penalties(h)
    sparse = reduce_coeffs(coeffs, batch, mask)
    skip_interp = teacher_fn is None or (isinstance(interpretation, (int, float)) and interpretation == 0)
    if skip_interp:
        interp = jnp.zeros((), x.dtype)
    else:
        attr = attributions_from_coeffs(
            bind_teacher(teacher_fn, teacher_params), x, coeffs, h, mode=mode, method=method, target=target, dims=dims, steps=steps, impl=impl
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
