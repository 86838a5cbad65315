"""Run a jupytext percent-format script cell by cell and write it as a Markdown page with its outputs.

    python docs/_hooks/run_tutorial.py docs/tutorial.py OUT_DIR [--no-execute]

Writes ``OUT_DIR/tutorial.md`` and the figures ``OUT_DIR/tutorial_files/figure_<n>.png``.
No Jupyter kernel: the cells run in this interpreter, in one namespace, in order.

* ``# %% [markdown]`` cells: their comment lines (``# `` stripped) are copied as Markdown.
* ``# %%`` cells: the code is shown, then what it printed (stdout) and, like a notebook,
  the value of its last line when that is an expression: a matplotlib ``Figure`` is saved as
  PNG, any other value other than ``None`` is shown with ``repr``. Figures left open in
  pyplot are saved too (and closed).

A cell that raises stops the run: the traceback goes to stderr and the exit status is 1.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import platform
import re
import sys
import time
import traceback
from pathlib import Path

_MARKER = re.compile(r"^# %%(.*)$")


def parse_cells(text: str) -> list[tuple[str, str]]:
    """``[(kind, source)]`` with kind ``"markdown"`` or ``"code"``; blank cells dropped."""
    cells: list[tuple[str, list[str]]] = [("code", [])]
    for line in text.splitlines():
        m = _MARKER.match(line)
        if m:
            kind = "markdown" if re.search(r"\[(markdown|md)\]", m.group(1)) else "code"
            cells.append((kind, []))
            continue
        kind, lines = cells[-1]
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.startswith("#"):
                line = line[1:]
        lines.append(line)
    out = []
    for kind, lines in cells:
        src = "\n".join(lines).strip("\n")
        if src.strip():
            out.append((kind, src))
    return out


def _is_figure(value) -> bool:
    return type(value).__name__ in ("Figure", "SubFigure") and hasattr(value, "savefig")


class Runner:
    def __init__(self, out_dir: Path, script: Path):
        self.files = out_dir / "tutorial_files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.n_fig = 0
        self.ns = {"__name__": "__main__", "__file__": str(script)}

    def _save(self, fig) -> str:
        self.n_fig += 1
        name = f"figure_{self.n_fig}.png"
        fig.savefig(self.files / name, dpi=110, bbox_inches="tight")
        return f"tutorial_files/{name}"

    def run(self, source: str, index: int) -> tuple[str, list[str], float]:
        """Execute one cell; returns (stdout, figure paths, seconds)."""
        tree = ast.parse(source, filename=f"<cell {index}>")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        buf = io.StringIO()
        figures: list[str] = []
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            exec(compile(tree, f"<cell {index}>", "exec"), self.ns)
            value = eval(compile(last, f"<cell {index}>", "eval"), self.ns) if last is not None else None
        if value is not None:
            if _is_figure(value):
                figures.append(self._save(value))
            else:
                buf.write(repr(value) + "\n")
        if "matplotlib.pyplot" in sys.modules:
            plt = sys.modules["matplotlib.pyplot"]
            for num in plt.get_fignums():
                fig = plt.figure(num)
                if not any(fig is v for v in [value]):
                    figures.append(self._save(fig))
                plt.close(fig)
        return buf.getvalue(), figures, time.perf_counter() - t0


def render(script: Path, out_dir: Path, execute: bool = True) -> str:
    cells = parse_cells(script.read_text(encoding="utf-8"))
    runner = Runner(out_dir, script) if execute else None
    parts: list[str] = []
    t_start = time.perf_counter()
    code_index = 0
    first_markdown_done = False
    for kind, src in cells:
        if kind == "markdown":
            parts.append(src)
            if not first_markdown_done:
                first_markdown_done = True
                parts.append("__RUN_NOTE__")
            continue
        code_index += 1
        parts.append(f"```python\n{src}\n```")
        if runner is None:
            continue
        try:
            out, figures, _ = runner.run(src, code_index)
        except BaseException:
            sys.stderr.write(f"{script}: code cell {code_index} raised:\n")
            traceback.print_exc()
            sys.exit(1)
        if out.strip():
            parts.append(f'```text title="output"\n{out.rstrip()}\n```')
        for i, path in enumerate(figures, 1):
            parts.append(f"![output figure of code cell {code_index}]({path})")
    seconds = time.perf_counter() - t_start
    if execute:
        import jax

        note = (
            f"!!! info \"Executed during the documentation build\"\n"
            f"    Every output and figure on this page comes from running "
            f"[`docs/tutorial.py`](tutorial.py) in a fresh interpreter while the site was built: "
            f"{code_index} code cells in {seconds:.0f} s on {jax.default_backend()} "
            f"({os.cpu_count()} CPU cores, Python {platform.python_version()}, jax {jax.__version__})."
        )
    else:
        note = (
            "!!! warning \"Not executed\"\n"
            "    This build ran with `AWD_DOCS_EXECUTE=0`: the code is shown without its outputs. "
            "Build without it to run [`docs/tutorial.py`](tutorial.py) and show outputs and figures."
        )
    return "\n\n".join(note if p == "__RUN_NOTE__" else p for p in parts) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("script", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--no-execute", dest="execute", action="store_false")
    args = p.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    # the script's folder first on the path, as `python docs/tutorial.py` would have it
    sys.path.insert(0, str(args.script.resolve().parent))
    md = render(args.script.resolve(), args.out_dir, execute=args.execute)
    (args.out_dir / "tutorial.md").write_text(md, encoding="utf-8")


if __name__ == "__main__":
    main()
