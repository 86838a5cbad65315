"""Griffe extension for the API reference: the docstrings' Sphinx roles and method-page pointers become links.

The library's docstrings are Google style with Sphinx-like roles (:func:`awd_jax.fit`,
:class:`~awd_jax.Objective`) and plain pointers to the method page
(``docs/method.md#objective``). mkdocstrings renders Markdown, so without this extension
both would show up as raw text. This extension rewrites each docstring before rendering:

* a role whose target is documented in ``docs/api/*.md`` (matched by full path or by its
  last component, e.g. ``FitResult`` or ``awd_jax.results.FitResult`` → ``awd_jax.FitResult``)
  becomes a cross-reference that mkdocs-autorefs resolves (so a broken one fails the strict
  build); any other target (private helpers, module constants not in the reference) becomes
  plain inline code;
* ``docs/method.md#anchor`` becomes a link to that section of the method page; an anchor that
  the method page does not have is reported as a warning, which fails the strict build;
* an ``Args:``/``Attributes:`` item that documents several names at once
  (``epochs, seed, shuffle: ...``, ``sparsity (λ), interpretation (γ): ...``), a convention of
  this code base that the Google style does not have, becomes one item per name with the
  shared description, which names the group.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

import griffe

_DOCS = Path(__file__).resolve().parent.parent
_ROLE = re.compile(r":(?:py:)?(func|class|meth|data|mod|attr|obj|exc|const):`(~?)([^`]+)`")
_METHOD = re.compile(r"(``)?docs/method\.md(?:#([A-Za-z0-9_-]+))?(``)?")
_DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Attributes|Keyword Args|Other Parameters):\s*$")
_NAME = r"\*{0,2}\w+(?:\s*\([^)]*\))?"
_MULTI = re.compile(rf"^(\s*)({_NAME}(?:\s*,\s*{_NAME})+)\s*:(\s.*|)$")
_log = logging.getLogger("mkdocs.plugins.awd_docs.griffe_links")


def _slug(text: str) -> str:
    """Python-Markdown's default ``toc`` slug (what mkdocs gives each heading as its id)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def documented_identifiers(api_dir: Path = _DOCS / "api") -> list[str]:
    """Every ``::: identifier`` of the API reference pages, in page order."""
    out: list[str] = []
    for page in sorted(api_dir.glob("*.md")):
        out += _DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    return out


def method_anchors(path: Path = _DOCS / "method.md") -> set[str]:
    """The heading ids of the method page (code blocks skipped)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(h) for h in _HEADING.findall(text)}


def _split_inline(body: str, names: frozenset[str]) -> list[str]:
    """``"a: text. b: text"`` → ``["a: text.", "b: text"]`` where ``b`` is one of ``names``."""
    cuts = [m.start(1) for m in re.finditer(r"(?<=[.;])\s+([A-Za-z_]\w*):\s", body) if m.group(1) in names]
    bounds = [0] + cuts + [len(body)]
    return [body[a:b].strip() for a, b in zip(bounds, bounds[1:]) if body[a:b].strip()]


def split_multi_name_items(text: str, names: frozenset[str] = frozenset()) -> str:
    """One Args/Attributes item per name: ``a, b (β): description`` → two items sharing the
    description; ``a: text. b: text`` on one line → two items when ``b`` is in ``names`` (the
    object's parameters and members)."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    section_indent = None  # indent of the current section header, None outside a section
    item_indent = None
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(line)
        if header:
            section_indent, item_indent = len(header.group(1)), None
            out.append(line)
            i += 1
            continue
        if section_indent is not None and line.strip():
            if indent <= section_indent:
                section_indent = None
            elif item_indent is None:
                item_indent = indent
        if names and section_indent is not None and indent == item_indent:
            pieces = _split_inline(line.strip(), names)
            if len(pieces) > 1:
                out.extend(" " * indent + p for p in pieces[:-1])
                line = " " * indent + pieces[-1]
        m = _MULTI.match(line) if section_indent is not None and indent == item_indent else None
        if not m:
            out.append(line)
            i += 1
            continue
        cont = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            if not lines[i].strip() and (i + 1 >= len(lines) or not lines[i + 1].strip()):
                break
            cont.append(lines[i])
            i += 1
        description = m.group(3).strip()
        items = [re.match(r"(\S+)\s*(\([^)]*\))?$", n.strip()).groups() for n in m.group(2).split(",")]
        together = ", ".join(f"`{name}`" + (f" {sym}" if sym else "") for name, sym in items)
        for name, _ in items:
            out.append(f"{m.group(1)}{name}: (shared by {together}) {description}".rstrip())
            out.extend(cont)
    return "\n".join(out)


class DocstringLinks(griffe.Extension):
    """Rewrite roles and method-page pointers in every docstring griffe loads."""

    def __init__(self) -> None:
        super().__init__()
        ids = documented_identifiers()
        self.full = set(ids)
        # by last component; a name documented twice under different paths is ambiguous: no link
        by_last: dict[str, set[str]] = {}
        for ident in ids:
            by_last.setdefault(ident.rsplit(".", 1)[-1], set()).add(ident)
        self.by_last = {k: next(iter(v)) for k, v in by_last.items() if len(v) == 1}
        self.anchors = method_anchors()

    def _target(self, role: str, target: str) -> str | None:
        if target in self.full:
            return target
        if role == "mod":
            return None
        return self.by_last.get(target.rsplit(".", 1)[-1]) if "." not in target.strip(".") or target.startswith(
            "awd_jax.") else None

    def _role(self, match: re.Match) -> str:
        role, tilde, target = match.groups()
        text = target.rsplit(".", 1)[-1] if tilde else target
        ident = self._target(role, target)
        return f"[`{text}`][{ident}]" if ident else f"`{text}`"

    def _method(self, match: re.Match, where: str) -> str:
        anchor = match.group(2)
        if anchor and anchor not in self.anchors:
            _log.warning("%s: docs/method.md#%s: the method page has no such section", where, anchor)
        label = "docs/method.md" + (f"#{anchor}" if anchor else "")
        return f"[{label}](../method.md" + (f"#{anchor})" if anchor else ")")

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        """Rewrite every docstring once the package is complete (parameters and members known)."""
        seen: set[int] = set()

        def walk(obj) -> None:
            if id(obj) in seen or obj.is_alias:
                return
            seen.add(id(obj))
            self._rewrite(obj)
            for member in obj.members.values():
                walk(member)

        walk(pkg)

    def _rewrite(self, obj: griffe.Object) -> None:
        doc = obj.docstring
        if doc is None or not doc.value:
            return
        names: set[str] = set(obj.members)
        try:
            names.update(p.name for p in obj.parameters)  # functions; classes: their __init__'s
        except Exception:  # objects without parameters (modules, attributes)
            pass
        value = split_multi_name_items(doc.value, frozenset(names))
        value = _ROLE.sub(self._role, value)
        value = _METHOD.sub(lambda m: self._method(m, obj.path), value)
        doc.value = value
