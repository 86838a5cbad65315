"""The objective's static settings, validated once: :class:`Objective` and :class:`Weights`.

Every entry point of the method (``awd_loss``, ``attributions``, ``fit``, ``sweep``,
``compression_factor_for``) takes one :class:`Objective` (``docs/method.md#objective``);
keyword shortcuts such as ``level=4`` build one with :func:`as_objective`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

from awd_jax import _validate
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
    return Weights(*(float(_validate.number(w, f"weights.{name}")) for name, w in zip(Weights._fields, values)))


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
        set_("level", _validate.integer(self.level, "level", least=0))
        set_("mode", mode_name(self.mode))
        set_("weights", as_weights(self.weights))
        _validate.choice(self.method, METHODS, "method")
        set_("target", _validate.integer(self.target, "target", least=0))
        set_("dims", _validate.dims(self.dims))
        set_("steps", _validate.integer(self.steps, "steps", least=1))
        _validate.choice(self.impl, IMPLS, "impl")

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
