"""Give a Surprise algorithm the recsys ``fit`` / ``predict`` interface.

Surprise (``scikit-surprise``, an optional dependency: ``pip install 'labmf[bench]'``)
is imported when a model is fitted, not when this module is.
"""

from __future__ import annotations

import time

import numpy as np

from ._base import RatingModel, check_fitted, check_pairs, check_triplets

__all__ = ["SurpriseModel"]


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

    def fit(self, user_idx, item_idx, ratings, n_users=None, n_items=None):
        """Build Surprise's ``Trainset`` (raw ids = the indices) and fit the algorithm."""
        surprise = _surprise()
        algorithm = self._checked_algorithm(surprise)
        data = check_triplets(user_idx, item_idx, ratings, n_users, n_items)
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
        return self

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Surprise's estimates (clipped to the rating scale), shape (n,), float64."""
        check_fitted(self, "algo_")
        u, i = check_pairs(user_idx, item_idx)
        # What algo.test() does, without needing the true ratings.
        return np.fromiter((self.algo_.predict(a, b).est for a, b in zip(u.tolist(), i.tolist(), strict=True)),
                           dtype=np.float64, count=u.size)
