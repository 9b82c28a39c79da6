"""Inner loops of the per-entry ("SGD") update, on observed-entry triplets.

Every per-entry variant (dense, dense + mask, sparse) is reduced to one list of
observed entries ``(rows[i], cols[i], vals[i])`` in row-major order, which is the
order in which the handout's double loop visits them. The kernels update ``U``
and ``V`` in place and write the SSE over the observed entries after each epoch
into ``losses``.

``sgd_epochs_reference`` is the readable specification; it runs on Python floats,
which is about 100x faster than indexing torch scalars but still slow. Faster
kernels must give the same U and V (tests check it).

``sgd_epochs_numba`` is the compiled kernel (bit-identical to the reference, see
:mod:`labmf._numba_kernels`). It is registered as ``KERNELS["numba"]`` whenever
numba is installed, but numba itself is imported only on the first call, so
``import labmf`` stays fast and works without numba.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

__all__ = [
    "sgd_epochs_reference",
    "sgd_epochs_numba",
    "numba_available",
    "load_numba_kernels",
    "check_kernel_arrays",
    "KERNELS",
]


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


_numba_module = None


def load_numba_kernels():
    """Import and return :mod:`labmf._numba_kernels` (imports numba; raises ImportError)."""
    global _numba_module
    if _numba_module is None:
        from . import _numba_kernels

        _numba_module = _numba_kernels
    return _numba_module


def numba_available() -> bool:
    """True when the compiled kernels can be loaded (numba installed and importable)."""
    if importlib.util.find_spec("numba") is None:
        return False
    try:
        load_numba_kernels()
    except ImportError:
        return False
    return True


def check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses) -> int:
    """Check the arguments of a triplet kernel; return ``num_epochs`` as an int.

    The compiled kernels need this: numba does not bounds-check indices, and
    another dtype would silently compile a variant that is not the reference.
    """
    for name, arr, dtype in (
        ("rows", rows, np.int64), ("cols", cols, np.int64), ("vals", vals, np.float64),
        ("U", U, np.float64), ("V", V, np.float64), ("losses", losses, np.float64),
    ):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
            raise TypeError(
                f"{name} must be a numpy array of {np.dtype(dtype).name}, got "
                f"{getattr(arr, 'dtype', type(arr).__name__)}"
            )
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(
            f"U and V must be 2-D with the same number of columns, got shapes {U.shape} and {V.shape}"
        )
    if not (rows.ndim == cols.ndim == vals.ndim == 1 and len(rows) == len(cols) == len(vals)):
        raise ValueError(
            f"rows, cols and vals must be 1-D of one length, got shapes "
            f"{rows.shape}, {cols.shape} and {vals.shape}"
        )
    num_epochs = int(num_epochs)
    if len(losses) < num_epochs:
        raise ValueError(f"losses must hold num_epochs={num_epochs} values, got length {len(losses)}")
    if len(rows) and (
        rows.min() < 0 or rows.max() >= U.shape[0] or cols.min() < 0 or cols.max() >= V.shape[0]
    ):
        raise ValueError(
            f"rows must lie in [0, {U.shape[0]}) and cols in [0, {V.shape[0]}), got rows in "
            f"[{rows.min()}, {rows.max()}] and cols in [{cols.min()}, {cols.max()}]"
        )
    return num_epochs


def sgd_epochs_numba(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    lr: float,
    num_epochs: int,
    losses: np.ndarray,
) -> int:
    """Compiled :func:`sgd_epochs_reference`: same arguments, same results, bit for bit.

    Checks dtypes, shapes and index ranges (:func:`check_kernel_arrays`), then runs
    the numba kernel. The first call in a process imports numba and loads the
    compiled code from numba's on-disk cache (or compiles it, ~1-2 s, the first
    time or when no cache directory is writable).
    """
    kernel = load_numba_kernels().sgd_epochs
    num_epochs = check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses)
    return int(kernel(rows, cols, vals, U, V, float(lr), num_epochs, losses))


# Registry of available kernels by backend name. Finding numba's spec is cheap;
# importing it is deferred to the first call of ``sgd_epochs_numba``.
KERNELS = {"python": sgd_epochs_reference}
if importlib.util.find_spec("numba") is not None:
    KERNELS["numba"] = sgd_epochs_numba
