"""The one file container of awd_jax: named arrays and JSON metadata in an ``.npz``, never pickle (internal).

Result files (:mod:`awd_jax.results`) and checkpoints (:mod:`awd_jax.checkpoint`) are each a
:class:`Container`: the same layout, writer and reader, with their own metadata key, format
name, version and wording of errors.

Layout: an uncompressed ``np.savez`` archive whose entry ``meta_key`` is a 1-D uint8 array
holding UTF-8 JSON (a dict with at least ``format`` and ``format_version``); every other
entry is a named array, stored by ``.npy`` with its dtype and shape.

Writing is atomic: the archive goes to a temporary file in the destination's own folder,
is flushed and fsync'ed, and ``os.replace`` puts it in place (then the folder is fsync'ed),
so a reader or a kill at any moment sees the old file or the new one, never a torn one; a
failed write removes its temporary file. Reading uses ``allow_pickle=False`` and turns every
way a file can be damaged or foreign into one ``ValueError`` naming the file.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Container"]

# everything np.load / zipfile / json can raise on a damaged or foreign file
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError,
                struct.error, zipfile.BadZipFile)


class Container(NamedTuple):
    """One kind of awd_jax file.

    Attributes:
      format: the ``format`` written in (and required of) the metadata, e.g. ``"awd_jax.result"``.
      version: the ``format_version`` written; files up to it are read, newer ones refused.
      meta_key: the archive entry holding the metadata.
      what: the kind of file in messages (``"awd_jax result file"``).
      argument: the argument messages name (``"path"``, ``"checkpoint_dir"``).
      advice: what to do, appended to the messages about unusable files (lower case, no full stop).
      tmp_prefix, tmp_suffix: the temporary file's name while it is written.
    """

    format: str
    version: int
    meta_key: str
    what: str
    argument: str = "path"
    advice: str = ""
    tmp_prefix: str = ".awd_tmp_"
    tmp_suffix: str = ".npz"

    # -- errors ------------------------------------------------------------------------------------

    def _tail(self) -> str:
        return f"; {self.advice}" if self.advice else ""

    def corrupt(self, path: Any, why: str) -> ValueError:
        """The error for a file that is damaged, foreign or inconsistent."""
        return ValueError(f"{self.argument}: {os.fspath(path)!r} is not a readable {self.what}; it is corrupt "
                          f"or of another kind ({why}){self._tail()}.")

    def newer(self, path: Any, version: Any) -> ValueError:
        """The error for a file of a format version this awd_jax does not read."""
        return ValueError(f"{self.argument}: {os.fspath(path)!r} has format_version {version!r}, but this awd_jax "
                          f"reads {self.what}s up to version {self.version}; upgrade awd_jax{self._tail()}.")

    # -- writing -----------------------------------------------------------------------------------

    def write(self, path: Any, meta: dict, arrays: dict[str, Any]) -> str:
        """Write ``arrays`` and the metadata ``{format, format_version, **meta}`` atomically to ``path``.

        The folder of ``path`` must exist. Returns ``path`` as a string.

        Raises:
          FileNotFoundError: the destination folder does not exist.
          NotADirectoryError / IsADirectoryError: the folder is a file / ``path`` is a folder.
          TypeError: metadata that is not JSON-serialisable.
        """
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.exists(folder):
            raise FileNotFoundError(f"{self.argument}: the folder {folder!r} does not exist (writing {path!r}); "
                                    f"create it first.")
        if not os.path.isdir(folder):
            raise NotADirectoryError(f"{self.argument}: {folder!r} is a file, not a folder (writing {path!r}).")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{self.argument}: {path!r} is a folder; expected a file name.")
        header = {"format": self.format, "format_version": self.version, **meta}
        try:
            text = json.dumps(header)
        except (TypeError, ValueError) as err:
            raise TypeError(f"metadata: expected JSON-serialisable values ({err}).") from err
        payload = {self.meta_key: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
        payload.update((name, np.asarray(value)) for name, value in arrays.items())
        fd, tmp = tempfile.mkstemp(prefix=self.tmp_prefix, suffix=self.tmp_suffix, dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        _fsync_folder(folder)
        return path

    # -- reading -----------------------------------------------------------------------------------

    def read(self, path: Any) -> tuple[dict, dict[str, np.ndarray]]:
        """``(metadata, arrays)`` of the file at ``path`` (read with ``allow_pickle=False``).

        Raises:
          FileNotFoundError: no file at ``path``.
          ValueError: not an ``.npz`` archive, unreadable, without the metadata entry, metadata
            that is not a JSON dict, another ``format``, or a ``format_version`` that is not an
            int or is newer than :attr:`version` (every message names ``path``).
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            if os.path.isdir(path):
                raise self.corrupt(path, "a folder, not a file")
            raise FileNotFoundError(f"{self.argument}: no such file {path!r}.")
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            with loaded as npz:
                arrays = {name: npz[name] for name in npz.files}
        except _READ_ERRORS as err:
            raise self.corrupt(path, f"{type(err).__name__}: {err}") from err
        raw = arrays.pop(self.meta_key, None)
        if raw is None:
            raise self.corrupt(path, f"no {self.meta_key!r} entry")
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise self.corrupt(path, f"the {self.meta_key!r} entry is a {raw.dtype} array of shape {raw.shape}, "
                                     f"not UTF-8 JSON bytes")
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise self.corrupt(path, f"metadata that is not JSON: {err}") from err
        if not isinstance(meta, dict):
            raise self.corrupt(path, f"metadata is a JSON {type(meta).__name__}, not an object")
        if meta.get("format") != self.format:
            raise self.corrupt(path, f"format {meta.get('format')!r}, expected {self.format!r}")
        version = meta.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.corrupt(path, f"format_version {version!r} is not a positive int")
        if version > self.version:
            raise self.newer(path, version)
        return meta, arrays


def _fsync_folder(folder: str) -> None:
    """Persist a rename inside ``folder`` (POSIX); best effort where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
