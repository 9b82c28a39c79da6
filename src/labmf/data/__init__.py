"""Data: the lab's small matrices, MovieLens, Question 4's layout, the course's files.

Orientation (the one convention for rating matrices): the lab layout
(:class:`LabLayout`, notebook 04, the course's ``ratings.pt``) is **movies x users**,
rows movies and columns users, as the course has it; a table of ratings (raw ids, one
entry per rating: :func:`read_movielens`'s rows, ``labrec``'s ``Ratings``) read as a
matrix is **users x items**, rows users, as the recommender (``labrec``) and Surprise
have it: one is the other's transpose. Titles are looked up
the same way on both (``title``, ``find_title``, ``search_titles``).
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
from .movielens import MovieLens, read_movielens, read_movielens_zip
from .titles import UnknownIdError, find_title, normalise_title, search_titles

__all__ = [
    "lab_matrix", "lab_mask", "blog_matrix",
    "MovieLens", "read_movielens", "read_movielens_zip", "UnknownIdError",
    "LabLayout", "lab_layout", "normalise_title", "find_title", "search_titles",
    "COURSE_SHAPE", "load_course_titles", "check_course_ratings", "load_course_ratings",
    "course_layout", "load_lab_layout",
    "REGISTRY", "RemoteFile", "DownloadError", "UnknownHashError", "data_dir", "fetch",
]
