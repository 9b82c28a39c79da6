"""Simple rating predictors that a factorisation has to beat, as recsys models.

All three predict ``mu + b_u + b_i`` (users x items, like every recsys model):

- :class:`GlobalMean`: every prediction is the mean training rating ``mu``;
- :class:`ItemMean`: the item's mean training rating, ``mu`` for an item without one;
- :class:`BiasBaseline`: L2-regularised user and item biases, fitted by alternating
  closed-form least squares (the "baseline predictor" of the Netflix Prize
  literature, Koren 2010; Surprise's ``BaselineOnly`` with ALS).

They take the same ``fit(ratings_table)`` or ``fit(user_idx, item_idx, ratings,
n_users, n_items)`` / ``predict(user_ids, item_ids)`` as :class:`~labrec.BiasedMF`,
so ``cross_validate(lambda: GlobalMean(), data, 5)`` works. For the lab's dense
*movies x users* matrix (notebook 04) :func:`baseline_rmses` converts the masks.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from labmf.metrics import rmse
from labmf.sparse import observed_triplets
from labmf.validation import check_mask, check_matrix, check_scalar

from ._base import RatingModel, check_bool, check_epochs, check_fitted, check_pairs, check_triplets

__all__ = ["GlobalMean", "ItemMean", "BiasBaseline", "BASELINES", "baseline_rmses"]


class _BiasModel(RatingModel):
    """``fit`` / ``predict`` of ``mu + b_u + b_i``; subclasses give ``_biases``."""

    def fit(self, user_idx, item_idx=None, ratings=None, n_users=None, n_items=None):
        """Fit on a Ratings table (the model keeps its ids, ``ids_``), or on ratings
        ``(user_idx[j], item_idx[j], ratings[j])``; returns ``self``.

        Parameters
        ----------
        user_idx : Ratings, or array-like of int, shape (nnz,)
        item_idx : array-like of int, shape (nnz,)
        ratings : array-like of real, shape (nnz,)
        n_users, n_items : int, optional
            Sizes of the index spaces (default: largest index + 1).
        """
        start = time.perf_counter()
        clip = check_bool(self.clip, "clip")
        hp = self._checked_params()
        arrays, ids = self._fit_input(user_idx, item_idx, ratings, n_users, n_items)
        data = check_triplets(*arrays)
        mu = float(data.rating.mean())
        self.user_bias_, self.item_bias_ = self._biases(data, mu, **hp)
        self.global_mean_ = mu
        self.rating_range_ = (float(data.rating.min()), float(data.rating.max()))
        self.clip_ = clip
        self.n_users_, self.n_items_ = data.n_users, data.n_items
        self.ids_ = ids
        self.fit_time_ = time.perf_counter() - start
        return self

    def _checked_params(self) -> dict:
        return {}

    def _biases(self, data, mu: float) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(data.n_users), np.zeros(data.n_items)

    def predict(self, user_idx, item_idx):
        """``mu + b_i + b_u`` for each pair, shape (n,), float64 (clipped if ``clip``).

        Ids after a fit on a Ratings table, else positions; one pair gives a float.
        """
        check_fitted(self, "global_mean_")
        user_idx, item_idx, scalar = self._pairs(user_idx, item_idx)
        u, i = check_pairs(user_idx, item_idx, n_users=self.n_users_, n_items=self.n_items_)
        est = self.global_mean_ + self.item_bias_[i] + self.user_bias_[u]
        est = np.clip(est, *self.rating_range_) if self.clip_ else est
        return float(est[0]) if scalar else est


class GlobalMean(_BiasModel):
    """Predict the mean training rating everywhere.

    Parameters
    ----------
    clip : bool, default True
        Clip predictions to the training rating range (a no-op here; kept for symmetry).
    """

    def __init__(self, *, clip=True):
        self.clip = clip


class ItemMean(_BiasModel):
    """Predict each item's mean training rating (the global mean for an unrated item).

    Parameters
    ----------
    shrinkage : float, default 0.0
        Pulls the mean of a rarely rated item towards the global mean:
        ``(sum + shrinkage * mu) / (count + shrinkage)``; 0 is the plain mean.
    clip : bool, default True
        Clip predictions to the training rating range.
    """

    def __init__(self, shrinkage=0.0, *, clip=True):
        self.shrinkage = shrinkage
        self.clip = clip

    def _checked_params(self) -> dict:
        return {"shrinkage": check_scalar(self.shrinkage, "shrinkage", float, min_val=0.0)}

    def _biases(self, data, mu, *, shrinkage):
        total = np.bincount(data.item, weights=data.rating - mu, minlength=data.n_items)
        denom = np.bincount(data.item, minlength=data.n_items) + shrinkage
        # An item with no training rating keeps bias 0, i.e. predicts the global mean.
        return np.zeros(data.n_users), np.divide(total, denom, out=np.zeros(data.n_items), where=denom > 0)


class BiasBaseline(_BiasModel):
    """``mu + b_u + b_i`` with L2-regularised biases.

    Minimises ``sum (r - mu - b_u - b_i)^2 + reg_item * sum b_i^2 + reg_user * sum b_u^2``
    by alternating the exact minimisations over the item and then the user biases.

    Parameters
    ----------
    reg_item, reg_user : float, default 10.0 and 15.0
        Penalties on the item and user biases (>= 0); the usual values for 5-star
        data (Surprise's ``BaselineOnly``).
    num_epochs : int, default 10
        Alternating sweeps (>= 1); 10 is plenty.
    clip : bool, default True
        Clip predictions to the training rating range.
    """

    def __init__(self, reg_item=10.0, reg_user=15.0, num_epochs=10, *, clip=True):
        self.reg_item = reg_item
        self.reg_user = reg_user
        self.num_epochs = num_epochs
        self.clip = clip

    def _checked_params(self) -> dict:
        return {
            "reg_item": check_scalar(self.reg_item, "reg_item", float, min_val=0.0),
            "reg_user": check_scalar(self.reg_user, "reg_user", float, min_val=0.0),
            "num_epochs": check_epochs(self.num_epochs),
        }

    def _biases(self, data, mu, *, reg_item, reg_user, num_epochs):
        u, i, nu, ni = data.user, data.item, data.n_users, data.n_items
        r = data.rating - mu
        n_item = np.bincount(i, minlength=ni) + reg_item
        n_user = np.bincount(u, minlength=nu) + reg_user
        bi, bu = np.zeros(ni), np.zeros(nu)
        for _ in range(num_epochs):
            bi = np.divide(np.bincount(i, weights=r - bu[u], minlength=ni), n_item,
                           out=np.zeros(ni), where=n_item > 0)
            bu = np.divide(np.bincount(u, weights=r - bi[i], minlength=nu), n_user,
                           out=np.zeros(nu), where=n_user > 0)
        return bu, bi


#: The baselines under the names the lab's tables print (in the lab, the items are movies).
BASELINES = {"global mean": GlobalMean, "movie mean": ItemMean, "user + movie bias": BiasBaseline}


def baseline_rmses(A, train_mask, test_mask) -> dict[str, float]:
    """Held-out RMSE of each of :data:`BASELINES` (default settings) on the lab's dense matrix.

    Parameters
    ----------
    A : Tensor, shape (n_movies, n_users)
        The lab layout: row ``i`` is movie (item) ``i``, column ``u`` is user ``u``.
    train_mask, test_mask : Tensor of 0/1 or bool, shape (n_movies, n_users)
        The ratings to fit on and to score; disjoint.

    Returns
    -------
    dict
        Baseline name -> RMSE over ``test_mask``.
    """
    A = check_matrix(A, "A")
    train = check_mask(train_mask, A, "train_mask")
    test = check_mask(test_mask, A, "test_mask")
    if bool((train.bool() & test.bool()).any()):
        raise ValueError("train_mask and test_mask overlap; the held-out ratings must not be trained on")
    items, users, ratings = observed_triplets(A, train)  # rows are movies (items), columns users
    t_items, t_users, t_ratings = observed_triplets(A, test)
    n_items, n_users = A.shape
    truth = torch.from_numpy(t_ratings)
    out = {}
    for name, cls in BASELINES.items():
        model = cls().fit(users, items, ratings, n_users, n_items)
        out[name] = rmse(truth, torch.from_numpy(model.predict(t_users, t_items)))
    return out
