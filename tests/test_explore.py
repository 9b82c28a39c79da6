"""The explorers (labmf.explore): fits, redraws, caching, superseding, static display, input errors."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import labmf
from labmf.explore import Settings, explore, explore_recommendations
from labmf.explore._parts import Fits
from labmf.explore.views import fit

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def q4():
    return explore_recommendations("movielens-small", threaded=False)


def test_first_fit_is_the_labs():
    ex = explore(threaded=False)
    assert ex.settings == Settings("sgd", 2, 0.01, 1000, 0, ())
    assert ex.result.loss == pytest.approx(0.1220, abs=5e-5)  # Q1's SSE, seed 0
    assert ex.optimum(2) == pytest.approx(0.1219, abs=5e-5)   # Q2's
    assert "per-entry SGD, rank 2, lr 0.01, 1000 epochs, seed 0" in ex.summary
    assert ex.png.startswith(b"\x89PNG")


def test_hidden_entries_are_q3():
    ex = explore(labmf.lab_matrix(), labmf.lab_mask(), threaded=False)
    assert ex.settings.hidden == ((1, 0), (2, 1))
    assert ex.result.loss == pytest.approx(0.012856, abs=5e-7)  # Q3's
    df = ex.hidden_frame()
    assert list(df.index) == ["(1, 0)", "(2, 1)"]
    assert df.loc["(1, 0)", "target"] == pytest.approx(float(labmf.lab_matrix()[1, 0]))
    assert df.loc["(1, 0)", "reconstruction"] == pytest.approx(ex.result.predict(1, 0))


def test_controls_redraw_and_cache():
    ex = explore(threaded=False)
    assert ex.widget is not None  # built on first use
    c = ex.controls
    png, first = ex.png, ex.result
    c["rank"].value = 1
    assert ex.settings.rank == 1 and "rank 1" in ex.summary and "rank-1 SVD optimum" in ex.summary
    assert ex.png != png and c["figure"].value == ex.png and "rank 1" in c["status"].value
    c["lr"].value = 0.02
    c["method"].value = "gd"
    assert "full-batch GD, rank 1, lr 0.02" in ex.summary
    c["hidden"][3].value = True  # entry (1, 0)
    assert ex.settings.hidden == ((1, 0),) and "(1, 0)" in c["table"].value
    c["hidden"][3].value = False
    c["method"].value, c["lr"].value, c["rank"].value = "sgd", 0.01, 2
    assert ex.result is first  # back to the first settings: the cached fit, not a refit


@pytest.mark.parametrize("method", ["sgd", "gd", "adam", "svd"])
def test_every_method(method):
    ex = explore(labmf.lab_matrix(), labmf.lab_mask(), method=method, num_epochs=200, threaded=False)
    assert ex.result is not None and ex.result.loss < 5
    assert ex.result.method == method  # Adam: the compiled one (labmf.factorise.factorise_adam)


def test_svd_with_hidden_entries_fits_the_zero_filled_matrix():
    A, M = labmf.lab_matrix(), labmf.lab_mask()
    res = fit(A, Settings("svd", 2, hidden=((1, 0), (2, 1))))
    ref = labmf.factorise_svd(A * M, None, 2)
    assert torch.allclose(res.reconstruction, ref.reconstruction)
    assert res.loss == pytest.approx(float((((A - ref.reconstruction) * M) ** 2).sum()), rel=1e-5)


def test_divergence_is_shown_not_raised():
    ex = explore(lr=1.0, num_epochs=1000, threaded=False)
    assert ex.result is None and "no fit (DivergenceError" in ex.summary
    assert ex.png.startswith(b"\x89PNG")


def test_static_display_without_a_widget_front_end():
    bundle = explore(threaded=False)._repr_mimebundle_()
    assert {"image/png", "text/plain", WIDGET} <= set(bundle)
    assert bundle["text/plain"].startswith("per-entry SGD, rank 2")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "newton"}, r"method must be one of .*'newton'"),
    ({"rank": 0}, r"rank"),
    ({"rank": 4}, r"rank"),
    ({"lr": -1.0}, r"lr"),
    ({"num_epochs": 1.5}, r"num_epochs"),
    ({"seed": -1}, r"seed"),
    ({"mask": torch.ones(2, 2)}, r"mask must have A's shape \(3, 3\)"),
])
def test_bad_input(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        explore(threaded=False, **kwargs)


def test_bad_update_keeps_the_fit():
    ex = explore(threaded=False)
    before = (ex.settings, ex.result)
    with pytest.raises(ValueError, match="rank"):
        ex.update(rank=7)
    assert (ex.settings, ex.result) == before


def test_a_newer_request_supersedes_a_running_fit():
    fits, shown, started = Fits(threaded=True), [], threading.Event()

    def slow(callback):
        started.set()
        for epoch in range(1, 2000):
            time.sleep(0.001)
            callback(epoch, 0.0)
        return "slow"

    fits.request("a", slow, shown.append)
    assert started.wait(5)
    fits.request("b", lambda cb: "fast", shown.append)
    deadline = time.time() + 5
    while not shown and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert shown == ["fast"] and "a" not in fits.cache


def test_recommendations(q4):
    layout = q4.layout
    assert q4.row == layout.find_title("A Beautiful Mind") and q4.user_col == 4
    assert "predicted" in q4.summary and "user column 4" in q4.summary
    top = q4.top_frame()
    assert len(top) == 10 and list(top.index) == list(range(1, 11))
    rows = [layout.titles.index(t) for t in top["title"]]
    assert not any(layout.is_rated(r, 4) for r in rows)
    assert top["predicted rating"].is_monotonic_decreasing


def test_recommendations_reuse_the_fit(q4):
    first = q4.result
    q4.update(user_col=7, movie="Toy Story")
    assert q4.result is first and "Toy Story" in q4.summary and "user column 7" in q4.summary
    assert ("rated it" in q4.summary) == q4.layout.is_rated(q4.row, 7)
    q4.update(user_col=4, movie="A Beautiful Mind")


def test_recommendation_widgets(q4):
    assert q4.widget is not None
    c = q4.controls
    c["user_col"].value = 5
    assert "user column 5" in q4.summary and "user column 5" in c["table"].value
    c["movie"].value = "Toy Story (1995)"
    assert q4.layout.titles[q4.row] == "Toy Story (1995)"
    c["movie"].value = ""  # a cleared box keeps the movie on display
    assert q4.layout.titles[q4.row] == "Toy Story (1995)"
    bundle = q4._repr_mimebundle_()
    assert {"image/png", "text/plain", WIDGET} <= set(bundle)


def test_recommendation_bad_input(q4):
    with pytest.raises(ValueError, match="user_col"):
        explore_recommendations(q4.layout, user_col=10**6, threaded=False)
    with pytest.raises(TypeError, match="layout must be a LabLayout"):
        explore_recommendations(42, threaded=False)
    with pytest.raises(ValueError, match="user_col"):
        q4.update(user_col=-1)


# ---------------------------------------------------------------- issue 21, items 8-11


@pytest.mark.parametrize("typed, title", [
    ("A Beautiful Mind", "Beautiful Mind, A (2001)"),
    ("Toy Story", "Toy Story (1995)"),
    ("matrix, the (1999)", "Matrix, The (1999)"),
    ("  toy STORY (1995) ", "Toy Story (1995)"),
])
def test_title_box_takes_natural_titles(q4, typed, title):
    assert q4.widget is not None
    c = q4.controls
    c["movie"].value = typed
    assert q4.layout.titles[q4.row] == title and title in q4.summary
    assert c["movie"].value == title  # the box shows the title it matched
    assert title.split(" (")[0].split(",")[0] in c["status"].value


def test_title_box_says_no_such_title_with_suggestions(q4):
    assert q4.widget is not None
    c = q4.controls
    c["movie"].value = "Toy Story"
    c["movie"].value = "Toy Stroy"
    status = c["status"].value
    assert "no such title: &#x27;Toy Stroy&#x27;; did you mean" in status and "Toy Story (1995)" in status
    assert "predicted" not in status  # never the previous movie's answer under the new text
    assert c["movie"].value == "Toy Stroy"
    c["movie"].value = "Toy Story"
    assert "predicted" in c["status"].value and c["movie"].value == "Toy Story (1995)"


def test_unknown_title_from_code_names_it(q4):
    with pytest.raises(KeyError, match=r"no such title: 'Zzzq Qqzz'"):
        q4.update(movie="Zzzq Qqzz")


def test_running_fit_marks_the_view_stale_at_once(monkeypatch):
    import labmf.explore.views as views

    release, real_fit = threading.Event(), views.fit
    ex = explore(threaded=True)
    ex.update(wait=True)
    assert ex.widget is not None

    def held(A, s, callback=None):
        assert release.wait(10)
        return real_fit(A, s, callback)

    monkeypatch.setattr(views, "fit", held)
    c = ex.controls
    c["seed"].value = 7  # a fresh fit: held until released
    assert c["status"].value.startswith("<i>fitting \u2026 per-entry SGD, rank 2, lr 0.01, seed 7")
    assert "labmf-stale" in c["figure"]._dom_classes and "labmf-stale" in c["matrices"]._dom_classes
    release.set()
    deadline = time.time() + 10
    while "labmf-stale" in c["figure"]._dom_classes and time.time() < deadline:
        time.sleep(0.01)
    assert "labmf-stale" not in c["figure"]._dom_classes and "seed 7: SSE" in c["status"].value
    c["seed"].value = 0  # cached: no stale marking at all
    assert "fitting" not in c["status"].value


def test_svd_view_disables_what_does_not_apply():
    ex = explore(labmf.lab_matrix(), labmf.lab_mask(), threaded=False)
    assert ex.widget is not None
    c = ex.controls
    c["method"].value = "svd"
    assert all(c[name].disabled for name in ("lr", "num_epochs", "seed"))
    line, ax = ex._plot.line, ex._plot.ax
    assert len(line.get_xdata()) == 0 and ex._plot.fit_level.get_visible()  # no curve over fake epochs
    lo, hi = ax.get_ylim()
    assert any(lo <= t <= hi for t in ax.get_yticks())  # a labelled y tick
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("truncated SVD (hidden set to 0), SSE" in t for t in labels)
    assert "rank-2 SVD of the full matrix 0.1219 (a reference, not a bound)" in labels
    assert "optimum" not in ex.summary and "of the full matrix 0.1219 (a reference" in ex.summary
    c["method"].value = "sgd"
    assert not any(c[name].disabled for name in ("lr", "num_epochs", "seed"))
    assert len(line.get_xdata()) == 1001 and not ex._plot.fit_level.get_visible()


def test_full_matrix_svd_is_still_the_optimum():
    ex = explore(threaded=False)
    assert "rank-2 SVD optimum 0.1219" in ex.summary


def test_live_figure_is_legible():
    from io import BytesIO

    from PIL import Image

    ex = explore(labmf.lab_matrix(), labmf.lab_mask(), threaded=False)
    width, height = Image.open(BytesIO(ex.png)).size
    assert width >= 640 and height >= 340
    sizes = [t.get_fontsize() for t in ex._plot.ax.get_legend().get_texts()]
    assert min(sizes) >= 7  # points
    assert ex.widget is not None
    html = ex.controls["matrices"].value
    assert "outline:" not in html and "box-shadow: inset 0 0 0 3px red;" in html and "padding: 6px 10px" in html


def test_sliders_reach_their_ends():
    ex = explore(threaded=False)
    assert ex.widget is not None
    epochs = ex.controls["num_epochs"]
    assert (epochs.max - epochs.min) % epochs.step == 0
    for value in (epochs.max, epochs.min, 1000):
        epochs.value = value
        assert ex.settings.num_epochs == value == epochs.value


def test_repr_in_a_terminal_is_the_summary():
    ex = explore(threaded=False)
    assert repr(ex) == f"<Explorer: {ex.summary}>" and "SSE 0.12" in repr(ex)


def test_a_fit_at_the_float_floor_is_not_called_still_falling():
    # Issue 21 item 1: the explorer said "loss still falling" at SSE 9.5e-12; one rule (labmf.convergence) now.
    for method, lr in (("gd", 0.1), ("sgd", 0.1), ("adam", 0.05)):
        ex = explore(labmf.lab_matrix(), labmf.lab_mask(), method=method, lr=lr, threaded=False)
        assert ex.result.loss < 1e-9 and "still falling" not in ex.summary, ex.summary
    slow = explore(labmf.lab_matrix(), labmf.lab_mask(), method="gd", lr=1e-3, threaded=False)
    assert "(loss still falling: more epochs or a larger lr)" in slow.summary
