"""Build the lab report, its supplement and the one-page answer sheet from executed notebooks.

Usage (``make report`` runs it on executed copies of the notebooks)::

    python report/build.py --out-dir report report/build/executed/0*.ipynb

Three documents, each standing alone, from the same executed notebooks:

* the **report** (``lab1-report.{pdf,html}``), the model answer: a title block with one line
  per question, the four question notebooks 01-04, the seed report's errors and how to
  reproduce it;
* the **supplement** (``lab1-supplement.{pdf,html}``): what the report leaves out of
  notebooks 01-04 ("Q1, further", ...), the extension notebooks (05 optimisers,
  06 recommender, 07 scale, 00 explorer) and the handout's functions as code listings;
* the **answer sheet** (``lab1-answers.pdf``), one page.

:data:`REPORT_PARTS` and :data:`SUPPLEMENT_PARTS` are the one place that says which notebook
goes where. Within notebooks 01-04 a notebook author moves a cell to the supplement with the
cell tag ``supplement`` (a Markdown cell, or a code cell's outputs; tag a heading's cell too,
or the heading stays behind in the report); ``report-skip`` keeps a cell out of both.

Route, from PyPI wheels only (pandoc from ``pypandoc-binary``, Typst from ``typst``; no
browser, no TeX, no system package)::

    notebook --pandoc -f ipynb, notebook.lua -M part=...--> one section each (pandoc JSON)
    `answers` records --Jinja: templates/front.md, back.md--> title block, back matter
    (supplement-front.md, supplement-back.md for the supplement)
    sections + back matter --pandoc, typography.lua, templates/report.typ--> Typst --typst--> PDF
                           --pandoc --embed-resources --mathml--> HTML
    `answers` records --Jinja: templates/answers.typ--> Typst --typst--> lab1-answers.pdf

A figure prints at its own size (its PNG's pixels over its dpi: a ``figsize=(5, 3.2)``
figure is 5 inches wide), at most the text width (174 mm, 6.85 in), so a matplotlib font
size is the printed size for any figure up to the text width; a wider figure is scaled
down by 6.85 / width.

Every figure the abstract, the back matter and the sheet quote comes from the notebooks:
each answering notebook ends with a cell tagged ``answers`` that displays its key figures
as an ``application/json`` record, and the sheet's figures are the image outputs of the
cells tagged ``sheet-figure``. Nothing is computed or executed here.

The three files are built in a private directory under ``<out-dir>/build`` and moved into
place with :func:`os.replace` only when all of them succeeded, under a lock: a failed,
interrupted or concurrent build never leaves a partial, mixed or half-written file, and
the previous outputs stay until new ones replace them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script: make the sibling module importable
    sys.path.insert(0, str(HERE))

from content import (  # noqa: E402 - needs the sys.path line above
    BuildError,
    read_notebook,
    render_answers,
    render_back,
    render_front,
    render_supplement_back,
    render_supplement_front,
    sheet_figures,
)

REPORT_HTML = "lab1-report.html"
REPORT_PDF = "lab1-report.pdf"
SUPPLEMENT_HTML = "lab1-supplement.html"
SUPPLEMENT_PDF = "lab1-supplement.pdf"
ANSWERS_PDF = "lab1-answers.pdf"
OUTPUTS = (REPORT_HTML, REPORT_PDF, SUPPLEMENT_HTML, SUPPLEMENT_PDF, ANSWERS_PDF)
TEMPLATES = HERE / "templates"
#: Where the appendix's functions are read from (as text, never imported).
LAB_SOURCE = HERE.parent / "src" / "labmf" / "lab.py"

#: Which notebook (by its two-digit number) goes into which document, in order, and how much
#: of it: ``report`` = every cell but those tagged ``supplement``; ``further`` = only those
#: (a "Q1, further" section; none tagged, no section); ``supplement`` = every cell. Cells
#: tagged ``report-skip`` are in neither document. A notebook given to the builder that is
#: in neither list is refused; one listed but not given is left out.
REPORT_PARTS = (("01", "report"), ("02", "report"), ("03", "report"), ("04", "report"))
SUPPLEMENT_PARTS = (("01", "further"), ("02", "further"), ("03", "further"), ("04", "further"),
                    ("05", "supplement"), ("06", "supplement"), ("07", "supplement"), ("00", "supplement"))
#: The PDFs' text width (A4 less 2 x 18 mm, templates/report.typ): no figure prints wider.
TEXT_WIDTH_IN = 174 / 25.4


# ---------------------------------------------------------------------- tools


def _pandoc_exe() -> str:
    try:
        import pypandoc
    except ImportError as exc:
        raise BuildError("pandoc not found: install the dev extra (pip install -e '.[dev]', "
                         "which brings pypandoc-binary)") from exc
    return pypandoc.get_pandoc_path()


def pandoc(args: list[str], *, cwd: Path, stdin: str | None = None) -> str:
    """Run pandoc with ``args`` in ``cwd``; its stdout, or :class:`BuildError` with its stderr."""
    proc = subprocess.run([_pandoc_exe(), *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, encoding="utf-8")
    if proc.returncode != 0:
        raise BuildError(f"pandoc {' '.join(args[:4])} ... failed (exit {proc.returncode}): "
                         f"{proc.stderr.strip()}")
    return proc.stdout


def typst_pdf(source: Path, output: Path) -> int:
    """Compile ``source`` to ``output`` with the typst wheel; return the page count.

    Only Typst's embedded fonts are used (system fonts ignored), so the PDF looks the
    same on every machine.
    """
    import typst
    from pypdf import PdfReader

    try:
        typst.compile(str(source), output=str(output), root=str(source.parent), ignore_system_fonts=True)
    except Exception as exc:  # typst.TypstError and friends: report the diagnostic, not a traceback
        detail = getattr(exc, "diagnostic", None) or str(exc)
        raise BuildError(f"typst could not compile {source}: {detail}") from exc
    return len(PdfReader(output).pages)


# ---------------------------------------------------------------------- build

# Pandoc 3.9 writes Typst's older symbol names (`dot.circle` for TeX's \odot); Typst 0.15
# calls the circled operators `dot.o`, `plus.o`, ...
_OLD_CIRCLED = re.compile(r"\b(dot|plus|minus|times|div|ast|slash|eq|bullet)\.circle\b")
# ... and writes TeX's thick space `\;` as `#h(0em)`: none at all, which also suppresses
# Typst's own space around a relation (`A \;\ge\; B` printed as "A≥B"). Typst's `thick`
# is TeX's 5/18 em.
_NO_SPACE = re.compile(r"#h\(0em\)")
# ... and TeX's \bigl( x \bigr) as two separately scaled glyphs, `#scale(x: 120%, y: 120%)[\(]`,
# off the baseline and spaced like text; Typst's `lr(..., size: 120%)` is the sized pair.
_SCALED_PAIR = re.compile(r"#scale\(x: (?P<s>\d+)%, y: (?P=s)%\)\[(?P<open>\\[(\[{]|\|)\]"
                          r"(?P<body>.*?)"
                          r"#scale\(x: (?P=s)%, y: (?P=s)%\)\[(?P<close>\\[)\]}]|\|)\]")


def _typst_symbols(text: str) -> str:
    """Fix what pandoc's Typst writer gets wrong in math (see the patterns above)."""
    text = _OLD_CIRCLED.sub(r"\1.o", text)
    text = _NO_SPACE.sub("thick", text)
    return _SCALED_PAIR.sub(r"lr(\g<open>\g<body>\g<close>, size: #\g<s>%)", text)


def _png_width_in(png: bytes) -> float:
    """The printed width of a PNG in inches: its pixels over the dpi of its pHYs chunk.

    matplotlib writes the figure's dpi there (100 unless set), so a ``figsize=(5, 3.2)``
    figure is 5 inches wide (less what ``bbox_inches="tight"`` crops); 100 dpi without one.
    """
    import struct

    width_px = struct.unpack(">I", png[16:20])[0]
    dpi = 100.0
    at = png.find(b"pHYs", 0, 4096)
    if at > 0:
        per_metre, _, unit = struct.unpack(">IIB", png[at + 4:at + 13])
        if unit == 1 and per_metre:
            dpi = per_metre * 0.0254
    return width_px / dpi



def _richest_outputs(notebook: Path, work: Path) -> Path:
    """A copy of ``notebook`` whose outputs keep only their richest text form.

    pandoc's ipynb reader prefers ``text/plain`` to ``text/markdown`` and ``text/html``,
    so generated prose would read "<IPython.core.display.Markdown object>" and a
    DataFrame its fixed-width text. Keeping only the Markdown, or only the HTML of a
    table, lets notebook.lua turn them into real paragraphs and tables.

    Each PNG's printed width goes into its output's metadata (``"4.71in"``, or ``"100%"``
    when it is wider than the text), which pandoc's ipynb reader makes the image's width.
    """
    import base64
    import json

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                inches = _png_width_in(base64.b64decode("".join(data["image/png"])))
                width = "100%" if inches >= 0.98 * TEXT_WIDTH_IN else f"{inches:.2f}in"
                out["metadata"] = {**out.get("metadata", {}), "image/png": {"width": width}}
            if "text/markdown" in data:
                out["data"] = {"text/markdown": data["text/markdown"]}
            elif "text/html" in data and "<table" in "".join(data["text/html"]) and not any(
                    k.startswith("image/") for k in data):
                out["data"] = {"text/html": data["text/html"]}
    copy = work / "notebooks" / notebook.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(nb), encoding="utf-8")
    return copy


def _section(notebook: Path, work: Path, part: str) -> dict:
    """``part`` of one notebook (see :data:`REPORT_PARTS`) as a section: a pandoc JSON document."""
    import json

    media = f"media/{notebook.stem}"
    text = pandoc(["-f", "ipynb", "-t", "json", "--lua-filter", str(HERE / "notebook.lua"),
                   "-M", f"notebook={notebook.name}", "-M", f"part={part}", f"--extract-media={media}",
                   str(_richest_outputs(notebook, work).resolve())], cwd=work)
    return json.loads(text)


def _markdown(text: str, work: Path) -> dict:
    import json

    return json.loads(pandoc(["-f", "markdown", "-t", "json"], cwd=work, stdin=text))


def _by_number(notebooks: list) -> dict:
    """``{"01": notebook, ...}``; :class:`BuildError` for a notebook in neither document."""
    known = {number for number, _ in (*REPORT_PARTS, *SUPPLEMENT_PARTS)}
    out = {}
    for nb in notebooks:
        number = nb.path.name[:2]
        if number not in known:
            raise BuildError(f"{nb.path.name} is in neither the report nor the supplement: "
                             f"add its number to REPORT_PARTS or SUPPLEMENT_PARTS in {Path(__file__).name}")
        out[number] = nb
    return out


def _document(name: str, front: str, parts, back: str, notebooks: dict, work: Path, *, toc: bool,
              log) -> tuple[Path, Path]:
    """One document (front matter, notebook parts, back matter) as ``name.pdf`` and ``name.html``."""
    import json

    head = _markdown(front, work)
    doc = {"pandoc-api-version": head["pandoc-api-version"], "meta": head["meta"], "blocks": []}
    for number, part in parts:
        if number in notebooks:
            log(f"report: {name}: {notebooks[number].path.name}" + (" (further)" if part == "further" else ""))
            doc["blocks"] += _section(notebooks[number].path, work, part)["blocks"]
    doc["blocks"] += _markdown(back, work)["blocks"]
    (work / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")

    pdf, html = work / f"{name}.pdf", work / f"{name}.html"
    toc_args = ["--toc", "--toc-depth=1"] if toc else []
    typ = pandoc(["-f", "json", "-t", "typst", "--lua-filter", str(HERE / "typography.lua"), *toc_args,
                  "--template", str(TEMPLATES / "report.typ"), f"{name}.json"], cwd=work)
    (work / f"{name}.typ").write_text(_typst_symbols(typ), encoding="utf-8")
    pages = typst_pdf(work / f"{name}.typ", pdf)
    log(f"report: {pdf.name}: {pages} pages")
    pandoc(["-f", "json", "-t", "html5", "--standalone", "--embed-resources", "--mathml", *toc_args,
            "--css", str(HERE / "report.css"), f"{name}.json", "-o", html.name], cwd=work)
    return pdf, html


def build_all(notebooks: list[Path], work: Path, *, log=print) -> dict[str, Path]:
    """Write the report's and the supplement's HTML and PDF and the answer sheet into ``work``.

    Returns
    -------
    dict
        Output file name -> its path in ``work``.
    """
    nbs = [read_notebook(p) for p in notebooks]
    numbered = _by_number(nbs)
    records = {}
    for nb in nbs:
        if nb.record is not None:
            records[nb.record["question"]] = nb.record

    out = {}
    out[REPORT_PDF], out[REPORT_HTML] = _document(
        "lab1-report", render_front(records), REPORT_PARTS, render_back(records), numbered, work,
        toc=False, log=log)
    out[SUPPLEMENT_PDF], out[SUPPLEMENT_HTML] = _document(
        "lab1-supplement", render_supplement_front(records), SUPPLEMENT_PARTS,
        render_supplement_back(records, LAB_SOURCE), numbered, work, toc=True, log=log)

    figures = []
    for nb in nbs:
        for k, png in enumerate(sheet_figures(nb)):
            path = work / f"sheet-{nb.path.stem[:2]}-{k}.png"
            path.write_bytes(png)
            figures.append(path.name)
    (work / "answers.typ").write_text(render_answers(records, figures, LAB_SOURCE), encoding="utf-8")
    out[ANSWERS_PDF] = work / ANSWERS_PDF
    pages = typst_pdf(work / "answers.typ", out[ANSWERS_PDF])
    if pages != 1:
        raise BuildError(f"the answer sheet takes {pages} pages, not 1: shorten "
                         f"{TEMPLATES / 'answers.typ'} or its listings")
    log(f"report: {ANSWERS_PDF}: 1 page")
    return out


# ------------------------------------------------------------ files and locks


def check_writable(out_dir: Path) -> Path:
    """Create ``out_dir/build``; :class:`BuildError` (one line) when ``out_dir`` is not writable."""
    try:
        build = out_dir / "build"
        build.mkdir(parents=True, exist_ok=True)
        for d in (out_dir, build):
            with tempfile.TemporaryFile(dir=d):
                pass
    except OSError as exc:
        raise BuildError(f"cannot write to {out_dir}/ ({exc.strerror or exc}): nothing was built") from exc
    return build


@contextlib.contextmanager
def locked(build: Path, *, log=print):
    """Hold ``build/.lock`` (one build at a time); remove what killed builds left behind.

    Where ``fcntl`` is missing (Windows) there is no lock: each build still works in its
    own directory and replaces each output atomically.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(build / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("report: waiting for another build of the report to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        # Holding the lock, no other build is running: any tmp-* left is from a killed one.
        for stale in build.glob("tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def publish(files: dict[str, Path], out_dir: Path) -> None:
    """Move the finished files into ``out_dir`` with ordinary permissions (0666 & ~umask)."""
    umask = os.umask(0)
    os.umask(umask)
    for name, path in files.items():
        os.chmod(path, 0o666 & ~umask)
        os.replace(path, out_dir / name)


def _terminate(signum, _frame):
    # SIGTERM (e.g. from make or a CI timeout) unwinds like Ctrl-C, so the temp dir goes.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="report/build.py", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks, in section order")
    p.add_argument("--out-dir", type=Path, default=Path("report"),
                   help="where lab1-report.{html,pdf}, lab1-supplement.{html,pdf} and lab1-answers.pdf go "
                        "(default: report)")
    p.add_argument("--keep-work", action="store_true",
                   help="keep the intermediate files (Typst sources, pandoc JSON) to debug a template")
    args = p.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    start = time.perf_counter()
    try:
        build = check_writable(args.out_dir)
        with locked(build):
            work = Path(tempfile.mkdtemp(prefix=f"tmp-{os.getpid()}-", dir=build))
            try:
                publish(build_all(args.notebooks, work), args.out_dir)
            finally:
                if args.keep_work:
                    print(f"report: intermediate files kept in {work}")
                else:
                    shutil.rmtree(work, ignore_errors=True)
    except BuildError as exc:
        print(f"report/build.py: error: {exc}", file=sys.stderr)
        print("report/build.py: the previous report files, if any, are unchanged", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a full disk while writing the temporary files
        print(f"report/build.py: error: {exc}; the previous report files, if any, are unchanged", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("report/build.py: interrupted; the previous report files, if any, are unchanged", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    names = ", ".join(str(args.out_dir / n) for n in OUTPUTS)
    print(f"report: wrote {names} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
