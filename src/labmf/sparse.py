"""Sparse inputs: observed entries only, never the unobserved cells.

A ratings matrix is mostly empty (the top-1000-movie layout of ml-latest-small is
91% empty), so labmf's algorithms also accept a 2-D ``torch.sparse_coo_tensor``
(CSR/CSC are converted) whose *stored* entries are the observed ones: a stored 0.0
is an observed 0, an absent cell is unobserved, and no mask is given. Every sparse
path works on triplets ``(rows, cols, vals)`` in row-major order, the order of the
handout's double loop, so SGD on a sparse ``A`` is the same computation as on the
dense ``A`` with the mask of its stored entries (the loops are in :mod:`labmf.kernels`).
"""

from __future__ import annotations

import numpy as np
import torch

from .validation import check_device, check_observed, check_scalar, pair_groups

__all__ = ["is_sparse", "check_sparse_matrix", "from_triplets", "to_sparse", "sparse_triplets",
           "observed_triplets"]

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
    check_device(A, name)
    if A.layout != torch.sparse_coo:
        A = A.to_sparse_coo()
    if A.ndim != 2 or A.dense_dim() != 0:
        raise ValueError(f"{name} must be a 2-D sparse matrix with scalar values, got {A.ndim}-D with "
                         f"{A.dense_dim()} dense dimension(s), shape {tuple(A.shape)}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(A.shape)}")
    if A.is_complex():
        raise TypeError(f"{name} must be real, got complex dtype {A.dtype}")
    if not A.is_floating_point():
        A = A.to(torch.get_default_dtype())
    if not A.is_coalesced():
        rows, cols = (t.numpy() for t in A._indices())
        repeat = pair_groups(rows, cols)[2]
        if repeat:
            k, a, _ = repeat
            raise ValueError(f"{name} stores {k} duplicate (row, col) pair(s), first at {name}[{rows[a]}, "
                             f"{cols[a]}]; torch would sum them. Keep one value per (row, col)")
        A = A.coalesce()
    if A._nnz() == 0:
        raise ValueError(f"{name} stores no entry (nnz = 0); nothing to fit")
    vals = A.values()
    bad = ~torch.isfinite(vals)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        r, c = (int(i) for i in A.indices()[:, first])
        raise ValueError(f"{name} must be finite; found {int(bad.sum())} NaN/inf value(s), "
                         f"first at {name}[{r}, {c}] = {vals[first].item()}")
    return A


def _as_indices(x, name: str, bound: int) -> torch.Tensor:
    """``x`` as an int64 tensor with values in ``[0, bound)``, or raise naming ``name``."""
    t = torch.as_tensor(check_device(x, name))
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name} must hold integers, got dtype {t.dtype}")
    if t.ndim == 1 and t.numel():
        # uint64 has no min/max in torch and would wrap past 2**63: bound-check in numpy first.
        v = t.numpy() if t.dtype == torch.uint64 else t
        lo, hi = int(v.min()), int(v.max())
        if lo < 0 or hi >= bound:
            raise ValueError(f"{name} must lie in [0, {bound}), got values in [{lo}, {hi}]")
    return t.to(torch.int64)


def from_triplets(rows, cols, vals, shape, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Build a sparse ``A`` from observed entries ``A[rows[i], cols[i]] = vals[i]``.

    Parameters
    ----------
    rows, cols : array-like of int, shape (nnz,)
        Any integer dtype (uint64 included); floats are refused rather than truncated.
    vals : array-like of real numbers, shape (nnz,)
        Complex values are refused (their imaginary part would be lost).
    shape : (int, int)
        ``(m, n)``, positive integers; floats, even integral ones like ``3.0``, are
        refused, as a float shape usually means a computation went wrong.
    dtype : torch.dtype, optional
        Floating value dtype (default: ``vals``' floating dtype, else torch's default).

    Returns
    -------
    Tensor, sparse COO, coalesced, shape (m, n)

    Raises
    ------
    TypeError
        Non-integer indices or shape entries, complex values, a non-floating ``dtype``.
    ValueError
        ``shape`` not a pair, out-of-range or duplicate ``(row, col)`` pairs (a rating given twice is a
        data error; torch would silently add the two values), non-finite values.
    """
    try:
        m, n = shape
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shape must be a pair of ints (m, n), got {shape!r}") from exc
    m = check_scalar(m, "shape[0]", int, min_val=1)
    n = check_scalar(n, "shape[1]", int, min_val=1)
    if m * n >= 2**63:
        # torch counts a sparse tensor's cells in int64 (and keys entries by row * n + col).
        raise ValueError(f"shape {(m, n)} has m * n = {m * n} cells; torch's sparse tensors hold < 2**63")
    vals = torch.as_tensor(vals)
    if vals.is_complex():
        raise TypeError(f"vals must be real, got complex dtype {vals.dtype}")
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch.dtype or None, got {dtype!r}")
    rows, cols = _as_indices(rows, "rows", m), _as_indices(cols, "cols", n)
    if not (rows.ndim == cols.ndim == vals.ndim == 1 and len(rows) == len(cols) == len(vals)):
        raise ValueError(f"rows, cols and vals must be 1-D of one length, got shapes "
                         f"{tuple(rows.shape)}, {tuple(cols.shape)} and {tuple(vals.shape)}")
    repeat = pair_groups(rows.numpy(), cols.numpy())[2]
    if repeat:
        k, a, _ = repeat
        raise ValueError(f"(rows, cols) must be unique; {k} pair(s) repeat, first {(int(rows[a]), int(cols[a]))}; "
                         "torch would add their values")
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
    A, M = check_observed(A, mask, "A", "mask")
    rows, cols, vals = observed_triplets(A, M)
    idx = torch.from_numpy(np.stack([rows, cols]))
    vals = torch.from_numpy(vals).to(A.dtype)
    return torch.sparse_coo_tensor(idx, vals, tuple(A.shape), check_invariants=False).coalesce()


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
