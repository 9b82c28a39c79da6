"""A rating recommender: biased matrix factorisation, and cross-validation.

The model is the biased matrix factorisation popularised during the Netflix Prize
(Simon Funk's "SVD", 2006; Koren, Bell and Volinsky 2009)::

    r_ui ~ mu + b_u + b_i + p_u . q_i

with ``mu`` the global mean of the training ratings, ``b_u`` / ``b_i`` user and
item biases and ``p_u``, ``q_i`` rows of rank-``k`` factor matrices, fitted by
minimising the squared error over the observed ratings plus an L2 penalty::

    sum_(u,i) (r_ui - r^_ui)^2 + reg * (|p_u|^2 + |q_i|^2) + reg_bias * (b_u^2 + b_i^2)

(the penalty applied per rating, as in Surprise's ``SVD``). :class:`BiasedMF`
trains it with per-rating SGD in a compiled kernel, visiting the ratings in a
fresh seeded random order each epoch.

:func:`cross_validate` scores any model with ``fit`` / ``predict`` on given
folds (build them once with :func:`labmf.evaluate.kfold_indices` and hand the
same folds to every model); :class:`SurpriseModel` gives Surprise's algorithms
that interface so they are scored on exactly the same splits.

Everything works on contiguous integer indices (``Ratings.indexed()`` gives
them): user ``u`` is row ``u`` of the user factors.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ._validation import DivergenceError, check_int, check_numpy_seed, check_real
from .metrics import mae, rmse

__all__ = [
    "BiasedMF",
    "TUNED",
    "FittedMF",
    "SurpriseModel",
    "BaselineModel",
    "Ensemble",
    "CVResult",
    "cross_validate",
]


# ----------------------------------------------------------------- validation


def _index_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D int64 array of non-negative indices, or raise."""
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)  # 3.0 is an acceptable index, 3.5 is not
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    if arr.min() < 0:
        pos = int(np.argmin(arr))
        raise ValueError(f"{name} must be >= 0, found {name}[{pos}] = {int(arr[pos])}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _rating_array(x, name: str, size: int) -> np.ndarray:
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 1 or arr.size != size:
        raise ValueError(
            f"{name} must be 1-D with one value per (user, item) pair ({size}), "
            f"got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite, found {name}[{pos}] = {arr[pos]}")
    return arr


def _check_pairs(user_idx, item_idx) -> tuple[np.ndarray, np.ndarray]:
    u = _index_array(user_idx, "user_idx")
    i = _index_array(item_idx, "item_idx")
    if u.size != i.size:
        raise ValueError(
            f"user_idx and item_idx must have the same length, got {u.size} and {i.size}"
        )
    return u, i


def _check_count(n, name: str, idx: np.ndarray, idx_name: str) -> int:
    needed = int(idx.max()) + 1
    if n is None:
        return needed
    n = check_int(n, name, 1)
    if n < needed:
        raise ValueError(
            f"{name}={n} is too small: {idx_name} contains index {needed - 1}; "
            f"{name} must be >= {needed}"
        )
    return n


def _check_in_range(idx: np.ndarray, n: int, name: str, what: str) -> None:
    if idx.size and int(idx.max()) >= n:
        pos = int(np.argmax(idx))
        raise ValueError(
            f"{name}[{pos}] = {int(idx[pos])} is out of range: the model was fitted "
            f"with {n} {what} (indices 0..{n - 1})"
        )


def _as_numpy(x) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# -------------------------------------------------------------- fitted state


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class FittedMF:
    """The learned parameters of a biased MF model and how training went.

    Attributes
    ----------
    global_mean : float
        ``mu``, the mean training rating.
    user_bias : ndarray, shape (n_users,)
    item_bias : ndarray, shape (n_items,)
    user_factors : ndarray, shape (n_users, n_factors)
    item_factors : ndarray, shape (n_items, n_factors)
        Users and items without any training rating keep bias 0 and all-zero
        factors, so their predictions fall back to ``mu`` plus the known bias.
    train_rmse : ndarray, shape (n_epochs,)
        Per-epoch training loss as an RMSE: ``sqrt(mean e^2)`` over the epoch's
        sweep, each error ``e`` measured just before that rating's own update
        (free to compute; slightly pessimistic compared with a separate pass).
    eval_rmse : ndarray, shape (n_epochs,) or None
        RMSE on ``eval_set`` after each epoch, when ``fit`` was given one.
    rating_range : (float, float)
        Smallest and largest training rating; predictions are clipped to it
        when the model was built with ``clip=True``.
    clip : bool
    user_counts, item_counts : ndarray of int64, shapes (n_users,), (n_items,)
        Training ratings per user / item.
    seen_indptr, seen_items : ndarray of int64
        The training items of user ``u`` are
        ``seen_items[seen_indptr[u]:seen_indptr[u + 1]]`` (CSR layout).
    elapsed : float
        Wall time of ``fit`` in seconds.
    params : dict
        The hyper-parameters the model was built with.
    """

    global_mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    train_rmse: np.ndarray
    eval_rmse: np.ndarray | None
    rating_range: tuple[float, float]
    clip: bool
    user_counts: np.ndarray
    item_counts: np.ndarray
    seen_indptr: np.ndarray
    seen_items: np.ndarray
    elapsed: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return int(self.user_bias.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_bias.shape[0])

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Predicted ratings, shape (len(user_idx),), float64."""
        u, i = _check_pairs(user_idx, item_idx)
        _check_in_range(u, self.n_users, "user_idx", "users")
        _check_in_range(i, self.n_items, "item_idx", "items")
        return _predict(self, u, i)

    def scores(self, user: int) -> np.ndarray:
        """Predicted rating of every item for ``user``, shape (n_items,) (unclipped)."""
        user = check_int(user, "user", 0)
        if user >= self.n_users:
            raise ValueError(
                f"user must be an index below n_users = {self.n_users}, got {user}"
            )
        return (self.global_mean + self.user_bias[user] + self.item_bias
                + self.item_factors @ self.user_factors[user])

    def seen(self, user: int) -> np.ndarray:
        """Indices of the items ``user`` rated in training, sorted."""
        return self.seen_items[self.seen_indptr[user]:self.seen_indptr[user + 1]]


def _predict(state: FittedMF, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    from . import _recommender_kernels as kernels

    est = np.empty(u.size)
    kernels.predict(u, i, state.global_mean, state.user_bias, state.item_bias,
                    state.user_factors, state.item_factors, est)
    if state.clip:
        np.clip(est, *state.rating_range, out=est)
    return est


def _recommend(state: FittedMF, user, n, exclude_seen, min_item_ratings, scores=None):
    n = check_int(n, "n", 1)
    min_item_ratings = check_int(min_item_ratings, "min_item_ratings", 0)
    if scores is None:
        scores = state.scores(user)
    allowed = state.item_counts >= min_item_ratings
    if exclude_seen:
        allowed[state.seen(int(user))] = False
    candidates = np.flatnonzero(allowed)
    n = min(n, candidates.size)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    cand_scores = scores[candidates]
    # Stable sort on -score: ties go to the lower item index, so results are reproducible.
    top = np.argsort(-cand_scores, kind="stable")[:n]
    return candidates[top], cand_scores[top]


def _csr_by_user(u: np.ndarray, i: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((i, u))
    counts = np.bincount(u, minlength=n_users)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, i[order]


# ---------------------------------------------------------------- the model

#: A slower setting (more factors, stronger ``reg``, decaying steps), tuned on the
#: same tuning split as the defaults. About 8x
#: the default's fit time for a ~0.002 lower RMSE on ml-latest-small.
TUNED = {
    "n_factors": 200,
    "reg": 0.08,
    "lr": 0.02,
    "lr_decay": 0.97,
    "n_epochs": 40,
    "init_std": 0.01,
    "lr_bias": 0.002,
    "reg_bias": 0.02,
}


class BiasedMF:
    """Biased matrix factorisation trained by per-rating SGD (compiled with numba).

    The defaults were chosen on a tuning split of ml-latest-small (5-fold
    split with seed 123, first two folds) that is *not* the split the notebook
    reports; see :data:`TUNED` for a slower, slightly more accurate setting.

    Small random starts (``init_std=0.01``) and a fixed number of epochs work as
    a second regulariser: the factors grow from near zero and are stopped
    before they fit the noise, so ``n_epochs`` is part of the regularisation;
    with ``n_epochs`` much larger, raise ``reg`` (about 0.08) or use
    ``lr_decay < 1``.

    Parameters
    ----------
    n_factors : int, default 50
        Rank ``k`` of the factors.
    reg : float, default 0.05
        L2 penalty on the factors, applied per rating as in Surprise's ``SVD``.
        On MovieLens this matters far more than ``n_factors``: Surprise's default
        0.02 over-fits.
    lr : float, default 0.02
        SGD step size for the factors.
    n_epochs : int, default 20
        Sweeps over the training ratings, each in a fresh random order.
    reg_bias : float, default 0.005
        L2 penalty on the user and item biases.
    lr_bias : float, default 0.005
        SGD step size for the biases.
    lr_decay : float, default 1.0
        Both step sizes are multiplied by this after every epoch (``0 < lr_decay <= 1``).
    init_std : float, default 0.01
        Factors start from ``N(0, init_std^2)``; biases start at 0.
    clip : bool, default True
        Clip predictions to the range of the training ratings.
    seed : int, numpy Generator or None, default None
        Drives the initial factors and each epoch's random visiting order.
        ``None`` draws fresh entropy (not reproducible).

    Attributes
    ----------
    fitted_ : FittedMF
        Set by :meth:`fit`; read-only arrays.
    fit_time_ : float
        Wall time of the last :meth:`fit` in seconds.

    Examples
    --------
    >>> model = BiasedMF(seed=0).fit(user_idx, item_idx, ratings)  # doctest: +SKIP
    >>> model.predict([0, 1], [10, 20])                             # doctest: +SKIP
    >>> items, scores = model.recommend(0, n=5)                     # doctest: +SKIP
    """

    def __init__(
        self,
        n_factors: int = 50,
        *,
        reg: float = 0.05,
        lr: float = 0.02,
        n_epochs: int = 20,
        reg_bias: float = 0.005,
        lr_bias: float = 0.005,
        lr_decay: float = 1.0,
        init_std: float = 0.01,
        clip: bool = True,
        seed=None,
    ):
        self.n_factors = check_int(n_factors, "n_factors", 1)
        self.reg = check_real(reg, "reg", positive=False)
        self.lr = check_real(lr, "lr", positive=True)
        self.n_epochs = check_int(n_epochs, "n_epochs", 1)
        self.reg_bias = check_real(reg_bias, "reg_bias", positive=False)
        self.lr_bias = check_real(lr_bias, "lr_bias", positive=True)
        self.lr_decay = check_real(lr_decay, "lr_decay", positive=True, upper=1.0)
        self.init_std = check_real(init_std, "init_std", positive=False)
        if not isinstance(clip, (bool, np.bool_)):
            raise TypeError(f"clip must be True or False, got {clip!r}")
        self.clip = bool(clip)
        self.seed = check_numpy_seed(seed, allow_none=True)

    # scikit-learn style introspection -------------------------------------
    _PARAMS = ("n_factors", "reg", "lr", "n_epochs", "reg_bias", "lr_bias", "lr_decay",
               "init_std", "clip", "seed")

    def get_params(self) -> dict:
        """The constructor arguments, as a dict."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(BiasedMF).parameters.items()}
        parts = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults.get(k)]
        return f"BiasedMF({', '.join(parts)})"

    # ------------------------------------------------------------------ fit
    def fit(self, user_idx, item_idx, ratings, n_users=None, n_items=None, *, eval_set=None):
        """Learn biases and factors from ratings ``(user_idx[j], item_idx[j], ratings[j])``.

        Parameters
        ----------
        user_idx, item_idx : array-like of int, shape (nnz,)
            Contiguous user / item indices (``Ratings.indexed()``).
        ratings : array-like of float, shape (nnz,)
        n_users, n_items : int, optional
            Sizes of the index spaces (default: largest index + 1). Give them when
            later ``predict`` calls may use users or items absent from training
            (cross-validation folds): those get the bias-only fallback.
        eval_set : (user_idx, item_idx, ratings), optional
            Held-out ratings whose RMSE is recorded after every epoch
            (``fitted_.eval_rmse``), for learning curves. Costs one prediction
            pass per epoch.

        Returns
        -------
        self

        Raises
        ------
        DivergenceError
            If the training loss becomes NaN or infinite (lower ``lr``).
        """
        start = time.perf_counter()
        u, i = _check_pairs(user_idx, item_idx)
        r = _rating_array(ratings, "ratings", u.size)
        n_users = _check_count(n_users, "n_users", u, "user_idx")
        n_items = _check_count(n_items, "n_items", i, "item_idx")
        evaluation = None
        if eval_set is not None:
            if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 3:
                raise ValueError(
                    "eval_set must be a (user_idx, item_idx, ratings) triple, "
                    f"got {type(eval_set).__name__}"
                )
            eu, ei = _check_pairs(eval_set[0], eval_set[1])
            _check_in_range(eu, n_users, "eval_set user_idx", "users")
            _check_in_range(ei, n_items, "eval_set item_idx", "items")
            evaluation = (eu, ei, _rating_array(eval_set[2], "eval_set ratings", eu.size))

        from . import _recommender_kernels as kernels  # lazy: importing numba costs ~0.5 s

        rng = np.random.default_rng(self.seed)
        k = self.n_factors
        mu = float(r.mean())
        P = rng.normal(0.0, self.init_std, size=(n_users, k))
        Q = rng.normal(0.0, self.init_std, size=(n_items, k))
        bu = np.zeros(n_users)
        bi = np.zeros(n_items)
        lr = self.lr
        lr_b = self.lr_bias
        reg_b = self.reg_bias
        user_counts = np.bincount(u, minlength=n_users)
        item_counts = np.bincount(i, minlength=n_items)
        # Factors of users/items with no training rating are never updated: zero them
        # now so that their predictions (and eval_rmse) use the biases only.
        P[user_counts == 0] = 0.0
        Q[item_counts == 0] = 0.0

        train_rmse = np.empty(self.n_epochs)
        eval_rmse = np.empty(self.n_epochs) if evaluation is not None else None
        # 32-bit indices when they fit: less memory traffic in the kernel (~7 % faster).
        small = max(u.size, n_users, n_items) < 2**31
        index_dtype = np.int32 if small else np.int64
        ku, ki = u.astype(index_dtype), i.astype(index_dtype)
        order = np.arange(u.size, dtype=index_dtype)
        # One 64-bit seed per epoch from the seeded Generator drives the compiled shuffle.
        epoch_seeds = rng.integers(0, 2**63, size=self.n_epochs, dtype=np.int64)
        for epoch in range(self.n_epochs):
            kernels.shuffle(order, epoch_seeds[epoch])
            sse = kernels.sgd_epoch(ku, ki, r, order, mu, bu, bi, P, Q, lr, self.reg, lr_b, reg_b)
            if not math.isfinite(sse):
                raise DivergenceError(
                    f"BiasedMF diverged: the training loss became {sse} in epoch {epoch + 1} "
                    f"with lr={lr:g}, lr_bias={lr_b:g}; lower lr (try lr={self.lr / 10:g})"
                )
            train_rmse[epoch] = math.sqrt(sse / u.size)
            if evaluation is not None:
                partial = FittedMF(mu, bu, bi, P, Q, train_rmse, None,
                                   (float(r.min()), float(r.max())), self.clip,
                                   user_counts, item_counts, np.zeros(1, np.int64),
                                   np.zeros(0, np.int64))
                eu, ei, er = evaluation
                eval_rmse[epoch] = rmse(torch.from_numpy(er), torch.from_numpy(_predict(partial, eu, ei)))
            lr *= self.lr_decay
            lr_b *= self.lr_decay
        if not (np.isfinite(P).all() and np.isfinite(Q).all()):
            raise DivergenceError(
                f"BiasedMF diverged: the factors overflowed with lr={self.lr:g}; lower lr"
            )

        indptr, seen = _csr_by_user(u, i, n_users)
        elapsed = time.perf_counter() - start
        self.fitted_ = FittedMF(
            global_mean=mu,
            user_bias=_readonly(bu),
            item_bias=_readonly(bi),
            user_factors=_readonly(P),
            item_factors=_readonly(Q),
            train_rmse=_readonly(train_rmse),
            eval_rmse=None if eval_rmse is None else _readonly(eval_rmse),
            rating_range=(float(r.min()), float(r.max())),
            clip=self.clip,
            user_counts=_readonly(user_counts.astype(np.int64)),
            item_counts=_readonly(item_counts.astype(np.int64)),
            seen_indptr=_readonly(indptr),
            seen_items=_readonly(seen),
            elapsed=elapsed,
            params=self.get_params(),
        )
        self.fit_time_ = elapsed
        return self

    def _state(self) -> FittedMF:
        state = getattr(self, "fitted_", None)
        if state is None:
            raise RuntimeError("this BiasedMF is not fitted yet; call fit(...) first")
        return state

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Predicted ratings for the pairs ``(user_idx[j], item_idx[j])``.

        Parameters
        ----------
        user_idx, item_idx : array-like of int, shape (n,)

        Returns
        -------
        ndarray of float64, shape (n,)
            Clipped to the training rating range when ``clip=True``.
        """
        return self._state().predict(user_idx, item_idx)

    def recommend(self, user: int, n: int = 10, exclude_seen: bool = True, *,
                  min_item_ratings: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items with the highest predicted rating for ``user``.

        Parameters
        ----------
        user : int
            User index.
        n : int
            Number of items wanted (fewer if fewer are eligible).
        exclude_seen : bool
            Leave out the items the user rated in training.
        min_item_ratings : int, default 1
            Only recommend items with at least this many training ratings (an item
            nobody rated has only the global mean to go on).

        Returns
        -------
        items : ndarray of int64, shape (<= n,)
            Item indices, best first (ties broken by lower index).
        scores : ndarray of float64, shape (<= n,)
            Their predicted ratings (not clipped, so they still rank).
        """
        return _recommend(self._state(), user, n, exclude_seen, min_item_ratings)


# ----------------------------------------------------------------- ensemble


class Ensemble:
    """Average the predictions of several models (e.g. :class:`BiasedMF` with different seeds).

    SGD from different random starts and visiting orders lands in different
    minima whose errors are partly independent, so their mean predicts better
    than any one of them, at the cost of one fit per member.

    Parameters
    ----------
    members : sequence of unfitted models
        Each with ``fit(user_idx, item_idx, ratings, n_users, n_items)`` and
        ``predict(user_idx, item_idx)``; :meth:`recommend` also needs ``fitted_``
        (:class:`BiasedMF` members).

    Examples
    --------
    >>> Ensemble([BiasedMF(seed=s) for s in range(3)])  # doctest: +SKIP
    """

    def __init__(self, members):
        members = list(members)
        if not members:
            raise ValueError("members must contain at least one model")
        for k, m in enumerate(members):
            if not (hasattr(m, "fit") and hasattr(m, "predict")):
                raise TypeError(f"members[{k}] must have fit and predict methods, got {m!r}")
        if len({id(m) for m in members}) != len(members):
            raise ValueError("members must be distinct model objects (each is fitted separately)")
        self.members = members

    def __repr__(self) -> str:
        return f"Ensemble({self.members!r})"

    def fit(self, user_idx, item_idx, ratings, n_users=None, n_items=None):
        """Fit every member on the same ratings."""
        start = time.perf_counter()
        for m in self.members:
            m.fit(user_idx, item_idx, ratings, n_users, n_items)
        self.fit_time_ = time.perf_counter() - start
        return self

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Mean of the members' predictions, shape (n,)."""
        return np.mean([m.predict(user_idx, item_idx) for m in self.members], axis=0)

    def recommend(self, user: int, n: int = 10, exclude_seen: bool = True, *,
                  min_item_ratings: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`BiasedMF.recommend`, ranking by the members' mean score."""
        states = [m._state() if hasattr(m, "_state") else None for m in self.members]
        if any(s is None for s in states):
            raise TypeError("recommend needs BiasedMF members")
        mean_scores = np.mean([s.scores(user) for s in states], axis=0)
        return _recommend(states[0], user, n, exclude_seen, min_item_ratings, scores=mean_scores)


# ------------------------------------------------------------ Surprise adapter


class SurpriseModel:
    """Give a Surprise algorithm labmf's ``fit`` / ``predict`` interface.

    Parameters
    ----------
    algorithm : str or type
        A Surprise algorithm class (``surprise.SVD``) or its name (``"SVD"``,
        ``"SVDpp"``, ``"BaselineOnly"``, ...). Needs ``scikit-surprise``
        (``pip install labmf[bench]``).
    rating_scale : (float, float), optional
        Surprise clips its estimates to this range; default: the range of the
        training ratings (what :class:`BiasedMF` clips to).
    **params
        Passed to the algorithm's constructor (``random_state=0``, ``n_factors=...``).

    Attributes
    ----------
    algo_ : the fitted Surprise algorithm
    fit_time_ : float
        Seconds spent in the algorithm's own ``fit`` only: building Surprise's
        ``Trainset`` from the arrays is left out, as Surprise's own
        ``cross_validate`` leaves it out.
    """

    def __init__(self, algorithm, *, rating_scale=None, **params):
        try:
            import surprise
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SurpriseModel needs scikit-surprise: pip install 'labmf[bench]'"
            ) from exc
        if isinstance(algorithm, str):
            if not hasattr(surprise, algorithm):
                raise ValueError(f"algorithm must name a Surprise algorithm, got {algorithm!r}")
            algorithm = getattr(surprise, algorithm)
        if not (isinstance(algorithm, type) and issubclass(algorithm, surprise.AlgoBase)):
            raise TypeError(f"algorithm must be a Surprise algorithm class, got {algorithm!r}")
        if rating_scale is not None:
            lo, hi = rating_scale
            if not (float(lo) < float(hi)):
                raise ValueError(f"rating_scale must be (low, high) with low < high, got {rating_scale!r}")
        self.algorithm = algorithm
        self.rating_scale = rating_scale
        self.params = params

    def __repr__(self) -> str:
        args = [self.algorithm.__name__] + [f"{k}={v!r}" for k, v in self.params.items()]
        return f"SurpriseModel({', '.join(args)})"

    def fit(self, user_idx, item_idx, ratings, n_users=None, n_items=None):
        """Build Surprise's ``Trainset`` (raw ids = the indices) and fit the algorithm."""
        import surprise

        u, i = _check_pairs(user_idx, item_idx)
        r = _rating_array(ratings, "ratings", u.size)
        scale = self.rating_scale or (float(r.min()), float(r.max()))
        dataset = surprise.Dataset(surprise.Reader(rating_scale=tuple(float(s) for s in scale)))
        trainset = dataset.construct_trainset(
            list(zip(u.tolist(), i.tolist(), r.tolist(), [None] * u.size))
        )
        algo = self.algorithm(**self.params)
        start = time.perf_counter()
        algo.fit(trainset)
        self.fit_time_ = time.perf_counter() - start
        self.algo_ = algo
        return self

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Surprise's estimates (clipped to the rating scale), shape (n,)."""
        algo = getattr(self, "algo_", None)
        if algo is None:
            raise RuntimeError("this SurpriseModel is not fitted yet; call fit(...) first")
        u, i = _check_pairs(user_idx, item_idx)
        # What algo.test() does, without needing the true ratings.
        return np.fromiter((algo.predict(a, b).est for a, b in zip(u.tolist(), i.tolist())),
                           dtype=np.float64, count=u.size)


# ------------------------------------------------------- baseline adapter


class BaselineModel:
    """Give a :mod:`labmf.baselines` predictor the ``fit`` / ``predict`` interface.

    The baselines use the lab's layout (rows = movies, columns = users); this
    adapter swaps the indices so they can be cross-validated next to
    :class:`BiasedMF` on the same folds.

    Parameters
    ----------
    baseline : labmf.baselines predictor, unfitted
        e.g. ``GlobalMean()`` or ``BiasBaseline()``.
    clip : bool, default True
        Clip predictions to the training rating range (like :class:`BiasedMF`).
    """

    def __init__(self, baseline, *, clip: bool = True):
        if not (hasattr(baseline, "fit_triplets") and hasattr(baseline, "predict_at")):
            raise TypeError(
                "baseline must be a labmf.baselines predictor (with fit_triplets and "
                f"predict_at), got {baseline!r}"
            )
        self.baseline = baseline
        self.clip = bool(clip)

    def __repr__(self) -> str:
        return f"BaselineModel({self.baseline!r})"

    def fit(self, user_idx, item_idx, ratings, n_users=None, n_items=None):
        """Fit the baseline on the ratings (items as rows, users as columns)."""
        u, i = _check_pairs(user_idx, item_idx)
        r = _rating_array(ratings, "ratings", u.size)
        n_users = _check_count(n_users, "n_users", u, "user_idx")
        n_items = _check_count(n_items, "n_items", i, "item_idx")
        start = time.perf_counter()
        self.baseline.fit_triplets(i, u, r, (n_items, n_users))
        self.fit_time_ = time.perf_counter() - start
        self.rating_range_ = (float(r.min()), float(r.max()))
        return self

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Predicted ratings, shape (n,)."""
        if not hasattr(self, "rating_range_"):
            raise RuntimeError("this BaselineModel is not fitted yet; call fit(...) first")
        u, i = _check_pairs(user_idx, item_idx)
        est = np.asarray(self.baseline.predict_at(i, u), dtype=np.float64)
        return np.clip(est, *self.rating_range_) if self.clip else est


# ----------------------------------------------------------- cross-validation


@dataclass(frozen=True, eq=False)
class CVResult:
    """Per-fold scores of one model.

    Attributes
    ----------
    name : str
    rmse, mae : ndarray, shape (n_folds,)
        Test-fold errors.
    fit_time, predict_time : ndarray, shape (n_folds,)
        Seconds per fold (the model's ``fit_time_`` when it reports one, else the
        wall time of ``fit``; the wall time of ``predict`` on the test fold).
    models : list
        The fitted model of each fold (for loss curves and inspection).
    complete : bool
        False when ``max_seconds`` stopped the run before the last fold.
    """

    name: str
    rmse: np.ndarray
    mae: np.ndarray
    fit_time: np.ndarray
    predict_time: np.ndarray
    models: list = field(default_factory=list, repr=False)
    complete: bool = True

    @property
    def n_folds(self) -> int:
        return int(self.rmse.size)

    @property
    def mean_rmse(self) -> float:
        return float(self.rmse.mean())

    @property
    def mean_mae(self) -> float:
        return float(self.mae.mean())

    @property
    def total_time(self) -> float:
        """Fit plus predict time summed over the folds, in seconds."""
        return float(self.fit_time.sum() + self.predict_time.sum())

    def summary(self) -> dict:
        """Means (and the RMSE's standard deviation over folds) as a flat dict."""
        return {
            "model": self.name,
            "rmse": self.mean_rmse,
            "rmse_std": float(self.rmse.std(ddof=1)) if self.n_folds > 1 else 0.0,
            "mae": self.mean_mae,
            "fit_time": float(self.fit_time.sum()),
            "predict_time": float(self.predict_time.sum()),
            "total_time": self.total_time,
        }

    def __repr__(self) -> str:
        partial = "" if self.complete else ", complete=False"
        return (f"CVResult(name={self.name!r}, folds={self.n_folds}, "
                f"rmse={self.mean_rmse:.4f}, mae={self.mean_mae:.4f}{partial})")


def _triplets(ratings) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    if hasattr(ratings, "indexed") and hasattr(ratings, "rating"):
        u, i, n_users, n_items = ratings.indexed()
        return u, i, np.asarray(ratings.rating, dtype=np.float64), n_users, n_items
    if isinstance(ratings, (tuple, list)) and len(ratings) == 3:
        u, i = _check_pairs(ratings[0], ratings[1])
        r = _rating_array(ratings[2], "ratings", u.size)
        return u, i, r, int(u.max()) + 1, int(i.max()) + 1
    raise TypeError(
        "ratings must be a labmf Ratings table or a (user_idx, item_idx, ratings) triple, "
        f"got {type(ratings).__name__}"
    )


def cross_validate(
    model_factory: Callable[[], object],
    ratings,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    name: str | None = None,
    warm_up: bool = True,
    max_seconds: float | None = None,
) -> CVResult:
    """Fit a fresh model on each fold's training rows and score its test rows.

    Parameters
    ----------
    model_factory : callable
        Returns a new unfitted model with ``fit(user_idx, item_idx, ratings,
        n_users, n_items)`` and ``predict(user_idx, item_idx)``, e.g.
        ``lambda: BiasedMF(seed=0)`` or ``lambda: SurpriseModel("SVD", random_state=0)``.
        A fixed seed inside the factory makes the scores reproducible.
    ratings : Ratings or (user_idx, item_idx, ratings)
        All ratings; a :class:`labmf.data.Ratings` table is indexed with
        ``Ratings.indexed()``.
    folds : sequence of (train_idx, test_idx)
        Row positions into ``ratings``, e.g. ``kfold_indices(len(ratings), 5, seed=0)``.
        Build them once and pass the same folds to every model compared.
    name : str, optional
        Label for tables (default: ``repr`` of the first model).
    warm_up : bool, default True
        Compile labmf's numba kernel before the clock starts, so fold 1 is not
        charged a one-off JIT compilation.
    max_seconds : float, optional
        Stop after a fold when the projected total (mean time per fold so far
        times the number of folds) exceeds this; the result then covers the
        folds done and has ``complete=False``. For slow models (SVD++).

    Returns
    -------
    CVResult
    """
    if not callable(model_factory):
        raise TypeError(f"model_factory must be callable (returning a model), got {model_factory!r}")
    u, i, r, n_users, n_items = _triplets(ratings)
    folds = list(folds)
    if not folds:
        raise ValueError("folds must contain at least one (train_idx, test_idx) pair")
    if max_seconds is not None:
        max_seconds = check_real(max_seconds, "max_seconds", positive=True)
    if warm_up:
        from . import _recommender_kernels

        _recommender_kernels.warm_up()
    rmses, maes, fit_times, predict_times, models = [], [], [], [], []
    complete = True
    clock = time.perf_counter()
    for f, pair in enumerate(folds):
        if max_seconds is not None and f > 0:
            projected = (time.perf_counter() - clock) / f * len(folds)
            if projected > max_seconds:
                complete = False
                break
        if len(pair) != 2:
            raise ValueError(f"folds[{f}] must be a (train_idx, test_idx) pair")
        train = _index_array(pair[0], f"folds[{f}] train_idx")
        test = _index_array(pair[1], f"folds[{f}] test_idx")
        _check_in_range(train, u.size, f"folds[{f}] train_idx", "ratings")
        _check_in_range(test, u.size, f"folds[{f}] test_idx", "ratings")
        shared = np.intersect1d(train, test)
        if shared.size:
            raise ValueError(
                f"folds[{f}] scores {shared.size} rating(s) it also trains on (first index "
                f"{int(shared[0])}); train_idx and test_idx must be disjoint"
            )
        model = model_factory()
        start = time.perf_counter()
        model.fit(u[train], i[train], r[train], n_users, n_items)
        wall = time.perf_counter() - start
        fit_times.append(float(getattr(model, "fit_time_", wall)))
        start = time.perf_counter()
        pred = np.asarray(model.predict(u[test], i[test]), dtype=np.float64)
        predict_times.append(time.perf_counter() - start)
        truth = torch.from_numpy(r[test])
        est = torch.from_numpy(pred)
        rmses.append(rmse(truth, est))
        maes.append(mae(truth, est))
        models.append(model)
    return CVResult(
        name=name if name is not None else repr(models[0]),
        rmse=np.asarray(rmses),
        mae=np.asarray(maes),
        fit_time=np.asarray(fit_times),
        predict_time=np.asarray(predict_times),
        models=models,
        complete=complete,
    )
