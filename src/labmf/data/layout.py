"""The course's Q4 layout: a dense movies x users matrix.

:func:`lab_layout` lays MovieLens ratings (:func:`~labmf.data.read_movielens`) out like
the course's ``ratings.pt``; ``layout.find_title("A Beautiful Mind")`` finds the
row of MovieLens' ``"Beautiful Mind, A (2001)"`` (:mod:`labmf.data.titles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_index, check_scalar
from .titles import TitleLookup

__all__ = ["LabLayout", "lab_layout"]


@dataclass(frozen=True, eq=False)
class LabLayout(TitleLookup):
    """A dense **movies x users** ratings matrix laid out like the course's ``ratings.pt``.

    Attributes
    ----------
    ratings : Tensor of float32, shape (n_movies, n_users)
        ``ratings[i, j]`` is user ``j``'s rating of movie ``i``; 0 means *unrated*
        (never a rating: MovieLens' lowest star is 0.5, Netflix's is 1).
    titles : list of str (or None), length n_movies
        Title of each row (None when the source has none); :meth:`title`,
        :meth:`find_title` and :meth:`search_titles` work by row, as on
        :class:`~labrec.Ratings` by item id.
    movie_ids : numpy.ndarray of int64 (or str), shape (n_movies,)
        Source id of each row (MovieLens movie id; the row number for the course data).
    user_ids : numpy.ndarray of int64 (or str), shape (n_users,)
        Source id of each column (MovieLens user id; the column number for the course data).
    name : str
        Where the data came from.
    """

    ratings: torch.Tensor
    titles: list
    movie_ids: np.ndarray
    user_ids: np.ndarray
    name: str = ""

    _title_key = "row"

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

    def is_rated(self, row: int, col: int) -> bool:
        """Whether user ``col`` rated movie ``row`` (a 0 entry is *unrated*)."""
        m, n = self.shape
        row = check_index(row, "row", m)
        col = check_index(col, "col", n)
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


def lab_layout(ratings, n_movies: int = 1000, n_users: int = 10000) -> LabLayout:
    """Build the course's **movies x users** layout (rows = popular movies, columns = active users).

    Rows are the ``n_movies`` movies with the most ratings; columns are the (up to)
    ``n_users`` users with the most ratings *among those movies*, so the ratings
    per column, ``layout.mask.sum(0)``, never increase from left to right. Ties go
    by increasing id; users with no rating among the chosen movies are left out.

    Parameters
    ----------
    ratings : MovieLens or labrec.Ratings
        One rating per (user, movie) pair: any table with ``user``, ``item``, ``rating``
        (arrays, shape (nnz,)), ``titles`` (item id -> title) and ``name``.
    n_movies : int
        Number of rows (at most the number of movies).
    n_users : int
        Maximum number of columns (fewer when the data have fewer users).

    Returns
    -------
    LabLayout
        For the embedded ml-latest-small: 1000 x 671, 62,397 ratings.
    """
    if not all(hasattr(ratings, a) for a in ("user", "item", "rating", "titles", "name")):
        raise TypeError(f"ratings must be a Ratings table (or read_movielens' rows), got {type(ratings).__name__}")
    n_movies = check_scalar(n_movies, "n_movies", int, min_val=1, max_val=len(np.unique(ratings.item)))
    n_users = check_scalar(n_users, "n_users", int, min_val=1)
    if len(ratings.rating) and float(ratings.rating.min()) <= 0:
        # 0 means "unrated" in this layout, so a stored rating must be positive.
        raise ValueError(f"the lab layout needs ratings > 0 (0 marks an unrated cell), found "
                         f"{float(ratings.rating.min()):g}")
    rows = _by_count(ratings.item, n_movies)
    keep = np.isin(ratings.item, rows)
    cols = _by_count(ratings.user[keep], n_users)
    keep &= np.isin(ratings.user, cols)
    R = torch.zeros(len(rows), len(cols), dtype=torch.float32)
    R[torch.from_numpy(_positions(rows, ratings.item[keep])),
      torch.from_numpy(_positions(cols, ratings.user[keep]))] = torch.from_numpy(ratings.rating[keep].copy())
    return LabLayout(R, [ratings.titles.get(m.item()) for m in rows], rows, cols,
                     name=f"{ratings.name}: top {len(rows)} movies x {len(cols)} users")
