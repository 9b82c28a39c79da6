"""Netflix-shaped synthetic ratings with a known noise level, at any size.

The Netflix Prize set has 100,480,507 ratings by 480,189 users of 17,770 movies,
with heavy tails on both sides: a few movies have over 10^5 ratings while the
median movie has a few hundred, and most users rated under 200 movies (mean
about 209, median about 96). :func:`synthetic_ratings` draws ratings with that
shape (users x items, as in :mod:`labrec`) from a planted biased low-rank
model::

    r_ui = clip(mu + b_u + b_i + p_u . q_i + noise_ui, 1, 5),   noise_ui ~ N(0, noise^2)

so that cache behaviour is realistic and the best achievable RMSE is known
(``noise``, slightly less after clipping: :attr:`SyntheticRatings.oracle_rmse`
measures it on the held-out ratings). Activity and popularity are log-normal
(``user_spread``, ``item_spread`` are the standard deviations of their logs); each
user's items are distinct, drawn in proportion to popularity.

Cost: one compiled pass and 12 bytes (int32 user, int32 item, float32 rating) per
rating: 1.2 GB for 10^8 ratings (``make bench-scale`` times it).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from labmf.jit import compile_kernel
from labmf.validation import check_memory, check_numpy_seed, check_scalar

from ._kernels import splitmix64

__all__ = ["synthetic_ratings", "SyntheticRatings", "NETFLIX_SHAPE", "NETFLIX_RATINGS"]

#: (users, movies) of the Netflix Prize training set.
NETFLIX_SHAPE = (480_189, 17_770)
#: Ratings in the Netflix Prize training set.
NETFLIX_RATINGS = 100_480_507


class SyntheticRatings(NamedTuple):
    """Training and held-out triplets (users x items) of :func:`synthetic_ratings`.

    ``user``, ``item`` (int32) and ``rating`` (float32), shape (n_train,), are the
    training ratings, grouped by user; ``test_*``, shape (n_test,), the held-out
    ones. All six are views of three arrays (no copy). ``oracle_rmse`` is the RMSE
    of the clipped noiseless planted model on the held-out ratings (NaN if none):
    the best a model can do, a little under ``noise`` because of the clipping.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    test_user: np.ndarray
    test_item: np.ndarray
    test_rating: np.ndarray
    n_users: int
    n_items: int
    noise: float
    oracle_rmse: float


def _generate(counts, cdf, mu, bu, bi, P, Q, noise, test_fraction, seed, out_user, out_item, out_rating):
    """Fill the outputs user by user: training ratings from the front, held-out ones from
    the back. Returns ``(n_test, sum of squared oracle errors on the held-out ratings)``."""
    n_items, rank = Q.shape
    mark = np.full(n_items, -1, dtype=np.int64)  # mark[i] == u: user u already rated item i
    x = np.uint64(seed)
    front, back = 0, out_user.shape[0]
    sse = 0.0
    for u in range(counts.shape[0]):
        for _ in range(counts[u]):
            while True:  # an item the user has not rated yet, in proportion to popularity
                x, a = _splitmix(x)
                i = min(np.searchsorted(cdf, a), n_items - 1)
                if mark[i] != u:
                    break
            mark[i] = u
            truth = mu + bu[u] + bi[i]
            for f in range(rank):
                truth += P[u, f] * Q[i, f]
            x, a = _splitmix(x)
            x, b = _splitmix(x)
            # Box-Muller: a standard normal from two uniforms (1 - a lies in (0, 1]).
            z = math.sqrt(-2.0 * math.log(1.0 - a)) * math.cos(2.0 * math.pi * b)
            r = min(max(truth + noise * z, 1.0), 5.0)
            x, a = _splitmix(x)
            if a < test_fraction:
                back -= 1
                t = back
                e = r - min(max(truth, 1.0), 5.0)
                sse += e * e
            else:
                t = front
                front += 1
            out_user[t] = u
            out_item[t] = i
            out_rating[t] = r
    return out_user.shape[0] - back, sse


def _next_uniform(x):
    """Next :func:`~labrec._kernels.splitmix64` state and a uniform double in [0, 1) from it."""
    x, z = splitmix64(x)
    return x, float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


# _generate calls the compiled _splitmix (numba resolves globals when it compiles).
_splitmix = compile_kernel(_next_uniform)
_generate_jit = compile_kernel(_generate)


def _counts(weights: np.ndarray, total: int, cap: int) -> np.ndarray:
    """Integer counts, each <= ``cap``, summing to ``total``, in proportion to ``weights``
    (capped shares are handed to the others; remainders go to the largest fractions)."""
    share = weights / weights.sum() * total
    for _ in range(50):
        over = share > cap
        if not over.any():
            break
        excess = float((share[over] - cap).sum())
        share[over] = cap
        free = share < cap
        share[free] += excess * share[free] / share[free].sum()
    counts = np.minimum(np.floor(share), cap).astype(np.int64)
    short = total - int(counts.sum())
    frac = np.where(counts < cap, share - counts, -1.0)
    counts[np.argsort(-frac, kind="stable")[:short]] += 1
    return counts


def synthetic_ratings(n_ratings, n_users, n_items, rank=10, seed=0, *, noise=0.5, test_fraction=0.0,
                      mean=3.6, bias_std=0.3, signal_std=0.4, user_spread=1.25, item_spread=1.2):
    """Draw ``n_ratings`` Netflix-shaped ratings from a planted biased rank-``rank`` model.

    Parameters
    ----------
    n_ratings : int
        Ratings to draw (training plus held-out), at most ``n_users * (n_items // 2)``.
    n_users, n_items : int
        Index-space sizes (:data:`NETFLIX_SHAPE` for the full shape). Users and
        items may end up with no rating (the tails are realistic).
    rank : int, default 10
        Rank of the planted interaction ``p_u . q_i``.
    seed : int, default 0
        Everything is a function of the seed (and the other arguments).
    noise : float, default 0.5
        Standard deviation of the Gaussian noise: the achievable RMSE.
    test_fraction : float, default 0.0
        Each rating is held out with this probability.
    mean, bias_std, signal_std : float
        Global mean, standard deviation of the user and item biases and of ``p_u . q_i``.
    user_spread, item_spread : float
        Standard deviations of the logs of user activity and item popularity.

    Returns
    -------
    SyntheticRatings

    Raises
    ------
    MemoryError
        Before allocating, when the arrays would not fit in the available memory.
    """
    n_ratings = check_scalar(n_ratings, "n_ratings", int, min_val=1)
    n_users = check_scalar(n_users, "n_users", int, min_val=1, max_val=2**31 - 1)
    n_items = check_scalar(n_items, "n_items", int, min_val=2, max_val=2**31 - 1)
    rank = check_scalar(rank, "rank", int, min_val=1)
    seed = check_numpy_seed(seed)
    floats = {name: check_scalar(value, name, float, min_val=0.0) for name, value in (
        ("noise", noise), ("bias_std", bias_std), ("signal_std", signal_std), ("user_spread", user_spread),
        ("item_spread", item_spread))}
    test_fraction = check_scalar(test_fraction, "test_fraction", float, min_val=0.0, max_val=1.0)
    mean = check_scalar(mean, "mean", float)
    cap = n_items // 2  # keeps the draw of distinct items per user quick
    if n_ratings > n_users * cap:
        raise ValueError(f"n_ratings={n_ratings} is too many for {n_users} users x {n_items} items: at most "
                         f"n_users * (n_items // 2) = {n_users * cap} (each user rates at most half the items)")
    check_memory(n_ratings * 12 + (n_users + n_items) * (rank * 4 + 40),
                 f"synthetic_ratings ({n_ratings:,} ratings, {n_users:,} x {n_items:,}, rank {rank})")
    rng = np.random.default_rng(seed)
    counts = _counts(rng.lognormal(0.0, floats["user_spread"], n_users), n_ratings, cap)
    popularity = rng.lognormal(0.0, floats["item_spread"], n_items)
    cdf = np.cumsum(popularity) / popularity.sum()
    # Factor entries of std s give p.q a variance of rank * s^4 = signal_std^2.
    s = math.sqrt(floats["signal_std"] / math.sqrt(rank))
    P = rng.normal(0.0, s, (n_users, rank)).astype(np.float32)
    Q = rng.normal(0.0, s, (n_items, rank)).astype(np.float32)
    bu = rng.normal(0.0, floats["bias_std"], n_users).astype(np.float32)
    bi = rng.normal(0.0, floats["bias_std"], n_items).astype(np.float32)
    out = (np.empty(n_ratings, np.int32), np.empty(n_ratings, np.int32), np.empty(n_ratings, np.float32))
    n_test, sse = _generate_jit(counts, cdf, mean, bu, bi, P, Q, floats["noise"], test_fraction,
                                np.uint64(rng.integers(0, 2**63)), *out)
    cut = n_ratings - n_test
    return SyntheticRatings(*(a[:cut] for a in out), *(a[cut:] for a in out), n_users, n_items,
                            floats["noise"], math.sqrt(sse / n_test) if n_test else math.nan)
