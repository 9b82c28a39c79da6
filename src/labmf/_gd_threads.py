"""Sparse full-batch GD on two or more cores (private; :func:`labmf.kernels.gd_epochs` with a plan).

One pass per epoch, each thread over its own range of rows (about nnz / n_jobs
entries): a row's residuals, its SSE and U[r] += lr * (E @ V)[r], then at once,
while the row's entries are in cache, its terms e_i * U_new[r] of E.T @ U into
the thread's own H. V += lr * (H_0 + H_1 + ...) closes the epoch. Threads write
disjoint U rows and their own H, so no locks; V is read-only during the pass.
Sums run in a fixed order, so results depend only on the thread count; with
one thread they are the serial kernels' (same operations, same order).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .jit import FMA_ONLY, MAX_UNROLLED_RANK, compile_kernel, compile_unrolled

__all__ = ["gd_parallel"]


_SWEEP_TEMPLATE = """
def _gd_sweep_rank{R}(cols, vals, row_ptr, r0, r1, U, V, lr, H, e):
    H[:, :] = 0.0
    total = 0.0
    for r in range(r0, r1):
        if row_ptr[r] == row_ptr[r + 1]:
            continue
        {load_u}
        {zero_g}
        for i in range(row_ptr[r], row_ptr[r + 1]):
            c = cols[i]
            {load_v}
            dot = 0.0
            {dot}
            ei = vals[i] - dot
            e[i - row_ptr[r]] = ei
            total += ei * ei
            {acc_g}
        {new_u}
        {store_u_row}
        for i in range(row_ptr[r], row_ptr[r + 1]):
            c = cols[i]
            ei = e[i - row_ptr[r]]
            {acc_h}
    return total
"""


def _gd_sweep(cols, vals, row_ptr, r0, r1, U, V, lr, H, e):
    """Rows ``r0:r1``: returns their SSE, updates their U rows, writes their part of E.T @ U to ``H``.

    Two passes over the rows, as the serial kernel, rather than the unrolled sweep's one: at
    larger ranks the V rows read by the first and the H rows written by the second would not
    fit in cache together. ``e`` (nnz,) holds the residuals in between.
    """
    rank = U.shape[1]
    g = np.empty(rank)
    total = 0.0
    for r in range(r0, r1):
        g[:] = 0.0
        for i in range(row_ptr[r], row_ptr[r + 1]):
            c = cols[i]
            dot = 0.0
            for k in range(rank):
                dot += U[r, k] * V[c, k]
            ei = vals[i] - dot
            e[i] = ei
            total += ei * ei
            for k in range(rank):
                g[k] += ei * V[c, k]
        if row_ptr[r] < row_ptr[r + 1]:
            for k in range(rank):
                U[r, k] += lr * g[k]
    H[:, :] = 0.0
    for r in range(r0, r1):
        for i in range(row_ptr[r], row_ptr[r + 1]):
            c = cols[i]
            ei = e[i]
            for k in range(rank):
                H[c, k] += ei * U[r, k]
    return total


def _gd_apply(H, V, lr):
    """``V += lr * (H[0] + H[1] + ...)``, the threads' parts added in order."""
    for c in range(V.shape[0]):
        for k in range(V.shape[1]):
            h = H[0, c, k]
            for t in range(1, H.shape[0]):
                h += H[t, c, k]
            V[c, k] += lr * h


_sweep_generic = compile_kernel(_gd_sweep, **FMA_ONLY)
_apply = compile_kernel(_gd_apply, **FMA_ONLY)
_sweeps: dict[int, object] = {}


def _sweep_kernel(rank: int):
    """The sweep for ``rank``: unrolled up to MAX_UNROLLED_RANK (built once per rank), else generic."""
    if not 1 <= rank <= MAX_UNROLLED_RANK:
        return _sweep_generic
    if rank not in _sweeps:
        _sweeps[rank] = compile_unrolled(_SWEEP_TEMPLATE, f"_gd_sweep_rank{rank}", rank, __name__, __file__,
                                         **FMA_ONLY)
    return _sweeps[rank]


def gd_parallel(rows, cols, vals, U, V, lr, num_epochs, losses, plan) -> int:
    row_ptr, cuts = plan
    n_jobs = cuts.shape[0] - 1
    sweep = _sweep_kernel(U.shape[1])
    H = np.empty((n_jobs, V.shape[0], V.shape[1]))
    if sweep is _sweep_generic:  # residuals of every row, kept between its two passes
        scratch = [np.empty(rows.shape[0])] * n_jobs
    else:  # the unrolled sweep reuses one row's worth
        scratch = [np.empty(int(np.diff(row_ptr).max(initial=0))) for _ in range(n_jobs)]

    def part(t):
        return sweep(cols, vals, row_ptr, cuts[t], cuts[t + 1], U, V, lr, H[t], scratch[t])

    with ThreadPoolExecutor(max(1, n_jobs - 1)) as pool:
        for epoch in range(num_epochs):
            futures = [pool.submit(part, t) for t in range(1, n_jobs)]
            sse = [part(0)] + [f.result() for f in futures]
            losses[epoch] = sum(sse)
            if not math.isfinite(losses[epoch]):
                return epoch + 1  # U has been updated: the caller raises and discards it
            _apply(H, V, lr)
    return num_epochs
