"""Stored notebooks carry the notebook-level metadata JupyterLab writes, so opening one changes nothing.

JupyterLab sets ``kernelspec`` and ``language_info`` from the running kernel as soon as a
notebook is opened; when the stored values differ it marks the notebook modified and its
autosave rewrites the tracked file. ``notebooks/nbconvert_execute.py`` (``make notebooks``)
writes exactly these values; ``tests/test_browser.py`` checks in a real JupyterLab that
opening and saving leaves the file byte for byte the same.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))

#: language_info as the ipykernel kernel reports it (all but the Python version).
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def _kernelspec() -> dict:
    """The kernelspec JupyterLab writes for the ``python3`` kernel installed with the project."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {"display_name": spec.display_name, "language": spec.language, "name": "python3"}


def check_metadata(nb: dict, where: str) -> list[str]:
    """What is missing or different from what JupyterLab would write; [] when nothing."""
    problems = []
    meta = nb.get("metadata", {})
    if meta.get("kernelspec") != _kernelspec():
        problems.append(f"{where}: kernelspec is {meta.get('kernelspec')!r}, JupyterLab writes {_kernelspec()!r}")
    info = meta.get("language_info", {})
    expected = {**LANGUAGE_INFO, "version": info.get("version")}
    if info != expected:
        problems.append(f"{where}: language_info is {info!r}, JupyterLab writes {expected!r}")
    if not re.fullmatch(r"3\.\d+\.\d+", str(info.get("version"))):
        problems.append(f"{where}: language_info.version {info.get('version')!r} is not a Python version")
    if (nb.get("nbformat"), nb.get("nbformat_minor")) != (4, 5):
        problems.append(f"{where}: nbformat {nb.get('nbformat')}.{nb.get('nbformat_minor')}, JupyterLab writes 4.5")
    if "widgets" in meta:
        problems.append(f"{where}: stored widget state (metadata.widgets) should have been cleared")
    for i, cell in enumerate(nb.get("cells", [])):
        extra = set(cell.get("metadata", {})) - {"tags"}
        if extra:
            problems.append(f"{where}: cell {i} keeps volatile metadata {sorted(extra)}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_notebook_metadata(path):
    problems = check_metadata(json.loads(path.read_text(encoding="utf-8")), path.name)
    assert not problems, "\n".join(problems) + "\n(re-execute it: make notebooks)"


def test_one_python_version():
    # Executed together by `make notebooks`, so one interpreter: a mix means some notebook is stale.
    # (The version is the executing kernel's; JupyterLab on another Python patch release would
    # update it on opening -- unavoidable, as JupyterLab writes the running kernel's.)
    versions = {p.name: json.loads(p.read_text(encoding="utf-8"))["metadata"].get("language_info", {}).get("version")
                for p in NOTEBOOKS}
    assert len(set(versions.values())) == 1, f"stored language_info versions differ: {versions}"


def test_execute_config_writes_jupyterlab_metadata(tmp_path):
    """`make notebooks`' configuration produces exactly that metadata, from a notebook that has none."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4
    nb.cells = [nbformat.v4.new_code_cell("1 + 1", metadata={"tags": ["t"], "scrolled": True})]
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "widgets": {"state": {}}}
    src = tmp_path / "tiny.ipynb"
    nbformat.write(nb, src)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--config",
                    str(ROOT / "notebooks" / "nbconvert_execute.py"), "--execute", "--inplace", str(src)],
                   check=True, capture_output=True, cwd=tmp_path, timeout=300)
    out = json.loads(src.read_text(encoding="utf-8"))
    assert check_metadata(out, "executed") == []
    assert out["cells"][0]["metadata"] == {"tags": ["t"]}
