"""numba-compiled inner loop of :class:`labmf.recommender.BiasedMF` (private).

One call runs one epoch of Funk-style per-rating SGD on the biased model
``r_ui ~ mu + b_u + b_i + p_u . q_i`` over the ratings in the order given.

Speed: the factor loops are compiled with the ``reassoc``/``contract``/``nsz``/
``arcp`` fast-math flags, which lets LLVM vectorise the dot product and the two
row updates (about 3x faster at 50 factors than strict IEEE order). The
``nnan``/``ninf`` flags are deliberately left out: with them LLVM may assume the
loss is finite and the caller could no longer detect divergence. The results
are deterministic for a given machine and build, but not bit-identical to a
plain Python loop (the sums are reassociated); nothing relies on that.

Caching follows :mod:`labmf._numba_kernels`: compiled code is cached on disk
when numba can write its cache, else compiled in memory with a warning.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np

__all__ = ["sgd_epoch", "shuffle", "predict", "warm_up", "CACHED"]

_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def _sgd_epoch(user, item, rating, order, mu, bu, bi, P, Q, lr, reg, lr_bias, reg_bias):
    """One SGD sweep over ``order``; returns the sum of the squared errors met.

    For each rating ``j = order[t]`` with ``u = user[j]``, ``i = item[j]``::

        e    = rating[j] - (mu + bu[u] + bi[i] + P[u] . Q[i])
        bu[u] += lr_bias * (e - reg_bias * bu[u])
        bi[i] += lr_bias * (e - reg_bias * bi[i])
        P[u]  += lr * (e * Q[i] - reg * P[u])     # both rows from their old values
        Q[i]  += lr * (e * P[u] - reg * Q[i])

    Parameters
    ----------
    user, item : int32 or int64 arrays, shape (nnz,), indices into bu/P and bi/Q
        (unchecked: the caller validates them)
    rating : float64 array, shape (nnz,)
    order : int32 or int64 array, shape (nnz,), a permutation of ``range(nnz)``
    mu : float, the global mean (fixed)
    bu, bi : float64 arrays, shapes (n_users,), (n_items,), updated in place
    P, Q : float64 C-contiguous arrays, shapes (n_users, k), (n_items, k), in place
    lr, reg, lr_bias, reg_bias : float

    Returns
    -------
    float
        Sum over the sweep of ``e**2``, each error measured just before its own
        update (the "progressive" training loss; NaN/inf once training diverges).
    """
    k = P.shape[1]
    shrink = 1.0 - lr * reg
    sse = 0.0
    for t in range(order.shape[0]):
        j = order[t]
        u = user[j]
        i = item[j]
        pu = P[u]
        qi = Q[i]
        dot = 0.0
        for f in range(k):
            dot += pu[f] * qi[f]
        e = rating[j] - (mu + bu[u] + bi[i] + dot)
        sse += e * e
        bu[u] += lr_bias * (e - reg_bias * bu[u])
        bi[i] += lr_bias * (e - reg_bias * bi[i])
        step = lr * e
        for f in range(k):
            p = pu[f]
            q = qi[f]
            pu[f] = shrink * p + step * q
            qi[f] = shrink * q + step * p
    return sse


def _shuffle(order, seed):
    """Fisher-Yates shuffle of ``order`` in place, driven by the 64-bit ``seed``.

    numpy's ``Generator.permutation`` costs about as much as a fifth of an SGD
    epoch at 50 factors; this loop is ~5x cheaper. The caller draws ``seed``
    from its seeded numpy Generator, so the orders stay reproducible. The
    generator is splitmix64 (a full-period 64-bit mixer), and index ``t`` is
    drawn from the high 32 bits scaled to ``[0, t]``: the bias of that
    scaling is below ``n / 2**32``, about 2e-5 for 100,000 ratings.
    """
    x = np.uint64(seed)
    for t in range(order.shape[0] - 1, 0, -1):
        x += np.uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        j = np.int64(((z >> np.uint64(32)) * np.uint64(t + 1)) >> np.uint64(32))
        tmp = order[t]
        order[t] = order[j]
        order[j] = tmp


def _predict(user, item, mu, bu, bi, P, Q, out):
    """``out[j] = mu + bu[u] + bi[i] + P[u] . Q[i]`` for each pair, without the
    (n, k) temporaries that numpy fancy indexing would allocate."""
    k = P.shape[1]
    for j in range(user.shape[0]):
        u = user[j]
        i = item[j]
        dot = 0.0
        for f in range(k):
            dot += P[u, f] * Q[i, f]
        out[j] = mu + bu[u] + bi[i] + dot


def _compile(fn):
    try:
        return numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)(fn), True
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        warnings.warn(
            f"numba cannot write its cache ({exc}); compiling in memory instead. "
            "Set NUMBA_CACHE_DIR to a writable directory to keep compiled code.",
            RuntimeWarning,
            stacklevel=2,
        )
        return numba.njit(cache=False, nogil=True, fastmath=_FASTMATH)(fn), False


sgd_epoch, CACHED = _compile(_sgd_epoch)
shuffle, _ = _compile(_shuffle)
predict, _ = _compile(_predict)


def warm_up() -> None:
    """Compile (or load from cache) the kernel for the dtypes :class:`BiasedMF` uses.

    Timed comparisons call this first so that the one-off JIT compilation (1-2 s
    on a cold cache) is not charged to the first fold.
    """
    for dtype in (np.int32, np.int64):
        idx = np.zeros(1, dtype=dtype)
        one = np.ones(1, dtype=np.float64)
        f = np.zeros((1, 2), dtype=np.float64)
        shuffle(idx, 1)
        predict(idx, idx, 0.0, np.zeros(1), np.zeros(1), f, f, np.empty(1))
        # A fitted model's arrays are read-only, which numba compiles separately.
        ro = [np.zeros(1), np.zeros(1), f.copy(), f.copy()]
        for a in ro:
            a.setflags(write=False)
        predict(idx.astype(np.int64), idx.astype(np.int64), 0.0, *ro, np.empty(1))
        sgd_epoch(idx, idx, one, idx, 0.0, np.zeros(1), np.zeros(1), f, f.copy(), 0.01, 0.1, 0.01, 0.1)
