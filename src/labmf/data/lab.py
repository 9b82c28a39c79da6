"""The small matrices of the lab handout and of the blog-post example."""

from __future__ import annotations

import torch

__all__ = ["lab_matrix", "lab_mask", "blog_matrix"]

_LAB_A = [
    [0.3374, 0.6005, 0.1735],
    [3.3359, 0.0492, 1.8374],
    [2.9407, 0.5301, 2.2620],
]

_BLOG_R = [
    [1.0, 1.0, 0.0, 3.0],
    [2.0, 5.0, 0.0, 5.0],
    [3.0, 1.0, 2.0, 2.0],
    [0.0, 1.0, 3.0, 0.0],
    [1.0, 0.0, 3.0, 1.0],
]


def lab_matrix(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 3 x 3 matrix of questions 1-3 (a fresh tensor each call)."""
    return torch.tensor(_LAB_A, dtype=dtype)


def lab_mask(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Question 3's mask: entries (1, 0) and (2, 1) are missing."""
    M = torch.ones(3, 3, dtype=dtype)
    M[1, 0] = 0
    M[2, 1] = 0
    return M


def blog_matrix(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5 x 4 ratings matrix of the blog example and its mask (0 = missing)."""
    R = torch.tensor(_BLOG_R, dtype=dtype)
    return R, (R != 0).to(dtype)
