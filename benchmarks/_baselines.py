"""The handout's own code, as the baselines the library is measured against.

The handout's loops live in the package now, written as the handout writes them
(:mod:`labmf.lab`, whose tests prove them equal to the fast paths); the
benchmarks time exactly those functions. They draw their start from torch's
global generator, so these wrappers seed it first: the same ``seed`` gives the
start of ``factorise_*(..., seed=seed)``. The draw (two ``torch.rand`` calls) is
inside the timing; it costs microseconds against the loops' seconds.

The per-entry loop is timed on a fully observed matrix (``lab.sgd_factorise``,
every cell an update): the masked variant would also spend time testing and
skipping the unobserved cells, ~91% of the Q4 layout, which would flatter the
compiled kernel.
"""

from __future__ import annotations

import torch

from labmf import lab

__all__ = ["handout_sgd", "handout_gd"]


def handout_sgd(A: torch.Tensor, rank: int, num_epochs: int, lr: float, seed: int = 0):
    """Q1's per-entry loop, :func:`labmf.lab.sgd_factorise`, from the start of ``seed``.

    Returns
    -------
    U : Tensor, shape (m, rank)
    V : Tensor, shape (n, rank)
    """
    torch.manual_seed(seed)
    return lab.sgd_factorise(A, rank, num_epochs=num_epochs, lr=lr)


def handout_gd(A: torch.Tensor, M: torch.Tensor, rank: int, num_epochs: int, lr: float, seed: int = 0):
    """Q4's dense full-batch loop, :func:`labmf.lab.gd_factorise_masked`, from the start of ``seed``.

    Returns
    -------
    U : Tensor, shape (m, rank)
    V : Tensor, shape (n, rank)
    """
    torch.manual_seed(seed)
    return lab.gd_factorise_masked(A, M, rank, num_epochs=num_epochs, lr=lr)
