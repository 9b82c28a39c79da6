"""Data: the lab's small matrices, MovieLens and the course's files."""

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
from .movielens import (
    LabLayout,
    Ratings,
    find_title,
    lab_layout,
    load_movielens,
    normalise_title,
    read_movielens_zip,
)

__all__ = [
    "lab_matrix",
    "lab_mask",
    "blog_matrix",
    "Ratings",
    "LabLayout",
    "load_movielens",
    "read_movielens_zip",
    "lab_layout",
    "normalise_title",
    "find_title",
    "COURSE_SHAPE",
    "load_course_titles",
    "check_course_ratings",
    "load_course_ratings",
    "course_layout",
    "load_lab_layout",
    "REGISTRY",
    "RemoteFile",
    "DownloadError",
    "UnknownHashError",
    "data_dir",
    "fetch",
]
