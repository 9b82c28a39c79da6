"""The course's Q4 layout (a dense movies x users matrix) and movie-title lookup.

:func:`lab_layout` lays a MovieLens :class:`~labmf.data.movielens.Ratings` table
out like the course's ``ratings.pt``; :func:`find_title` finds the course's
``"A Beautiful Mind"`` among MovieLens' ``"Beautiful Mind, A (2001)"``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_scalar
from .movielens import Ratings

__all__ = ["LabLayout", "lab_layout", "normalise_title", "find_title"]


@dataclass(frozen=True, eq=False)
class LabLayout:
    """A dense **movies x users** ratings matrix laid out like the course's ``ratings.pt``.

    Attributes
    ----------
    ratings : Tensor of float32, shape (n_movies, n_users)
        ``ratings[i, j]`` is user ``j``'s rating of movie ``i``; 0 means *unrated*
        (never a rating: MovieLens' lowest star is 0.5, Netflix's is 1).
    titles : list of str, length n_movies
        Title of each row.
    movie_ids : numpy.ndarray of int64, shape (n_movies,)
        Source id of each row (MovieLens movie id; the row number for the course data).
    user_ids : numpy.ndarray of int64, shape (n_users,)
        Source id of each column (MovieLens user id; the column number for the course data).
    name : str
        Where the data came from.
    """

    ratings: torch.Tensor
    titles: list
    movie_ids: np.ndarray
    user_ids: np.ndarray
    name: str = ""

    def __post_init__(self):
        R = self.ratings
        if not isinstance(R, torch.Tensor) or R.ndim != 2:
            raise ValueError(f"ratings must be a 2-D tensor (movies x users), got {type(R).__name__}")
        m, n = R.shape
        if len(self.titles) != m:
            raise ValueError(f"titles must have one entry per row: ratings has {m} rows, titles has "
                             f"{len(self.titles)} entries")
        if len(self.movie_ids) != m or len(self.user_ids) != n:
            raise ValueError(f"movie_ids / user_ids must have lengths {m} / {n}, got "
                             f"{len(self.movie_ids)} / {len(self.user_ids)}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_movies, n_users)``."""
        return tuple(self.ratings.shape)

    @property
    def mask(self) -> torch.Tensor:
        """1.0 where a rating is observed (``ratings > 0``), shape (n_movies, n_users)."""
        return (self.ratings > 0).to(self.ratings.dtype)

    @property
    def nnz(self) -> int:
        """Number of observed ratings."""
        return int((self.ratings > 0).sum())

    def find_title(self, query: str) -> int:
        """Row of the movie called ``query`` (see :func:`find_title`)."""
        return find_title(self.titles, query)

    def is_rated(self, row: int, col: int) -> bool:
        """Whether user ``col`` rated movie ``row`` (a 0 entry is *unrated*)."""
        m, n = self.shape
        row = check_scalar(row, "row", int, min_val=0, max_val=m - 1)
        col = check_scalar(col, "col", int, min_val=0, max_val=n - 1)
        return bool(self.ratings[row, col] > 0)

    def __repr__(self) -> str:
        m, n = self.shape
        return f"LabLayout(name={self.name!r}, shape=({m}, {n}), ratings={self.nnz})"


def _by_count(ids: np.ndarray, limit: int) -> np.ndarray:
    """The (up to) ``limit`` most frequent values of ``ids``; ties by increasing id."""
    uniq, counts = np.unique(ids, return_counts=True)
    return uniq[np.lexsort((uniq, -counts))[:limit]]


def _positions(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index in ``ordered`` (distinct ids) of each of ``values`` (all present)."""
    order = np.argsort(ordered, kind="stable")
    return order[np.searchsorted(ordered[order], values)].astype(np.int64)


def lab_layout(ratings: Ratings, n_movies: int = 1000, n_users: int = 10000) -> LabLayout:
    """Build the course's **movies x users** layout (rows = popular movies, columns = active users).

    Rows are the ``n_movies`` movies with the most ratings; columns are the (up to)
    ``n_users`` users with the most ratings *among those movies*, so the ratings
    per column, ``layout.mask.sum(0)``, never increase from left to right. Ties go
    by increasing id; users with no rating among the chosen movies are left out.

    Parameters
    ----------
    ratings : Ratings
        One rating per (user, movie) pair.
    n_movies : int
        Number of rows (at most the number of movies).
    n_users : int
        Maximum number of columns (fewer when the data have fewer users).

    Returns
    -------
    LabLayout
        For the embedded ml-latest-small: 1000 x 671, 62,397 ratings.
    """
    if not isinstance(ratings, Ratings):
        raise TypeError(f"ratings must be a Ratings table, got {type(ratings).__name__}")
    n_movies = check_scalar(n_movies, "n_movies", int, min_val=1, max_val=ratings.n_items)
    n_users = check_scalar(n_users, "n_users", int, min_val=1)
    # Sort the pairs rather than key them by user * n + item, which can overflow int64.
    order = np.lexsort((ratings.item, ratings.user))
    u, i = ratings.user[order], ratings.item[order]
    dup = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    if dup.any():
        k = int(np.argmax(dup))
        raise ValueError(f"ratings has {int(dup.sum())} duplicate (user, movie) pair(s), first "
                         f"(user {u[k]}, movie {i[k]}); keep one rating per pair")

    rows = _by_count(ratings.item, n_movies)
    keep = np.isin(ratings.item, rows)
    cols = _by_count(ratings.user[keep], n_users)
    keep &= np.isin(ratings.user, cols)
    R = torch.zeros(len(rows), len(cols), dtype=torch.float32)
    R[torch.from_numpy(_positions(rows, ratings.item[keep])),
      torch.from_numpy(_positions(cols, ratings.user[keep]))] = torch.from_numpy(ratings.rating[keep].copy())
    return LabLayout(R, [ratings.title(m) for m in rows], rows.astype(np.int64), cols.astype(np.int64),
                     name=f"{ratings.name}: top {len(rows)} movies x {len(cols)} users")


_YEAR = re.compile(r"\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
# MovieLens moves leading articles to the end: "Beautiful Mind, A (2001)".
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.*),\s*(?P<art>the|a|an|les|la|le|l'|il|el|los|las|die|der|das|den|det)$",
    re.IGNORECASE,
)


def normalise_title(title: str) -> tuple[str, int | None]:
    """Canonical form of a movie title and its year (``None`` when absent).

    ``"Beautiful Mind, A (2001)"`` and ``"A Beautiful Mind"`` both give
    ``"a beautiful mind"``: the trailing year is split off, a trailing article
    ("X, The") moves to the front, an "a.k.a." part is dropped, and accents, case,
    punctuation and "&" vs "and" are ignored.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    s, year = title.strip(), None
    m = _YEAR.search(s)
    if m:
        year, s = int(m.group(1)), s[: m.start()]
    s = re.sub(r"\s*\((?:a\.k\.a\.|aka)[^)]*\)", "", s, flags=re.IGNORECASE).strip()
    m = _TRAILING_ARTICLE.match(s)
    if m:
        s = f"{m.group('art')} {m.group('body')}"
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9]+", " ", s.replace("&", " and "))
    return " ".join(s.split()), year


def find_title(titles, query: str) -> int:
    """Index in ``titles`` of the title matching ``query`` (compared by :func:`normalise_title`).

    A year in ``query`` must match the title's year when the title has one.

    Raises
    ------
    KeyError
        No title matches (the message lists close candidates).
    ValueError
        Several titles match (the message lists them; add the year).
    """
    key, year = normalise_title(query)
    if not key:
        raise ValueError(f"query must contain letters or digits, got {query!r}")
    normal = [normalise_title(t) for t in titles]
    hits = [i for i, (k, y) in enumerate(normal) if k == key and (year is None or y is None or y == year)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        close = difflib.get_close_matches(key, [k for k, _ in normal], n=5, cutoff=0.6)
        suggestions = [titles[i] for i, (k, _) in enumerate(normal) if k in close][:5]
        raise KeyError(f"no title matches {query!r}; close titles: {suggestions}")
    raise ValueError(f"{len(hits)} titles match {query!r}: {[titles[i] for i in hits]}; add the year")
