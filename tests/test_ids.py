"""Ids and titles in, ids and titles out (issue 13, item 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labmf.data import LabLayout, UnknownIdError, find_title, lab_layout
from labrec import BiasedMF, Ensemble, GlobalMean, ItemMean, Ratings, cross_validate, load_movielens, load_ratings

FAST = {"rank": 3, "num_epochs": 5, "seed": 0}


def _table() -> Ratings:
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6))) for u in range(12) for i in range(9) if (u + i) % 3]
    return load_ratings(rows, titles={f"i{i}": f"Title {i}" for i in range(8)})  # i8 has no title


@pytest.fixture(scope="module")
def small() -> Ratings:
    return load_movielens("small")


# ------------------------------------------------------------------ models


def test_fit_on_a_table_then_predict_by_ids():
    R = _table()
    model = BiasedMF(**FAST).fit(R)
    assert model.ids_.users is R.users and model.ids_.titles[R.item[0]] == "Title 1"
    one = model.predict("u3", "i5")
    assert isinstance(one, float)
    many = model.predict(["u3", "u0"], np.array(["i5", "i2"]))
    assert isinstance(many, np.ndarray) and many.shape == (2,) and many[0] == one
    # The same numbers as a fit on the positions.
    u, i, nu, ni = R.indexed()
    positional = BiasedMF(**FAST).fit(u, i, R.rating, nu, ni)
    assert positional.ids_ is None
    assert positional.predict(R.users.index("u3"), R.items.index("i5")) == one


def test_unknown_ids_raise_a_key_error_naming_them():
    model = BiasedMF(**FAST).fit(_table())
    with pytest.raises(KeyError, match="unknown user id 'u99'"):
        model.predict("u99", "i1")
    with pytest.raises(UnknownIdError, match="unknown item id 'zz'"):
        model.predict(["u1", "u2"], ["i1", "zz"])
    with pytest.raises(KeyError, match=r"unknown item id 3: .*ids look like 'i0', 'i1', 'i2'"):
        model.predict("u1", 3)  # a position where an id is expected
    with pytest.raises(KeyError, match="unknown user id 'nobody'"):
        model.recommend("nobody")


def test_recommend_returns_ids_titles_and_scores():
    R = _table()
    model = BiasedMF(**FAST).fit(R)
    rec = model.recommend("u0", n=3)
    assert isinstance(rec, pd.DataFrame) and list(rec.columns) == ["item", "title", "score"]
    seen = set(R.item[R.user == "u0"].tolist())
    assert len(rec) == 3 and not seen & set(rec["item"])
    assert rec["score"].is_monotonic_decreasing
    assert rec["title"].tolist() == [R.titles.get(k) for k in rec["item"]]
    assert rec["score"].iloc[0] == pytest.approx(model.predict("u0", rec["item"].iloc[0]), abs=2)
    # After a fit on positions: item positions, no title column.
    u, i, nu, ni = R.indexed()
    rec = BiasedMF(**FAST).fit(u, i, R.rating).recommend(0, n=3)
    assert list(rec.columns) == ["item", "score"] and rec["item"].dtype == np.int64


def test_fit_arguments_and_a_failed_refit_keep_the_ids():
    R = _table()
    model = BiasedMF(**FAST).fit(R)
    with pytest.raises(TypeError, match="do not also pass item_idx"):
        model.fit(R, [0])
    with pytest.raises(TypeError, match="without item_idx and ratings"):
        BiasedMF().fit([0, 1])
    with pytest.raises(ValueError):
        model.fit([0], [0], [np.nan])  # refused before anything changes
    assert model.ids_.users is R.users and isinstance(model.predict("u1", "i1"), float)


def test_eval_set_may_be_a_table():
    R = _table()
    keep = np.arange(len(R)) % 5 != 0
    train = Ratings(R.user[keep], R.item[keep], R.rating[keep], titles=R.titles)
    test = Ratings(R.user[~keep], R.item[~keep], R.rating[~keep])
    model = BiasedMF(**FAST).fit(train, eval_set=test)
    assert model.eval_rmse_.shape == (5,)
    with pytest.raises(TypeError, match="eval_set is a Ratings table"):
        BiasedMF(**FAST).fit(*R.indexed()[:2], R.rating, eval_set=test)


@pytest.mark.parametrize("make", [lambda: GlobalMean(), lambda: ItemMean(1.0),
                                  lambda: Ensemble([BiasedMF(**FAST), BiasedMF(**{**FAST, "seed": 1})])])
def test_every_model_takes_ids(make):
    R = _table()
    model = make().fit(R)
    assert isinstance(model.predict("u1", "i2"), float)
    assert model.predict(["u1"], ["i2"]).shape == (1,)
    with pytest.raises(KeyError, match="'u99'"):
        model.predict("u99", "i2")
    if isinstance(model, Ensemble):
        assert list(model.recommend("u1", n=2).columns) == ["item", "title", "score"]


def test_cross_validate_on_a_table_keeps_positions():
    R = _table()
    res = cross_validate(lambda: GlobalMean(), R, 3)
    assert res.n_folds == 3 and res.models[0].ids_ is None


# ------------------------------------------------------------------ titles


def test_one_title_lookup_on_ratings_and_layout(small):
    assert small.find_title("A Beautiful Mind") == 4995  # an item id
    assert small.title(4995) == "Beautiful Mind, A (2001)"
    assert find_title(small.titles, "Toy Story") == 1  # a mapping works, as a list does
    layout = lab_layout(small)
    row = layout.find_title("A Beautiful Mind")  # a row
    assert layout.movie_ids[row] == 4995 and layout.title(row) == small.title(4995)
    assert [t for _, t in layout.search_titles("beautiful mind", n=1)] == ["Beautiful Mind, A (2001)"]


def test_a_year_selects_and_true_ties_name_their_ids(small):
    assert small.find_title("Hamlet (1996)") == 1411
    with pytest.raises(ValueError, match="add the year"):
        small.find_title("Hamlet")
    # MovieLens really has two films called "Hamlet (2000)": ids 3598 and 65665.
    with pytest.raises(ValueError, match=r"2 titles match 'Hamlet \(2000\)'.*\[3598\].*\[65665\]"):
        small.find_title("Hamlet (2000)")
    assert small.find_title("Heat (1995)") == 6


def test_fuzzy_suggestions_and_unknown_keys(small):
    with pytest.raises(KeyError, match=r"no title matches 'Hamlett'; closest: \['Hamlet"):
        small.find_title("Hamlett")
    hits = small.search_titles("matrix", n=3)
    assert hits[0] == (2571, "Matrix, The (1999)")
    with pytest.raises(UnknownIdError, match="no title for item 999999"):
        small.title(999999)  # never "movie 999999"
    L = LabLayout(torch.zeros(2, 1), ["A", None], np.arange(2), np.arange(1))
    with pytest.raises(KeyError, match="row 1 has no title"):
        L.title(1)
    with pytest.raises(KeyError, match="no title for row 5"):
        L.title(5)
    with pytest.raises(TypeError, match="query must be a title"):
        small.find_title(4995)
