"""Command-line pieces shared by the experiment scripts (presets, grids, config JSON)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable, Mapping, Optional, Sequence

from awd_jax.stream import chain_devices, split_cpu_into_devices

__all__ = ["chain_devices", "config_dict", "floats", "parse_config", "preset_parser", "split_cpu_into_devices"]


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
    """A parser with ``--quick`` (default) / ``--full`` and ``--out`` (default ``results``)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="preset", action="store_const", const="quick", help="small run (default)")
    g.add_argument("--full", dest="preset", action="store_const", const="full", help=full_help)
    p.set_defaults(preset="quick")
    p.add_argument("--out", default="results", help="output folder (default: results)")
    return p


def parse_config(p: argparse.ArgumentParser, argv: Optional[Sequence[str]], presets: Mapping[str, Any],
                 switches: Optional[Mapping[str, Callable[[Any], Any]]] = None):
    """Parse ``argv``; options that were given override the chosen preset. Returns ``(config, out_dir)``.

    ``switches``: store-true options (by dest) that transform the preset before the overrides
    (e.g. ``--paper`` → the paper's optimiser; an explicit ``--epochs`` still wins).
    """
    args = vars(p.parse_args(argv))
    switches = dict(switches or {})
    config = presets[args["preset"]]
    for name, transform in switches.items():
        if args.get(name):
            config = transform(config)
    skip = {"preset", "out", *switches}
    overrides = {k: v for k, v in args.items() if k not in skip and v is not None}
    return dataclasses.replace(config, **overrides), args["out"]

