"""Compiled inner loops on observed-entry triplets ``(rows, cols, vals)``.

Every per-entry and sparse variant reduces to one list of observed entries in
row-major order (the handout's loop order). Kernels share one signature::

    kernel(rows, cols, vals, U, V, lr, num_epochs, losses) -> epochs run

with ``rows``/``cols`` int64 (nnz,), ``vals`` float64 (nnz,), ``U`` float64 (m, r)
and ``V`` float64 (n, r) updated in place, and ``losses`` float64 (>= num_epochs,).
A kernel stops early, returning fewer epochs, when the SSE becomes NaN/inf (the
caller raises). :func:`sgd_epochs` and :func:`gd_epochs` check their arrays
first: numba does not bounds-check, and another dtype would compile a variant
that is not the one tested.

Exactness: the SGD kernel performs the float64 operations of
:func:`labmf.lab.sgd_factorise` in the same order (dot product accumulated
``k = 0 .. r-1``, which is torch's order for up to 4 terms; ``step = lr * (a - dot)``;
the ``U`` row first, then the ``V`` row from the new ``U`` row). It is compiled without ``fastmath``, so LLVM may
neither reassociate the sums nor fuse a multiply and an add into an FMA.

The full-batch GD kernels follow the course's update but sum in another order
than the dense torch code, so they match it to rounding only; they may
therefore fuse multiply-adds (``fastmath={"contract"}``: no reassociation,
NaN/inf semantics kept). Results are deterministic on a machine.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import FMA_ONLY, MAX_UNROLLED_RANK, compile_kernel, compile_unrolled

__all__ = ["sgd_epochs", "gd_epochs", "sse", "check_kernel_arrays", "MAX_UNROLLED_RANK", "gd_plan"]


def check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses) -> int:
    """Check a kernel's arguments (dtypes, shapes, index ranges); return ``num_epochs``."""
    for name, arr, dtype in (
        ("rows", rows, np.int64), ("cols", cols, np.int64), ("vals", vals, np.float64),
        ("U", U, np.float64), ("V", V, np.float64), ("losses", losses, np.float64),
    ):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
            raise TypeError(f"{name} must be a numpy array of {np.dtype(dtype).name}, got "
                            f"{getattr(arr, 'dtype', type(arr).__name__)}")
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"U and V must be 2-D with the same number of columns, got shapes {U.shape} and {V.shape}")
    if not (rows.ndim == cols.ndim == vals.ndim == 1 and len(rows) == len(cols) == len(vals)):
        raise ValueError(f"rows, cols and vals must be 1-D of one length, got shapes "
                         f"{rows.shape}, {cols.shape} and {vals.shape}")
    num_epochs = int(num_epochs)
    if len(losses) < num_epochs:
        raise ValueError(f"losses must hold num_epochs={num_epochs} values, got length {len(losses)}")
    if len(rows) and (rows.min() < 0 or rows.max() >= U.shape[0] or cols.min() < 0 or cols.max() >= V.shape[0]):
        raise ValueError(f"rows must lie in [0, {U.shape[0]}) and cols in [0, {V.shape[0]}), got rows in "
                         f"[{rows.min()}, {rows.max()}] and cols in [{cols.min()}, {cols.max()}]")
    return num_epochs


def _sgd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses):
    """The handout's per-entry update over the triplets, ``num_epochs`` times, in place.

    For entry ``i`` in order: ``step = lr * (vals[i] - U[r] . V[c])``, then
    ``U[r] += step * V[c]``, then ``V[c] += step * U[r]`` with the *new* ``U[r]``.
    ``losses[k]`` receives the SSE over the triplets after epoch ``k + 1``.
    Returns the epochs done (fewer when the SSE became NaN/inf).
    """
    nnz = rows.shape[0]
    rank = U.shape[1]
    done = 0
    for epoch in range(num_epochs):
        for i in range(nnz):
            r = rows[i]
            c = cols[i]
            dot = 0.0
            for k in range(rank):
                dot += U[r, k] * V[c, k]
            step = lr * (vals[i] - dot)
            for k in range(rank):
                U[r, k] += step * V[c, k]
            for k in range(rank):
                V[c, k] += step * U[r, k]
        total = _sse_compiled(rows, cols, vals, U, V)  # the same float operations, in entry order
        losses[epoch] = total
        done = epoch + 1
        if not math.isfinite(total):
            break
    return done


def _gd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses):
    """Full-batch masked GD on observed triplets (the course's update).

    Epoch ``k`` computes the residual ``e_i = vals_i - U[rows_i] . V[cols_i]``, writes
    its SSE to ``losses[k]`` and, if finite, applies ``U += lr * E @ V`` and then
    ``V += lr * E.T @ U`` with the new ``U``, where ``E`` is the sparse matrix
    holding ``e`` at ``(rows, cols)``. Returns the number of losses written; it is
    short of ``num_epochs`` when a loss was NaN/inf (that epoch's update skipped,
    as the dense loop raises before updating).
    """
    nnz = rows.shape[0]
    m, rank = U.shape
    n = V.shape[0]
    e = np.empty(nnz)
    G = np.empty((m, rank))  # E @ V
    H = np.empty((n, rank))  # E.T @ U
    for epoch in range(num_epochs):
        # One pass for the residual, its SSE and E @ V (V is not yet updated).
        G[:, :] = 0.0
        total = 0.0
        for i in range(nnz):
            r = rows[i]
            c = cols[i]
            dot = 0.0
            for k in range(rank):
                dot += U[r, k] * V[c, k]
            ei = vals[i] - dot
            e[i] = ei
            total += ei * ei
            for k in range(rank):
                G[r, k] += ei * V[c, k]
        losses[epoch] = total
        if not math.isfinite(total):
            return epoch + 1
        for r in range(m):
            for k in range(rank):
                U[r, k] += lr * G[r, k]
        # E.T @ U needs the new U, hence a second pass.
        H[:, :] = 0.0
        for i in range(nnz):
            r = rows[i]
            c = cols[i]
            ei = e[i]
            for k in range(rank):
                H[c, k] += ei * U[r, k]
        for c in range(n):
            for k in range(rank):
                V[c, k] += lr * H[c, k]
    return num_epochs


# ------------------------------------------------- rank-specialised kernels
#
# With the rank known when the code is written, the U row, the V row (and for
# GD the per-row sums of E @ V) live in registers instead of memory (no
# store-then-reload of the row just updated; benchmarks/bench_kernel.py times it).
# numba cannot specialise on a runtime value, so the sources below are generated
# per rank on first use. Each performs exactly the generic kernel's float
# operations in the same order, so it is bit-identical to it (for GD a row's U
# update is applied when its last entry has been read instead of after the whole
# sweep; no other row reads it, but the entries must be grouped by row, as
# row-major triplets always are). The fields in braces are expanded per rank by
# labmf.jit.compile_unrolled.

_SGD_TEMPLATE = """
def _sgd_epochs_rank{R}(rows, cols, vals, U, V, lr, num_epochs, losses):
    nnz = rows.shape[0]
    for epoch in range(num_epochs):
        for i in range(nnz):
            r = rows[i]
            c = cols[i]
            {load_u}
            {load_v}
            dot = 0.0
            {dot}
            step = lr * (vals[i] - dot)
            {step_u}
            {step_v}
            {store_u_row}
            {store_v_row}
        total = sse(rows, cols, vals, U, V)
        losses[epoch] = total
        if not math.isfinite(total):
            return epoch + 1
    return num_epochs
"""

_GD_TEMPLATE = """
def _gd_epochs_rank{R}(rows, cols, vals, U, V, lr, num_epochs, losses):
    nnz = rows.shape[0]
    m = U.shape[0]
    n = V.shape[0]
    start = np.zeros(m + 1, np.int64)  # row r's entries are start[r]:start[r + 1]
    for i in range(nnz):
        start[rows[i] + 1] += 1
    for r in range(m):
        start[r + 1] += start[r]
    e = np.empty(nnz)
    H = np.empty((n, {R}))
    for epoch in range(num_epochs):
        total = 0.0
        for r in range(m):
            if start[r] == start[r + 1]:
                continue
            {load_u}
            {zero_g}
            for i in range(start[r], start[r + 1]):
                c = cols[i]
                {load_v}
                dot = 0.0
                {dot}
                ei = vals[i] - dot
                e[i] = ei
                total += ei * ei
                {acc_g}
            {store_u}
        losses[epoch] = total
        if not math.isfinite(total):
            return epoch + 1
        H[:, :] = 0.0
        for r in range(m):
            {load_u}
            for i in range(start[r], start[r + 1]):
                c = cols[i]
                ei = e[i]
                {acc_h}
        for c in range(n):
            for k in range({R}):
                V[c, k] += lr * H[c, k]
    return num_epochs
"""


def _sse(rows, cols, vals, U, V):
    """SSE of ``U @ V.T`` over the triplets, summed in entry order (as the SGD kernel does)."""
    total = 0.0
    for i in range(rows.shape[0]):
        dot = 0.0
        for k in range(U.shape[1]):
            dot += U[rows[i], k] * V[cols[i], k]
        total += (vals[i] - dot) * (vals[i] - dot)
    return total


_sgd_compiled = compile_kernel(_sgd_epochs)
_sse_compiled = compile_kernel(_sse)
_gd_generic = compile_kernel(_gd_epochs, **FMA_ONLY)
_unrolled: dict[tuple[str, int], object] = {}


def _specialised(kind: str, rank: int):
    """The ``kind`` ("sgd" or "gd") kernel generated for ``rank``, built once per process."""
    if (kind, rank) not in _unrolled:
        template, options = (_SGD_TEMPLATE, {}) if kind == "sgd" else (_GD_TEMPLATE, FMA_ONLY)
        _unrolled[kind, rank] = compile_unrolled(template, f"_{kind}_epochs_rank{rank}", rank, __name__, __file__,
                                                 {"sse": _sse_compiled}, **options)
    return _unrolled[kind, rank]


def _sgd_kernel(rank: int):
    """The rank-specialised SGD kernel up to :data:`MAX_UNROLLED_RANK`, else the generic one."""
    return _specialised("sgd", rank) if 1 <= rank <= MAX_UNROLLED_RANK else _sgd_compiled


def _gd_kernel(rows, rank: int):
    """The rank-specialised GD kernel when it applies (built once per rank), else the generic one."""
    grouped = rows.shape[0] < 2 or bool(np.all(rows[1:] >= rows[:-1]))
    if not (grouped and 1 <= rank <= MAX_UNROLLED_RANK):
        return _gd_generic
    return _specialised("gd", rank)


def gd_plan(rows, m: int, n_jobs: int) -> np.ndarray:
    """Row pointers ``(m + 1,)`` and each thread's first row ``cuts`` ``(n_jobs + 1,)``, cut so that
    the threads get about as many entries each; for ``gd_epochs(..., plan=)``. ``rows`` must be
    grouped by row (row-major triplets are)."""
    if rows.shape[0] > 1 and not bool(np.all(rows[1:] >= rows[:-1])):
        raise ValueError("gd_epochs with n_jobs > 1 needs the triplets grouped by row (row-major order)")
    row_ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))]).astype(np.int64)
    targets = row_ptr[-1] * np.arange(1, n_jobs) // n_jobs
    cuts = np.concatenate([[0], np.searchsorted(row_ptr, targets), [m]]).astype(np.int64)
    return row_ptr, cuts


def sse(rows, cols, vals, U, V) -> float:
    """SSE over the triplets without gathering ``U[rows]`` (a copy of nnz x r floats)."""
    check_kernel_arrays(rows, cols, vals, U, V, 0, np.empty(0))
    return float(_sse_compiled(rows, cols, vals, U, V))


def sgd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses, *, specialise: bool = True) -> int:
    """Per-entry SGD epochs, compiled; :func:`labmf.lab.sgd_factorise`'s float64 arithmetic.

    Bit-identical to it up to rank 4; from rank 5 torch's ``sum`` in lab.py adds
    the dot product in another order, so they agree to rounding (~1e-15). Up to
    :data:`MAX_UNROLLED_RANK` a rank-specialised variant runs (bit-identical to the
    generic loop; ``specialise=False`` forces the generic one; ``make bench`` times both).
    """
    num_epochs = check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses)
    kernel = _sgd_kernel(U.shape[1]) if specialise else _sgd_compiled
    return int(kernel(rows, cols, vals, U, V, float(lr), num_epochs, losses))


def gd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses, *, specialise: bool = True,
              plan: tuple | None = None) -> int:
    """Sparse full-batch GD epochs; ``losses[k]`` is the SSE at the *start* of epoch ``k``.

    For ranks up to :data:`MAX_UNROLLED_RANK` with the triplets grouped by row (as
    labmf always passes them) a rank-specialised variant keeps a row's factors in
    registers, bit-identical to the generic loop
    (``specialise=False`` forces the generic one; the tests compare them).

    With a ``plan`` from :func:`gd_plan` the epochs run on its number of threads
    (Python threads running GIL-free kernels; see :mod:`labmf._gd_threads`):
    deterministic for a given thread count, equal to one thread's up to rounding.
    """
    num_epochs = check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses)
    if plan is not None:
        from ._gd_threads import gd_parallel  # imported on first use: it compiles its own kernels

        return gd_parallel(rows, cols, vals, U, V, float(lr), num_epochs, losses, plan)
    kernel = _gd_kernel(rows, U.shape[1]) if specialise else _gd_generic
    return int(kernel(rows, cols, vals, U, V, float(lr), num_epochs, losses))
