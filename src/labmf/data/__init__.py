"""Data: the lab's small matrices, MovieLens and the course's files."""

from .lab import blog_matrix, lab_mask, lab_matrix
from .movielens import Ratings, load_movielens

__all__ = ["lab_matrix", "lab_mask", "blog_matrix", "Ratings", "load_movielens"]
