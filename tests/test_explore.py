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
    assert ex.result.method.startswith({"adam": "autograd", "svd": "svd"}.get(method, method))


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
