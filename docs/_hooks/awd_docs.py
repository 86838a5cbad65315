"""mkdocs hooks of the awd_jax site (``hooks:`` in mkdocs.yml).

1. **Executed tutorial.** ``docs/tutorial.py`` (jupytext percent format) runs in a fresh
   interpreter (``docs/_hooks/run_tutorial.py``, no Jupyter kernel) into a temporary folder;
   the Markdown page it writes (code, printed output, figures) is added to the site as
   ``tutorial.md`` with its PNGs. Nothing is written under ``docs/``. A failing cell fails
   the build. ``AWD_DOCS_EXECUTE=0`` shows the code without running it.
2. **The studies' figures and tables.** The experiment scripts write their figures and JSON
   into one folder (``results/`` by default). The build reads them from
   ``$AWD_DOCS_RESULTS`` (default ``results/`` next to mkdocs.yml) and never re-runs a study.
   In a page,

       <!-- awd-figure: simulation.png | alt text -->

   becomes the image (copied into the site as ``studies/figures/simulation.png``; any page may
   use it) and

       <!-- awd-table: simulation -->

   becomes the table that ``experiments/simulation.py`` prints, recomputed from
   ``simulation.json`` with the script's own ``format_table``. When a file is missing, the
   page shows a placeholder naming the command that makes it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.plugins.awd_docs")

# study → (script, the command that writes its files, the quick preset's time on 2 CPU cores)
STUDIES = {
    "simulation": ("experiments/simulation.py", "python experiments/simulation.py --quick", "about 1.5 minutes"),
    "spectra": ("experiments/spectra.py", "python experiments/spectra.py --quick", "about 2 minutes"),
    "lensing": ("experiments/lensing.py", "python experiments/lensing.py --quick", "about 6 minutes"),
}
FIGURE_DIR = "studies/figures"
_FIGURE = re.compile(r"^<!--\s*awd-figure:\s*([\w.-]+)\s*\|\s*(.*?)\s*-->\s*$", re.MULTILINE)
_TABLE = re.compile(r"^<!--\s*awd-table:\s*(\w+)\s*-->\s*$", re.MULTILINE)

_state: dict = {}


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def results_dir(config) -> Path:
    """``$AWD_DOCS_RESULTS`` (relative to the current folder) or ``results/`` next to mkdocs.yml."""
    env = os.environ.get("AWD_DOCS_RESULTS")
    return Path(env).resolve() if env else _root(config) / "results"


def _study_of(name: str) -> str:
    return next((s for s in STUDIES if name.startswith(s)), "simulation")


def _shown(path: Path, config) -> str:
    try:
        return str(path.relative_to(_root(config)))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------
# the tutorial
# ---------------------------------------------------------------------------


def _tutorial(config, files) -> None:
    root = _root(config)
    script = Path(config.docs_dir) / "tutorial.py"
    out = Path(tempfile.mkdtemp(prefix="awd-docs-tutorial-"))
    _state["tmp"] = out
    execute = os.environ.get("AWD_DOCS_EXECUTE", "1") != "0"
    cmd = [sys.executable, str(Path(__file__).with_name("run_tutorial.py")), str(script), str(out)]
    if not execute:
        cmd.append("--no-execute")
    env = dict(os.environ, MPLBACKEND="Agg")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PluginError(f"docs/tutorial.py failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")
    log.info("tutorial: %s in %.1f s", "executed" if execute else "rendered without running",
             time.perf_counter() - t0)
    files.append(File.generated(config, "tutorial.md", abs_src_path=str(out / "tutorial.md")))
    for png in sorted((out / "tutorial_files").glob("*.png")):
        files.append(File.generated(config, f"tutorial_files/{png.name}", abs_src_path=str(png)))


# ---------------------------------------------------------------------------
# the studies' figures and tables
# ---------------------------------------------------------------------------


def _figures(config, files) -> None:
    folder = results_dir(config)
    found = []
    for page in Path(config.docs_dir).rglob("*.md"):
        for name, _ in _FIGURE.findall(page.read_text(encoding="utf-8")):
            src = folder / name
            if src.is_file() and name not in found:
                files.append(File.generated(config, f"{FIGURE_DIR}/{name}", abs_src_path=str(src)))
                found.append(name)
    _state["figures"] = found
    log.info("studies: figures from %s: %s", folder, ", ".join(found) or "none")


def _placeholder(what: str, name: str, config) -> str:
    study = _study_of(name)
    script, command, duration = STUDIES[study]
    folder = _shown(results_dir(config), config)
    return (
        f'!!! warning "{what} not in this build: `{name}`"\n'
        f"    This build found no `{name}` in `{folder}/`. Make it with `{command}` ({duration} on 2 CPU cores; "
        f"it writes into `results/`, or into `--out DIR`), then build again (with `AWD_DOCS_RESULTS=DIR` "
        f"for another folder).\n"
    )


def _figure_markdown(match: re.Match, page, config) -> str:
    name, alt = match.groups()
    if name not in _state.get("figures", ()):
        return _placeholder("Figure", name, config)
    rel = posixpath.relpath(f"{FIGURE_DIR}/{name}", posixpath.dirname(page.file.src_uri) or ".")
    return f"![{alt}]({rel})"


def _load_script(path: Path):
    """Import an experiment script as a module (its folder on the path, for ``_cli``)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"_awd_docs_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the script runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _table_markdown(match: re.Match, config) -> str:
    study = match.group(1)
    if study not in STUDIES:
        raise PluginError(f"awd-table: unknown study {study!r} (known: {', '.join(STUDIES)})")
    path = results_dir(config) / f"{study}.json"
    if not path.is_file():
        return _placeholder("Table", f"{study}.json", config)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        table = _load_script(_root(config) / STUDIES[study][0]).format_table(result)
    except Exception as err:  # an older JSON layout: say so on the page rather than fail the build
        log.info("awd-table %s: %s", study, err)
        return (f'!!! warning "Table not rendered: `{study}.json`"\n'
                f"    `{_shown(path, config)}` could not be read by the script's `format_table` ({err!r}); "
                f"re-run `{STUDIES[study][1]}`.\n")
    written = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    preset = result.get("preset", "?")
    return (f"The table `{STUDIES[study][1].replace(' --quick', '')}` printed for the run whose figures are shown "
            f"(preset `{preset}`, read from `{_shown(path, config)}`, file dated {written}):\n\n"
            f"```text\n{table}\n```\n")


# ---------------------------------------------------------------------------
# mkdocs events
# ---------------------------------------------------------------------------


def on_files(files, config):
    _tutorial(config, files)
    _figures(config, files)
    return files


def on_page_markdown(markdown, page, config, files):
    markdown = _FIGURE.sub(lambda m: _figure_markdown(m, page, config), markdown)
    return _TABLE.sub(lambda m: _table_markdown(m, config), markdown)


def on_post_build(config):
    tmp = _state.pop("tmp", None)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
