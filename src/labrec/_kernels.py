"""numba-compiled inner loops of :class:`labrec.BiasedMF` (private).

One :func:`sgd_epoch` call runs one epoch of Funk-style per-rating SGD on the
biased model ``r_ui ~ mu + b_u + b_i + p_u . q_i`` over the ratings in the order
given; :func:`sgd_blocks` runs the same update over blocks of the blocked
schedule (float32; driven by :mod:`._sgd`).

The loops are compiled with the ``reassoc``/``contract``/``nsz``/``arcp``
fast-math flags, which let LLVM vectorise the dot product and the two row
updates. ``nnan``/``ninf``
are left out on purpose: with them LLVM may assume the loss is finite and the
caller could no longer detect divergence. Results are deterministic for a given
machine and build, but not bit-identical to a plain Python loop (the sums are
reassociated).
"""

from __future__ import annotations

import numpy as np

from labmf.jit import compile_kernel, prefetch

__all__ = ["sgd_epoch", "splitmix64", "shuffle", "predict", "warm_up", "block_counts", "scatter_blocks",
           "group_by_user",
           "seen_from_blocks", "sgd_blocks", "count"]

_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_AHEAD = 4  # ratings between prefetching a rating's factor rows and using them


def _update(u, i, r, mu, bu, bi, P, Q, lr, shrink, lr_bias, reg_bias, zero):
    """One rating's SGD step on the biases and on the rows ``P[u]``, ``Q[i]`` (in place); returns
    the error ``r - (mu + bu[u] + bi[i] + P[u] . Q[i])`` measured before the step. ``zero`` (0 in
    the factors' dtype) starts the dot product. Inlined into both epoch kernels (one home for
    the update rule).
    """
    pu = P[u]
    qi = Q[i]
    dot = zero
    for f in range(P.shape[1]):
        dot += pu[f] * qi[f]
    e = r - (mu + bu[u] + bi[i] + dot)
    bu[u] += lr_bias * (e - reg_bias * bu[u])
    bi[i] += lr_bias * (e - reg_bias * bi[i])
    step = lr * e
    for f in range(P.shape[1]):
        p = pu[f]
        q = qi[f]
        pu[f] = shrink * p + step * q
        qi[f] = shrink * q + step * p
    return e


update = compile_kernel(_update, fastmath=_FASTMATH, inline="always")


def _sgd_epoch(user, item, rating, order, mu, bu, bi, P, Q, lr, reg, lr_bias, reg_bias):
    """One SGD sweep over ``order``; returns the sum of the squared errors met.

    For each rating ``j = order[t]`` with ``u = user[j]``, ``i = item[j]``::

        e    = rating[j] - (mu + bu[u] + bi[i] + P[u] . Q[i])
        bu[u] += lr_bias * (e - reg_bias * bu[u])
        bi[i] += lr_bias * (e - reg_bias * bi[i])
        P[u]  += lr * (e * Q[i] - reg * P[u])     # both rows from their old values
        Q[i]  += lr * (e * P[u] - reg * Q[i])

    ``user``, ``item`` (int32 or int64, shape (nnz,), unchecked: the caller validates
    them) index ``bu``/``P`` (n_users, rank) and ``bi``/``Q`` (n_items, rank), which are
    updated in place; ``order`` is a permutation of ``range(nnz)``. Returns the sum of
    ``e**2`` over the sweep, each error measured just before its own update (NaN/inf
    once training diverges).
    """
    k = P.shape[1]
    n = order.shape[0]
    shrink = 1.0 - lr * reg
    sse = 0.0
    for t in range(n):
        j = order[t]
        e = update(user[j], item[j], rating[j], mu, bu, bi, P, Q, lr, shrink, lr_bias, reg_bias, 0.0)
        sse += e * e
        # The rows of a rating _AHEAD steps on, one call per 64-byte line. At the end of the
        # body, not the start: there it leaves LLVM's code for the update unchanged (same bits).
        if t + _AHEAD < n:
            ahead = order[t + _AHEAD]
            for f in range(0, k + 7, 8):
                prefetch(P, user[ahead], min(f, k - 1))
                prefetch(Q, item[ahead], min(f, k - 1))
    return sse


def _splitmix64(x):
    """The next state of the splitmix64 generator and its 64-bit output (Steele, Lea and Flood
    2014): the one generator of the shuffles here and of :mod:`labrec.synthetic`."""
    x += np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


# _shuffle and synthetic._generate call the compiled splitmix64 (numba resolves globals when it compiles).
splitmix64 = compile_kernel(_splitmix64)


def _shuffle(order, seed):
    """Fisher-Yates shuffle of ``order`` in place, driven by the 64-bit ``seed``.

    Cheaper than numpy's ``Generator.permutation`` (``make bench``). The generator is
    :func:`splitmix64`, and index ``t`` is drawn from the high 32 bits scaled to ``[0, t]``
    (bias below ``n / 2**32``, about 2e-5 for 100,000 ratings).
    """
    x = np.uint64(seed)
    for t in range(order.shape[0] - 1, 0, -1):
        x, z = splitmix64(x)
        j = np.int64(((z >> np.uint64(32)) * np.uint64(t + 1)) >> np.uint64(32))
        tmp = order[t]
        order[t] = order[j]
        order[j] = tmp


def _predict(user, item, mu, bu, bi, P, Q, out):
    """``out[j] = mu + bu[u] + bi[i] + P[u] . Q[i]`` for each pair, without the
    (n, rank) temporaries that numpy fancy indexing would allocate."""
    k = P.shape[1]
    for j in range(user.shape[0]):
        u = user[j]
        i = item[j]
        dot = 0.0
        for f in range(k):
            dot += P[u, f] * Q[i, f]
        out[j] = mu + bu[u] + bi[i] + dot


sgd_epoch = compile_kernel(_sgd_epoch, fastmath=_FASTMATH)
shuffle = compile_kernel(_shuffle, fastmath=_FASTMATH)
predict = compile_kernel(_predict, fastmath=_FASTMATH)


def warm_up() -> None:
    """Compile (or load from the cache) the kernels for the dtypes BiasedMF uses.

    Timed comparisons call this first so that the one-off JIT compilation (1-2 s
    on a cold cache) is not charged to the first fold.
    """
    f = np.zeros((1, 2))
    for dtype in (np.int32, np.int64):
        idx = np.zeros(1, dtype=dtype)
        shuffle(idx, 1)
        sgd_epoch(idx, idx, np.ones(1), idx, 0.0, np.zeros(1), np.zeros(1), f, f.copy(), 0.01, 0.1, 0.01, 0.1)
    idx = np.zeros(1, dtype=np.int64)
    predict(idx, idx, 0.0, np.zeros(1), np.zeros(1), f, f, np.empty(1))
    # A fitted model's arrays are read-only, which numba compiles separately.
    frozen = [np.zeros(1), np.zeros(1), f.copy(), f.copy()]
    for a in frozen:
        a.setflags(write=False)
    predict(idx, idx, 0.0, *frozen, np.empty(1))
    # The blocked schedule: float32 arrays, int32 block copies, and int32 or int64 inputs.
    f32 = np.zeros((1, 2), np.float32)
    b32, i32 = np.zeros(1, np.float32), np.zeros(1, np.int32)
    sgd_blocks(i32, i32, np.ones(1, np.float32), np.array([0, 1]), np.zeros(1, np.int64), np.float32(0), b32,
               b32.copy(), f32, f32.copy(), *(np.float32(0.01),) * 4, np.zeros(1))
    one = np.array([0, 1])
    group_by_user(i32, i32, b32, one, np.zeros(1, np.int64), 1, one, i32.copy(), i32.copy(), b32.copy(),
                  np.zeros(2, np.int64))
    seen_from_blocks(i32, i32, one, 1, np.zeros(1, np.int64), one, i32, i32, one, np.zeros(1, np.int64), i32.copy())
    for dtype in (np.int32, np.int64):
        idx = np.zeros(1, dtype=dtype)
        count(idx, np.zeros(1, np.int64))
        for rating in (np.ones(1), np.ones(1, np.float32)):
            block_counts(idx, idx, i32, i32, 1, np.zeros(1, np.int64))
            scatter_blocks(idx, idx, rating, i32, i32, i32, i32, 1, np.zeros(1, np.int64), i32.copy(), i32.copy(),
                           b32.copy())
    predict(np.zeros(1, np.int64), np.zeros(1, np.int64), 0.0, b32, b32, f32, f32, np.empty(1))


# ------------------------------------------------------------ blocked schedule
#
# The kernels of the FPSGD/libmf blocked schedule (driven by ._sgd): a counting
# sort of the ratings into the B x B grid of (user bin, item bin) blocks, users
# grouped within each block, and the sweep over a list of blocks; float32/int32.


def _block_counts(user, item, user_bin, item_bin, n_bins, counts):
    """``counts[a * n_bins + b]`` += the ratings falling in block (a, b)."""
    for j in range(user.shape[0]):
        counts[user_bin[user[j]] * n_bins + item_bin[item[j]]] += 1


def _scatter_blocks(user, item, rating, user_bin, item_bin, new_user, new_item, n_bins, cursor,
                    out_user, out_item, out_rating):
    """Copy the ratings into block order (``cursor``: each block's next free slot),
    renumbering users and items; a counting sort, so one pass and no temporaries."""
    for j in range(user.shape[0]):
        u = user[j]
        i = item[j]
        b = user_bin[u] * n_bins + item_bin[i]
        t = cursor[b]
        cursor[b] = t + 1
        out_user[t] = new_user[u]
        out_item[t] = new_item[i]
        out_rating[t] = rating[j]


def _group_by_user(user, item, rating, block_ptr, blocks, n_bins, bin_first_user, scratch_user, scratch_item,
                   scratch_rating, counts):
    """Order the ratings of each block in ``blocks`` by user (stable: a user's ratings keep their
    order), in place.

    A counting sort per block over the users of its bin (``bin_first_user[a]`` up to
    ``bin_first_user[a + 1]``, contiguous after renumbering); the scratch arrays hold
    one block, ``counts`` one bin's users plus one.
    """
    for b in blocks:
        first = bin_first_user[b // n_bins]
        n_bin_users = bin_first_user[b // n_bins + 1] - first
        start, stop = block_ptr[b], block_ptr[b + 1]
        counts[: n_bin_users + 1] = 0
        for j in range(start, stop):
            counts[user[j] - first + 1] += 1
        for v in range(n_bin_users):
            counts[v + 1] += counts[v]
        for j in range(start, stop):
            t = counts[user[j] - first]
            counts[user[j] - first] = t + 1
            scratch_user[t] = user[j]
            scratch_item[t] = item[j]
            scratch_rating[t] = rating[j]
        for t in range(stop - start):
            user[start + t] = scratch_user[t]
            item[start + t] = scratch_item[t]
            rating[start + t] = scratch_rating[t]


def _seen_from_blocks(user, item, block_ptr, n_bins, stripes, bin_first_user, orig_user, orig_item, seen_ptr,
                      fill, seen):
    """Each user's items (original ids, sorted) into ``seen`` (CSR by original user, ``seen_ptr``),
    for the users of the user bins ``stripes``; ``fill`` (n_users,) starts as ``seen_ptr[:-1]``.

    Returns the original id of a user with a repeated item, or -1.
    """
    for a in stripes:
        for b in range(a * n_bins, (a + 1) * n_bins):
            for j in range(block_ptr[b], block_ptr[b + 1]):
                u = orig_user[user[j]]
                seen[fill[u]] = orig_item[item[j]]
                fill[u] += 1
        for v in range(bin_first_user[a], bin_first_user[a + 1]):
            u = orig_user[v]
            items = seen[seen_ptr[u]:seen_ptr[u + 1]]
            items.sort()
            for t in range(1, items.shape[0]):
                if items[t] == items[t - 1]:
                    return u
    return -1


def _sgd_blocks(user, item, rating, block_ptr, blocks, mu, bu, bi, P, Q, lr, shrink, lr_bias, reg_bias,
                block_sse):
    """Sweep each block in ``blocks`` (in that order), updating the parameters in place.

    Block ``b``'s ratings are ``block_ptr[b]:block_ptr[b + 1]`` of the float32/int32
    arrays, grouped by user (:func:`_group_by_user`), so that a user's row stays in
    L1 across their ratings; the update is :func:`_sgd_epoch`'s, in float32
    (``shrink`` = ``1 - lr * reg``). ``block_sse[b]`` receives the block's sum of
    squared errors.
    """
    zero = np.float32(0.0)
    for n in range(blocks.shape[0]):
        b = blocks[n]
        start = block_ptr[b]
        sse = 0.0
        for j in range(start, block_ptr[b + 1]):
            e = update(user[j], item[j], rating[j], mu, bu, bi, P, Q, lr, shrink, lr_bias, reg_bias, zero)
            sse += e * e
        block_sse[b] = sse


block_counts = compile_kernel(_block_counts)
scatter_blocks = compile_kernel(_scatter_blocks)
sgd_blocks = compile_kernel(_sgd_blocks, fastmath=_FASTMATH)
group_by_user = compile_kernel(_group_by_user)
seen_from_blocks = compile_kernel(_seen_from_blocks)


def _count(idx, counts):
    """``counts[idx[j]] += 1`` (``np.bincount`` would first copy int32 indices to int64)."""
    for j in range(idx.shape[0]):
        counts[idx[j]] += 1


count = compile_kernel(_count)
