"""Biased matrix factorisation, the Netflix Prize model, trained by per-rating SGD.

The model (Simon Funk's "SVD", 2006; Koren, Bell and Volinsky 2009) predicts the
rating of user ``u`` for item ``i`` as::

    r_ui ~ mu + b_u + b_i + p_u . q_i

with ``mu`` the mean training rating, ``b_u`` / ``b_i`` user and item biases and
``p_u``, ``q_i`` rows of rank-``rank`` factor matrices (users x items, like every
model in :mod:`labrec`), fitted by minimising the squared error over the
observed ratings plus an L2 penalty applied per rating, as in Surprise's ``SVD``::

    sum_(u,i) (r_ui - r^_ui)^2 + reg * (|p_u|^2 + |q_i|^2) + reg_bias * (b_u^2 + b_i^2)
"""

from __future__ import annotations

import time

import numpy as np
import torch

from labmf import evaluate
from labmf.validation import check_index, check_lr, check_memory, check_numpy_seed, check_scalar

from . import _sgd
from ._base import (
    RatingModel,
    _as_numpy,
    _check_count,
    check_bool,
    check_epochs,
    check_fitted,
    check_jobs,
    check_pairs,
    check_triplets,
    index_array,
    rating_array,
)

__all__ = ["BiasedMF", "TUNED", "check_params", "top_n"]

#: A slower setting (more factors, stronger ``reg``, decaying steps), tuned on another split
#: of the same ml-latest-small ratings as the defaults (so not a held-out figure); it takes
#: several times the default's fit time. Notebook 06 re-tunes both libraries on held-out data instead.
TUNED = {"rank": 200, "reg": 0.08, "lr": 0.02, "lr_decay": 0.97, "num_epochs": 40,
         "init_std": 0.01, "lr_bias": 0.002, "reg_bias": 0.02}


class BiasedMF(RatingModel):
    """Biased matrix factorisation trained by per-rating SGD (compiled with numba).

    Each epoch visits the training ratings in a fresh seeded random order. The
    defaults were chosen on another split of the ml-latest-small ratings (5 folds
    with seed 123, first two folds), so scores on those ratings are not held-out
    figures for them; notebook 06 tunes on held-out data. Small random starts
    and a fixed number of epochs act as a second regulariser: the factors grow from
    near zero and are stopped before they fit the noise; with many more epochs
    raise ``reg`` (about 0.08) or use ``lr_decay < 1``.

    Parameters
    ----------
    rank : int, default 50
        Number of factors.
    reg : float, default 0.05
        L2 penalty on the factors, per rating. On MovieLens this matters far more
        than ``rank``: Surprise's default 0.02 over-fits.
    lr : float, default 0.02
        SGD step size for the factors.
    num_epochs : int, default 20
        Sweeps over the training ratings, at most a million.
    reg_bias, lr_bias : float, default 0.005
        L2 penalty and step size for the user and item biases.
    lr_decay : float, default 1.0
        Both step sizes are multiplied by this after every epoch, ``0 < lr_decay <= 1``.
    init_std : float, default 0.01
        Factors start from ``N(0, init_std^2)``; biases start at 0.
    clip : bool, default True
        Clip predictions to the range of the training ratings.
    seed : int, numpy Generator or None, default None
        Drives the initial factors and each epoch's order; None is not reproducible.
    n_jobs : int, default 1
        Threads for the ``"blocked"`` schedule, at most 64 (or 4 per core on a bigger machine):
        Python threads running numba kernels that release the GIL, so
        ``NUMBA_NUM_THREADS``/``OMP_NUM_THREADS`` do not cap them.
    schedule : {"auto", "shuffle", "blocked"}, default "auto"
        ``"shuffle"``: each epoch is one sweep in a fresh random order of all the
        ratings, in float64 (one thread; what notebook 06 reports). ``"blocked"``: the
        FPSGD/libmf schedule: the ratings are cut into a grid of user-bin x item-bin
        blocks, blocks sharing no user or item are swept in parallel, the blocks in a
        fresh random order of strata each epoch, each block grouped by user, in float32
        with int32 indices. The factor rows a block touches stay in cache (README,
        "Scale", and ``make bench-scale`` give the times); it gives the same
        result for every ``n_jobs``, but not the same numbers as ``"shuffle"``
        (another order, float32). ``"auto"``: ``"shuffle"`` when
        ``n_jobs == 1``, else ``"blocked"``.

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray, shapes (n_users_,), (n_items_,)
    user_factors_, item_factors_ : ndarray, shapes (n_users_, rank), (n_items_, rank)
        Read-only; float64, or float32 from the blocked schedule (biases likewise).
        Users and items without a training rating keep bias 0 and zero
        factors, so their predictions fall back to ``mu`` plus the known bias.
    train_rmse_ : ndarray, shape (num_epochs,)
        ``sqrt(mean e^2)`` over each epoch's sweep, each error taken just before that
        rating's own update (free to compute; slightly pessimistic).
    eval_rmse_ : ndarray, shape (num_epochs,), or None
        RMSE on ``eval_set`` after each epoch, when ``fit`` was given one.
    rating_range_ : (float, float)
        Smallest and largest training rating.
    user_counts_, item_counts_ : ndarray of int64, shapes (n_users_,), (n_items_,)
        Training ratings per user / item.
    n_users_, n_items_ : int
    fit_time_ : float
        Wall time of the last :meth:`fit` in seconds.
    schedule_ : str
        The schedule used, ``"shuffle"`` or ``"blocked"``.

    ids_ : FittedIds or None
        The user and item id maps (and titles) of the :class:`~labrec.Ratings`
        table ``fit`` was given; None after a fit on index arrays. With them,
        :meth:`predict` and :meth:`recommend` take and give ids.

    Examples
    --------
    >>> model = BiasedMF(seed=0).fit(load_movielens("small"))       # doctest: +SKIP
    >>> model.predict(17, 1000)                                     # doctest: +SKIP
    >>> model.recommend(17, n=5)  # DataFrame: item, title, score   # doctest: +SKIP
    >>> model = BiasedMF(seed=0).fit(user_idx, item_idx, ratings)  # doctest: +SKIP
    >>> model.predict([0, 1], [10, 20])  # positions                # doctest: +SKIP
    """

    def __init__(self, rank=50, *, reg=0.05, lr=0.02, num_epochs=20, reg_bias=0.005, lr_bias=0.005,
                 lr_decay=1.0, init_std=0.01, clip=True, seed=None, n_jobs=1, schedule="auto"):
        self.rank = rank
        self.reg = reg
        self.lr = lr
        self.num_epochs = num_epochs
        self.reg_bias = reg_bias
        self.lr_bias = lr_bias
        self.lr_decay = lr_decay
        self.init_std = init_std
        self.clip = clip
        self.seed = seed
        self.n_jobs = n_jobs
        self.schedule = schedule

    def fit(self, user_idx, item_idx=None, ratings=None, n_users=None, n_items=None, *, eval_set=None):
        """Learn biases and factors from a Ratings table, or from ``(user_idx[j], item_idx[j], ratings[j])``.

        Parameters
        ----------
        user_idx : Ratings, or array-like of int, shape (nnz,)
            A :class:`~labrec.Ratings` table (``load_ratings``, ``load_movielens``):
            the model keeps its ids (``ids_``) and the other arguments stay unset. Or
            contiguous user indices (``Ratings.indexed()``).
        item_idx : array-like of int, shape (nnz,)
            Contiguous item indices; each (user, item) pair at most once.
        ratings : array-like of real, shape (nnz,)
        n_users, n_items : int, optional
            Sizes of the index spaces (default: largest index + 1). Give them when
            ``predict`` may later meet users or items absent from training.
        eval_set : (user_idx, item_idx, ratings) or Ratings, optional
            Held-out ratings whose RMSE is recorded after every epoch (``eval_rmse_``);
            a table (ids) when ``fit`` was given one.

        Returns
        -------
        self

        Raises
        ------
        DivergenceError
            If the training loss becomes NaN or infinite (lower ``lr``).
        MemoryError
            Before allocating, if the fit would need more memory than is available.
        """
        start = time.perf_counter()
        hp = check_params(**self.get_params())
        (user_idx, item_idx, ratings, n_users, n_items), ids = self._fit_input(user_idx, item_idx, ratings,
                                                                                n_users, n_items)
        eval_set = self._eval_input(eval_set, ids)
        u, i, r, n_users, n_items = _lean_triplets(user_idx, item_idx, ratings, n_users, n_items)
        check_memory(_fit_bytes(u.size, n_users, n_items, hp["rank"], hp["schedule"]),
                     f"BiasedMF.fit ({u.size:,} ratings, {n_users:,} users x {n_items:,} items, rank {hp['rank']}, "
                     f"schedule {hp['schedule']!r})")
        held_out = _check_eval_set(eval_set, n_users, n_items)
        rng = np.random.default_rng(hp["seed"])
        if hp["schedule"] == "shuffle":
            data = check_triplets(u, i, r, n_users, n_items)
            counts = _sgd.rating_counts(data.user, data.item, n_users, n_items)
            params = _sgd.initial_parameters(data.rating, counts, hp["rank"], hp["init_std"], rng)
            train_rmse, eval_rmse = _sgd.run_shuffled(params, data, hp, rng, held_out)
            seen = data.item[data.by_user]
        else:
            counts = _sgd.rating_counts(u, i, n_users, n_items)
            raw = (user_idx, item_idx, ratings, n_users, n_items)
            params, train_rmse, eval_rmse, seen = _sgd.run_blocked(u, i, r, counts, hp, rng, held_out, raw)
        self._store(params, counts, seen, (float(r.min()), float(r.max())), train_rmse, eval_rmse)
        self.clip_, self.schedule_ = hp["clip"], hp["schedule"]
        self.ids_ = ids
        self.fit_time_ = time.perf_counter() - start
        _sgd.warn_if_worse_than_mean(params, u, i, r, train_rmse[-1], hp)
        return self

    def _store(self, params, counts, seen, rating_range, train_rmse, eval_rmse) -> None:
        mu, bu, bi, P, Q = params
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_ = _frozen(bu), _frozen(bi)
        self.user_factors_, self.item_factors_ = _frozen(P), _frozen(Q)
        self.train_rmse_ = _frozen(train_rmse)
        self.eval_rmse_ = None if eval_rmse is None else _frozen(eval_rmse)
        self.rating_range_ = rating_range
        self.n_users_, self.n_items_ = P.shape[0], Q.shape[0]
        self.user_counts_ = _frozen(counts[0].astype(np.int64))
        self.item_counts_ = _frozen(counts[1].astype(np.int64))
        # The training items of each user, CSR by user, for recommend(exclude_seen=True).
        self._seen_indptr = np.concatenate([[0], np.cumsum(self.user_counts_)])
        self._seen_items = _frozen(seen)

    def predict(self, user_idx, item_idx):
        """Predicted ratings for the pairs ``(user_idx[j], item_idx[j])``, shape (n,), float64.

        Ids when the model was fitted on a Ratings table (an unknown id raises
        :class:`~labmf.data.UnknownIdError`, a KeyError naming it), else positions.
        One pair (two scalars) gives a float. Clipped to the training rating range
        when ``clip=True``.
        """
        check_fitted(self, "user_factors_")
        user_idx, item_idx, scalar = self._pairs(user_idx, item_idx)
        u, i = check_pairs(user_idx, item_idx, n_users=self.n_users_, n_items=self.n_items_)
        params = (self.global_mean_, self.user_bias_, self.item_bias_, self.user_factors_, self.item_factors_)
        out = _sgd.predict_clipped(params, u, i, self.rating_range_ if self.clip_ else None)
        return float(out[0]) if scalar else out

    def scores(self, user) -> np.ndarray:
        """Predicted rating of every item for the user at index ``user``, shape (n_items_,) (not clipped).

        Indices, not ids: for an id, ``model.scores(model.ids_.users.index(user_id))``.
        """
        check_fitted(self, "user_factors_")
        user = check_index(user, "user", self.n_users_)
        return (self.global_mean_ + self.user_bias_[user] + self.item_bias_
                + self.item_factors_ @ self.user_factors_[user])

    def seen(self, user) -> np.ndarray:
        """Indices of the items the user at index ``user`` rated in training, sorted, shape (count,)."""
        check_fitted(self, "user_factors_")
        user = check_index(user, "user", self.n_users_)
        return self._seen_items[self._seen_indptr[user]:self._seen_indptr[user + 1]]

    def recommend(self, user, n=10, exclude_seen=True, *, min_item_ratings=1):
        """The ``n`` items with the highest predicted rating for ``user``.

        Parameters
        ----------
        user : int or str
            User id when the model was fitted on a Ratings table (an unknown id raises
            :class:`~labmf.data.UnknownIdError`, a KeyError), else the user's index.
        n : int, default 10
            Number of items wanted (fewer if fewer are eligible).
        exclude_seen : bool, default True
            Leave out the items the user rated in training.
        min_item_ratings : int, default 1
            Only items with at least this many training ratings (an item nobody rated
            has only the global mean to go on).

        Returns
        -------
        pandas.DataFrame
            One row per item, best first (ties broken by lower position): ``item``
            (the item id, or its index after a fit on arrays), ``title`` (when the
            table had titles) and ``score``, the predicted rating (not clipped, so
            they still rank).
        """
        user = self._user_position(user)
        scores = self.scores(user)
        exclude = self.seen(user) if check_bool(exclude_seen, "exclude_seen") else None
        return self._recommendations(*top_n(scores, n, exclude=exclude, item_counts=self.item_counts_,
                                            min_item_ratings=min_item_ratings))


def check_params(**params) -> dict:
    """:class:`BiasedMF`'s parameters checked and converted (those not given: its defaults); raises
    naming the bad one. ``fit`` checks through it, and so does :func:`labrec.surprise.svd_params`."""
    p = {name: q.default for name, q in BiasedMF._signature().items() if name != "self"} | params
    return {
        "rank": check_scalar(p["rank"], "rank", int, min_val=1),
        "reg": check_scalar(p["reg"], "reg", float, min_val=0.0),
        "lr": check_lr(p["lr"]),
        "num_epochs": check_epochs(p["num_epochs"]),
        "reg_bias": check_scalar(p["reg_bias"], "reg_bias", float, min_val=0.0),
        "lr_bias": check_lr(p["lr_bias"], "lr_bias"),
        "lr_decay": check_scalar(p["lr_decay"], "lr_decay", float, min_val=0.0, max_val=1.0,
                                 include_boundaries="right"),
        "init_std": check_scalar(p["init_std"], "init_std", float, min_val=0.0),
        "clip": check_bool(p["clip"], "clip"),
        "seed": check_numpy_seed(p["seed"], allow_none=True),
        "n_jobs": check_jobs(p["n_jobs"]),
        "schedule": _check_schedule(p["schedule"], p["n_jobs"]),
    }


def top_n(scores, n, *, exclude=None, item_counts=None, min_item_ratings=1):
    """The ``n`` best of ``scores`` (shape (n_items,)), ties to the lower index, leaving out
    ``exclude`` and the items with fewer than ``min_item_ratings`` in ``item_counts``.
    Returns ``(items, scores)``, each of shape (<= n,)."""
    min_item_ratings = check_scalar(min_item_ratings, "min_item_ratings", int, min_val=0)
    allowed = np.ones(scores.shape[0], dtype=bool) if item_counts is None else item_counts >= min_item_ratings
    if exclude is not None:
        allowed[exclude] = False
    nan = np.isnan(scores)
    if nan.any():  # a NaN would rank as a score; it is a broken model or input, never a recommendation
        raise ValueError(f"scores holds {int(nan.sum())} NaN(s), the first for item {int(np.argmax(nan))}; "
                         "a prediction must be a number to rank")
    return evaluate.top_n(scores, n, allowed)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _check_eval_set(eval_set, n_users: int, n_items: int):
    if eval_set is None:
        return None
    if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 3:
        raise ValueError("eval_set must be a (user_idx, item_idx, ratings) triple, "
                         f"got {type(eval_set).__name__} of length {len(eval_set)}")
    u, i = check_pairs(eval_set[0], eval_set[1], "eval_set ", n_users, n_items)
    return u, i, torch.from_numpy(rating_array(eval_set[2], "eval_set ratings", u.size))


_SCHEDULES = ("auto", "shuffle", "blocked")


def _check_schedule(schedule, n_jobs) -> str:
    if not isinstance(schedule, str) or schedule not in _SCHEDULES:
        raise ValueError(f"schedule must be one of {_SCHEDULES}, got {schedule!r}")
    if schedule == "auto":
        return "shuffle" if n_jobs == 1 else "blocked"
    if schedule == "shuffle" and n_jobs != 1:
        raise ValueError(f"schedule='shuffle' runs on one thread; got n_jobs={n_jobs} (use schedule='blocked')")
    return schedule


def _lean_index(x, name: str) -> np.ndarray:
    """``x`` as given when it is already a 1-D int32/int64 array of indices >= 0 (no copy: at
    10^8 ratings the int64 copy alone is 800 MB), else :func:`index_array`'s checked int64 copy."""
    arr = _as_numpy(x, name)
    if arr.ndim == 1 and arr.size and arr.dtype in (np.int32, np.int64) and arr.min() >= 0:
        return np.ascontiguousarray(arr)
    return index_array(x, name)


def _lean_triplets(user_idx, item_idx, ratings, n_users, n_items):
    """:func:`check_triplets`'s checks except duplicates, without copying int32/int64 indices
    or float32/float64 ratings. Returns ``(user, item, rating, n_users, n_items)``."""
    u, i = _lean_index(user_idx, "user_idx"), _lean_index(item_idx, "item_idx")
    if u.size != i.size:
        raise ValueError(f"user_idx and item_idx must have the same length, got {u.size} and {i.size}")
    r = _as_numpy(ratings, "ratings")
    if not (r.ndim == 1 and r.size == u.size and r.dtype in (np.float32, np.float64) and np.isfinite(r).all()):
        r = rating_array(ratings, "ratings", u.size)  # raises, or converts (e.g. integer ratings)
    r = np.ascontiguousarray(r)
    return (u, i, r, _check_count(n_users, "n_users", u, "user_idx"),
            _check_count(n_items, "n_items", i, "item_idx"))


def _fit_bytes(nnz: int, n_users: int, n_items: int, rank: int, schedule: str) -> int:
    """Memory a fit allocates beyond its inputs (the sort temporaries included), in bytes."""
    rows = n_users + n_items
    if schedule == "shuffle":  # int64 copies, lexsort, float64 factors
        return nnz * 64 + rows * (rank * 16 + 32)
    # 12-byte block copy, int32 seen items, float32 factors (internal and returned), bins and maps.
    return nnz * 16 + rows * (rank * 8 + 48)
