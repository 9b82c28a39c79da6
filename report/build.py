"""Build the lab report and its one-page answer sheet from executed notebooks.

Usage (``make report`` runs it on executed copies of the notebooks)::

    python report/build.py --out-dir report report/build/executed/0*.ipynb

Route, from PyPI wheels only (pandoc from ``pypandoc-binary``, Typst from ``typst``; no
browser, no TeX, no system package)::

    notebook --pandoc -f ipynb, notebook.lua--> one section each (pandoc JSON)
    `answers` records --Jinja: templates/front.md, back.md--> abstract, back matter
    sections + back matter --pandoc, templates/report.typ--> Typst --typst--> lab1-report.pdf
                           --pandoc --embed-resources --mathml--> lab1-report.html
    `answers` records --Jinja: templates/answers.typ--> Typst --typst--> lab1-answers.pdf

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
    sheet_figures,
)

REPORT_HTML = "lab1-report.html"
REPORT_PDF = "lab1-report.pdf"
ANSWERS_PDF = "lab1-answers.pdf"
OUTPUTS = (REPORT_HTML, REPORT_PDF, ANSWERS_PDF)
TEMPLATES = HERE / "templates"
#: Where the appendix's functions are read from (as text, never imported).
LAB_SOURCE = HERE.parent / "src" / "labmf" / "lab.py"


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


def _typst_symbols(text: str) -> str:
    return _OLD_CIRCLED.sub(r"\1.o", text)



def _richest_outputs(notebook: Path, work: Path) -> Path:
    """A copy of ``notebook`` whose outputs keep only their richest text form.

    pandoc's ipynb reader prefers ``text/plain`` to ``text/markdown`` and ``text/html``,
    so generated prose would read "<IPython.core.display.Markdown object>" and a
    DataFrame its fixed-width text. Keeping only the Markdown, or only the HTML of a
    table, lets notebook.lua turn them into real paragraphs and tables.
    """
    import json

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data:
                out["data"] = {"text/markdown": data["text/markdown"]}
            elif "text/html" in data and "<table" in "".join(data["text/html"]) and not any(
                    k.startswith("image/") for k in data):
                out["data"] = {"text/html": data["text/html"]}
    copy = work / "notebooks" / notebook.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(nb), encoding="utf-8")
    return copy


def _section(notebook: Path, work: Path) -> dict:
    """One notebook as a report section: a pandoc JSON document."""
    import json

    media = f"media/{notebook.stem}"
    text = pandoc(["-f", "ipynb", "-t", "json", "--lua-filter", str(HERE / "notebook.lua"),
                   "-M", f"notebook={notebook.name}", f"--extract-media={media}",
                   str(_richest_outputs(notebook, work).resolve())], cwd=work)
    return json.loads(text)


def _markdown(text: str, work: Path) -> dict:
    import json

    return json.loads(pandoc(["-f", "markdown", "-t", "json"], cwd=work, stdin=text))


def build_all(notebooks: list[Path], work: Path, *, log=print) -> dict[str, Path]:
    """Write the report's HTML and PDF and the answer sheet into ``work``.

    Returns
    -------
    dict
        Output file name -> its path in ``work``.
    """
    import json

    nbs = [read_notebook(p) for p in notebooks]
    records = {}
    for nb in nbs:
        if nb.record is not None:
            records[nb.record["question"]] = nb.record
    front = _markdown(render_front(records), work)
    doc = {"pandoc-api-version": front["pandoc-api-version"], "meta": front["meta"], "blocks": []}
    for nb in nbs:
        log(f"report: {nb.path.name}")
        doc["blocks"] += _section(nb.path, work)["blocks"]
    doc["blocks"] += _markdown(render_back(records, LAB_SOURCE), work)["blocks"]
    (work / "report.json").write_text(json.dumps(doc), encoding="utf-8")

    out = {name: work / name for name in OUTPUTS}
    typ = pandoc(["-f", "json", "-t", "typst", "--template", str(TEMPLATES / "report.typ"), "report.json"], cwd=work)
    (work / "report.typ").write_text(_typst_symbols(typ), encoding="utf-8")
    pages = typst_pdf(work / "report.typ", out[REPORT_PDF])
    log(f"report: {REPORT_PDF}: {pages} pages")
    pandoc(["-f", "json", "-t", "html5", "--standalone", "--embed-resources", "--mathml",
            "--toc", "--toc-depth=1", "--css", str(HERE / "report.css"),
            "report.json", "-o", REPORT_HTML], cwd=work)

    figures = []
    for nb in nbs:
        for k, png in enumerate(sheet_figures(nb)):
            path = work / f"sheet-{nb.path.stem[:2]}-{k}.png"
            path.write_bytes(png)
            figures.append(path.name)
    (work / "answers.typ").write_text(render_answers(records, figures, LAB_SOURCE), encoding="utf-8")
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
                   help="where lab1-report.{html,pdf} and lab1-answers.pdf go (default: report)")
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
