"""Command-line pieces shared by the experiment scripts: presets, grids, config JSON, the optimiser.

The scripts run as ``python experiments/<study>.py``: Python puts ``experiments/`` on the
path, so they import this module as ``_cli`` (the tests add ``experiments/`` through
pytest's ``pythonpath`` setting).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Mapping, Optional, Sequence

from awd_jax import enable_compilation_cache
from awd_jax.stream import chain_devices, split_cpu_into_devices

__all__ = [
    "OptimizerConfig", "chain_devices", "config_dict", "floats", "optimizer_kwargs", "paper_optimizer",
    "parse_config", "preset_parser", "prepare_process", "split_cpu_into_devices",
]


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """How AWD is optimised in a study (docs/method.md#optimiser); the studies' configs extend it.

    ``optimizer="global"`` (default): ``parametrization`` (lattice angles: every filter exactly
    orthogonal), ``restarts`` starts per grid cell (the warm-start filter and the survivors of
    a global search over ``search_candidates`` angle vectors), an L-BFGS finish of ``refine``
    iterations, ``epochs`` per chain. ``optimizer="paper"`` (``--paper``): free taps, Adam,
    one start, the warm-start chain, ``paper_epochs`` per cell — the reference's optimiser.
    """

    optimizer: str = "global"
    parametrization: str = "lattice"
    restarts: int = 4
    refine: int = 10
    search_candidates: int = 16384
    epochs: int = 5
    paper_epochs: int = 40


def paper_optimizer(config: Any) -> Any:
    """``config`` with the paper's optimiser: free taps, Adam, one start, no finish, ``paper_epochs``."""
    return dataclasses.replace(config, optimizer="paper", parametrization="free", restarts=1, refine=0,
                               epochs=config.paper_epochs)


def optimizer_kwargs(config: OptimizerConfig) -> dict[str, Any]:
    """The keyword arguments of :func:`awd_jax.sweep` that select ``config``'s optimiser
    (none for the paper's, whose settings are ``sweep``'s defaults)."""
    if config.parametrization == "free" and config.restarts == 1 and config.refine == 0:
        return {}
    return {"parametrization": config.parametrization, "restarts": config.restarts, "refine": config.refine,
            "search": {"candidates": config.search_candidates}}


def floats(text: str) -> tuple[float, ...]:
    """``"0,1e-3,0.1"`` → ``(0.0, 0.001, 0.1)`` for grid options."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def config_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as JSON-ready dict (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


def preset_parser(doc: str, full_help: str) -> argparse.ArgumentParser:
    """A parser with ``--quick`` (default) / ``--full``, ``--out`` (default ``results``) and the
    optimiser options ``--paper``, ``--restarts``, ``--refine``, ``--epochs``."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="preset", action="store_const", const="quick", help="small run (default)")
    g.add_argument("--full", dest="preset", action="store_const", const="full", help=full_help)
    p.set_defaults(preset="quick")
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--paper", action="store_true",
                   help="the paper's optimiser: free taps, Adam, one start, warm-start chain")
    p.add_argument("--restarts", type=int, help="starts per grid cell (default optimiser)")
    p.add_argument("--refine", type=int, help="L-BFGS iterations of the finish (default optimiser)")
    p.add_argument("--epochs", type=int, help="AWD epochs per chain and grid cell")
    return p


def parse_config(p: argparse.ArgumentParser, argv: Optional[Sequence[str]], presets: Mapping[str, Any]):
    """Parse ``argv``: the chosen preset, switched to the paper's optimiser by ``--paper``, then
    every option that was given (so an explicit ``--epochs`` wins). Returns ``(config, out_dir)``."""
    args = vars(p.parse_args(argv))
    config = presets[args["preset"]]
    if args.get("paper"):
        config = paper_optimizer(config)
    overrides = {k: v for k, v in args.items() if k not in ("preset", "out", "paper") and v is not None}
    return dataclasses.replace(config, **overrides), args["out"]


def prepare_process() -> None:
    """What a study does before its first array operation: one XLA CPU device per core (for
    :func:`chain_devices`) and JAX's persistent compilation cache in its default folder
    (:func:`awd_jax.enable_compilation_cache`; set ``XDG_CACHE_HOME`` to move it, e.g. to time
    a cold start)."""
    split_cpu_into_devices()
    enable_compilation_cache()

