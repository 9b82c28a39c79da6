"""Data: the lab's small matrices, MovieLens, the course's files and downloads.

Orientation: the lab layout (:class:`LabLayout`, notebook 04) is movies x users;
:class:`Ratings` tables feed the recommender, which is users x items.
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
from .layout import LabLayout, find_title, lab_layout, normalise_title
from .movielens import Ratings, load_movielens, read_movielens_zip

__all__ = [
    "lab_matrix", "lab_mask", "blog_matrix",
    "Ratings", "load_movielens", "read_movielens_zip",
    "LabLayout", "lab_layout", "normalise_title", "find_title",
    "COURSE_SHAPE", "load_course_titles", "check_course_ratings", "load_course_ratings",
    "course_layout", "load_lab_layout",
    "REGISTRY", "RemoteFile", "DownloadError", "UnknownHashError", "data_dir", "fetch",
]
