"""What the report's own pages say, all of it read from the executed notebooks.

* :func:`read_notebook` reads an executed notebook (refusing one with an error output or
  never run), its ``answers`` record and its ``sheet-figure`` images.
* :func:`render_front` and :func:`render_back` (the report's title block and back matter),
  :func:`render_supplement_front` and :func:`render_supplement_back` (the supplement's,
  with the code listings) and :func:`render_answers` (the sheet) fill the Jinja templates
  in ``templates/`` (front/back matter in pandoc Markdown, the sheet in Typst) with those
  records and with the handout's functions as written in ``src/labmf/lab.py`` (read as
  text with :mod:`ast`, never imported). Templates whose names start with ``_`` are
  pieces both documents include (reproduction, references).

The records are dicts keyed by question (``"Q1"`` ... ``"Q4"``), each the JSON object the
notebook's ``answers`` cell displayed.
"""

from __future__ import annotations

import ast
import base64
import datetime as _dt
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The handout's functions the appendix (and the sheet) list, in question order.
LAB_FUNCTIONS = ("sgd_factorise", "truncated_svd", "sgd_factorise_masked", "gd_factorise_masked")
QUESTIONS = ("Q1", "Q2", "Q3", "Q4")
#: Figures quoted from elsewhere (not computed here, so the templates cite them as quotes):
#: the course's Q4 predictions on its own Netflix tensor, as students submitted them.
COURSE_Q4_PREDICTIONS = {"the seed report": 3.1573, "another student": 3.4866}


class BuildError(RuntimeError):
    """The report cannot be built; the message says why (one line, no traceback)."""


@dataclass(frozen=True)
class Notebook:
    """An executed notebook: its path, cells, ``answers`` record (or ``None``)."""

    path: Path
    cells: list
    record: dict | None


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def read_notebook(path: Path) -> Notebook:
    """Read an executed notebook and its ``answers`` record.

    Raises
    ------
    BuildError
        If the file is missing or not a notebook, a cell has an error output, the
        notebook was never executed, or its ``answers`` cell has no JSON record.
    """
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"cannot read notebook {path}: {exc}") from exc
    code = [c for c in cells if c.get("cell_type") == "code" and "".join(c.get("source", "")).strip()]
    for cell in code:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise BuildError(f"{path} has an error output ({out.get('ename')}: {out.get('evalue')}); "
                                 f"fix the notebook, then run `make report` again")
    if code and all(c.get("execution_count") is None for c in code):
        raise BuildError(f"{path} has not been executed")
    record = None
    for cell in cells:
        if "answers" in _tags(cell):
            found = [o["data"]["application/json"] for o in cell.get("outputs", [])
                     if "application/json" in o.get("data", {})]
            if len(found) != 1 or not isinstance(found[0], dict) or found[0].get("question") not in QUESTIONS:
                raise BuildError(f"{path}: its `answers` cell must display one JSON record with "
                                 f"'question' in {QUESTIONS}; got {len(found)} JSON outputs "
                                 f"(was the cell executed?)")
            record = found[0]
    return Notebook(path=path, cells=cells, record=record)


def sheet_figures(nb: Notebook) -> list[bytes]:
    """PNG images output by the cells tagged ``sheet-figure``, in order."""
    return [base64.b64decode(out["data"]["image/png"])
            for cell in nb.cells if "sheet-figure" in _tags(cell)
            for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]


def lab_listings(source: Path, *, docstrings: bool = True) -> list[tuple[str, str]]:
    """``(name, source)`` of each of :data:`LAB_FUNCTIONS` in ``source``, read with :mod:`ast`.

    Parameters
    ----------
    source : Path
        ``src/labmf/lab.py``.
    docstrings : bool
        Keep the functions' docstrings (the sheet leaves them out).
    """
    try:
        text = Path(source).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError) as exc:
        raise BuildError(f"cannot read the handout's functions from {source}: {exc}") from exc
    lines = text.splitlines()
    found = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    missing = [name for name in LAB_FUNCTIONS if name not in found]
    if missing:
        raise BuildError(f"{source} lacks the function(s) {', '.join(missing)} the appendix lists")
    out = []
    for name in LAB_FUNCTIONS:
        fn = found[name]
        keep = range(fn.lineno - 1, fn.end_lineno)
        doc = fn.body[0] if ast.get_docstring(fn) is not None else None
        if doc is not None and not docstrings:
            keep = [i for i in keep if not doc.lineno - 1 <= i < doc.end_lineno]
        out.append((name, "\n".join(lines[i] for i in keep)))
    return out


def lab_signatures(source: Path) -> dict[str, str]:
    """``name -> "name(A, rank, num_epochs=1000, lr=0.01)"`` for :data:`LAB_FUNCTIONS`, without annotations."""
    out = {}
    for name, code in lab_listings(source, docstrings=False):
        args = ast.parse(code).body[0].args
        names = [a.arg for a in args.args]
        defaults = [None] * (len(names) - len(args.defaults)) + [ast.unparse(d) for d in args.defaults]
        out[name] = f"{name}(" + ", ".join(n if d is None else f"{n}={d}" for n, d in zip(names, defaults,
                                                                                         strict=True)) + ")"
    return out


# ------------------------------------------------------------------ templates


def _num(x, spec: str = ".4f") -> str:
    """``x`` formatted with ``spec``, with a typographic minus (it never parts from its number)."""
    return format(x, spec).replace("-", "\u2212")


def _tex(x) -> str:
    """A number for TeX math: ``1e-05`` becomes ``10^{-5}``, ``5e-04`` becomes ``5\\times 10^{-4}``."""
    mantissa, _, exponent = format(x, "g").partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else f"{mantissa}\\times {power}"


def _typst_string(text: str) -> str:
    """``text`` as a Typst string literal (for titles and code set into the sheet)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _typst_matrix(rows) -> str:
    """A matrix (list of rows) as Typst math, in brackets, with the notebook's 4 decimals."""
    return 'mat(delim: "[", ' + "; ".join(", ".join(f"{x:.4f}" for x in row) for row in rows) + ")"


def _versions() -> dict[str, str]:
    """Versions of what computed (the notebooks' kernel ran in this environment) and typeset."""
    out = {"Python": platform.python_version()}
    for dist in ("labmf", "torch", "numpy", "numba", "matplotlib", "scikit-surprise", "pypandoc-binary", "typst"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _env():
    import jinja2

    # `{#` opens a heading's attributes in pandoc Markdown, so Jinja comments are `{## ... ##}`.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False,
                             comment_start_string="{##", comment_end_string="##}")
    env.filters["num"] = _num
    env.filters["tex"] = _tex
    env.filters["typstr"] = _typst_string
    env.filters["typmat"] = _typst_matrix
    env.filters["thousands"] = lambda x: f"{x:,}"
    env.filters["entry"] = lambda e: f"{e[0]}{e[1]}"
    return env


def _require(records: dict, *questions: str) -> None:
    missing = [q for q in questions if q not in records]
    if missing:
        raise BuildError(f"no `answers` record for {', '.join(missing)}: the answering notebook's last "
                         f"cell (tagged `answers`) has not been executed, or the notebook was not given")


def _context(records: dict) -> dict:
    _require(records, *QUESTIONS)
    return {**{q.lower(): records[q] for q in QUESTIONS}, "course_q4": COURSE_Q4_PREDICTIONS,
            "versions": _versions(), "date": _dt.date.today().isoformat()}


def _render(name: str, **context) -> str:
    import jinja2

    try:
        return _env().get_template(name).render(**context)
    except jinja2.TemplateError as exc:  # e.g. a record lacks a field the template uses
        where = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise BuildError(f"template {TEMPLATES / name}{where}: {exc}") from exc


def render_front(records: dict) -> str:
    """The report's title block, one line per question (pandoc Markdown with a YAML header)."""
    return _render("front.md", **_context(records))


def render_back(records: dict) -> str:
    """The report's back matter: the seed report's errors, reproduction, references (pandoc Markdown)."""
    return _render("back.md", **_context(records))


def render_supplement_front(records: dict) -> str:
    """The supplement's title block and what it holds (pandoc Markdown with a YAML header)."""
    return _render("supplement-front.md", **_context(records))


def render_supplement_back(records: dict, lab_source: Path) -> str:
    """The supplement's back matter: reproduction, references and the code listings (pandoc Markdown)."""
    return _render("supplement-back.md", listings=lab_listings(lab_source), **_context(records))


def render_answers(records: dict, figures: list[str], lab_source: Path) -> str:
    """The one-page answer sheet in Typst; ``figures`` are image paths next to it."""
    return _render("answers.typ", figures=figures, listings=dict(lab_listings(lab_source, docstrings=False)),
                   signatures=lab_signatures(lab_source), **_context(records))
