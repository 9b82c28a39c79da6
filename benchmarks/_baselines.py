"""The handout's own code, as the baselines the library is measured against.

These are deliberately *not* in the library: they are what a student would
write from the handout, kept here only to be timed (and checked equal).
"""

from __future__ import annotations

import torch


def handout_sgd_torch(A: torch.Tensor, entries, U: torch.Tensor, V: torch.Tensor,
                      lr: float, num_epochs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The handout's per-entry loop on torch tensors, over the given ``(r, c)`` entries.

    The handout loops over every cell and tests the mask; here the loop runs over
    the observed entries only, which favours the baseline (no time spent skipping
    unobserved cells).
    """
    for _ in range(num_epochs):
        for r, c in entries:
            e = A[r, c] - U[r] @ V[c]
            U[r] = U[r] + lr * e * V[c]
            V[c] = V[c] + lr * e * U[r]
    return U, V


def handout_gd_dense(A: torch.Tensor, M: torch.Tensor, U: torch.Tensor, V: torch.Tensor,
                     lr: float, num_epochs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The course's full-batch ``gd_factorise_masked`` loop (dense, every cell)."""
    for _ in range(num_epochs):
        E = (A - U @ V.T) * M
        U = U + lr * (E @ V)
        V = V + lr * (E.T @ U)
    return U, V
