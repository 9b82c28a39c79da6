"""The report pipeline (labmf.report): sections, listings, and a full offline render.

The full render (``test_full_report``) needs Chromium and poppler-utils; it is
skipped where they are missing, except under CI (``CI=true``), where it fails.
It renders the notebooks' stored outputs: nothing is executed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from labmf import report as R
from labmf.__main__ import main
from labmf.answers import compute_answers

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "report"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _require(*tools: str) -> dict[str, str]:
    found = {"chromium": R.find_chromium()}
    found.update({t: shutil.which(t) for t in ("pdfinfo", "pdftotext")})
    missing = [t for t in tools if not found.get(t)]
    if missing:
        msg = (f"{', '.join(missing)} not installed (Debian/Ubuntu packages: chromium, "
               f"poppler-utils)")
        if IN_CI:
            pytest.fail(f"CI must render the report, but {msg}")
        pytest.skip(msg)
    return found


def _notebook(tmp_path: Path, name: str = "01_demo.ipynb", *, error: bool = False,
              executed: bool = True) -> Path:
    """A small notebook with stored outputs (never executed by the tests)."""
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1  # SECRET_INPUT\nprint(f'{x:.4f}')",
                                     execution_count=1 if executed else None)
    if executed:
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.0000\n"),
                        nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    if error:
        code.outputs.append(nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=["Traceback"]))
    hidden = nbformat.v4.new_code_cell("print('skip me')", execution_count=2 if executed else None,
                                       metadata={"tags": ["report-skip"]})
    if executed:
        hidden.outputs = [nbformat.v4.new_output("stream", name="stdout", text="HIDDEN_OUTPUT\n")]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo title\n\nThe loss is $\\|A - UV^\\top\\|_F^2$.\n\n## Part"),
        code,
        hidden,
    ]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def small_answers():
    return compute_answers(seed=0, spread_seeds=[0, 1], include_q4=False)


# ----------------------------------------------------------------- sections


def test_section_has_outputs_but_no_code(tmp_path):
    sec = R.render_section(_notebook(tmp_path), SOURCE_DIR)
    assert sec.name == "01_demo" and sec.title == "Demo title"
    assert "1.0000" in sec.html
    assert "SECRET_INPUT" not in sec.html  # the code cell's source
    assert "a warning" not in sec.html  # stderr is dropped
    assert "HIDDEN_OUTPUT" not in sec.html  # report-skip tag
    assert "jp-InputArea-editor" not in sec.html and "In&nbsp;[" not in sec.html
    # Headings move one level down, under the report's title.
    assert "<h2" in sec.html and "<h3" in sec.html and "<h1" not in sec.html
    # The notebook is named right under the section's heading (its prose refers to
    # other notebooks and to "the next cell").
    assert sec.filename == "01_demo.ipynb"
    head, _, rest = sec.html.partition("</h2>")
    assert "Demo title" in head and rest.lstrip().startswith('<p class="nb-source">')
    assert "01_demo.ipynb" in rest.split("</p>", 1)[0]


def test_section_refuses_errors_and_unexecuted(tmp_path):
    with pytest.raises(R.ReportError, match="error output.*ZeroDivisionError"):
        R.render_section(_notebook(tmp_path, "a.ipynb", error=True), SOURCE_DIR)
    with pytest.raises(R.ReportError, match="not been executed"):
        R.render_section(_notebook(tmp_path, "b.ipynb", executed=False), SOURCE_DIR)
    with pytest.raises(R.ReportError, match="not found"):
        R.render_section(tmp_path / "missing.ipynb", SOURCE_DIR)


def test_listing_comes_from_the_package():
    import inspect

    import labmf

    full = R.source_listing("labmf.kernels.sgd_epochs_reference")
    assert "sgd_epochs_reference" in full and "Parameters" in full
    short = R.source_listing(labmf.sgd_factorise, docstring=False)
    assert "sgd_factorise" in short and "handout" not in short
    # Same code as inspect reads (identifiers survive the highlighting).
    for ident in re.findall(r"[A-Za-z_]\w+", R._strip_docstring(inspect.getsource(labmf.sgd_factorise))):
        assert ident in short


def test_appendix_lists_the_initialisation():
    """The U[0, 1) start the handout asks for is part of the printed code."""
    assert {"labmf.factorise._init_factors", "labmf.factorise._start"} <= set(R.APPENDIX_FUNCTIONS)
    assert "torch.rand" in R.source_listing("labmf.factorise._init_factors")


def test_answers_figure_axes(small_answers):
    fig = R.answers_figure(small_answers)
    _, ax2 = fig.axes
    assert ax2.get_ylabel() == "completed entry value" and ax2.get_xlabel() == "seed"
    fig.canvas.draw()
    ticks = [t for t in ax2.get_xticks() if ax2.get_xlim()[0] <= t <= ax2.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)  # seeds, not 2.5
    # The rank-2 value of A[1,0] at the true A[2,1] is drawn.
    cv = small_answers.q3.curve
    assert any(list(line.get_ydata()) == [cv.x_at_true_y] * 2 for line in ax2.get_lines())


def test_q3_wording_follows_the_answers(small_answers):
    """Q3 is still converging after 1000 epochs: no "near-perfect fit" anywhere."""
    sheet = R.render_answers_html(small_answers, source_dir=SOURCE_DIR)
    report = R.render_report_html([], small_answers, source_dir=SOURCE_DIR)
    q3, cv = small_answers.q3, small_answers.q3.curve
    assert not q3.converged
    for text in (sheet, report):
        for stale in ("near-perfect", "almost exactly", "fit that matches"):
            assert stale not in text
        assert f"{q3.observed_sse:.3f}" in text and f"{cv.x_at_true_y:.2f}" in text
    sheet, report = " ".join(sheet.split()), " ".join(report.split())
    assert "Still converging" in sheet and "still converging" in report
    assert "det X = 0" in sheet and "\\det X = 0" in report
    assert "torch.manual_seed(0); labmf.sgd_factorise(A, 2)" in report


def test_html_only_without_chromium(tmp_path, small_answers, capsys):
    nb = _notebook(tmp_path)
    out = R.build_report([nb], tmp_path / "out", source_dir=SOURCE_DIR, answers=small_answers,
                         chromium=False)
    assert out.html.is_file() and out.pdf is None and out.answers_pdf is None
    assert out.notes == [R.CHROMIUM_PACKAGE_HINT]
    printed = [ln for ln in capsys.readouterr().out.splitlines() if "chromium" in ln.lower()]
    assert printed == [R.CHROMIUM_PACKAGE_HINT]
    html = out.html.read_text()
    assert "Demo title" in html and "build/mathjax/MathJax.js" in html
    assert (tmp_path / "out" / "build" / "mathjax" / "MathJax.js").is_file()
    assert not list((tmp_path / "out").glob(".*.tmp"))  # temp files were moved into place


def test_find_chromium_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LABMF_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert R.find_chromium() is None


def test_cli_report_html_only(tmp_path, capsys, monkeypatch, small_answers):
    # The CLI's own answers would include the slow Q4 fit, tested elsewhere.
    monkeypatch.setattr("labmf.answers.compute_answers", lambda seed=0: small_answers)
    nb = _notebook(tmp_path)
    rc = main(["report", "--no-pdf", "--out-dir", str(tmp_path / "o"),
               "--source-dir", str(SOURCE_DIR), str(nb)])
    assert rc == 0 and (tmp_path / "o" / R.REPORT_HTML).is_file()
    assert main(["report", "--no-pdf", "--out-dir", str(tmp_path / "o"),
                 "--source-dir", str(SOURCE_DIR), str(tmp_path / "nope.ipynb")]) == 1
    assert "notebook not found" in capsys.readouterr().err


# ---------------------------------------------------------------- full render


def _pdfinfo(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    _require("chromium", "pdfinfo", "pdftotext")
    if not NOTEBOOKS:
        pytest.fail("no notebooks/NN_*.ipynb to render")
    out_dir = tmp_path_factory.mktemp("report")
    return R.build_report(NOTEBOOKS, out_dir, source_dir=SOURCE_DIR, log=None)


def test_full_report_pdfs(rendered):
    for pdf in (rendered.pdf, rendered.answers_pdf):
        assert pdf is not None and pdf.is_file()
        info = _pdfinfo(pdf)
        assert "(A4)" in info["Page size"], info["Page size"]
    assert int(_pdfinfo(rendered.answers_pdf)["Pages"]) == 1
    # Title page + one page per notebook at least + back matter.
    assert int(_pdfinfo(rendered.pdf)["Pages"]) >= len(NOTEBOOKS) + 2


def test_full_report_text_has_the_figures(rendered):
    a = rendered.answers
    report = R.pdf_text(rendered.pdf)
    sheet = R.pdf_text(rendered.answers_pdf)
    key = [
        f"{a.q1.sse:.4f}",  # Q1 SSE
        "5.3339", "0.6959", "0.3492", f"{a.q2.sse:.4f}",  # Q2
        f"{a.q3.observed_sse:.4f}", f"{a.q3.hidden[0].predicted:.4f}",  # Q3
        f"{a.q3.hidden[1].predicted:.4f}",
    ]
    cv = a.q3.curve
    key += [f"{a.q3.observed_sse:.3f}", f"{cv.x_at_true_y:.2f}"]
    # The sheet's text comes in two columns, so its needles are single words.
    sheet_key = key + ["sgd_factorise_masked", "sgd_epochs_reference", "converging"]
    if a.q4 is not None:
        sheet_key.append(f"{a.q4.predicted:.4f}")
        key.append(f"{a.q4.observed_sse:.1f}")
        key += ["3.1573", "3.4866", "not comparable"]
        sheet_key += ["3.1573", "3.4866", "comparable"]
        if not a.q4.converged:
            sheet_key.append("Sensitivity")
    for needle in sheet_key:
        assert needle in sheet, needle
    report_flat = " ".join(report.split())
    for needle in key + ["Errors of the seed report", "References", "Eckart", "Harper",
                         "def sgd_epochs_reference", "def _init_factors", "torch.manual_seed(0);",
                         "torch " + a.versions["torch"]]:
        assert needle in report_flat, needle
    # Every notebook section names its notebook.
    for nb in NOTEBOOKS:
        assert f"notebook {nb.name}" in report_flat, nb.name
    for text in (report, sheet):
        assert "Traceback" not in text
        assert "Math Processing Error" not in text


def test_full_report_html_has_no_code_and_typeset_math(rendered):
    html = rendered.html.read_text()
    body = html.split("<body", 1)[1]
    assert "jp-InputArea-editor" not in body and "In&nbsp;[" not in body
    # No notebook code cell keeps an input area.
    for cell in re.findall(r'<div[^>]*class="jp-Cell jp-CodeCell[^"]*".*?(?=<div[^>]*class="jp-Cell |</section>)',
                           body, re.S):
        assert "jp-InputArea" not in cell
    dom = R.dump_dom(rendered.html, R.find_chromium())
    assert 'data-mathjax="done"' in dom
    assert 'class="MathJax"' in dom or "mjx-container" in dom
    assert "Math Processing Error" not in dom
    # Raw TeX survives only inside MathJax's own <script type="math/tex"> holders.
    visible = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)
    visible = re.sub(r"<style\b.*?</style>", "", visible, flags=re.S)
    assert "$$" not in visible
    assert not re.search(r"\$\\[A-Za-z]", visible)
