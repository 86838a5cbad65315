"""TRIM attributions of a teacher in wavelet-coefficient space (docs/method.md#trim-attributions).

The teacher ``f`` is reparameterised on the coefficients ``c = wavedec(x, h)`` with a
residual, ``f'(c) = f(waverec(c, h) + stop_gradient(x − waverec(c, h)))``: the teacher
sees ``x`` itself (numerically), while gradients flow through ``waverec`` to ``c`` and ``h``.
The attribution of each coefficient is the gradient of the ``target`` output (summed over
the batch: samples do not interact) with respect to it.

Methods (``method``, static):

* ``"saliency"``: ``a = ∂f'/∂c``.
* ``"input_x_gradient"``: ``a = c ⊙ ∂f'/∂c``.
* ``"integrated_gradients"``: zero baseline in coefficient space, ``steps`` points
  ``α_k = (k + ½)/steps`` (midpoint rule), ``a = c ⊙ mean_k ∂f'/∂c |_{α_k c}``; all
  points are evaluated as one batch of ``steps · B`` samples. Because of the residual the
  teacher sees ``x`` at every point, so its *value* equals input×gradient; its
  derivative with respect to ``h`` differs (each point's reconstruction scales with ``α_k``).

Everything is jittable and differentiable (twice) in ``h``; ``level``, ``mode``,
``method``, ``target``, ``dims`` and ``steps`` are static.
"""

from __future__ import annotations

import functools

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from awd_jax import _validate
from awd_jax._config import METHODS, Objective, as_objective
from awd_jax.transform import wavedec, wavedec2, wavedecn, waverec, waverec2, waverecn

__all__ = ["DEFAULT_IMPL", "METHODS", "attributions", "check_teacher"]

#: transform implementation used by the objective; "auto" resolves with :func:`objective_impl`
DEFAULT_IMPL = "auto"

#: "auto" uses the dense-matrix filter bank when every transformed axis is at most this long
MATRIX_AUTO_LEN = 256


def objective_impl(impl: str, shape: Sequence[int], dims: int) -> str:
    """The transform implementation the objective uses for data ``(B, ..., L)`` / ``(B, ..., H, W)``.

    ``"auto"``: ``"matrix"`` (one GEMM per level and axis; the objective differentiates the
    transforms twice, and on small signals the step is bound by the number of ops, which
    this bank minimises: 1.3x/2.1x faster than ``"conv"`` at B=100/1000, L=64, J=4 on CPU
    (``benchmarks/bench_fit.py --impl``), and it
    compiles fastest) when every transformed axis is at most :data:`MATRIX_AUTO_LEN`;
    otherwise the transforms' own ``"auto"`` (``"fused"`` on CPU, ``"conv"`` elsewhere).
    Any other value is returned as is.
    """
    if impl != "auto":
        return impl
    axes = tuple(shape)[-dims:]
    return "matrix" if max(axes) <= MATRIX_AUTO_LEN else "auto"


TeacherFn = Callable[[jax.Array], jax.Array]


def check_method(method: str) -> str:
    """Validate an attribution method name."""
    return _validate.choice(method, METHODS, "method")


def check_dims(dims: int) -> int:
    """Validate ``dims`` (1 for signals, 2 for images, 3 for volumes)."""
    return _validate.dims(dims)


def decompose(x: jax.Array, h: jax.Array, mode: str, level: int, dims: int, impl: str) -> list:
    """The objective's coefficients of ``x`` over its last ``dims`` axes.

    ``wavedec`` layout for ``dims=1``, ``wavedec2`` for 2, ``wavedecn`` (dicts) for 3:
    always ``J + 1`` groups, ``cA_J`` first (``docs/method.md#reductions``).
    """
    _validate.data_layout(x.shape, dims, "x", batch="B")
    if dims == 1:
        return wavedec(x, h, mode=mode, level=level, impl=impl)
    if dims == 2:
        return wavedec2(x, h, mode=mode, level=level, impl=impl)
    return wavedecn(x, h, mode=mode, level=level, axes=(-3, -2, -1), impl=impl)


def _check_output(out: Any, batch: int, target: int) -> None:
    """``out`` (an array or a ``jax.ShapeDtypeStruct``) is a float ``(batch,)``/``(batch, K)`` output
    and ``target`` one of its columns."""
    if not (hasattr(out, "shape") and hasattr(out, "dtype")):
        raise ValueError(
            f"teacher_fn: expected an array output of shape ({batch},) or ({batch}, K), received "
            f"{type(out).__name__}."
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(
            f"teacher_fn: expected a floating-point output (its gradient is the attribution), received dtype "
            f"{out.dtype}; return floats (e.g. model outputs before any argmax or rounding)."
        )
    out_shape = tuple(out.shape)
    if len(out_shape) == 1 and out_shape[0] == batch:
        k = 1
    elif len(out_shape) == 2 and out_shape[0] == batch:
        k = out_shape[1]
    else:
        raise ValueError(
            f"teacher_fn: expected an output of shape ({batch},) or ({batch}, K) for a batch of "
            f"{batch} samples, received shape {out_shape}."
        )
    _validate.integer(target, "target", least=0)
    if not 0 <= target < k:
        raise ValueError(f"target: expected 0 <= target < {k} (the teacher has {k} output(s)), got {target}.")


def bind_teacher(teacher_fn: Callable | None, teacher_params: Any = None) -> TeacherFn | None:
    """``x -> teacher_fn(teacher_params, x)`` when ``teacher_params`` is given, else ``teacher_fn`` itself.

    JAX's idiom for a model is a pure ``teacher_fn(params, x)`` (``model.apply``,
    ``nnx.merge(graphdef, state)``): with the parameters passed here they stay traced
    arguments of a compiled program instead of constants baked into it.
    """
    if teacher_fn is None or teacher_params is None:
        return teacher_fn
    return functools.partial(_call_with_params, teacher_fn, teacher_params)


def _call_with_params(teacher_fn: Callable, teacher_params: Any, x: jax.Array) -> jax.Array:
    return teacher_fn(teacher_params, x)


def check_teacher(teacher_fn: TeacherFn, x_shape: Sequence[int], dtype: Any, target: int) -> None:
    """Check (without computing anything) that ``teacher_fn`` maps ``(B, ...)`` to ``(B,)``/``(B, K)``
    and that ``target`` picks one of its outputs.

    Raises:
      TypeError: ``teacher_fn`` not callable, ``target`` not an int.
      ValueError: wrong output shape (naming ``teacher_fn``), ``target`` out of range.
    """
    _validate.teacher(teacher_fn, none_ok=False)
    spec = jax.ShapeDtypeStruct(tuple(x_shape), dtype)
    try:
        out = jax.eval_shape(teacher_fn, spec)
    except (TypeError, ValueError) as err:
        raise _teacher_failure(err, spec) from err
    _check_output(out, x_shape[0], target)


def _teacher_failure(err: Exception, x: Any) -> Exception:
    """The error of a teacher that failed when traced on ``x``: names ``teacher_fn``, the input and the cause."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = (f"teacher_fn: failed when traced on a batch of shape {tuple(x.shape)} {x.dtype} "
            f"({type(err).__name__}: {first}); expected a pure JAX function of its input returning (B,) or "
            f"(B, K) floats (no Python control flow on traced values, no NumPy conversion of them).")
    return TypeError(text) if isinstance(err, TypeError) else ValueError(text)


def _call_teacher(teacher_fn: TeacherFn, z: jax.Array) -> Any:
    """``teacher_fn(z)`` with JAX's tracing errors (a teacher branching on values ...) naming ``teacher_fn``."""
    try:
        return teacher_fn(z)
    except jax.errors.JAXTypeError as err:
        raise _teacher_failure(err, z) from err


def select_target(out: jax.Array, batch: int, target: int) -> jax.Array:
    _check_output(out, batch, target)
    return out if out.ndim == 1 else out[:, target]


def reconstruct(coeffs: list, h: jax.Array, mode: str, dims: int, shape: tuple, impl: str) -> jax.Array:
    """Inverse of :func:`decompose`, cropped to the data's ``shape`` (odd sizes come back one longer)."""
    if dims == 1:
        return waverec(coeffs, h, mode=mode, axis=-1, length=shape[-1], impl=impl)
    if dims == 2:
        return waverec2(coeffs, h, mode=mode, axes=(-2, -1), shape=shape[-2:], impl=impl)
    return waverecn(coeffs, h, mode=mode, axes=(-3, -2, -1), shape=shape[-3:], impl=impl)


def _gradient(
    teacher_fn: TeacherFn, x: jax.Array, coeffs: list, h: jax.Array, mode: str, dims: int, target: int, impl: str
) -> list:
    """``∂ Σ_b f'(c)_b[target] / ∂c`` with the TRIM residual; same structure as ``coeffs``."""
    batch = x.shape[0]

    def scalar(c):
        rec = reconstruct(c, h, mode, dims, x.shape, impl)
        z = rec + jax.lax.stop_gradient(x - rec)
        return jnp.sum(select_target(_call_teacher(teacher_fn, z), batch, target))

    return jax.grad(scalar)(coeffs)


def attributions_from_coeffs(
    teacher_fn: TeacherFn,
    x: jax.Array,
    coeffs: list,
    h: jax.Array,
    *,
    mode: str = "zero",
    method: str = "saliency",
    target: int = 0,
    dims: int = 1,
    steps: int = 32,
    impl: str = DEFAULT_IMPL,
) -> list:
    """Attributions given precomputed ``coeffs = wavedec(x, h)`` (or ``wavedec2``); see :func:`attributions`."""
    check_method(method)
    dims = check_dims(dims)
    if method == "saliency":
        return _gradient(teacher_fn, x, coeffs, h, mode, dims, target, impl)
    if method == "input_x_gradient":
        grads = _gradient(teacher_fn, x, coeffs, h, mode, dims, target, impl)
        return jax.tree_util.tree_map(lambda c, g: c * g, coeffs, grads)
    steps = _validate.integer(steps, "steps", least=1)
    alphas = (jnp.arange(steps, dtype=x.dtype) + 0.5) / steps  # (M,)
    batch = x.shape[0]

    def tile(a):  # (B, ...) -> (M*B, ...)
        return jnp.broadcast_to(a[None], (steps,) + a.shape).reshape((steps * batch,) + a.shape[1:])

    def scaled(c):  # (B, ...) -> (M*B, ...) with point k holding α_k c
        s = alphas.reshape((steps,) + (1,) * c.ndim) * c[None]
        return s.reshape((steps * batch,) + c.shape[1:])

    grads = _gradient(
        teacher_fn, tile(x), jax.tree_util.tree_map(scaled, coeffs), h, mode, dims, target, impl
    )
    mean = jax.tree_util.tree_map(lambda g: g.reshape((steps, batch) + g.shape[1:]).mean(axis=0), grads)
    return jax.tree_util.tree_map(lambda c, g: c * g, coeffs, mean)


def attributions(
    h: Any,
    teacher_fn: Callable,
    x: Any,
    objective: Objective | None = None,
    *,
    teacher_params: Any = None,
    **settings: Any,
) -> list:
    """TRIM attributions of ``teacher_fn`` on the wavelet coefficients of ``x`` (``docs/method.md#trim-attributions``).

    Args:
      h: ``(N,)`` lowpass filter (or anything :func:`awd_jax.lowpass` accepts).
      teacher_fn: ``x (B, ...) -> (B,)``/``(B, K)``, or ``teacher_fn(teacher_params, x)``.
      x: ``(B, ..., L)`` (``dims=1``), ``(B, ..., H, W)`` (2) or ``(B, ..., D, H, W)`` (3).
      objective: the static settings (:class:`~awd_jax.Objective`: level, mode, method,
        target, dims, steps, impl); or give them as keywords.
      teacher_params: the teacher's parameters, traced (see :func:`bind_teacher`).

    Returns:
      arrays with the structure and shapes of the coefficients: ``wavedec``'s
      ``[cA_J, cD_J, ..., cD_1]`` (dims 1), ``wavedec2``'s ``[cA_J, (cH_J, cV_J, cD_J), ...]``
      (dims 2) or ``wavedecn``'s dicts (dims 3).

    Raises:
      ValueError: bad settings; ``x`` with too few dimensions for ``dims``, no sample or NaN/inf;
        ``h`` with NaN/inf taps; teacher output not ``(B,)``/``(B, K)``; ``target`` out of range.
      TypeError: ``teacher_fn`` not callable, failing under tracing or returning non-floats; complex ``x``.
    """
    obj = as_objective(objective, settings, "attributions")
    _validate.teacher(teacher_fn, none_ok=False)
    x = _validate.as_data(x, obj.dims, "x", batch="B")
    h = _validate.filter_taps(h, "h", x.dtype)
    impl = objective_impl(obj.impl, x.shape, obj.dims)
    coeffs = decompose(x, h, obj.mode, obj.level, obj.dims, impl)
    return attributions_from_coeffs(
        bind_teacher(teacher_fn, teacher_params), x, coeffs, h, mode=obj.mode, method=obj.method,
        target=obj.target, dims=obj.dims, steps=obj.steps, impl=impl,
    )
