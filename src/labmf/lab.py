"""The lab's four answers, written as plainly as the handout.

Read this file top to bottom: each function is the algorithm of one question
in a few lines of torch, with the update rule in the body. They are slow (a
Python loop over torch scalars) and check nothing; the rest of the package
holds the fast, general versions (:func:`labmf.factorise_sgd`,
:func:`labmf.factorise_gd`, :func:`labmf.factorise_svd`), which the tests prove
equal to these.

``U`` and ``V`` start from the uniform distribution on [0, 1) drawn by
``torch.rand`` from torch's global generator (call ``torch.manual_seed`` first
for a reproducible start). The draw is made in float32 and then cast to ``A``'s
dtype, so one seed gives one start whatever the dtype.
"""

from __future__ import annotations

import torch

__all__ = ["sgd_factorise", "truncated_svd", "sgd_factorise_masked", "gd_factorise_masked"]


def sgd_factorise(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Q1: factorise ``A ~ U @ V.T`` by per-entry gradient descent.

    Parameters
    ----------
    A : Tensor, shape (m, n)
    rank : int
        Number of columns of ``U`` and ``V``.
    num_epochs : int
        Sweeps over all entries, in row-major order.
    lr : float
        Learning rate.

    Returns
    -------
    U : Tensor, shape (m, rank)
    V : Tensor, shape (n, rank)
    """
    m, n = A.shape
    U = torch.rand(m, rank).to(A.dtype)
    V = torch.rand(n, rank).to(A.dtype)
    for _ in range(num_epochs):
        for r in range(m):
            for c in range(n):
                e = A[r, c] - (U[r] * V[c]).sum()  # error of this one entry
                U[r] += lr * e * V[c]  # a gradient step on e**2 in U[r] (the factor 2 is in lr)
                V[c] += lr * e * U[r]  # the same, stale e with the new U[r]: a gradient step to first order in lr
    return U, V


def truncated_svd(A: torch.Tensor, rank: int):
    """Q2: the best rank-``rank`` approximation of ``A`` (Eckart-Young-Mirsky).

    ``torch.linalg.svd`` replaces the deprecated ``torch.svd``. Keeping the
    ``rank`` largest singular values (the others set to zero) gives
    ``U @ V.T = U_k diag(S_k) V_k^T``, whose squared error is the sum of the
    squares of the discarded singular values.

    Returns
    -------
    U : Tensor, shape (m, rank)
        Left singular vectors scaled by their singular values.
    V : Tensor, shape (n, rank)
        Right singular vectors.
    """
    left, S, right_t = torch.linalg.svd(A, full_matrices=False)
    U = left[:, :rank] * S[:rank]
    V = right_t[:rank].T
    return U, V


def sgd_factorise_masked(A: torch.Tensor, M: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """Q3: the Q1 update, applied only to the entries where the mask ``M`` is 1.

    Parameters
    ----------
    A : Tensor, shape (m, n)
        Values at the unobserved entries are never read.
    M : Tensor, shape (m, n)
        1 where ``A`` is observed, 0 where it is missing.
    rank, num_epochs, lr
        As in :func:`sgd_factorise`.

    Returns
    -------
    U : Tensor, shape (m, rank)
    V : Tensor, shape (n, rank)
        ``U @ V.T`` fills in the missing entries.
    """
    m, n = A.shape
    U = torch.rand(m, rank).to(A.dtype)
    V = torch.rand(n, rank).to(A.dtype)
    for _ in range(num_epochs):
        for r in range(m):
            for c in range(n):
                if M[r, c] == 1:
                    e = A[r, c] - (U[r] * V[c]).sum()
                    U[r] += lr * e * V[c]
                    V[c] += lr * e * U[r]
    return U, V


def gd_factorise_masked(A: torch.Tensor, M: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 1e-5):
    """Q4: the course's full-batch gradient descent on the observed entries.

    Every epoch takes one step on the whole masked loss ``||(A - U V^T) * M||_F^2``
    (the factor 2 of its gradient is absorbed in ``lr``).

    Parameters
    ----------
    A : Tensor, shape (m, n)
        For the course: 1000 movies x 10000 users, 0 where not rated.
    M : Tensor, shape (m, n)
        1 where ``A`` is observed (for the course, ``A > 0``).
    rank, num_epochs, lr
        As in :func:`sgd_factorise`; ``lr=1e-5`` is the course's.

    Returns
    -------
    U : Tensor, shape (m, rank)
    V : Tensor, shape (n, rank)
    """
    m, n = A.shape
    U = torch.rand(m, rank).to(A.dtype)
    V = torch.rand(n, rank).to(A.dtype)
    for _ in range(num_epochs):
        E = (A - U @ V.T) * M  # residual on the observed entries, 0 elsewhere
        U = U + lr * (E @ V)
        V = V + lr * (E.T @ U)  # the V step uses the new U
    return U, V
