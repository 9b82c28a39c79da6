"""Simple rating predictors that a factorisation has to beat.

All three work on a ratings matrix laid out as in the lab (rows = movies,
columns = users, only the entries where ``mask`` is 1 are ratings), or on index
triplets ``(rows, cols, values)``:

- :class:`GlobalMean`: every prediction is the mean observed rating ``mu``;
- :class:`MovieMean`: the mean rating of the movie (row), ``mu`` for a movie with
  no training rating;
- :class:`BiasBaseline`: ``mu + b_movie + b_user`` with L2-regularised biases,
  fitted by a few sweeps of alternating closed-form least squares (the
  "baseline predictor" of the Netflix Prize literature, Koren 2010).

Usage::

    model = BiasBaseline().fit(A, train_mask)
    labmf.rmse(A, model.predict(), test_mask)
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch

from .metrics import rmse
from .sparse import observed_triplets

__all__ = ["GlobalMean", "MovieMean", "BiasBaseline", "BASELINES", "baseline_rmses"]


def _triplets_from_mask(A, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    A = torch.as_tensor(A)
    if A.ndim != 2:
        raise ValueError(f"A must be 2-D (movies x users), got shape {tuple(A.shape)}")
    M = (A != 0) if mask is None else torch.as_tensor(mask).bool()
    if tuple(M.shape) != tuple(A.shape):
        raise ValueError(f"mask must have A's shape {tuple(A.shape)}, got {tuple(M.shape)}")
    rows, cols, vals = observed_triplets(A, M)
    return rows, cols, vals, tuple(A.shape)


def _check_triplets(rows, cols, vals, shape):
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    if not (rows.shape == cols.shape == vals.shape) or rows.ndim != 1:
        raise ValueError(
            f"rows, cols and vals must be 1-D of equal length, got shapes "
            f"{rows.shape}, {cols.shape}, {vals.shape}"
        )
    if rows.size == 0:
        raise ValueError("no training rating: the mask observes no entry")
    m, n = (int(s) for s in shape)
    if rows.min() < 0 or rows.max() >= m or cols.min() < 0 or cols.max() >= n:
        raise ValueError(f"row/column indices out of range for shape {(m, n)}")
    if not np.all(np.isfinite(vals)):
        raise ValueError("vals must be finite")
    return rows, cols, vals, (m, n)


class _Baseline:
    """Shared fit/predict plumbing; subclasses implement ``_fit``."""

    name = "baseline"

    def fit(self, A, mask=None):
        """Fit on the entries of ``A`` (m x n) where ``mask`` is 1 (``A != 0`` if None)."""
        return self.fit_triplets(*_triplets_from_mask(A, mask))

    def fit_triplets(self, rows, cols, vals, shape):
        """Fit on ratings ``vals[k]`` at ``(rows[k], cols[k])`` of an ``shape`` matrix."""
        rows, cols, vals, shape = _check_triplets(rows, cols, vals, shape)
        self.shape_ = shape
        self.mu_ = float(vals.mean())
        m, n = shape
        self.row_bias_ = np.zeros(m)
        self.col_bias_ = np.zeros(n)
        self._fit(rows, cols, vals)
        return self

    def _fit(self, rows, cols, vals):  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_fitted(self):
        if not hasattr(self, "mu_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")

    def predict(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Predictions for every entry, shape (m, n)."""
        self._check_fitted()
        P = self.mu_ + self.row_bias_[:, None] + self.col_bias_[None, :]
        return torch.from_numpy(P).to(dtype)

    def predict_at(self, rows, cols) -> np.ndarray:
        """Predictions at index pairs, shape (k,)."""
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        return self.mu_ + self.row_bias_[rows] + self.col_bias_[cols]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GlobalMean(_Baseline):
    """Predict the mean of the training ratings everywhere."""

    name = "global mean"

    def _fit(self, rows, cols, vals):
        pass


class MovieMean(_Baseline):
    """Predict each movie's (row's) mean training rating.

    Parameters
    ----------
    shrinkage : float
        Pulls the mean of a rarely rated movie towards the global mean:
        ``(sum + shrinkage * mu) / (count + shrinkage)``. 0 (default) is the plain mean.
    """

    name = "movie mean"

    def __init__(self, shrinkage: float = 0.0):
        if isinstance(shrinkage, bool) or not isinstance(shrinkage, Real) or shrinkage < 0:
            raise ValueError(f"shrinkage must be a number >= 0, got {shrinkage!r}")
        self.shrinkage = float(shrinkage)

    def _fit(self, rows, cols, vals):
        m = self.shape_[0]
        total = np.bincount(rows, weights=vals - self.mu_, minlength=m)
        count = np.bincount(rows, minlength=m)
        denom = count + self.shrinkage
        # A movie with no training rating keeps bias 0, i.e. predicts the global mean.
        self.row_bias_ = np.divide(total, denom, out=np.zeros(m), where=denom > 0)

    def __repr__(self) -> str:
        return f"MovieMean(shrinkage={self.shrinkage:g})"


class BiasBaseline(_Baseline):
    """``mu + b_movie + b_user`` with L2-regularised biases.

    Minimises ``sum (r - mu - b_i - b_u)^2 + reg_movie * sum b_i^2 + reg_user * sum b_u^2``
    by alternating the exact minimisations over the movie and the user biases.

    Parameters
    ----------
    reg_movie, reg_user : float
        Regularisation of the movie and user biases (>= 0); the defaults 10 and 15
        are the usual ones for 5-star data (Surprise's ``BaselineOnly``).
    n_iter : int
        Number of alternating sweeps (>= 1); 10 is plenty.
    """

    name = "user + movie bias"

    def __init__(self, reg_movie: float = 10.0, reg_user: float = 15.0, n_iter: int = 10):
        for pname, val in (("reg_movie", reg_movie), ("reg_user", reg_user)):
            if isinstance(val, bool) or not isinstance(val, Real) or val < 0:
                raise ValueError(f"{pname} must be a number >= 0, got {val!r}")
        if isinstance(n_iter, bool) or not isinstance(n_iter, Integral) or n_iter < 1:
            raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
        self.reg_movie = float(reg_movie)
        self.reg_user = float(reg_user)
        self.n_iter = int(n_iter)

    def _fit(self, rows, cols, vals):
        m, n = self.shape_
        r = vals - self.mu_
        n_row = np.bincount(rows, minlength=m) + self.reg_movie
        n_col = np.bincount(cols, minlength=n) + self.reg_user
        bi, bu = np.zeros(m), np.zeros(n)
        for _ in range(self.n_iter):
            bi = np.divide(np.bincount(rows, weights=r - bu[cols], minlength=m), n_row,
                           out=np.zeros(m), where=n_row > 0)
            bu = np.divide(np.bincount(cols, weights=r - bi[rows], minlength=n), n_col,
                           out=np.zeros(n), where=n_col > 0)
        self.row_bias_, self.col_bias_ = bi, bu

    def __repr__(self) -> str:
        return (f"BiasBaseline(reg_movie={self.reg_movie:g}, reg_user={self.reg_user:g}, "
                f"n_iter={self.n_iter})")


BASELINES = {
    "global mean": GlobalMean,
    "movie mean": MovieMean,
    "user + movie bias": BiasBaseline,
}


def baseline_rmses(A, train_mask, test_mask) -> dict[str, float]:
    """Held-out RMSE of each baseline (default settings) fitted on ``train_mask``.

    Parameters
    ----------
    A : Tensor, shape (m, n)
    train_mask, test_mask : Tensor, shape (m, n)

    Returns
    -------
    dict
        Baseline name -> RMSE over ``test_mask``.
    """
    out = {}
    for name, cls in BASELINES.items():
        model = cls().fit(A, train_mask)
        out[name] = rmse(A, model.predict(torch.float64), test_mask)
    return out
