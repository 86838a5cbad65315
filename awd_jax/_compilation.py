"""JAX's persistent compilation cache, switched on in one call (``enable_compilation_cache``)."""

from __future__ import annotations

import os
import pathlib

import jax

__all__ = ["default_cache_dir", "enable_compilation_cache"]


def default_cache_dir() -> pathlib.Path:
    """``$XDG_CACHE_HOME/awd_jax/jax`` (``~/.cache/awd_jax/jax`` when ``XDG_CACHE_HOME`` is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "awd_jax" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None, *, min_compile_time_s: float = 0.5) -> pathlib.Path:
    """Keep compiled XLA programs on disk, so a new process reuses them instead of compiling again.

    Sets JAX's own options (``jax_compilation_cache_dir`` and
    ``jax_persistent_cache_min_compile_time_secs``) for the whole process: every ``jit`` that
    takes at least ``min_compile_time_s`` to compile is written to ``path`` and read back by
    later processes with the same JAX version, backend and program. Call it once, early (before
    the first compilation you want cached). Entries can be deleted at any time.

    Args:
      path: the cache folder (created if missing); default :func:`default_cache_dir`.
      min_compile_time_s: programs that compile faster are not cached (JAX's default is 1 s).

    Returns the folder used.

    Raises:
      TypeError/ValueError: ``path`` not a path, or ``min_compile_time_s`` negative or not finite.
      OSError: the folder cannot be created.
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a folder path (str or os.PathLike) or None, got {type(path).__name__}.")
    number = isinstance(min_compile_time_s, (int, float)) and not isinstance(min_compile_time_s, bool)
    if not number or not 0 <= min_compile_time_s < float("inf"):
        raise ValueError(f"min_compile_time_s: expected a finite number >= 0 (seconds), got {min_compile_time_s!r}.")
    folder = pathlib.Path(path) if path is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    return folder
