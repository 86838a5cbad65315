"""The objective's static settings, validated once: :class:`Objective` and :class:`Weights`.

Every entry point of the method (``awd_loss``, ``attributions``, ``fit``, ``sweep``,
``compression_factor_for``) takes one :class:`Objective` (``docs/method.md#objective``);
keyword shortcuts such as ``level=4`` build one with :func:`as_objective`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from awd_jax._extension import mode_name
from awd_jax.transform import IMPLS

__all__ = ["METHODS", "Weights", "Objective", "as_weights", "as_objective"]

#: TRIM attribution methods (``docs/method.md#attribution-methods``).
METHODS = ("saliency", "input_x_gradient", "integrated_gradients")


class Weights(NamedTuple):
    """Weights of the five filter penalties (every published experiment used 1)."""

    lsum: float = 1.0
    hsum: float = 1.0
    l2norm: float = 1.0
    cmf: float = 1.0
    conv: float = 1.0


def as_weights(weights: None | Weights | Mapping[str, float]) -> Weights:
    """``None`` → defaults; a dict (subset of the field names) or a :class:`Weights` → :class:`Weights`."""
    if weights is None:
        return Weights()
    if isinstance(weights, Weights):
        values = weights
    elif isinstance(weights, Mapping):
        unknown = set(weights) - set(Weights._fields)
        if unknown:
            raise ValueError(f"weights: unknown key(s) {sorted(unknown)}; expected a subset of {Weights._fields}.")
        values = Weights(**weights)
    else:
        raise TypeError(f"weights: expected None, a Weights or a dict, got {type(weights).__name__}.")
    out = []
    for name, w in zip(Weights._fields, values):
        number = isinstance(w, (int, float, np.integer, np.floating)) and not isinstance(w, bool)
        if not number or not np.isfinite(w) or w < 0:
            raise ValueError(f"weights: expected finite non-negative numbers, got {name}={w!r}.")
        out.append(float(w))
    return Weights(*out)


def _int(value: Any, name: str, least: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int >= {least}, got {type(value).__name__} {value!r}.")
    if value < least:
        raise ValueError(f"{name}: expected an int >= {least}, got {int(value)}.")
    return int(value)


@dataclasses.dataclass(frozen=True)
class Objective:
    """The static settings of the AWD objective (frozen, hashable; validated when built).

    Attributes:
      level: J, the number of decomposition levels (``J + 1`` coefficient groups).
      mode: pywt signal-extension mode; the paper's ``"zero"`` by default.
      weights: :class:`Weights` of the five filter penalties (a dict of some of them works).
      method: TRIM attribution method, one of :data:`METHODS`.
      target: output column of a teacher that returns ``(B, K)``.
      dims: 1 (signals ``(B, ..., L)``), 2 (images ``(B, ..., H, W)``) or 3 (volumes).
      steps: integrated-gradients points.
      impl: transform implementation (``"auto"``: the dense-matrix bank for axes up to
        256 samples, else the transforms' own choice).
    """

    level: int = 4
    mode: str = "zero"
    weights: Weights = Weights()
    method: str = "saliency"
    target: int = 0
    dims: int = 1
    steps: int = 32
    impl: str = "auto"

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        set_("level", _int(self.level, "level", 0))
        set_("mode", mode_name(self.mode))
        set_("weights", as_weights(self.weights))
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}.")
        set_("target", _int(self.target, "target", 0))
        if isinstance(self.dims, bool) or self.dims not in (1, 2, 3):
            raise ValueError(f"dims: expected 1 (signals), 2 (images) or 3 (volumes), got {self.dims!r}.")
        set_("dims", int(self.dims))
        set_("steps", _int(self.steps, "steps", 1))
        if not isinstance(self.impl, str) or self.impl not in IMPLS:
            raise ValueError(f"impl: expected one of {IMPLS}, got {self.impl!r}.")

    def to_dict(self) -> dict:
        """JSON-serialisable settings."""
        out = dataclasses.asdict(self)
        out["weights"] = dict(self.weights._asdict())
        return out


_FIELDS = tuple(f.name for f in dataclasses.fields(Objective))


def as_objective(objective: Objective | None, settings: Mapping[str, Any], where: str) -> Objective:
    """The :class:`Objective` of a call: ``objective`` itself, or one built from keyword ``settings``.

    Raises:
      TypeError: a setting that is not a field of :class:`Objective`, or ``objective`` of
        another type.
      ValueError: both an ``objective`` and keyword settings were given.
    """
    unknown = sorted(set(settings) - set(_FIELDS))
    if unknown:
        raise TypeError(f"{where}() got unexpected keyword argument(s) {unknown}; the objective's settings are "
                        f"{_FIELDS}.")
    if objective is None:
        return Objective(**settings)
    if not isinstance(objective, Objective):
        raise TypeError(f"objective: expected an awd_jax.Objective or None, got {type(objective).__name__}.")
    if settings:
        raise ValueError(f"{where}: give the settings either as objective=Objective(...) or as keywords, not both "
                         f"(got objective and {sorted(settings)}).")
    return objective
