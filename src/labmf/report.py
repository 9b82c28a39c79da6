"""Render the lab report (HTML + PDF) and the one-page answer sheet, offline.

Pipeline (``make report`` runs it after executing the notebooks)::

    executed notebooks --nbconvert, inputs excluded--> one HTML fragment each
    fragments + front/back matter (report/templates/report.html.j2) --> lab1-report.html
    compute_answers() --> report/templates/answers.html.j2 --> build/lab1-answers.html
    headless Chromium --print-to-pdf --> lab1-report.pdf, lab1-answers.pdf

Nothing is executed here: the notebooks' stored outputs are rendered as they are,
so a notebook with an error output, or one that was never run, is refused.

Math is typeset by MathJax 2 (HTML-CSS output, STIX-Web fonts) copied from the ``jupyter-server-mathjax``
package into ``<out_dir>/build/mathjax``; the HTML refers to it by a relative URL,
so neither the browser nor Chromium needs the network. Every output is written to
a temporary file in its destination directory and moved into place with
:func:`os.replace`, so a reader never sees half a PDF.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import inspect
import io
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = [
    "ReportError",
    "ReportOutputs",
    "Section",
    "build_report",
    "render_section",
    "render_report_html",
    "render_answers_html",
    "source_listing",
    "find_chromium",
    "print_to_pdf",
    "pdf_page_count",
    "pdf_text",
    "REPORT_HTML",
    "REPORT_PDF",
    "ANSWERS_PDF",
    "CHROMIUM_PACKAGE_HINT",
]

REPORT_HTML = "lab1-report.html"
REPORT_PDF = "lab1-report.pdf"
ANSWERS_PDF = "lab1-answers.pdf"
ANSWERS_HTML = "lab1-answers.html"  # in <out_dir>/build: an intermediate file

#: The one line printed when no Chromium is found.
CHROMIUM_PACKAGE_HINT = (
    "PDFs not written: no Chromium found; install the Debian/Ubuntu package "
    "'chromium' (apt-get install chromium) or set LABMF_CHROMIUM to a Chrome/Chromium binary"
)

#: Functions whose source the report's appendix lists (Q1.1 and Q3.1 and what they run,
#: including the U[0, 1) start the handout asks for).
APPENDIX_FUNCTIONS = (
    "labmf.sgd_factorise",
    "labmf.sgd_factorise_masked",
    "labmf.factorise.factorise_sgd",
    "labmf.factorise._start",
    "labmf.factorise._init_factors",
    "labmf.kernels.sgd_epochs_reference",
)


# Chromium switches that keep a headless print quiet, offline and reproducible.
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
    "--run-all-compositor-stages-before-draw",
)
# Virtual time lets MathJax finish (script loads, chunked typesetting timers)
# before the page is printed or dumped; idle virtual time runs fast.
_VIRTUAL_TIME_MS = 60000

Log = Callable[[str], object]


class ReportError(RuntimeError):
    """The report cannot be built (missing/unexecuted notebook, failed render, ...)."""


@dataclass(frozen=True)
class Section:
    """One notebook rendered as a report section.

    Attributes
    ----------
    name : str
        Notebook file stem (``"01_sgd_factorisation"``), used as the anchor.
    title : str
        Text of the notebook's first level-1 heading.
    html : str
        The cells' outputs and markdown, headings shifted one level down, with a
        subtitle naming the notebook under the first heading.
    """

    name: str
    title: str
    html: str

    @property
    def filename(self) -> str:
        """The notebook's file name (``"01_sgd_factorisation.ipynb"``)."""
        return f"{self.name}.ipynb"


@dataclass
class ReportOutputs:
    """What :func:`build_report` wrote (PDFs are ``None`` without Chromium).

    ``answers`` is the :class:`labmf.answers.Answers` record the documents show;
    ``notes`` holds the messages about skipped outputs.
    """

    html: Path
    answers_html: Path
    answers: object = None
    pdf: Path | None = None
    answers_pdf: Path | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ utilities


def _default_source_dir() -> Path:
    return Path("report")


def _publish(tmp, path) -> None:
    """Move a finished temp file into place with ordinary permissions.

    ``mkstemp`` creates files readable by their owner only; a report is meant to
    be shared, so give it what a plain ``open(path, "w")`` would (0666 & ~umask).
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jinja_env(source_dir: Path):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(source_dir / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["f"] = lambda x, fmt=".4f": format(float(x), fmt)
    # Typographic minus (U+2212): a hyphen-minus may be split from its number at a line end.
    env.filters["fm"] = lambda x, fmt=".4f": format(float(x), fmt).replace("-", "\u2212")
    env.filters["matrix"] = _matrix_html
    return env


def _matrix_html(T, fmt: str = ".4f", highlight=None) -> str:
    """A tensor as a bracketed HTML table; ``highlight`` = mask of cells to mark."""
    from markupsafe import Markup

    rows = []
    for i, row in enumerate(T):
        cells = []
        for j, x in enumerate(row):
            cls = ' class="hl"' if highlight is not None and float(highlight[i][j]) else ""
            cells.append(f"<td{cls}>{format(float(x), fmt)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return Markup('<table class="matrix">' + "".join(rows) + "</table>")


# ------------------------------------------------------------------- sections

_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S)
_TAG = re.compile(r"<[^>]+>")
_HEADING = re.compile(r"<(/?)h([1-5])\b")


def _shift_headings(html: str) -> str:
    # A notebook's "# Title" becomes a level-2 heading under the report's title.
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", html)


def _add_source_line(html: str, filename: str) -> str:
    """Name the notebook under the section's heading.

    The notebooks' prose says "notebook 02" or "the next cell"; in the printed report
    the reader needs to know which notebook a section is, and that its code cells
    are left out while their outputs appear in order.
    """
    line = (f'<p class="nb-source">notebook <code>{_html.escape(filename)}</code> · '
            f"code cells omitted, their outputs shown in order</p>")
    end = html.find("</h2>")
    if end < 0:
        return line + html
    end += len("</h2>")
    return html[:end] + line + html[end:]


def _check_executed(nb, path: Path) -> None:
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    for cell in code:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise ReportError(
                    f"{path} has an error output ({out.get('ename')}: {out.get('evalue')}); "
                    f"fix the notebook and re-run `make notebooks`"
                )
    if code and all(c.get("execution_count") is None for c in code):
        raise ReportError(f"{path} has not been executed; run `make notebooks` first")


def render_section(notebook, source_dir=None) -> Section:
    """Render one executed notebook as a report section (no code, no prompts).

    Parameters
    ----------
    notebook : str or Path
        An executed ``.ipynb`` (its stored outputs are used; nothing is run).
    source_dir : str or Path, optional
        Directory holding ``templates/labmf_section`` (default ``report``).

    Returns
    -------
    Section

    Raises
    ------
    ReportError
        If the notebook is missing, has an error output or was never executed.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    path = Path(notebook)
    source_dir = Path(source_dir) if source_dir is not None else _default_source_dir()
    if not path.is_file():
        raise ReportError(f"notebook not found: {path}")
    nb = nbformat.read(path, as_version=4)
    _check_executed(nb, path)
    cfg = Config()
    cfg.TemplateExporter.exclude_input = True
    cfg.TemplateExporter.exclude_input_prompt = True
    cfg.TemplateExporter.exclude_output_prompt = True
    # Tags a notebook can use to keep a cell, or its output, out of the report.
    cfg.TagRemovePreprocessor.remove_cell_tags = {"report-skip", "remove-cell"}
    cfg.TagRemovePreprocessor.remove_all_outputs_tags = {"report-hide-output", "remove-output"}
    cfg.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(
        config=cfg,
        template_name="labmf_section",
        extra_template_basedirs=[str((source_dir / "templates").resolve())],
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=cfg), enabled=True)
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    except Exception as exc:  # noqa: BLE001 - nbconvert raises many types
        raise ReportError(f"nbconvert could not render {path}: {exc}") from exc
    m = _H1.search(body)
    title = _html.unescape(_TAG.sub("", m.group(1))).replace("¶", "").strip() if m else path.stem
    return Section(name=path.stem, title=title,
                   html=_add_source_line(_shift_headings(body), path.name))


# ------------------------------------------------------------------- listings


def _resolve(dotted: str):
    import importlib

    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _strip_docstring(src: str) -> str:
    import ast

    tree = ast.parse(src)
    fn = tree.body[0]
    doc = fn.body[0] if fn.body else None
    if not (isinstance(doc, ast.Expr) and isinstance(getattr(doc, "value", None), ast.Constant)
            and isinstance(doc.value.value, str)):
        return src
    lines = src.splitlines(keepends=True)
    return "".join(lines[: doc.lineno - 1] + lines[doc.end_lineno:])


def source_listing(obj, *, docstring: bool = True, css_class: str = "listing") -> str:
    """Syntax-highlighted HTML of a function's source, read with :func:`inspect.getsource`.

    Parameters
    ----------
    obj : function or str
        The function, or its dotted name (``"labmf.sgd_factorise"``).
    docstring : bool
        Keep the docstring (``False`` for the compact answer sheet).
    css_class : str
        Class of the wrapping ``<div>`` (Pygments token classes inside).
    """
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    fn = _resolve(obj) if isinstance(obj, str) else obj
    src = textwrap.dedent(inspect.getsource(fn))
    if not docstring:
        src = _strip_docstring(src)
    return highlight(src, PythonLexer(), HtmlFormatter(cssclass=css_class, nowrap=False))


def _pygments_css(css_class: str) -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(f".{css_class}")


# --------------------------------------------------------------------- figure


def answers_figure(ans, *, width_in: float = 7.2, height_in: float = 1.55):
    """The answer sheet's figure (a matplotlib ``Figure``): Q1 loss curve and Q3 seed spread."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    q1, q2, q3 = ans.q1, ans.q2, ans.q3
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.15, 1])
    losses = q1.losses.double().numpy()
    ax1.semilogy(np.arange(losses.size), losses, lw=1.2, label=f"per-entry SGD, seed {q1.seed}")
    ax1.axhline(q2.sse, color="C3", ls="--", lw=1, label=r"truncated SVD: $\sigma_3^2$")
    ax1.set_xlabel("epoch", fontsize=7)
    ax1.set_ylabel(r"SSE $\|A-UV^\top\|_F^2$", fontsize=7)
    ax1.set_title("Q1 vs Q2: training SSE", fontsize=7.5)
    ax1.legend(fontsize=6, frameon=False)
    seeds = np.asarray(ans.spread_seeds)
    for k, h in enumerate(q3.hidden):
        ax2.plot(seeds, h.per_seed, "o", ms=2.8, color=f"C{k}",
                 label=f"A[{h.row},{h.col}] completed (dashed: true)")
        ax2.axhline(h.true, color=f"C{k}", ls="--", lw=1)
    cv = q3.curve
    if cv is not None:
        # Where an exact rank-2 completion puts x when y is at its true value.
        ax2.axhline(cv.x_at_true_y, color="C0", ls=":", lw=1,
                    label=f"A[{cv.x_entry[0]},{cv.x_entry[1]}] of the exact rank-2 "
                          f"completion with true A[{cv.y_entry[0]},{cv.y_entry[1]}]")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))  # seeds are integers
    ax2.set_xlabel("seed", fontsize=7)
    ax2.set_ylabel("completed entry value", fontsize=7)
    ax2.set_title("Q3: hidden entries over seeds", fontsize=7.5)
    lo = min(min(h.per_seed + (h.true,)) for h in q3.hidden)
    hi = max(max(h.per_seed + (h.true,)) for h in q3.hidden)
    ax2.set_ylim(lo - 0.1 * (hi - lo), hi + 0.8 * (hi - lo))  # headroom for the legend
    ax2.legend(fontsize=5.5, frameon=False, loc="upper center", handlelength=1.8,
               borderaxespad=0.2, labelspacing=0.25)
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=6)
    return fig


def answers_figure_svg(ans, **size) -> str:
    """:func:`answers_figure` as inline SVG (no date, so the output is reproducible)."""
    fig = answers_figure(ans, **size)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


# ----------------------------------------------------------------- documents


def _mathjax_source() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError as exc:
        raise ReportError(
            "MathJax not found: install jupyter-server-mathjax (pip install labmf[dev])"
        ) from exc
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file():
        raise ReportError(f"MathJax.js missing from {static}")
    return static


def install_mathjax(dest: Path) -> Path:
    """Copy the MathJax files the report needs into ``dest`` (once); return ``dest``."""
    src = _mathjax_source()
    marker = dest / ".source"
    stamp = f"{src}\n{(src / 'MathJax.js').stat().st_size}\n"
    if marker.is_file() and marker.read_text() == stamp:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".mathjax."))
    try:
        # The package's MathJax is a trimmed 2.7 build (combined TeX/HTML-CSS config,
        # STIX-Web fonts; ~12 MB): copy it whole rather than guess what it loads lazily.
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        (tmp / ".source").write_text(stamp)
        if dest.exists():
            shutil.rmtree(dest)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the fonts from a web server
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _dataset_lines(ans) -> list[str]:
    from .answers import COURSE_Q4_PREDICTIONS

    lines = [
        "Questions 1–3: the handout's 3 × 3 matrix A (labmf.lab_matrix) and, for Q3, "
        "its mask with entries (1, 0) and (2, 1) hidden (labmf.lab_mask).",
    ]
    if ans.q4 is not None:
        q4 = ans.q4
        lines.append(
            f"Question 4 and the recommender: {q4.dataset}, laid out as the course's "
            f"movies × users matrix ({q4.shape[0]:,} × {q4.shape[1]:,}, {q4.n_observed:,} ratings), "
            "because the course's Netflix ratings file is not reachable. Our Q4 figures are "
            "therefore not comparable with those reported on the course's tensor ("
            + "; ".join(f"{who}: {val:.4f}" for who, val in COURSE_Q4_PREDICTIONS)
            + " stars predicted): other users, other movies, a different matrix size and "
            "a half-star rating scale."
        )
    else:
        lines.append(
            "Question 4 and the recommender: MovieLens ml-latest-small (GroupLens), "
            "embedded in labmf, because the course's Netflix ratings file is not reachable."
        )
    return lines


def _versions(ans, chromium: str | None) -> dict[str, str]:
    import matplotlib
    import nbconvert

    from importlib import metadata

    v = dict(ans.versions)
    v["matplotlib"] = matplotlib.__version__
    for dist in ("numba", "scikit-surprise"):  # compiled kernels; notebook 06's baseline
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    v["nbconvert"] = nbconvert.__version__
    if chromium:
        try:
            out = subprocess.run([chromium, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
            v["chromium (PDF)"] = out.split(" built")[0].replace("Chromium ", "") or "?"
        except (OSError, subprocess.SubprocessError):
            pass
    return v


def render_report_html(sections: Sequence[Section], ans, *, source_dir=None,
                       mathjax_url: str = "build/mathjax/MathJax.js",
                       chromium: str | None = None) -> str:
    """The full report as one HTML document (CSS inlined, MathJax by relative URL)."""
    from .answers import COURSE_Q4_PREDICTIONS

    source_dir = Path(source_dir) if source_dir is not None else _default_source_dir()
    env = _jinja_env(source_dir)
    css = (source_dir / "report.css").read_text(encoding="utf-8") + _pygments_css("listing")
    listings = [(name, source_listing(name)) for name in APPENDIX_FUNCTIONS]
    return env.get_template("report.html.j2").render(
        a=ans, sections=sections, listings=listings, css=css, mathjax_url=mathjax_url,
        course_q4=COURSE_Q4_PREDICTIONS,
        datasets=_dataset_lines(ans), versions=_versions(ans, chromium),
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
    )


def render_answers_html(ans, *, source_dir=None, scale: float = 1.0) -> str:
    """The one-page answer sheet as a self-contained HTML document (no script)."""
    from .answers import COURSE_Q4_PREDICTIONS

    source_dir = Path(source_dir) if source_dir is not None else _default_source_dir()
    env = _jinja_env(source_dir)
    css = (source_dir / "answers.css").read_text(encoding="utf-8") + _pygments_css("listing")
    listings = [
        (name, source_listing(name, docstring=False))
        for name in ("labmf.sgd_factorise", "labmf.sgd_factorise_masked",
                     "labmf.factorise.factorise_sgd", "labmf.kernels.sgd_epochs_reference")
    ]
    return env.get_template("answers.html.j2").render(
        a=ans, css=css, scale=scale, figure=answers_figure_svg(ans), listings=listings,
        course_q4=COURSE_Q4_PREDICTIONS,
        datasets=_dataset_lines(ans),
    )


# ------------------------------------------------------------------ chromium


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary: ``$LABMF_CHROMIUM`` or the first on PATH."""
    env = os.environ.get("LABMF_CHROMIUM")
    if env:
        return env if Path(env).is_file() or shutil.which(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run_chromium(chromium: str, args: list[str], url: str, timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="labmf-chromium-") as profile:
        cmd = [chromium, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--virtual-time-budget={_VIRTUAL_TIME_MS}", *args, url]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"Chromium timed out after {timeout:.0f} s on {url}") from exc
        except OSError as exc:
            raise ReportError(f"cannot run Chromium ({chromium}): {exc}") from exc


def print_to_pdf(html_path, pdf_path, chromium: str, *, timeout: float = 300) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (atomic replace).

    The page size and margins come from the document's CSS ``@page`` rule.
    """
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=pdf_path.parent, prefix=f".{pdf_path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        proc = _run_chromium(chromium, [f"--print-to-pdf={tmp}", "--no-pdf-header-footer"],
                             html_path.as_uri(), timeout)
        if proc.returncode != 0 or tmp.stat().st_size == 0 or tmp.read_bytes()[:5] != b"%PDF-":
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise ReportError(f"Chromium failed to print {html_path} (exit {proc.returncode}):\n{tail}")
        _publish(tmp, pdf_path)
    finally:
        tmp.unlink(missing_ok=True)
    return pdf_path


def dump_dom(html_path, chromium: str, *, timeout: float = 300) -> str:
    """The page's DOM after its scripts ran (MathJax typeset), via ``--dump-dom``."""
    proc = _run_chromium(chromium, ["--dump-dom"], Path(html_path).resolve().as_uri(), timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise ReportError(f"Chromium --dump-dom failed on {html_path} (exit {proc.returncode})")
    return proc.stdout


def pdf_page_count(pdf_path) -> int:
    """Number of pages (``pdfinfo`` when installed, else a scan of the page objects)."""
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        out = subprocess.run([pdfinfo, str(pdf_path)], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        m = re.search(r"^Pages:\s+(\d+)", out, re.M)
        if m:
            return int(m.group(1))
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", Path(pdf_path).read_bytes()))


def pdf_text(pdf_path) -> str | None:
    """Text of the PDF by ``pdftotext -layout`` (``None`` when poppler is missing)."""
    exe = shutil.which("pdftotext")
    if not exe:
        return None
    return subprocess.run([exe, "-layout", str(pdf_path), "-"], capture_output=True,
                          text=True, timeout=120, check=True).stdout


# TeX that survived into the printed text means MathJax had not typeset the page.
_RAW_TEX = re.compile(r"\$[^$\n]{0,80}\\[A-Za-z]{2,}|\\(?:frac|sum|sigma|mathrm|top|begin)\b")


def _check_math_typeset(pdf_path: Path) -> None:
    text = pdf_text(pdf_path)
    if text is None:
        return
    m = _RAW_TEX.search(text)
    if m:
        raise ReportError(
            f"{pdf_path}: raw TeX in the printed text ({m.group(0)!r}): MathJax did not "
            f"finish before printing"
        )


# --------------------------------------------------------------------- build


def build_report(
    notebooks: Iterable,
    out_dir="report",
    *,
    source_dir=None,
    seed: int = 0,
    answers=None,
    chromium: str | None | bool = True,
    log: Log | None = print,
) -> ReportOutputs:
    """Render ``lab1-report.html``/``.pdf`` and ``lab1-answers.pdf`` into ``out_dir``.

    Parameters
    ----------
    notebooks : iterable of path
        Executed notebooks in section order (rendered from their stored outputs).
    out_dir : path
        Destination; intermediate files go to ``out_dir/build``.
    source_dir : path, optional
        Directory with ``templates/``, ``report.css`` and ``answers.css``
        (default ``report``).
    seed : int
        Seed of the answer sheet's computations (that of the notebooks).
    answers : labmf.answers.Answers, optional
        Precomputed answers (default: :func:`labmf.answers.compute_answers`).
    chromium : True, False, None or str
        ``True``/``None``: find Chromium (:func:`find_chromium`); a path: use it;
        ``False``: HTML only.
    log : callable(str), optional
        Progress messages (``print`` by default, ``None`` for silence).

    Returns
    -------
    ReportOutputs

    Raises
    ------
    ReportError
        A notebook is missing, unexecuted or has an error; Chromium failed; the
        answer sheet does not fit on one page; math was left untypeset.
    """
    from .answers import compute_answers

    say = log or (lambda _msg: None)
    out_dir = Path(out_dir)
    source_dir = Path(source_dir) if source_dir is not None else _default_source_dir()
    build = out_dir / "build"
    build.mkdir(parents=True, exist_ok=True)
    notebooks = [Path(p) for p in notebooks]
    if not notebooks:
        raise ReportError("no notebooks given")
    exe = find_chromium() if chromium is True or chromium is None else (chromium or None)
    if exe and not (Path(exe).is_file() or shutil.which(exe)):
        raise ReportError(f"chromium binary not found: {exe}")

    sections = []
    for nb in notebooks:
        say(f"report: rendering {nb}")
        sections.append(render_section(nb, source_dir))
    if answers is None:
        say(f"report: computing the answers (seed {seed})")
        answers = compute_answers(seed=seed)

    install_mathjax(build / "mathjax")
    html_path = _atomic_write_text(
        out_dir / REPORT_HTML,
        render_report_html(sections, answers, source_dir=source_dir, chromium=exe),
    )
    say(f"report: wrote {html_path}")
    outputs = ReportOutputs(html=html_path, answers_html=build / ANSWERS_HTML, answers=answers)

    if not exe:
        _atomic_write_text(outputs.answers_html, render_answers_html(answers, source_dir=source_dir))
        outputs.notes.append(CHROMIUM_PACKAGE_HINT)
        say(CHROMIUM_PACKAGE_HINT)
        return outputs

    outputs.pdf = print_to_pdf(html_path, out_dir / REPORT_PDF, exe)
    _check_math_typeset(outputs.pdf)
    say(f"report: wrote {outputs.pdf} ({pdf_page_count(outputs.pdf)} pages)")

    # The sheet must be one page: shrink the type a little if the content grew.
    for scale in (1.0, 0.98, 0.96, 0.94, 0.92, 0.9, 0.88, 0.86, 0.84):
        _atomic_write_text(outputs.answers_html,
                           render_answers_html(answers, source_dir=source_dir, scale=scale))
        sheet = print_to_pdf(outputs.answers_html, build / ANSWERS_PDF, exe)
        pages = pdf_page_count(sheet)
        if pages == 1:
            break
    else:
        raise ReportError(f"the answer sheet needs {pages} pages even at scale {scale}; shorten it")
    outputs.answers_pdf = out_dir / ANSWERS_PDF
    os.replace(sheet, outputs.answers_pdf)
    say(f"report: wrote {outputs.answers_pdf} (1 page{'' if scale == 1.0 else f', scale {scale}'})")
    return outputs
