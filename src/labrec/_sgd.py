"""The SGD training loops of :class:`labrec.BiasedMF` (private).

Two schedules over the same per-rating update (:mod:`._kernels`):

* ``shuffle`` (:func:`run_shuffled`): each epoch one sweep over all the ratings in a fresh
  random order, float64, one thread: what BiasedMF has always done.
* ``blocked`` (:func:`run_blocked`): FPSGD/libmf's schedule (Zhuang et al. 2013,
  Chin et al. 2015). Users and items are dealt into B bins each; the ratings are
  copied into the B x B grid of (user bin, item bin) blocks (counting sorts). The
  B blocks of a stratum, ``(a, (a + s) mod B)`` for ``a = 0..B-1``, share no user
  and no item, so they are swept in parallel by ``n_jobs`` Python threads (the
  kernels release the GIL) and the result is the same for every thread count.
  Randomness is FPSGD's "partial random" order: a fresh random order of the
  strata each epoch, each block in a fixed order grouped by user, which keeps a
  user's row in L1 across their ratings in the block while the block's item rows
  (about :data:`BLOCK_BYTES`) stay in L2. Factors are float32, indices int32, and
  each bin's users (items) are renumbered to be contiguous, so the cost per rating
  barely grows with the number of ratings; a shuffle within each block loses that
  (its user rows no longer fit in cache). ``benchmarks/bench_scale.py`` and
  notebook 07 measure both.

Python threads rather than numba's ``parallel=True``: they need no threading
layer, are not capped by ``NUMBA_NUM_THREADS=1`` (which the Makefile exports for
reproducibility), and one kernel call per stratum and thread keeps their cost
negligible (B = 14 at the Netflix size: 280 calls a thread for 20 epochs).
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import torch

from labmf.convergence import DivergenceError
from labmf.metrics import rmse

from . import _kernels
from ._base import check_triplets

__all__ = ["initial_parameters", "run_shuffled", "run_blocked", "run_blocked_on_grid", "Grid", "kernel_steps",
           "rating_counts",
           "seen_items", "predict_clipped", "BLOCK_BYTES"]


#: Target size of a block's item slab (float32 rows read in random order): an eighth of a 2 MiB L2.
BLOCK_BYTES = 1 << 18


class Blocked(NamedTuple):
    """Ratings in block order (int32 users/items renumbered bin by bin, float32 ratings), shape
    (nnz,): block ``k = a * n_bins + b`` (user bin ``a``, item bin ``b``) is
    ``block_ptr[k]:block_ptr[k + 1]``; ``new_user[u]`` is user ``u``'s row in the internal
    factors (likewise ``new_item``), ``user_bin[u]`` its bin."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    block_ptr: np.ndarray
    n_bins: int
    new_user: np.ndarray
    new_item: np.ndarray
    user_bin: np.ndarray


def n_bins_for(nnz: int, n_items: int, rank: int) -> int:
    """Grid size B: enough bins for a block's item rows to fit :data:`BLOCK_BYTES` (a user's row
    is reused across their ratings in the block, the items' are read at random), at least 8 so
    that two threads can share a stratum evenly, but blocks of >= ~4000 ratings (fewer strata to
    synchronise on small data). It does not
    depend on the thread count, so neither do the results."""
    slab = math.ceil(n_items * rank * 4 / BLOCK_BYTES)
    return int(max(1, min(max(8, slab), math.isqrt(nnz // 4096), 1024)))


def deal_bins(counts: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Deal entities by decreasing count into ``n_bins`` bins, snake order (0..B-1, B-1..0, ...),
    which balances both the ratings and the entities per bin. Returns ``(bin_of, new_id)``,
    int32 of shape (n,), with the entities of each bin numbered contiguously."""
    n = counts.shape[0]
    pos = np.arange(n)
    pos_bin = np.where((pos // n_bins) % 2 == 0, pos % n_bins, n_bins - 1 - pos % n_bins)
    bin_of = np.empty(n, dtype=np.int32)
    bin_of[np.argsort(-counts, kind="stable")] = pos_bin
    new_id = np.empty(n, dtype=np.int32)
    new_id[np.argsort(bin_of, kind="stable")] = np.arange(n, dtype=np.int32)
    return bin_of, new_id


def to_blocks(user, item, rating, user_counts, item_counts, rank: int, n_jobs: int = 1, pool=None,
              n_bins: int | None = None) -> Blocked:
    """Copy checked ratings into the block layout: a counting sort by block, then one by user
    within each block (on ``n_jobs`` threads); 12 bytes a rating and a block of scratch a thread.
    ``n_bins``: the grid size (default :func:`n_bins_for`)."""
    n_bins = n_bins or n_bins_for(user.shape[0], item_counts.shape[0], rank)
    user_bin, new_user = deal_bins(user_counts, n_bins)
    item_bin, new_item = deal_bins(item_counts, n_bins)
    counts = np.zeros(n_bins * n_bins, dtype=np.int64)
    _kernels.block_counts(user, item, user_bin, item_bin, n_bins, counts)
    block_ptr = np.concatenate([[0], np.cumsum(counts)])
    nnz = user.shape[0]
    out = (np.empty(nnz, np.int32), np.empty(nnz, np.int32), np.empty(nnz, np.float32))
    cursor = block_ptr[:-1].copy()
    _kernels.scatter_blocks(user, item, rating, user_bin, item_bin, new_user, new_item, n_bins, cursor, *out)
    bin_first_user = np.concatenate([[0], np.cumsum(np.bincount(user_bin, minlength=n_bins))])
    longest = int(counts.max(initial=0))
    widest = int(np.diff(bin_first_user).max()) + 1

    def group(t):
        scratch = (np.empty(longest, np.int32), np.empty(longest, np.int32), np.empty(longest, np.float32))
        _kernels.group_by_user(*out, block_ptr, np.arange(t, n_bins * n_bins, n_jobs), n_bins, bin_first_user,
                               *scratch, np.empty(widest, np.int64))

    _each(pool, n_jobs, group)
    return Blocked(*out, block_ptr, n_bins, new_user, new_item, user_bin)


def plan_strata(blocked: Blocked, n_jobs: int) -> list[list[np.ndarray]]:
    """For each stratum ``s`` (blocks ``(a, (a + s) mod B)``), the block ids of each thread:
    largest block first to the least-loaded thread, so the threads finish together."""
    B = blocked.n_bins
    sizes = np.diff(blocked.block_ptr)
    plan = []
    for s in range(B):
        ids = np.arange(B) * B + (np.arange(B) + s) % B
        loads, parts = [0] * n_jobs, [[] for _ in range(n_jobs)]
        for b in ids[np.argsort(-sizes[ids], kind="stable")]:
            t = loads.index(min(loads))
            loads[t] += int(sizes[b])
            parts[t].append(b)
        plan.append([np.array(sorted(p), dtype=np.int64) for p in parts if p])
    return plan


def kernel_steps(steps) -> tuple:
    """``(lr, shrink, lr_bias, reg_bias)`` as :func:`._kernels.sgd_blocks` takes them (float32,
    ``shrink = 1 - lr * reg``) from ``steps = (lr, reg, lr_bias, reg_bias)``."""
    lr, reg, lr_bias, reg_bias = (np.float32(x) for x in steps)
    return lr, np.float32(1.0 - float(lr) * float(reg)), lr_bias, reg_bias


def blocked_epoch(blocked: Blocked, plan, stratum_order, params, steps, pool) -> float:
    """One epoch of the blocked schedule; returns its SSE. ``steps`` = ``(lr, reg, lr_bias, reg_bias)``;
    ``pool`` runs all but the first part of each stratum (None: one thread)."""
    mu, bu, bi, P, Q = params
    lr, shrink, lr_bias, reg_bias = kernel_steps(steps)
    block_sse = np.zeros(blocked.block_ptr.shape[0] - 1)

    def run(blocks):
        _kernels.sgd_blocks(blocked.user, blocked.item, blocked.rating, blocked.block_ptr, blocks, np.float32(mu),
                            bu, bi, P, Q, lr, shrink, lr_bias, reg_bias, block_sse)

    for s in stratum_order:
        parts = plan[s]
        futures = [pool.submit(run, p) for p in parts[1:]] if pool is not None else []
        for p in parts[:1] if pool is not None else parts:
            run(p)
        for f in futures:
            f.result()
    # A fixed-order sum over a per-block array: the same for every thread count.
    return float(block_sse.sum())


def rating_counts(u, i, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Training ratings per user and per item, int64 of shapes (n_users,), (n_items,)."""
    counts = np.zeros(n_users, dtype=np.int64), np.zeros(n_items, dtype=np.int64)
    _kernels.count(u, counts[0])
    _kernels.count(i, counts[1])
    return counts


def seen_items(blocked: Blocked, user_counts, n_jobs: int, pool, raw) -> np.ndarray:
    """Each user's items, sorted, CSR by user (int32 when they fit), from the block layout, one
    stripe of user bins per thread; raises on a repeated (user, item) pair as check_triplets does
    (``raw``: the fit's arguments, re-checked only then, for its message)."""
    n_items = blocked.new_item.shape[0]
    seen = np.empty(blocked.user.shape[0], np.int32 if n_items < 2**31 else np.int64)
    seen_ptr = np.concatenate([[0], np.cumsum(user_counts)])
    fill = seen_ptr[:-1].copy()
    orig_user, orig_item = np.argsort(blocked.new_user), np.argsort(blocked.new_item)
    B = blocked.n_bins
    bin_first_user = np.concatenate([[0], np.cumsum(np.bincount(blocked.user_bin, minlength=B))])
    args = (blocked.user, blocked.item, blocked.block_ptr, B)
    rest = (bin_first_user, orig_user, orig_item, seen_ptr, fill, seen)
    repeats = _each(pool, n_jobs, lambda t: _kernels.seen_from_blocks(*args, np.arange(t, B, n_jobs), *rest))
    if max(repeats) >= 0:
        check_triplets(*raw)  # raises with the positions of the first repeat
        raise AssertionError("a repeated (user, item) pair went unreported")
    return seen


def _each(pool, n_jobs: int, fn) -> list:
    """``[fn(0), ..., fn(n_jobs - 1)]``, all but the first on ``pool``."""
    futures = [pool.submit(fn, t) for t in range(1, n_jobs)] if n_jobs > 1 else []
    return [fn(0)] + [f.result() for f in futures]


class Grid(NamedTuple):
    """An explicit grid for the blocked schedule, to replay a DSGD run (:mod:`labrec.spark`) here.

    ``n_bins`` is the grid size B (users and items still dealt by :func:`deal_bins`), ``params``
    the initial ``(mu, b_u, b_i, P, Q)`` (float32, the caller's order) and ``strata``, shape
    (num_epochs, B), each epoch's stratum order (drawn from the seed when there is no grid).
    """

    n_bins: int
    params: tuple
    strata: np.ndarray


def run_blocked(u, i, r, counts, hp: dict, rng, held_out, raw, grid: Grid | None = None):
    """Blocked-schedule training: the parameters in the caller's user/item order (float32), the
    per-epoch training and held-out RMSEs, and each user's items (:func:`seen_items`)."""
    n_jobs = hp["n_jobs"]
    pool = ThreadPoolExecutor(n_jobs - 1) if n_jobs > 1 else None
    try:
        n_bins = None if grid is None else grid.n_bins
        blocked = to_blocks(u, i, r, counts[0], counts[1], hp["rank"], n_jobs, pool, n_bins)
        seen = seen_items(blocked, counts[0], n_jobs, pool, raw)
        return (*_sgd_blocked(blocked, r, counts, hp, rng, held_out, pool, grid), seen)
    finally:
        if pool is not None:
            pool.shutdown()


def run_blocked_on_grid(u, i, r, hp: dict, grid: Grid):
    """The blocked schedule on an explicit :class:`Grid` (the reference of :mod:`labrec.spark`'s
    DSGD): checked int32/int64 indices ``u``, ``i`` and float32/float64 ratings ``r``, shape (nnz,),
    each block swept in the input order of its users' ratings. Returns ``((mu, b_u, b_i, P, Q),
    train_rmse)`` in the caller's order."""
    counts = rating_counts(u, i, grid.params[1].size, grid.params[2].size)
    raw = (u, i, r, counts[0].size, counts[1].size)
    params, train_rmse, _, _ = run_blocked(u, i, r, counts, hp, None, None, raw, grid)
    return params, train_rmse


def _sgd_blocked(blocked: Blocked, r, counts, hp: dict, rng, held_out, pool, grid: Grid | None = None):
    if grid is None:
        mu, bu, bi, P, Q = initial_parameters(r, counts, hp["rank"], hp["init_std"], rng, np.float32)
    else:
        mu, bu, bi, P, Q = (grid.params[0], *(np.array(a, np.float32) for a in grid.params[1:]))
    # Internal rows: each bin's users (items) contiguous, so a block's rows form one slab.
    P_int, Q_int = np.empty_like(P), np.empty_like(Q)
    P_int[blocked.new_user], Q_int[blocked.new_item] = P, Q
    del P, Q
    params = (mu, bu, bi, P_int, Q_int)
    plan = plan_strata(blocked, hp["n_jobs"])
    if held_out is not None:
        held_out = (blocked.new_user[held_out[0]], blocked.new_item[held_out[1]], held_out[2])

    def sweep(epoch, lr, lr_bias):
        steps = (lr, hp["reg"], lr_bias, hp["reg_bias"])
        order = rng.permutation(blocked.n_bins) if grid is None else grid.strata[epoch]
        return blocked_epoch(blocked, plan, order, params, steps, pool)

    train_rmse, eval_rmse = _epochs(sweep, params, r, hp, held_out)
    mu, bu, bi, P_int, Q_int = params
    return (mu, bu[blocked.new_user], bi[blocked.new_item], P_int[blocked.new_user],
            Q_int[blocked.new_item]), train_rmse, eval_rmse


def likely_causes(hp: dict, rating: np.ndarray) -> str:
    """What most likely made a fit blow up or end worse than the global mean, from its settings
    and ratings: huge ratings, large steps (``lr``, ``lr_bias``), a penalty that overshoots
    (``reg * lr``), a large start (``init_std``); else a smaller ``lr`` to try."""
    top = float(np.abs(rating).max())
    causes = [f"ratings as large as {top:g}: rescale them to a few units (e.g. 1-5)" if top > 100 else "",
              f"lr_bias={hp['lr_bias']:g} is large (default 0.005)" if hp["lr_bias"] > 0.05 else "",
              f"lr={hp['lr']:g} is large (default 0.02)" if hp["lr"] > 0.1 else "",
              f"reg={hp['reg']:g} with lr={hp['lr']:g} overshoots (each step scales a factor by 1 - lr*reg; "
              "lower reg)" if hp["reg"] * hp["lr"] > 0.5 else "",
              f"reg_bias={hp['reg_bias']:g} with lr_bias={hp['lr_bias']:g} overshoots (lower reg_bias)"
              if hp["reg_bias"] * hp["lr_bias"] > 0.5 else "",
              f"init_std={hp['init_std']:g} at rank {hp['rank']} starts far from the ratings (default 0.01)"
              if hp["init_std"] ** 2 * hp["rank"] > 1 else ""]
    causes = [c for c in causes if c]
    return "likely cause: " + "; ".join(causes) if causes else f"lower lr (try lr={hp['lr'] / 10:g})"


def warn_if_worse_than_mean(params, u, i, r, last_rmse: float, hp: dict) -> None:
    """Warn, with the numbers, when the fit predicts its own training ratings worse than their mean does."""
    r = np.asarray(r, dtype=np.float64)
    mean_rmse = float(np.sqrt(np.mean((r - r.mean()) ** 2)))
    if last_rmse <= mean_rmse:
        return  # the last sweep's (pessimistic) error already beats the mean: no extra pass
    pred = predict_clipped(params, np.asarray(u, np.int64), np.asarray(i, np.int64), None)
    fitted = float(np.sqrt(np.mean((pred - r) ** 2)))
    if fitted > mean_rmse:
        warnings.warn(f"BiasedMF's training RMSE {fitted:.4f} is above the global mean's {mean_rmse:.4f}: the "
                      f"fit predicts its own ratings worse than their mean; {likely_causes(hp, r)}",
                      UserWarning, stacklevel=3)


def _check_epoch(sse: float, epoch: int, lr: float, lr_bias: float, hp: dict, rating) -> None:
    if not math.isfinite(sse):
        raise DivergenceError(f"BiasedMF diverged: the training loss became {sse} at epoch {epoch + 1} with "
                              f"lr={lr:g}, lr_bias={lr_bias:g}; {likely_causes(hp, rating)}")


def _check_factors(params, hp: dict, rating) -> None:
    if not (np.isfinite(params[3]).all() and np.isfinite(params[4]).all()):
        raise DivergenceError(f"BiasedMF diverged: the factors overflowed with lr={hp['lr']:g}; "
                              f"{likely_causes(hp, rating)}")


def initial_parameters(rating, counts, rank: int, init_std: float, rng, dtype=np.float64):
    """``(mu, b_u, b_i, P, Q)`` in ``dtype`` for both schedules: ``mu`` the mean training rating,
    biases 0, factors ``N(0, init_std^2)`` (drawn in float64, P then Q) for the users and items
    with training ratings (``counts``, from :func:`rating_counts`) and 0 for the others (never
    updated: bias-only fallback)."""
    P = rng.normal(0.0, init_std, size=(counts[0].size, rank)).astype(dtype, copy=False)
    Q = rng.normal(0.0, init_std, size=(counts[1].size, rank)).astype(dtype, copy=False)
    P[counts[0] == 0] = 0.0
    Q[counts[1] == 0] = 0.0
    return (float(rating.mean(dtype=np.float64)), np.zeros(counts[0].size, dtype), np.zeros(counts[1].size, dtype),
            P, Q)


def _epochs(sweep, params, rating: np.ndarray, hp: dict, held_out):
    """The epoch loop of both schedules: ``sweep(epoch, lr, lr_bias)`` runs one epoch in place on
    ``params`` and returns its training SSE over ``rating``; both rates decay by ``lr_decay`` after
    each epoch. Returns the per-epoch training and held-out RMSEs; raises on divergence."""
    num_epochs = hp["num_epochs"]
    train_rmse, eval_rmse = np.empty(num_epochs), None if held_out is None else np.empty(num_epochs)
    clip = (float(rating.min()), float(rating.max())) if hp["clip"] else None
    lr, lr_bias = hp["lr"], hp["lr_bias"]
    for epoch in range(num_epochs):
        sse = sweep(epoch, lr, lr_bias)
        _check_epoch(sse, epoch, lr, lr_bias, hp, rating)
        train_rmse[epoch] = math.sqrt(sse / rating.size)
        if held_out is not None:
            eval_rmse[epoch] = rmse(held_out[2], torch.from_numpy(predict_clipped(params, *held_out[:2], clip)))
        lr *= hp["lr_decay"]
        lr_bias *= hp["lr_decay"]
    _check_factors(params, hp, rating)
    return train_rmse, eval_rmse


def run_shuffled(params, data, hp: dict, rng, held_out):
    """Run the SGD epochs in place on ``params``; per-epoch training and held-out RMSEs."""
    mu, bu, bi, P, Q = params
    num_epochs = hp["num_epochs"]
    # 32-bit indices when they fit: less memory traffic in the kernel.
    index_dtype = np.int32 if max(data.user.size, data.n_users, data.n_items) < 2**31 else np.int64
    u, i = data.user.astype(index_dtype), data.item.astype(index_dtype)
    order = np.arange(u.size, dtype=index_dtype)
    # One 64-bit seed per epoch from the seeded Generator drives the compiled shuffle.
    epoch_seeds = rng.integers(0, 2**63, size=num_epochs, dtype=np.int64)

    def sweep(epoch, lr, lr_bias):
        _kernels.shuffle(order, epoch_seeds[epoch])
        return _kernels.sgd_epoch(u, i, data.rating, order, mu, bu, bi, P, Q, lr, hp["reg"], lr_bias, hp["reg_bias"])

    return _epochs(sweep, params, data.rating, hp, held_out)


def predict_clipped(params, u: np.ndarray, i: np.ndarray, clip) -> np.ndarray:
    """``mu + b_u + b_i + p_u . q_i`` for checked index pairs, clipped to ``clip`` = (low, high)."""
    est = np.empty(u.size)
    _kernels.predict(u, i, *params, est)
    if clip is not None:
        np.clip(est, *clip, out=est)
    return est
