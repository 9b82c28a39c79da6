"""Data: your own ratings, the lab's small matrices, MovieLens, the course's files.

Orientation: the lab layout (:class:`LabLayout`, notebook 04) is movies x users;
:class:`Ratings` tables (raw integer or string ids, from :func:`load_ratings` or
:func:`load_movielens`) feed the recommender, which is users x items. Titles are
looked up the same way on both (``title``, ``find_title``, ``search_titles``).
"""

from .course import (
    COURSE_SHAPE,
    check_course_ratings,
    course_layout,
    load_course_ratings,
    load_course_titles,
    load_lab_layout,
)
from .download import REGISTRY, DownloadError, RemoteFile, UnknownHashError, data_dir, fetch
from .lab import blog_matrix, lab_mask, lab_matrix
from .layout import LabLayout, lab_layout
from .movielens import load_movielens, read_movielens_zip
from .ratings import load_ratings
from .synthetic import NETFLIX_RATINGS, NETFLIX_SHAPE, SyntheticRatings, synthetic_ratings
from .table import IdMap, Ratings, UnknownIdError
from .titles import find_title, normalise_title, search_titles

__all__ = [
    "lab_matrix", "lab_mask", "blog_matrix",
    "Ratings", "load_ratings", "IdMap", "UnknownIdError", "load_movielens", "read_movielens_zip",
    "LabLayout", "lab_layout", "normalise_title", "find_title", "search_titles",
    "COURSE_SHAPE", "load_course_titles", "check_course_ratings", "load_course_ratings",
    "course_layout", "load_lab_layout",
    "synthetic_ratings", "SyntheticRatings", "NETFLIX_SHAPE", "NETFLIX_RATINGS",
    "REGISTRY", "RemoteFile", "DownloadError", "UnknownHashError", "data_dir", "fetch",
]
