"""Inner loops of the per-entry ("SGD") update, on observed-entry triplets.

Every per-entry variant (dense, dense + mask, sparse) is reduced to one list of
observed entries ``(rows[i], cols[i], vals[i])`` in row-major order, which is the
order in which the handout's double loop visits them. The kernels update ``U``
and ``V`` in place and write the SSE over the observed entries after each epoch
into ``losses``.

``sgd_epochs_reference`` is the readable specification; it runs on Python floats,
which is about 100x faster than indexing torch scalars but still slow. Faster
kernels must give the same U and V (tests check it).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["sgd_epochs_reference", "KERNELS"]


def sgd_epochs_reference(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    lr: float,
    num_epochs: int,
    losses: np.ndarray,
) -> int:
    """Run ``num_epochs`` sweeps of the handout's per-entry update, in place.

    For each observed entry ``(r, c, a)`` in order::

        e = a - U[r] . V[c]
        U[r] += lr * e * V[c]
        V[c] += lr * e * U[r]      # uses the U row just updated

    Parameters
    ----------
    rows, cols : ndarray of int64, shape (nnz,)
    vals : ndarray of float64, shape (nnz,)
    U : ndarray of float64, shape (m, r), updated in place
    V : ndarray of float64, shape (n, r), updated in place
    lr : float
    num_epochs : int
    losses : ndarray of float64, shape (>= num_epochs,)
        ``losses[k]`` receives the SSE over the observed entries after epoch ``k + 1``.

    Returns
    -------
    int
        Number of epochs completed; fewer than ``num_epochs`` when the loss became
        NaN/inf (the caller raises).
    """
    Ul = U.tolist()
    Vl = V.tolist()
    entries = list(zip(rows.tolist(), cols.tolist(), vals.tolist()))
    rank = U.shape[1]
    ks = range(rank)
    done = 0
    for epoch in range(num_epochs):
        for r, c, a in entries:
            u = Ul[r]
            v = Vl[c]
            dot = 0.0
            for k in ks:
                dot += u[k] * v[k]
            step = lr * (a - dot)
            for k in ks:
                u[k] += step * v[k]
            for k in ks:
                v[k] += step * u[k]
        total = 0.0
        for r, c, a in entries:
            u = Ul[r]
            v = Vl[c]
            dot = 0.0
            for k in ks:
                dot += u[k] * v[k]
            total += (a - dot) * (a - dot)
        losses[epoch] = total
        done = epoch + 1
        if not math.isfinite(total):
            break
    U[:] = Ul
    V[:] = Vl
    return done


# Registry of available kernels by backend name; compiled ones register themselves.
KERNELS = {"python": sgd_epochs_reference}
