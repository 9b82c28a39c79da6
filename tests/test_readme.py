"""The README's "Use it on your own data" section runs as written (issue 13, acceptance)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Use it on your own data"


def _section_code(title: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    assert text.count(title + "\n") == 1, f"README must have one {title!r} section"
    body = text.split(title + "\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


def test_own_data_section_runs_verbatim(capsys):
    blocks = _section_code(SECTION)
    assert blocks, "the section must hold a python code block"
    namespace: dict = {"__name__": "__readme__"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"README.md ({SECTION!r}, block {k})", "exec"), namespace)
    out = capsys.readouterr().out
    # The example's promises: a float by ids, a DataFrame of ids and titles, the title lookup.
    assert "item" in out and "title" in out and "score" in out
    assert namespace["R"].find_title("Dune") == "b1"
    assert isinstance(namespace["model"].predict("ann", "b3"), float)
