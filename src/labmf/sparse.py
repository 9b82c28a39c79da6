"""Sparse inputs: observed entries only, never the unobserved cells.

A ratings matrix is mostly empty (MovieLens' top-1000-movie layout of
ml-latest-small is 91% empty; the course's 1000 x 10000 Netflix tensor, which we
could not obtain, is built from the most active users and so is denser). labmf's algorithms accept it as a 2-D ``torch.sparse_coo_tensor``
(CSR/CSC also accepted, converted) whose *stored* entries are the observed
ones: a stored 0.0 is an observed value 0, an absent cell is unobserved. No mask
is given with a sparse ``A``.

Internally every sparse path works on triplets ``(rows, cols, vals)`` in
row-major order, the order of the handout's double loop, so the per-entry SGD on
a sparse ``A`` is the same computation as on the dense ``A`` with the mask of
its stored entries.

This module also holds the sparse full-batch GD epochs (the course's
``gd_factorise_masked`` on observed entries): ``gd_epochs_torch`` is the readable
torch version, ``gd_epochs_numba`` the compiled one; both follow the dense
update exactly, up to the order of floating-point sums.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import kernels as _kernels

__all__ = [
    "is_sparse",
    "check_sparse_matrix",
    "from_triplets",
    "to_sparse",
    "sparse_triplets",
    "observed_triplets",
    "gd_epochs_torch",
    "gd_epochs_numba",
    "GD_KERNELS",
]

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)


def is_sparse(A) -> bool:
    """True if ``A`` is a torch tensor in a sparse layout (COO, CSR or CSC)."""
    return isinstance(A, torch.Tensor) and A.layout in _SPARSE_LAYOUTS


def check_sparse_matrix(A, name: str = "A") -> torch.Tensor:
    """Return a sparse ``A`` as a coalesced 2-D floating COO tensor, or raise.

    Duplicate stored indices are refused: torch would sum them (``A.to_dense()``
    does), which for ratings means a pair rated twice is silently fitted to the sum.
    Integer values become the default floating dtype.

    Parameters
    ----------
    A : sparse Tensor, shape (m, n)

    Returns
    -------
    Tensor, sparse COO, coalesced (indices in row-major order)
    """
    if not is_sparse(A):
        raise TypeError(f"{name} must be a sparse tensor, got {type(A).__name__}")
    if A.layout != torch.sparse_coo:
        A = A.to_sparse_coo()
    if A.ndim != 2 or A.dense_dim() != 0:
        raise ValueError(
            f"{name} must be a 2-D sparse matrix with scalar values, got {A.ndim}-D with "
            f"{A.dense_dim()} dense dimension(s), shape {tuple(A.shape)}"
        )
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(A.shape)}")
    if A.is_complex():
        raise TypeError(f"{name} must be real, got complex dtype {A.dtype}")
    if not A.is_floating_point():
        A = A.to(torch.get_default_dtype())
    if not A.is_coalesced():
        nnz = A._nnz()
        C = A.coalesce()
        if C._nnz() < nnz:
            idx = A._indices()  # the raw, uncoalesced indices
            key = idx[0] * A.shape[1] + idx[1]
            uniq, counts = torch.unique(key, return_counts=True)
            first = int(uniq[counts > 1][0])
            raise ValueError(
                f"{name} stores {nnz - C._nnz()} duplicate entr(y/ies), first at "
                f"{name}[{first // A.shape[1]}, {first % A.shape[1]}]; torch would sum them. "
                "Keep one value per (row, col)"
            )
        A = C
    if A._nnz() == 0:
        raise ValueError(f"{name} stores no entry (nnz = 0); nothing to fit")
    vals = A.values()
    bad = ~torch.isfinite(vals)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        r, c = (int(i) for i in A.indices()[:, first])
        raise ValueError(
            f"{name} must be finite; found {int(bad.sum())} NaN/inf value(s), "
            f"first at {name}[{r}, {c}] = {vals[first].item()}"
        )
    return A


def from_triplets(rows, cols, vals, shape, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Build a sparse ``A`` from observed entries ``A[rows[i], cols[i]] = vals[i]``.

    Parameters
    ----------
    rows, cols : array-like of int, shape (nnz,)
    vals : array-like of float, shape (nnz,)
    shape : (int, int)
        ``(m, n)``.
    dtype : torch.dtype, optional
        Value dtype (default: ``vals``' floating dtype, else torch's default).

    Returns
    -------
    Tensor, sparse COO, coalesced, shape (m, n)

    Raises
    ------
    ValueError
        On out-of-range or duplicate ``(row, col)`` pairs (a rating given twice is
        a data error; torch would silently add the two values).
    """
    rows = torch.as_tensor(rows)
    cols = torch.as_tensor(cols)
    vals = torch.as_tensor(vals)
    for name, t in (("rows", rows), ("cols", cols)):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integers, got dtype {t.dtype}")
    if not (rows.ndim == cols.ndim == vals.ndim == 1 and len(rows) == len(cols) == len(vals)):
        raise ValueError(
            "rows, cols and vals must be 1-D of one length, got shapes "
            f"{tuple(rows.shape)}, {tuple(cols.shape)} and {tuple(vals.shape)}"
        )
    try:
        m, n = (int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shape must be a pair of ints (m, n), got {shape!r}") from exc
    if m <= 0 or n <= 0:
        raise ValueError(f"shape must be positive, got {(m, n)}")
    rows, cols = rows.long(), cols.long()
    if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= m):
        raise ValueError(f"rows must lie in [0, {m}), got values in [{int(rows.min())}, {int(rows.max())}]")
    if len(cols) and (int(cols.min()) < 0 or int(cols.max()) >= n):
        raise ValueError(f"cols must lie in [0, {n}), got values in [{int(cols.min())}, {int(cols.max())}]")
    flat = rows * n + cols
    uniq, counts = torch.unique(flat, return_counts=True)
    if bool((counts > 1).any()):
        dup = int(uniq[counts > 1][0])
        raise ValueError(
            f"(rows, cols) must be unique; {int((counts > 1).sum())} pair(s) repeat, "
            f"first ({dup // n}, {dup % n})"
        )
    if dtype is None:
        dtype = vals.dtype if vals.is_floating_point() else torch.get_default_dtype()
    # Indices are checked above; torch warns unless the choice is explicit.
    A = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals.to(dtype), (m, n), check_invariants=False)
    return check_sparse_matrix(A)


def to_sparse(A, mask=None) -> torch.Tensor:
    """The observed entries of a dense ``A`` (where ``mask`` is 1) as a sparse COO tensor.

    Parameters
    ----------
    A : Tensor, shape (m, n)
    mask : Tensor of 0/1 or bool, shape (m, n), optional
        ``None`` keeps every entry (zeros included: they are observed values).
    """
    from ._validation import check_mask, check_matrix

    A = check_matrix(A)
    M = check_mask(mask, A)
    rows, cols, vals = observed_triplets(A, M)
    idx = torch.from_numpy(np.stack([rows, cols]))
    return torch.sparse_coo_tensor(
        idx, torch.from_numpy(vals).to(A.dtype), tuple(A.shape), check_invariants=False
    ).coalesce()


def sparse_triplets(A: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored entries of a checked sparse ``A`` (see :func:`check_sparse_matrix`).

    Returns
    -------
    rows, cols : ndarray of int64, shape (nnz,)
        Row-major order (coalescing sorts the indices).
    vals : ndarray of float64, shape (nnz,)
    """
    idx = A.indices()
    rows = np.ascontiguousarray(idx[0].numpy(), dtype=np.int64)
    cols = np.ascontiguousarray(idx[1].numpy(), dtype=np.int64)
    vals = np.ascontiguousarray(A.values().double().numpy())
    return rows, cols, vals


def observed_triplets(A: torch.Tensor, M: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed entries of a checked dense ``A`` in row-major order (all if ``M`` is None).

    Returns
    -------
    rows, cols : ndarray of int64, shape (nnz,)
    vals : ndarray of float64, shape (nnz,)
    """
    if M is None:
        rows, cols = np.divmod(np.arange(A.numel(), dtype=np.int64), A.shape[1])
    else:
        idx = M.bool().nonzero()  # row-major order, as the handout's double loop
        rows = np.ascontiguousarray(idx[:, 0].numpy(), dtype=np.int64)
        cols = np.ascontiguousarray(idx[:, 1].numpy(), dtype=np.int64)
    vals = np.ascontiguousarray(A.double().numpy()[rows, cols])
    return rows, cols, vals


# ------------------------------------------------------- sparse full-batch GD


def gd_epochs_torch(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    lr: float,
    num_epochs: int,
    losses: np.ndarray,
) -> int:
    """The course's masked full-batch GD on observed triplets, in place, with torch ops.

    Epoch ``k`` computes the residual on the observed entries only,
    ``e = vals - sum(U[rows] * V[cols], 1)`` (the nonzeros of
    ``E = (A - U @ V.T) * M``), writes its SSE to ``losses[k]``, and if it is
    finite applies ``U += lr * E @ V`` and then ``V += lr * E.T @ U`` with the new
    ``U``; the products are scatter-adds of ``e``-weighted rows.

    Parameters
    ----------
    rows, cols : ndarray of int64, shape (nnz,)
    vals : ndarray of float64, shape (nnz,)
    U : ndarray of float64, shape (m, r), updated in place
    V : ndarray of float64, shape (n, r), updated in place
    lr : float
    num_epochs : int
    losses : ndarray of float64, shape (>= num_epochs,)
        ``losses[k]`` receives the SSE at the *start* of epoch ``k``.

    Returns
    -------
    int
        Number of losses written: ``num_epochs``, or fewer when a loss was NaN/inf
        (that epoch's update is skipped; the caller raises).
    """
    num_epochs = _kernels.check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses)
    R, C = torch.from_numpy(rows), torch.from_numpy(cols)
    a = torch.from_numpy(vals)
    Ut, Vt = torch.from_numpy(U), torch.from_numpy(V)  # views: updates land in U, V
    for epoch in range(num_epochs):
        e = a - (Ut.index_select(0, R) * Vt.index_select(0, C)).sum(1)
        total = float(torch.dot(e, e))
        losses[epoch] = total
        if not math.isfinite(total):
            return epoch + 1
        e = e.unsqueeze(1)
        Ut += lr * torch.zeros_like(Ut).index_add_(0, R, e * Vt.index_select(0, C))
        Vt += lr * torch.zeros_like(Vt).index_add_(0, C, e * Ut.index_select(0, R))
    return num_epochs


def gd_epochs_numba(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    lr: float,
    num_epochs: int,
    losses: np.ndarray,
) -> int:
    """Compiled :func:`gd_epochs_torch` (same arguments; same results up to rounding).

    Two sweeps over the triplets per epoch: residual, its SSE and ``E @ V`` in
    one, ``E.T @ U`` in the other. For ranks up to 8 with the triplets grouped by
    row (as labmf always passes them) it runs a rank-specialised variant that
    keeps a row's factors in registers, about twice as fast and bit-identical to
    the generic loop (see :mod:`labmf._numba_kernels`).
    """
    kernel = _kernels.load_numba_kernels().gd_epochs
    num_epochs = _kernels.check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses)
    return int(kernel(rows, cols, vals, U, V, float(lr), num_epochs, losses))


# Sparse full-batch kernels by backend name; "numba" only when numba is installed.
GD_KERNELS = {"torch": gd_epochs_torch}
if "numba" in _kernels.KERNELS:
    GD_KERNELS["numba"] = gd_epochs_numba
