"""The report builder (report/build.py): report, supplement, answer sheet, failure safety.

The three documents are built once per module, from the stored notebooks (already
executed; nothing is run), with pip-installed tools only: pandoc from pypandoc-binary,
typst, pypdf.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pypdf = pytest.importorskip("pypdf")

ROOT = Path(__file__).resolve().parents[1]
BUILD_PY = ROOT / "report" / "build.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
OUTPUTS = ("lab1-report.html", "lab1-report.pdf", "lab1-supplement.html", "lab1-supplement.pdf", "lab1-answers.pdf")
REPORT_MAX_PAGES = 12  # issue 20: the model answer fits in twelve A4 pages
A4 = (595.28, 841.89)  # points


def _load_build():
    spec = importlib.util.spec_from_file_location("report_build", BUILD_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
import content  # noqa: E402 - report/content.py, importable once build.py has run (it adds report/ to sys.path)


def _run(out_dir: Path, notebooks=NOTEBOOKS) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD_PY), "--out-dir", str(out_dir), *map(str, notebooks)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    proc = _run(out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def records() -> dict:
    found = {}
    for path in NOTEBOOKS:
        nb = content.read_notebook(path)
        if nb.record is not None:
            found[nb.record["question"]] = nb.record
    return found


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def _snapshot(out: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir() if p.is_file()}


def _leftovers(out: Path) -> list[str]:
    """Anything in ``out`` besides the outputs, the build dir's lock and executed copies."""
    extra = [p.name for p in out.iterdir() if p.name not in OUTPUTS and p.name != "build"]
    build_dir = out / "build"
    if build_dir.is_dir():
        extra += [f"build/{p.name}" for p in build_dir.iterdir() if p.name != ".lock"]
    return extra


# ------------------------------------------------------------------ the records


def test_each_answering_notebook_records_its_answers(records):
    """Notebooks 01-04 end with an `answers` cell (kept out of the report) holding their record."""
    for number, question in zip(("01", "02", "03", "04"), ("Q1", "Q2", "Q3", "Q4"), strict=True):
        path = next(p for p in NOTEBOOKS if p.name.startswith(number))
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        tags = cells[-1]["metadata"].get("tags", [])
        assert {"answers", "report-skip"} <= set(tags), path.name
        assert question in records, f"{path.name}: its answers cell has no output (execute it)"


# ---------------------------------------------------------------------- PDFs


def test_pdfs_are_a4_the_sheet_one_page_the_supplement_built(built):
    sheet = pypdf.PdfReader(built / "lab1-answers.pdf")
    report = pypdf.PdfReader(built / "lab1-report.pdf")
    supplement = pypdf.PdfReader(built / "lab1-supplement.pdf")
    assert len(sheet.pages) == 1
    assert len(report.pages) >= 4 and len(supplement.pages) >= 4
    for page in [*report.pages, *supplement.pages, *sheet.pages]:
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=0.5)


def test_report_fits_in_twelve_pages(built):
    assert len(pypdf.PdfReader(built / "lab1-report.pdf").pages) <= REPORT_MAX_PAGES


def test_pdfs_quote_each_questions_key_figures(built, records):
    q1, q2, q3, q4 = (records[q] for q in ("Q1", "Q2", "Q3", "Q4"))
    key = [f"{q1['sse']:.4f}", f"{q2['sse']:.4f}", f"{q3['observed_sse']:.6f}", f"{q3['x_at_true_y']:.4f}",
           f"{q4['predicted']:.4f}", f"{q4['observed_sse']:.1f}"]
    # the supplement's title block repeats the report's one line per question
    in_title_block = [f for f in key if f != f"{q3['x_at_true_y']:.4f}"]
    for name, figures in (("lab1-report.pdf", key), ("lab1-answers.pdf", key), ("lab1-supplement.pdf", in_title_block)):
        text = _pdf_text(built / name)
        for figure in figures:
            assert figure in text, (name, figure)
        assert "Traceback" not in text


def test_report_has_outputs_but_no_code_and_the_supplement_has_the_listings(built):
    report = _pdf_text(built / "lab1-report.pdf")
    supplement = _pdf_text(built / "lab1-supplement.pdf")
    for text in (report, supplement):
        assert "torch.set_num_threads" not in text  # every notebook's import cell: code is left out
    assert "SSE ||A - U V^T||_F^2" in report  # ... but its printed output stays (notebook 01)
    for name in content.LAB_FUNCTIONS:
        assert f"def {name}(" in supplement
        assert f"def {name}(" not in report


def test_apostrophes_are_not_primes(built):
    """Typst sets a ' after a digit as a prime: "Q1's" must not print as "Q1′s"."""
    for name in ("lab1-report.pdf", "lab1-supplement.pdf", "lab1-answers.pdf"):
        text = _pdf_text(built / name)
        assert re.findall(r"\w{0,8}\d\u2032\w*|\w*\u2032s\b", text) == [], name
    assert "Q4\u2019s" in _pdf_text(built / "lab1-report.pdf")  # the seed report's errors, item 3


def test_typst_gets_apostrophes_not_straight_quotes_or_primes(tmp_path):
    lua = ROOT / "report" / "typography.lua"
    typst = build.pandoc(["-f", "markdown-smart", "-t", "typst", "--lua-filter", str(lua)],
                         cwd=tmp_path, stdin="Q1's and PyTorch's 'x'\n")
    assert typst.strip() == "Q1\u2019s and PyTorch\u2019s \u2018x\u2019"


def test_relations_in_display_math_keep_their_space(built):
    """pandoc writes TeX's `\\;` as `#h(0em)`, which would glue `\\ge` to its operands."""
    assert build._typst_symbols("a #h(0em) gt.eq #h(0em) b") == "a thick gt.eq thick b"


def test_big_delimiters_become_a_sized_pair():
    """pandoc writes TeX's `\\bigl( x \\bigr)` as two scaled glyphs; Typst's lr() sizes the pair."""
    typst = "sum #scale(x: 120%, y: 120%)[\\(] a - b #scale(x: 120%, y: 120%)[\\)]^2"
    assert build._typst_symbols(typst) == "sum lr(\\( a - b \\), size: #120%)^2"


def test_figures_print_at_their_own_size_at_most_the_text_width(tmp_path):
    import base64
    import struct
    import zlib

    def png(width_px: int, dpi: float) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        per_metre = round(dpi / 0.0254)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width_px, 1, 8, 0, 0, 0, 0))
                + chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))

    assert build._png_width_in(png(500, 100)) == pytest.approx(5.0, abs=0.01)
    assert build._png_width_in(png(900, 90)) == pytest.approx(10.0, abs=0.01)
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "", "outputs": [
        {"output_type": "display_data", "metadata": {},
         "data": {"image/png": base64.b64encode(png(w, 100)).decode()}} for w in (471, 1090)]}]}
    source = tmp_path / "01_x.ipynb"
    source.write_text(json.dumps(nb), encoding="utf-8")
    copy = json.loads(build._richest_outputs(source, tmp_path / "work").read_text(encoding="utf-8"))
    widths = [o["metadata"]["image/png"]["width"] for o in copy["cells"][0]["outputs"]]
    assert widths == ["4.71in", "100%"]


# ---------------------------------------------------------------------- HTML


def test_html_is_one_self_contained_file_with_mathml(built):
    for name in ("lab1-report.html", "lab1-supplement.html"):
        html = (built / name).read_text(encoding="utf-8")
        assert "<script" not in html
        assert "<link" not in html or 'href="http' not in html.split("<link", 1)[1].split(">", 1)[0]
        assert 'src="http' not in html and "src='http" not in html
        assert "<math" in html and "$$" not in html and "\\frac" not in html
        assert html.count('src="data:image/png;base64,') >= 4, name  # the notebooks' figures, embedded
        assert "torch.set_num_threads" not in html


def test_every_html_image_has_alt_text(built):
    for name in ("lab1-report.html", "lab1-supplement.html"):
        images = re.findall(r"<img\b[^>]*>", (built / name).read_text(encoding="utf-8"))
        assert images, name
        for tag in images:
            alt = re.search(r'\balt="([^"]*)"', tag)
            assert alt and alt.group(1).strip(), (name, tag[:120])


# ------------------------------------------------------------- the tags


def _copies_of_02(tmp_path: Path, *, tag_figure: bool) -> list[Path]:
    """The stored notebooks, notebook 02 without its `supplement` tags (and its first figure tagged)."""
    out = []
    for path in NOTEBOOKS:
        if path.name.startswith("02"):
            nb = json.loads(path.read_text(encoding="utf-8"))
            for c in nb["cells"]:
                if "supplement" in c["metadata"].get("tags", []):
                    c["metadata"]["tags"].remove("supplement")
            if tag_figure:
                cell = next(c for c in nb["cells"] if c["cell_type"] == "code"
                            and any("image/png" in o.get("data", {}) for o in c.get("outputs", [])))
                cell["metadata"].setdefault("tags", []).append("supplement")
            path = tmp_path / path.name
            path.write_text(json.dumps(nb), encoding="utf-8")
        out.append(path)
    return out


def test_a_cell_tagged_supplement_moves_from_the_report_to_the_supplement(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    for out, tag in ((before, False), (after, True)):
        proc = _run(out, _copies_of_02(tmp_path / ("a" if tag else "b"), tag_figure=tag))
        assert proc.returncode == 0, proc.stderr

    def images(directory: Path, name: str) -> int:
        return (directory / name).read_text(encoding="utf-8").count("<img")

    assert images(after, "lab1-report.html") == images(before, "lab1-report.html") - 1
    assert images(after, "lab1-supplement.html") == images(before, "lab1-supplement.html") + 1

    def words(directory: Path) -> str:
        return " ".join((directory / "lab1-supplement.html").read_text(encoding="utf-8").split())

    assert "Q2, further: Truncated SVD" in words(after)  # a section made for the tagged cell
    assert "Q2, further" not in words(before)  # none while no cell of 02 is tagged


def test_a_notebook_in_neither_document_is_refused(tmp_path):
    stray = tmp_path / "99_stray.ipynb"
    stray.write_text(NOTEBOOKS[1].read_text(encoding="utf-8"), encoding="utf-8")
    proc = _run(tmp_path / "out", [*NOTEBOOKS, stray])
    assert proc.returncode == 1
    assert "99_stray.ipynb is in neither" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------- failure safety


def _broken_copy(tmp_path: Path) -> Path:
    """Notebook 02 with an error output in one of its cells."""
    nb = json.loads(NOTEBOOKS[1].read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and c.get("outputs"))
    cell["outputs"].append({"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": []})
    path = tmp_path / NOTEBOOKS[1].name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_a_notebook_with_an_error_keeps_the_previous_outputs(built, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in OUTPUTS:
        (out / name).write_bytes((built / name).read_bytes())
    before = _snapshot(out)
    notebooks = [p if p != NOTEBOOKS[1] else _broken_copy(tmp_path) for p in NOTEBOOKS]
    proc = _run(out, notebooks)
    assert proc.returncode == 1
    assert "ValueError: boom" in proc.stderr and "Traceback" not in proc.stderr
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_a_typst_failure_keeps_the_previous_outputs(built, tmp_path, monkeypatch, capsys):
    templates = tmp_path / "templates"
    templates.mkdir()
    for src in content.TEMPLATES.iterdir():
        (templates / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    with open(templates / "answers.typ", "a", encoding="utf-8") as fh:
        fh.write("\n#no-such-function()\n")
    monkeypatch.setattr(content, "TEMPLATES", templates)
    out = tmp_path / "out"
    out.mkdir()
    for name in OUTPUTS:
        (out / name).write_bytes((built / name).read_bytes())
    before = _snapshot(out)
    assert build.main(["--out-dir", str(out), *map(str, NOTEBOOKS)]) == 1
    err = capsys.readouterr().err
    assert "typst could not compile" in err and "no-such-function" in err
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_an_unwritable_out_dir_gives_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = _run(blocker / "report")
    assert proc.returncode == 1
    assert "cannot write to" in proc.stderr and "Traceback" not in proc.stderr


def test_leftovers_of_a_killed_build_are_removed(built, tmp_path):
    out = tmp_path / "out"
    stale = out / "build" / "tmp-999999-killed"
    stale.mkdir(parents=True)
    (stale / "lab1-report.pdf").write_bytes(b"%PDF-half")
    assert build.main(["--out-dir", str(out), *map(str, NOTEBOOKS)]) == 0
    assert not stale.exists() and _leftovers(out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, "build"])


@pytest.mark.skipif(os.name != "posix", reason="the build lock uses fcntl")
def test_concurrent_builds_publish_whole_files(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(BUILD_PY), "--out-dir", str(out), *map(str, NOTEBOOKS)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert len(pypdf.PdfReader(out / "lab1-answers.pdf").pages) == 1
    assert len(pypdf.PdfReader(out / "lab1-report.pdf").pages) >= 4
    assert len(pypdf.PdfReader(out / "lab1-supplement.pdf").pages) >= 4
    for name in ("lab1-report.html", "lab1-supplement.html"):
        assert (out / name).read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert _leftovers(out) == []


# ---------------------------------------------------------------- the appendix


def test_listings_are_read_from_lab_py_as_text(tmp_path):
    listings = dict(content.lab_listings(build.LAB_SOURCE))
    assert list(listings) == list(content.LAB_FUNCTIONS)
    assert all(code.startswith(f"def {name}(") for name, code in listings.items())
    short = dict(content.lab_listings(build.LAB_SOURCE, docstrings=False))
    assert all('"""' not in code for code in short.values())
    partial = tmp_path / "lab.py"
    partial.write_text("def sgd_factorise(A, rank):\n    return A, A\n")
    with pytest.raises(content.BuildError, match="truncated_svd"):
        content.lab_listings(partial)
