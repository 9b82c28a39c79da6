"""Give a Surprise algorithm the recsys ``fit`` / ``predict`` interface, and tune its SVD.

Surprise (``scikit-surprise``, an optional dependency: ``pip install 'labmf[bench]'``)
is imported when a model is fitted, not when this module is.

* :class:`SurpriseModel` wraps any Surprise algorithm, so it is scored on labmf's folds.
* :func:`svd_params` translates a :class:`~labrec.BiasedMF` setting into the
  keyword arguments of Surprise's ``SVD`` (the same model and update rule).
* :func:`svd_grid_search` runs Surprise's own ``GridSearchCV`` over a grid written in
  BiasedMF's names, on a given tuning split, so both libraries can be tuned on the
  same rows with the same candidate settings.
"""

from __future__ import annotations

import time

import numpy as np

from ._base import RatingModel, check_fitted, check_pairs, check_triplets
from .model import check_params
from .model_selection import check_data, check_pair
from .tuning import GridResult, param_grid

__all__ = ["SurpriseModel", "svd_params", "svd_grid_search"]

#: BiasedMF's parameter -> the Surprise SVD parameters it sets. ``lr``/``reg`` go to
#: ``lr_all``/``reg_all`` (the factors' step and penalty), the bias ones are set
#: explicitly, so both libraries run the same update with the same constants.
_SVD_NAMES = {"rank": ("n_factors",), "num_epochs": ("n_epochs",), "lr": ("lr_all",), "reg": ("reg_all",),
              "lr_bias": ("lr_bu", "lr_bi"), "reg_bias": ("reg_bu", "reg_bi"), "init_std": ("init_std_dev",)}


def _surprise():
    try:
        import surprise
    except ImportError as exc:  # depends on the environment
        raise ImportError("SurpriseModel needs scikit-surprise: pip install 'labmf[bench]'") from exc
    return surprise


class SurpriseModel(RatingModel):
    """A Surprise algorithm scored on labmf's folds.

    Parameters
    ----------
    algorithm : str or type
        A Surprise algorithm class (``surprise.SVD``) or its name (``"SVD"``,
        ``"SVDpp"``, ``"BaselineOnly"``, ...).
    rating_scale : (float, float), optional
        Surprise clips its estimates to this range; default: the range of the
        training ratings (what BiasedMF clips to).
    **params
        Passed to the algorithm's constructor (``random_state=0``, ``n_factors=...``).

    Attributes
    ----------
    algo_ : the fitted Surprise algorithm
    fit_time_ : float
        Seconds in the algorithm's own ``fit`` only: building Surprise's ``Trainset``
        is left out, as Surprise's own ``cross_validate`` leaves it out.
    """

    def __init__(self, algorithm, *, rating_scale=None, **params):
        self.algorithm = algorithm
        self.rating_scale = rating_scale
        self.params = params

    def _checked_algorithm(self, surprise):
        algorithm = self.algorithm
        if isinstance(algorithm, str):
            if not hasattr(surprise, algorithm):
                raise ValueError(f"algorithm must name a Surprise algorithm, got {algorithm!r}")
            algorithm = getattr(surprise, algorithm)
        if not (isinstance(algorithm, type) and issubclass(algorithm, surprise.AlgoBase)):
            raise TypeError(f"algorithm must be a Surprise algorithm class, got {algorithm!r}")
        return algorithm

    def fit(self, user_idx, item_idx=None, ratings=None, n_users=None, n_items=None):
        """Build Surprise's ``Trainset`` (raw ids = the indices) and fit the algorithm, on a
        Ratings table (the model keeps its ids, ``ids_``, as :class:`~labrec.BiasedMF` does) or
        on ``(user_idx, item_idx, ratings)``."""
        surprise = _surprise()
        algorithm = self._checked_algorithm(surprise)
        arrays, ids = self._fit_input(user_idx, item_idx, ratings, n_users, n_items)
        data = check_triplets(*arrays)
        scale = self.rating_scale or (float(data.rating.min()), float(data.rating.max()))
        if len(scale) != 2 or not float(scale[0]) < float(scale[1]):
            raise ValueError(f"rating_scale must be (low, high) with low < high, got {self.rating_scale!r}")
        reader = surprise.Reader(rating_scale=(float(scale[0]), float(scale[1])))
        rows = zip(data.user.tolist(), data.item.tolist(), data.rating.tolist(), [None] * data.user.size, strict=True)
        trainset = surprise.Dataset(reader).construct_trainset(list(rows))
        algo = algorithm(**self.params)
        start = time.perf_counter()
        algo.fit(trainset)
        self.fit_time_ = time.perf_counter() - start
        self.algo_ = algo
        self.ids_ = ids
        return self

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Surprise's estimates (clipped to the rating scale), shape (n,), float64; ids after a fit
        on a Ratings table, else positions; one pair gives a float."""
        check_fitted(self, "algo_")
        user_idx, item_idx, scalar = self._pairs(user_idx, item_idx)
        u, i = check_pairs(user_idx, item_idx)
        # What algo.test() does, without needing the true ratings.
        out = np.fromiter((self.algo_.predict(a, b).est for a, b in zip(u.tolist(), i.tolist(), strict=True)),
                          dtype=np.float64, count=u.size)
        return float(out[0]) if scalar else out


def svd_params(*, seed=None, **params) -> dict:
    """Surprise ``SVD`` keyword arguments for ``BiasedMF(seed=seed, **params)``.

    Parameters not given take BiasedMF's defaults, so ``svd_params()`` is labmf's
    default setting run in Surprise. ``lr_decay`` must be 1 and ``clip`` True (Surprise
    has no step decay and always clips); ``n_jobs`` and ``schedule`` are not passed on
    (Surprise sweeps the ratings in its own order, on one thread).

    Parameters
    ----------
    seed : int or None
        Becomes Surprise's ``random_state`` (its initial factors; BiasedMF's seed also
        drives the visiting order, which Surprise does not shuffle).
    **params
        BiasedMF parameters: ``rank``, ``reg``, ``lr``, ``num_epochs``, ``reg_bias``,
        ``lr_bias``, ``init_std`` (and ``lr_decay=1``, ``clip=True``).

    Returns
    -------
    dict
        ``n_factors``, ``n_epochs``, ``lr_all``, ``reg_all``, ``lr_bu``, ``lr_bi``,
        ``reg_bu``, ``reg_bi``, ``init_std_dev`` and, with a seed, ``random_state``.
    """
    unknown = sorted(set(params) - set(_SVD_NAMES) - {"lr_decay", "clip", "n_jobs", "schedule"})
    if unknown:
        raise ValueError(f"svd_params got {unknown[0]!r}, which is not a BiasedMF parameter; "
                         f"give any of {sorted(_SVD_NAMES)}")
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None for Surprise's random_state, got {seed!r}")
    hp = check_params(seed=seed, **params)  # BiasedMF's own checks and defaults
    if hp["lr_decay"] != 1.0 or not hp["clip"]:
        raise ValueError(f"Surprise's SVD has no step decay and always clips: lr_decay must be 1 and clip True, "
                         f"got lr_decay={hp['lr_decay']}, clip={hp['clip']}")
    out = {svd: hp[name] for name, svds in _SVD_NAMES.items() for svd in svds}
    if seed is not None:
        out["random_state"] = hp["seed"]
    return out


class _HeldOut:
    """A Surprise cross-validation iterator with one split: the first ``n_fit`` raw
    ratings train, the rest are scored."""

    def __init__(self, n_fit: int):
        self.n_fit = n_fit

    def get_n_folds(self) -> int:
        return 1

    def split(self, data):
        raw = data.raw_ratings
        yield data.construct_trainset(raw[:self.n_fit]), data.construct_testset(raw[self.n_fit:])


def svd_grid_search(grid, ratings, fit_idx, val_idx, *, seed=None, name="Surprise GridSearchCV",
                    rating_scale=None, **fixed) -> GridResult:
    """Tune Surprise's ``SVD`` with Surprise's own ``GridSearchCV`` on one tuning split.

    Parameters
    ----------
    grid : dict of lists or list of dicts
        Candidate settings in BiasedMF's names (see :func:`labrec.tuning.param_grid`),
        e.g. ``{"rank": [50, 100], "reg": [0.02, 0.05]}``; each is translated by
        :func:`svd_params`.
    ratings : Ratings or (user_idx, item_idx, ratings)
        All ratings, users x items.
    fit_idx, val_idx : array-like of int
        Disjoint row positions: Surprise trains on ``fit_idx`` (in this order, as
        :class:`SurpriseModel` would) and is scored on ``val_idx``.
    seed : int or None
        Surprise's ``random_state`` for every setting.
    name : str
        Label for tables.
    rating_scale : (float, float), optional
        Default: the range of the ``fit_idx`` ratings, as :class:`SurpriseModel` uses.
    **fixed
        BiasedMF parameters shared by every setting (the rest keep BiasedMF's defaults).

    Returns
    -------
    GridResult
        ``params`` in BiasedMF's names (the grid's settings, without ``fixed``),
        ``val_rmse`` as Surprise's ``accuracy.rmse`` computed it, ``fit_time`` as
        Surprise timed each ``fit``.
    """
    surprise = _surprise()
    import pandas as pd
    from surprise.model_selection import GridSearchCV

    settings = param_grid(grid)
    wanted = [svd_params(seed=seed, **(fixed | s)) for s in settings]
    # Surprise crosses every list it is given; a grid axis that sets two Surprise
    # parameters (lr_bias, reg_bias) would be crossed with itself, which the check below refuses.
    keys = [svd for axis in settings[0] for svd in _SVD_NAMES.get(axis, ())] + list(wanted[0])
    svd_grid = {key: list(dict.fromkeys(w[key] for w in wanted)) for key in dict.fromkeys(keys)}
    if param_grid(svd_grid) != wanted:
        raise ValueError("grid must be a product of BiasedMF parameters that Surprise can cross (rank, reg, lr, "
                         "num_epochs, init_std as lists; lr_bias and reg_bias as single values)")
    data = check_data(ratings)
    fit_idx, val_idx = check_pair(fit_idx, val_idx, data.user.size, "tuning split")
    rows = np.concatenate([fit_idx, val_idx])
    fit_r = data.rating[fit_idx]
    scale = rating_scale or (float(fit_r.min()), float(fit_r.max()))
    if len(scale) != 2 or not float(scale[0]) < float(scale[1]):
        raise ValueError(f"rating_scale must be (low, high) with low < high, got {rating_scale!r}")
    frame = pd.DataFrame({"user": data.user[rows].tolist(), "item": data.item[rows].tolist(),
                          "rating": data.rating[rows]})
    dataset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(float(scale[0]), float(scale[1]))))
    search = GridSearchCV(surprise.SVD, svd_grid, measures=["rmse"], cv=_HeldOut(fit_idx.size), refit=False,
                          n_jobs=1)
    search.fit(dataset)
    return GridResult(name=name, params=settings, val_rmse=np.asarray(search.cv_results["mean_test_rmse"]),
                      fit_time=np.asarray(search.cv_results["mean_fit_time"]), fit_idx=fit_idx, val_idx=val_idx)
