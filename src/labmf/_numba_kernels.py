"""numba-compiled kernels: per-entry SGD (bit-compatible with the Python reference) and sparse GD.

Importing this module imports numba (about half a second), so :mod:`labmf.kernels`
only imports it the first time the ``"numba"`` backend runs.

Exactness: the SGD kernel performs the same IEEE double operations in the same order
as :func:`labmf.kernels.sgd_epochs_reference` (dot product accumulated
``k = 0 .. r-1`` from 0.0, ``step = lr * (a - dot)``, the ``U`` row first, then
the ``V`` row from the new ``U`` row, SSE summed in entry order). It is compiled
without ``fastmath``, so LLVM may neither reassociate the sums nor fuse a
multiply and an add into an FMA, and the results are bit-identical to the
reference on any CPU.

The full-batch GD kernels (``gd_epochs``) follow the same update as the dense
torch code but sum in a different order, so they match it to rounding only;
they may therefore also fuse multiply-adds (``fastmath={"contract"}``: one FMA
instead of a multiply and an add, ~20% faster, no reassociation, NaN/inf
semantics kept). Results are deterministic on a given machine.

Caching: compiled code is cached on disk (``cache=True``), so a new process
loads it in ~0.1 s instead of compiling for ~1-2 s. numba picks the first
writable of ``NUMBA_CACHE_DIR`` (when set), the ``__pycache__`` next to this
file, and a per-user cache directory; the cache is keyed on this file's
content hash. If none is writable, numba refuses ``cache=True`` at decoration
time; we then compile in memory once per process rather than fail.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np

__all__ = ["sgd_epochs", "gd_epochs", "gd_epochs_generic", "gd_epochs_unrolled", "CACHED"]


def _sgd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses):
    """Compiled twin of :func:`labmf.kernels.sgd_epochs_reference`.

    Same arguments, same in-place updates of ``U`` and ``V``, same ``losses`` and
    return value (epochs done; fewer than ``num_epochs`` when the SSE became
    NaN/inf). ``rows``/``cols`` must be int64 and ``vals``, ``U``, ``V``, ``losses``
    float64 arrays, with indices in range: other dtypes would compile a different,
    non-reference specialisation and numba does not bounds-check, so call it
    through :func:`labmf.kernels.sgd_epochs_numba`, which checks.
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
        total = 0.0
        for i in range(nnz):
            r = rows[i]
            c = cols[i]
            dot = 0.0
            for k in range(rank):
                dot += U[r, k] * V[c, k]
            e = vals[i] - dot
            total += e * e
        losses[epoch] = total
        done = epoch + 1
        if not math.isfinite(total):
            break
    return done


def _gd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses):
    """Full-batch masked GD on observed triplets (twin of :func:`labmf.sparse.gd_epochs_torch`).

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


def _compile(fn, **options):
    """``njit`` with the on-disk cache when numba can write one; returns (dispatcher, cached)."""
    try:
        return numba.njit(cache=True, nogil=True, **options)(fn), True
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        if not _uncached:
            warnings.warn(
                f"numba cannot write its cache ({exc}); compiling in memory instead "
                "(~1-2 s per process). Set NUMBA_CACHE_DIR to a writable directory "
                "to keep compiled code.",
                RuntimeWarning,
                stacklevel=3,
            )
        _uncached.append(fn.__name__)
        return numba.njit(cache=False, nogil=True, **options)(fn), False


_uncached: list[str] = []  # kernels compiled without a cache (warn once, not per kernel)
sgd_epochs, _ = _compile(_sgd_epochs)
_GD_OPTIONS = {"fastmath": {"contract"}}  # FMA only: see the module docstring
gd_epochs_generic, _ = _compile(_gd_epochs, **_GD_OPTIONS)


# ------------------------------------------------- rank-specialised sparse GD
#
# With the rank known when the code is written, the U row, the V row and the
# per-row sums of E @ V live in registers instead of memory, which halves the
# time of a GD epoch at rank 5. numba cannot specialise on a runtime value, so
# the source below is generated per rank (1 .. MAX_UNROLLED_RANK) on first use.
# It performs exactly the generic kernel's float operations in the same order
# (a row's U update is applied when its last entry has been read instead of
# after the whole sweep; no other row reads it), so it is bit-identical to
# gd_epochs_generic (both contract the same a + b * c patterns); the tests
# check this. It needs the entries grouped by row
# (row-major triplets always are); gd_epochs falls back to the generic kernel
# otherwise. The code is compiled under this file's name so that numba's
# on-disk cache (keyed on this file's content) keeps it between processes.

MAX_UNROLLED_RANK = 8

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

_unrolled: dict[int, object] = {}


def _gd_source(R: int) -> str:
    def each(fmt):
        return "; ".join(fmt.format(k=k) for k in range(R))

    return _GD_TEMPLATE.format(
        R=R,
        load_u=each("u{k} = U[r, {k}]"),
        zero_g=each("g{k} = 0.0"),
        load_v=each("v{k} = V[c, {k}]"),
        dot=each("dot += u{k} * v{k}"),
        acc_g=each("g{k} += ei * v{k}"),
        store_u=each("U[r, {k}] = u{k} + lr * g{k}"),
        acc_h=each("H[c, {k}] += ei * u{k}"),
    )


def gd_epochs_unrolled(rank: int):
    """The compiled GD kernel specialised to ``rank`` (1 .. MAX_UNROLLED_RANK), built once."""
    if rank not in _unrolled:
        if not 1 <= rank <= MAX_UNROLLED_RANK:
            raise ValueError(f"rank must be in [1, {MAX_UNROLLED_RANK}], got {rank}")
        namespace = {"np": np, "math": math, "__name__": __name__}
        exec(compile(_gd_source(rank), __file__, "exec"), namespace)  # noqa: S102 - our template
        _unrolled[rank], _ = _compile(namespace[f"_gd_epochs_rank{rank}"], **_GD_OPTIONS)
    return _unrolled[rank]


def gd_epochs(rows, cols, vals, U, V, lr, num_epochs, losses):
    """Sparse GD epochs: the rank-specialised kernel when it applies, else the generic one.

    Same arguments and results as :func:`_gd_epochs` (bit for bit either way).
    """
    rank = U.shape[1]
    grouped = rows.shape[0] < 2 or bool(np.all(rows[1:] >= rows[:-1]))
    if grouped and rank <= MAX_UNROLLED_RANK:
        kernel = gd_epochs_unrolled(rank)
    else:
        kernel = gd_epochs_generic
    return kernel(rows, cols, vals, U, V, lr, num_epochs, losses)


CACHED = not _uncached
"""True when the compiled kernels are cached on disk (False: compiled per process)."""
