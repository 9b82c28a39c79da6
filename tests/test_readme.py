"""The README's "Use it on your own data" section runs as written (issue 13, acceptance)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def _run(title: str, capsys) -> tuple[dict, str]:
    blocks = _section_code(title)
    assert blocks, f"the {title!r} section must hold a python code block"
    namespace: dict = {"__name__": "__readme__"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"README.md ({title!r}, block {k})", "exec"), namespace)
    return namespace, capsys.readouterr().out


def test_save_load_snippet_runs_verbatim(capsys):
    namespace, out = _run("## Models: training problems, saving and loading", capsys)
    assert out == "True Ulysses\n"
    assert namespace["path"].suffix == ".labrec"


@pytest.mark.slow
def test_q4_script_prints_the_figures_the_readme_shows(capsys):
    """Issue 21, item 13: Q4 from a plain script, with the figures it prints (about 20 s)."""
    title = "## Question 4's data"
    _, out = _run(title, capsys)
    body = README.read_text(encoding="utf-8").split(title + "\n", 1)[1].split("\n## ", 1)[0]
    shown = re.findall(r"```text\n(.*?)```", body, flags=re.DOTALL)
    assert shown and out == shown[0]


def _error(call) -> str:
    with pytest.raises(Exception) as info:
        call()
    return f"{type(info.value).__name__}: {info.value}"


def _quoted_errors(tmp_path) -> list[tuple[str, object]]:
    import labmf
    from labrec import GlobalMean, load_ratings

    csv = tmp_path / "ratings.csv"
    csv.write_text("reader,book,stars\nann,b1,5\nann,b2,3\nbob,b1,4\nbob,b3,40\n")
    twice = tmp_path / "twice" / "ratings.csv"
    twice.parent.mkdir()
    twice.write_text("user,item,rating\n007,b1,5\n7,b2,3\n")
    saved = GlobalMean().fit([0, 1], [0, 1], [3.0, 4.0]).save(tmp_path / "model.labrec")
    from labrec import BiasedMF

    return [
        ("ValueError: rank must be in [1, 3], got 4", lambda: labmf.factorise_sgd(labmf.lab_matrix(), rank=4)),
        ("line 5 of ratings.csv: rating 40 is outside the\nscale [1, 5]",
         lambda: load_ratings(csv, user="reader", item="book", rating="stars", scale=(1, 5))),
        ("line 3 of ratings.csv: user\nid '7' is the number 7, written '007' on line 2", lambda: load_ratings(twice)),
        ("holds a GlobalMean, not a\nBiasedMF", lambda: BiasedMF.load(saved)),
        ("model.labrec is labrec model format\nversion 2, but this labrec reads version 1",
         lambda: GlobalMean.load(_version_2(saved))),
    ]


def _version_2(path):
    import json

    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["header"] = np.array(json.dumps({**json.loads(str(arrays["header"][()])), "version": 2}))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def test_readme_warning_text_is_the_real_one():
    from labrec import BiasedMF, synthetic_ratings

    text = " ".join(README.read_text(encoding="utf-8").split())
    S = synthetic_ratings(5000, 100, 100, seed=0)
    with pytest.warns(UserWarning) as record:
        BiasedMF(lr_bias=0.9, seed=0).fit(S.user, S.item, S.rating, S.n_users, S.n_items)
    message = str(record[0].message)
    head, cause = message.split(": the fit")[0], message.split("; ")[-1]
    assert f"UserWarning: {head}: ...; {cause}`" in text


def test_readme_error_texts_are_the_real_ones(tmp_path):
    """Issue 21, item 13: every error text the README quotes is what the library says."""
    text = README.read_text(encoding="utf-8")
    for quoted, call in _quoted_errors(tmp_path):
        assert quoted in text, f"README no longer quotes {quoted!r}"
        assert " ".join(quoted.split()) in _error(call)
