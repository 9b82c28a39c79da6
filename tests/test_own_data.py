"""load_ratings: a user's own ratings from a CSV path, a DataFrame or rows (issue 13, item 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labrec import Ratings, load_ratings


def _csv(tmp_path, text: str, name: str = "r.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ sources


def test_csv_with_string_ids_titles_and_timestamps(tmp_path):
    path = _csv(tmp_path, "who,what,stars,when,name\n"
                          "u17,m1,4.5,1000,Dune\n"
                          "u17,m2,3,1001,Emma\n"
                          "\n"  # a blank line is skipped
                          "u2,m1,5,2020-01-02,Dune\n")
    R = load_ratings(path, user="who", item="what", rating="stars", timestamp="when", title="name")
    assert isinstance(R, Ratings) and len(R) == 3 and R.name == "r.csv"
    assert R.user.tolist() == ["u17", "u17", "u2"] and R.item.dtype.kind == "U"
    assert R.rating.tolist() == [4.5, 3.0, 5.0]
    assert R.timestamp.tolist() == [1000, 1001, 1577923200]  # an ISO date becomes epoch seconds
    assert R.titles == {"m1": "Dune", "m2": "Emma"}
    # Id maps both ways.
    assert R.user_ids.tolist() == ["u17", "u2"]  # sorted as strings
    assert R.users.index("u2") == 1 and R.users.index(["u2", "u17"]).tolist() == [1, 0]
    assert R.items.id(1) == "m2" and "m9" not in R.items
    frame = R.to_frame()
    assert list(frame.columns) == ["user", "item", "rating", "timestamp", "title"]
    assert frame.title.tolist() == ["Dune", "Emma", "Dune"]


def test_numeric_ids_are_integers_and_timestamps_optional(tmp_path):
    R = load_ratings(_csv(tmp_path, "user,item,rating\n17,1000,4\n3,1000,2.5\n"))
    assert R.user.dtype == np.int64 and R.user.tolist() == [17, 3]
    assert R.timestamp is None and R.titles == {}
    assert list(R.to_frame().columns) == ["user", "item", "rating"]
    # "2.0" is the whole number 2; ids mixing numbers and text stay text.
    assert load_ratings(_csv(tmp_path, "user,item,rating\n2.0,1,4\n")).user.tolist() == [2]
    assert load_ratings(_csv(tmp_path, "user,item,rating\n1.5,1,4\nx,1,3\n")).user.tolist() == ["1.5", "x"]


def test_dataframe_with_chosen_columns():
    df = pd.DataFrame({"customer": ["a", "b", "a"], "book": [10, 10, 20], "score": [1.0, 2.0, 3.0],
                       "book_title": ["Ten", "Ten", None]})
    R = load_ratings(df, user="customer", item="book", rating="score", title="book_title", name="shop")
    assert R.name == "shop" and R.item.dtype == np.int64 and R.titles == {10: "Ten"}
    assert R.title(10) == "Ten"
    with pytest.raises(KeyError, match="20"):
        R.title(20)  # a row without a title gives none; never a made-up one
    # A dict of columns works the same way.
    assert len(load_ratings({"user": [1, 2], "item": [1, 1], "rating": [3, 4]})) == 2


def test_rows_with_and_without_timestamps():
    R = load_ratings([("u1", "i1", 4), ("u1", "i2", 2.5), ("u2", "i1", 5)], titles={"i1": "One"})
    assert R.user.tolist() == ["u1", "u1", "u2"] and R.timestamp is None and R.titles == {"i1": "One"}
    R = load_ratings([(1, 7, 4, 100), (2, 7, 3, 200)])
    assert R.timestamp.tolist() == [100, 200]
    with pytest.raises(ValueError, match=r"row 1: expected \(user, item, rating\)"):
        load_ratings([(1, 7, 4), (2, 7)])
    with pytest.raises(ValueError, match="pass titles="):
        load_ratings([(1, 7, 4)], title="name")


# ---------------------------------------------------------------- bad rows


@pytest.mark.parametrize("body, message", [
    ("1.5,1,4\n2,1,3\n", r"line 2 of r.csv: user id '1.5' is not a whole number"),
    ("1,1,4\n2,1,40\n", r"line 3 of r.csv: rating 40 is outside the scale \[1, 5\]"),
    ("1,1,4\n2,1,abc\n", r"line 3 of r.csv: rating 'abc' is missing or not a finite number"),
    ("1,1,4\n,1,3\n", r"line 3 of r.csv: user id '' is missing"),
    ("1,1,4\n2,1\n", r"line 3 of r.csv: 2 fields, but the header has 3"),
    ("1,1,4\n2,1,3\n1,1,5\n", r"line 4 of r.csv rates \(user 1, item 1\) again, first rated on line 2"),
])
def test_bad_rows_are_refused_with_where_and_why(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        load_ratings(_csv(tmp_path, "user,item,rating\n" + body), scale=(1, 5))


def test_bad_rows_in_a_dataframe_name_the_row_and_label():
    df = pd.DataFrame({"user": [1.0, 2.5], "item": [1, 2], "rating": [3, 4]}, index=["a", "b"])
    with pytest.raises(ValueError, match=r"row 1 \(index 'b'\): user id 2.5 is not a whole number"):
        load_ratings(df)
    with pytest.raises(ValueError, match="row 1: user id nan is missing"):
        load_ratings(pd.DataFrame({"user": ["a", np.nan], "item": [1, 2], "rating": [3, 4]}))
    with pytest.raises(ValueError, match=r"row 1: item 1 is titled 'B', but 'A' on row 0"):
        load_ratings(pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [3, 4], "t": ["A", "B"]}), title="t")


def test_missing_columns_list_the_ones_there_are(tmp_path):
    path = _csv(tmp_path, "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n")
    with pytest.raises(ValueError, match=r"user column 'user' not found in r.csv; its columns are \['userId'"):
        load_ratings(path)
    R = load_ratings(path, user="userId", item="movieId", timestamp="timestamp")
    assert (R.user[0], R.item[0], R.timestamp[0]) == (1, 31, 1260759144)
    with pytest.raises(ValueError, match="holds no ratings"):
        load_ratings(_csv(tmp_path, "user,item,rating\n"))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_ratings(tmp_path / "nope.csv")


def test_duplicates_last_or_mean(tmp_path):
    path = _csv(tmp_path, "user,item,rating,ts\na,x,1,10\nb,x,5,11\na,x,3,12\na,y,2,13\n")
    last = load_ratings(path, timestamp="ts", duplicates="last")
    assert last.to_frame().values.tolist() == [["b", "x", 5.0, 11], ["a", "x", 3.0, 12], ["a", "y", 2.0, 13]]
    mean = load_ratings(path, timestamp="ts", duplicates="mean")
    assert mean.to_frame().values.tolist() == [["b", "x", 5.0, 11], ["a", "x", 2.0, 12], ["a", "y", 2.0, 13]]
    with pytest.raises(ValueError, match="duplicates must be one of"):
        load_ratings(path, duplicates="first")


def test_titles_mapping_must_match_the_id_type():
    rows = [(1, 7, 4.0)]
    assert load_ratings(rows, titles={"7": "Seven"}).titles == {7: "Seven"}  # "7" read as the number 7
    with pytest.raises(TypeError, match="titles keys are strings but the item ids are integers"):
        load_ratings(rows, titles={"m7": "Seven"})
    with pytest.raises(TypeError, match=r"titles\[7\] must be a string"):
        load_ratings(rows, titles={7: 7})


def test_ratings_table_checks_without_the_loader():
    with pytest.raises(TypeError, match="item must hold integers, got dtype float64"):
        Ratings([1], [1.5], [4.0])
    with pytest.raises(ValueError, match=r"rating\[1\] = 40 is outside scale \(1, 5\)"):
        Ratings([1, 2], [1, 1], [4.0, 40.0], scale=(1, 5))
    with pytest.raises(ValueError, match=r"duplicate \(user, item\) pair\(s\), first \(user 'a', item 'x'\)"):
        Ratings(["a", "a"], ["x", "x"], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"rating must be finite, found rating\[0\] = nan"):
        Ratings([1], [1], [np.nan])


def test_load_movielens_points_a_csv_to_load_ratings(tmp_path):
    from labrec import load_movielens

    for name in ("small", "100k"):
        with pytest.raises(ValueError, match=r"load_ratings\(path, user=\.\.\."):
            load_movielens(name, path=tmp_path / "ratings.csv")
