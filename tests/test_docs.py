"""The documentation site (mkdocs.yml, docs/): every public name in the API reference (fast), and the
strict site build with the executed tutorial and the simulation study's real figure (slow)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API = DOCS / "api"
# the namespaces whose ``__all__`` the reference must cover, beside ``awd_jax`` itself
NAMESPACES = ("awd_jax", "awd_jax.features", "awd_jax.teachers", "awd_jax.data", "awd_jax.data.lensing",
              "awd_jax.data.tecator", "awd_jax.plotting")
DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)


def _directives() -> list[str]:
    return [ident for page in sorted(API.glob("*.md")) for ident in DIRECTIVE.findall(page.read_text("utf-8"))]


def _resolve(ident: str):
    """``a.b.c`` → the Python object: the longest importable module prefix, then attributes.

    Uses ``sys.modules`` first so that ``awd_jax.fit.fit`` finds the module ``awd_jax.fit``
    (the package attribute ``awd_jax.fit`` is the function of the same name)."""
    parts = ident.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            obj = sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(ident)


def test_api_reference_documents_every_public_name():
    """Each name in the ``__all__`` of ``awd_jax`` and of its namespaces has a ``::: path`` entry in
    docs/api/*.md that resolves to that very object; and no entry points at nothing."""
    documented = {}
    for ident in _directives():
        documented[id(_resolve(ident))] = ident  # raises for a stale entry
    missing = []
    for ns in NAMESPACES:
        module = importlib.import_module(ns)
        for name in module.__all__:
            if id(getattr(module, name)) not in documented:
                missing.append(f"{ns}.{name}")
    assert not missing, (
        f"public names without an entry in the API reference (docs/api/*.md): {missing}; add a "
        f"'::: <module>.<name>' line to the page of its namespace"
    )


def test_docstring_pointers_to_the_method_page_exist():
    """Every ``docs/method.md#anchor`` in the package's docstrings names a section of docs/method.md."""
    sys.path.insert(0, str(DOCS / "_hooks"))
    try:
        from griffe_links import method_anchors
    finally:
        sys.path.remove(str(DOCS / "_hooks"))
    anchors = method_anchors(DOCS / "method.md")
    used = {}
    for path in (ROOT / "awd_jax").rglob("*.py"):
        for anchor in re.findall(r"docs/method\.md#([A-Za-z0-9_-]+)", path.read_text("utf-8")):
            used.setdefault(anchor, path.relative_to(ROOT))
    assert used, "expected docstrings that point to the method page"
    broken = {a: str(p) for a, p in used.items() if a not in anchors}
    assert not broken, f"docs/method.md has no section for these anchors: {broken}"


def test_tutorial_cells_parse():
    sys.path.insert(0, str(DOCS / "_hooks"))
    try:
        from run_tutorial import parse_cells
    finally:
        sys.path.remove(str(DOCS / "_hooks"))
    cells = parse_cells((DOCS / "tutorial.py").read_text("utf-8"))
    kinds = [k for k, _ in cells]
    assert kinds[0] == "markdown" and kinds.count("code") >= 6
    assert cells[0][1].startswith("# Tutorial")
    for kind, src in cells:
        if kind == "code":
            compile(src, "<cell>", "exec")
    text = (DOCS / "tutorial.py").read_text("utf-8")
    for needed in ("awd_jax.fit(", "plot_wavelet", "attributions(", "to_pywt()", "WaveletFeatures", "LinearRegression"):
        assert needed in text


@pytest.mark.slow
def test_site_builds_in_strict_mode(tmp_path, quick_preset):
    """`mkdocs build --strict` with the tutorial executed and the three studies' real figures.

    The quick presets run once per test session (the ``quick_preset`` fixture, shared with the
    studies' end-to-end tests) into one results folder, which the build reads. Broken links,
    anchors, cross-references or API entries fail the build."""
    try:
        import mkdocstrings  # noqa: F401  (with mkdocs and the material theme: the `docs` packages)
    except ImportError as err:
        pytest.fail(f"the docs packages are missing ({err}); pip install -e '.[dev]' (or '.[docs]')")
    site = tmp_path / "site"
    for study in ("simulation", "spectra", "lensing"):
        proc, results = quick_preset(study)
        assert proc.returncode == 0, study + "\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    env = dict(os.environ, AWD_DOCS_RESULTS=str(results), NO_MKDOCS_2_WARNING="1", AWD_DOCS_EXECUTE="1")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                            "-d", str(site)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-6000:]
    assert "WARNING" not in build.stderr, build.stderr[-6000:]

    def page(rel: str) -> str:
        return (site / rel / "index.html").read_text("utf-8")

    # the tutorial ran: printed output and its figures
    tutorial = page("tutorial")
    assert "Executed during the documentation build" in tutorial
    assert "teacher test R²" in tutorial and "d(ψ, db5)" in tutorial and "test R² =" in tutorial
    figures = re.findall(r'<img[^>]+src="\.\./(tutorial_files/figure_\d+\.png)"', tutorial)
    assert len(figures) >= 3, figures
    for rel in figures:
        assert (site / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the simulation study shows the figure and the table of the run that made it
    simulation = page("studies/simulation")
    assert re.search(r'<img[^>]+src="\.\./figures/simulation\.png"', simulation)
    assert (site / "studies/figures/simulation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "initial filter" in simulation and "teacher test R²" in simulation
    # the other studies too: their figures, no placeholder
    for study, figure in (("spectra", "spectra_wavelet.png"), ("lensing", "lensing_kernels.png")):
        text = page(f"studies/{study}")
        assert re.search(rf'<img[^>]+src="\.\./figures/{figure}"', text), study
        assert (site / "studies/figures" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "not in this build" not in text, study

    # every public name rendered with its anchor in the API reference
    api = "".join(page(f"api/{p}") for p in ("core", "features", "teachers", "data", "plotting"))
    for ident in _directives():
        assert f'id="{ident}"' in api, ident
    # the docstrings' roles became links or code, never raw Sphinx markup
    assert ":func:" not in api and ":class:" not in api
    # benchmarks/README.md is included
    assert "bench_transform.py" in page("benchmarks")
