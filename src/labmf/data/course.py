"""The course's own Q4 data: ``titles.csv`` (shipped) and ``ratings.pt`` (user-supplied).

COMP6258 Lab 1 gives a 1000 x 10000 tensor of Netflix Prize ratings (**movies x
users**: rows = the 1000 most-rated movies, columns = the 10000 most active users,
0 = unrated) and a ``titles.csv`` naming the rows. The titles ship with labmf; the
ratings do not (we could not obtain the file, nor its hash), so a user who has it
passes its path and labmf checks its shape and values instead of a hash.
:func:`load_lab_layout`, the Q4 notebook's entry point, returns a
:class:`~labmf.data.layout.LabLayout` from the embedded MovieLens data or the course files.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .download import check_sha256
from .layout import LabLayout, lab_layout
from .movielens import MOVIELENS_NAMES, read_movielens

__all__ = ["COURSE_SHAPE", "COURSE_TITLES_SHA256", "load_course_titles", "check_course_ratings",
           "load_course_ratings", "course_layout", "load_lab_layout"]

COURSE_SHAPE = (1000, 10000)
COURSE_TITLES_FILE = "comp6258-titles.csv"
COURSE_TITLES_SHA256 = "f1f37f48558fdd1306fc47bc8e86d8d556d9a08d013c3659087e9054f3fcdf90"
_RATINGS_URL = "https://ecs-vlc.github.io/COMP6258/labs/lab1/ratings.pt"


def load_course_titles(path=None) -> list[str]:
    """The course's movie titles in row order (``titles[124] == "A Beautiful Mind"``).

    Parameters
    ----------
    path : str or Path, optional
        A ``titles.csv`` with header ``movie,name`` and rows ``0..n-1`` in order.
        Default: the copy shipped with labmf (its sha256 is checked).
    """
    if path is None:
        path = Path(str(resources.files("labmf.data").joinpath("files", COURSE_TITLES_FILE)))
        check_sha256(path, COURSE_TITLES_SHA256, f"the shipped course titles {path}", "reinstall labmf")
    path = Path(path).expanduser()
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except UnicodeDecodeError as exc:
        raise ValueError(f"titles file {path} is not UTF-8 text; expected a CSV 'movie,name'") from exc
    if not rows or [h.strip() for h in rows[0][:2]] != ["movie", "name"]:
        raise ValueError(f"{path} must start with the header 'movie,name', got {rows[:1]}")
    titles = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2 or not row[0].strip().lstrip("-").isdigit():
            raise ValueError(f"{path}, line {lineno}: expected 'index,title', got {row!r}")
        if int(row[0]) != len(titles):
            raise ValueError(f"{path}, line {lineno}: movie index {int(row[0])} out of order "
                             f"(expected {len(titles)})")
        titles.append(",".join(row[1:]))
    return titles


def check_course_ratings(A, *, shape=COURSE_SHAPE, name: str = "ratings") -> torch.Tensor:
    """Return ``A`` if it is a course-like **movies x users** ratings matrix, else raise.

    Parameters
    ----------
    A : Tensor, shape ``shape``
        Dense floating tensor; 0 = unrated, ratings in [0.5, 5] (Netflix: 1-5 stars).
    shape : tuple of int or None
        Expected shape (``None``: any 2-D shape).
    name : str
        Used in the error messages.

    Raises
    ------
    TypeError
        Not a dense tensor, or not floating point.
    ValueError
        Wrong shape, NaN/inf, values below 0 or above 5 or in (0, 0.5), or no rating.
    """
    if not isinstance(A, torch.Tensor) or A.layout != torch.strided:
        got = type(A).__name__ if not isinstance(A, torch.Tensor) else f"a tensor with layout {A.layout}"
        raise TypeError(f"{name} must be a dense torch.Tensor, got {got}")
    if not A.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {A.dtype}")
    if A.ndim != 2 or (shape is not None and tuple(A.shape) != tuple(shape)):
        want = "2-D" if shape is None else f"shape {tuple(shape)} (movies x users)"
        raise ValueError(f"{name} must have {want}, got shape {tuple(A.shape)}")
    if not bool(torch.isfinite(A).all()):
        raise ValueError(f"{name} must be finite; found {int((~torch.isfinite(A)).sum())} NaN/inf")
    lo, hi = float(A.min()), float(A.max())
    if lo < 0:
        raise ValueError(f"{name} must not be negative (0 = unrated, ratings 0.5-5); found minimum {lo}")
    if hi > 5:
        raise ValueError(f"{name} must be at most 5 stars; found maximum {hi}")
    odd = (A > 0) & (A < 0.5)
    if bool(odd.any()):
        raise ValueError(f"{name} has {int(odd.sum())} value(s) between 0 and 0.5 (e.g. "
                         f"{float(A[odd][0])}); ratings are 0.5-5 and 0 means unrated")
    if not bool((A > 0).any()):
        raise ValueError(f"{name} holds no rating (all zeros)")
    return A


def load_course_ratings(path, *, shape=COURSE_SHAPE) -> torch.Tensor:
    """Load and check the course's ``ratings.pt`` (movies x users, 0 = unrated).

    Its hash is unknown, so it is checked by content (:func:`check_course_ratings`).
    It is read with ``torch.load(weights_only=True)``, which refuses pickled code.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"ratings file {path} not found; download ratings.pt from "
                                f"{_RATINGS_URL} and pass its path")
    expected = "a dense 2-D float tensor saved with torch.save"
    if path.stat().st_size == 0:
        raise ValueError(f"ratings file {path} is empty; expected {expected}")
    try:
        A = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails with KeyError, EOFError, UnpicklingError...
        raise ValueError(f"ratings file {path} is not readable by torch.load ({type(exc).__name__}); "
                         f"expected {expected}") from exc
    if isinstance(A, torch.Tensor) and A.layout != torch.strided:
        raise ValueError(f"ratings file {path} holds a {A.layout} tensor; expected {expected} "
                         f"(save A.to_dense())")
    return check_course_ratings(A, shape=shape, name=f"ratings ({path})")


def course_layout(ratings_path, titles_path=None, *, shape=COURSE_SHAPE) -> LabLayout:
    """The course's Q4 data as a movies x users :class:`LabLayout` (ids = row/column numbers).

    Parameters
    ----------
    ratings_path : str or Path
        The course's ``ratings.pt``.
    titles_path : str or Path, optional
        The course's ``titles.csv`` (default: the shipped copy).
    shape : tuple of int
        Expected shape of the ratings.
    """
    A = load_course_ratings(ratings_path, shape=shape)
    titles = load_course_titles(titles_path)
    if len(titles) != A.shape[0]:
        raise ValueError(f"titles must have one entry per row of the ratings: {A.shape[0]} rows but "
                         f"{len(titles)} titles")
    return LabLayout(A.to(torch.float32), titles, np.arange(A.shape[0], dtype=np.int64),
                     np.arange(A.shape[1], dtype=np.int64), name="COMP6258 lab 1 (Netflix Prize subset)")


def load_lab_layout(source: str = "movielens-small", *, ratings_path=None, titles_path=None,
                    n_movies: int = 1000, n_users: int = 10000) -> LabLayout:
    """The Q4 matrix (movies x users) from a named source.

    Parameters
    ----------
    source : {"movielens-small", "comp6258"} or a MovieLens name ("100k", "1m", ...)
        ``"movielens-small"``: the embedded ml-latest-small (2016) in the course's
        layout (offline). ``"comp6258"``: the course's files; needs ``ratings_path``.
    ratings_path, titles_path : str or Path, optional
        Course files (``"comp6258"`` only).
    n_movies, n_users : int
        Layout size for the MovieLens sources.
    """
    if source == "comp6258":
        if ratings_path is None:
            raise ValueError(f"source='comp6258' needs ratings_path: download ratings.pt from "
                             f"{_RATINGS_URL} and pass its path")
        return course_layout(ratings_path, titles_path)
    if not isinstance(source, str) or source not in MOVIELENS_NAMES:
        raise ValueError(f"source must be 'comp6258' or one of {sorted(MOVIELENS_NAMES)}, got {source!r}")
    if ratings_path is not None or titles_path is not None:
        raise ValueError("ratings_path / titles_path are for source='comp6258'")
    return lab_layout(read_movielens(source), n_movies=n_movies, n_users=n_users)
