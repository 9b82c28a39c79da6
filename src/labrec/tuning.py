"""Tuning inside cross-validation: choose a setting on data no scored fold has seen.

:func:`nested_cross_validate` tunes as well as scores: within each outer fold it holds
out part of the *training* ratings (:func:`tuning_split`), chooses a setting from a
grid (:func:`param_grid`, :func:`grid_search`) by the RMSE on that held-out part,
refits the chosen setting on the whole training part and scores the outer test fold,
which no choice has seen. Results are pandas DataFrames through ``to_frame()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Callable

import numpy as np

from labmf.validation import check_numpy_seed, check_scalar

from ._base import index_array
from .model_selection import CVResult, check_data, check_folds, check_pair, fit_and_score, warm_up_kernels

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["tuning_split", "param_grid", "GridResult", "grid_search", "nested_cross_validate"]


def tuning_split(train_idx, val_fraction=0.2, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a seeded part of a training set for choosing settings.

    Parameters
    ----------
    train_idx : array-like of int, shape (n_train,)
        Row positions of the training ratings (an outer fold's ``train_idx``).
    val_fraction : float, default 0.2
        Share of ``train_idx`` held out, ``0 < val_fraction < 1``; at least one row
        lands on each side.
    seed : int or numpy.random.Generator

    Returns
    -------
    fit_idx, val_idx : ndarray of int64
        Sorted, disjoint, together ``train_idx``.
    """
    train = index_array(train_idx, "train_idx")
    val_fraction = check_scalar(val_fraction, "val_fraction", float, min_val=0.0, max_val=1.0,
                                include_boundaries="neither")
    n_val = int(round(val_fraction * train.size))
    if not 1 <= n_val < train.size:
        raise ValueError(f"val_fraction={val_fraction} holds out {n_val} of {train.size} training ratings; "
                         "each side of the split needs at least one")
    perm = np.random.default_rng(check_numpy_seed(seed)).permutation(train.size)
    return np.sort(train[perm[n_val:]]), np.sort(train[perm[:n_val]])


def param_grid(grid) -> list[dict]:
    """Every setting of a grid: the product of a dict of lists, or a list of dicts as given.

    The product runs in the dict's order with the last key varying fastest, the order of
    Surprise's ``GridSearchCV``, so position ``k`` names the same setting in both.
    """
    if isinstance(grid, dict):
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
                raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
        return [dict(zip(grid, combo, strict=True)) for combo in product(*grid.values())]
    settings = [dict(s) for s in grid] if isinstance(grid, (list, tuple)) else None
    if not settings:
        raise ValueError(f"grid must be a dict of lists or a non-empty list of dicts, got {grid!r}")
    return settings


@dataclass(frozen=True, eq=False)
class GridResult:
    """Validation scores of every setting of a grid, fitted on one tuning split.

    Attributes
    ----------
    name : str
    params : list of dict, length n_settings
        The settings in the order tried (see :func:`param_grid`).
    val_rmse : ndarray, shape (n_settings,)
        RMSE on the held-out tuning ratings.
    fit_time : ndarray, shape (n_settings,)
        Seconds to fit each setting (the model's ``fit_time_`` when it reports one).
    fit_idx, val_idx : ndarray of int64, or None
        The tuning split: row positions fitted on and scored on.
    """

    name: str
    params: list
    val_rmse: np.ndarray
    fit_time: np.ndarray
    fit_idx: np.ndarray | None = field(default=None, repr=False)
    val_idx: np.ndarray | None = field(default=None, repr=False)

    @property
    def best_index(self) -> int:
        """Position of the lowest validation RMSE (the first on a tie)."""
        return int(np.argmin(self.val_rmse))

    @property
    def best_params(self) -> dict:
        return dict(self.params[self.best_index])

    @property
    def best_rmse(self) -> float:
        return float(self.val_rmse[self.best_index])

    def to_frame(self) -> pd.DataFrame:
        """One row per setting: its parameters, ``val_rmse``, ``fit_time`` and ``chosen``."""
        import pandas as pd  # imported on use: `import labmf` stays light
        frame = pd.DataFrame(self.params)
        frame["val_rmse"] = self.val_rmse
        frame["fit_time"] = self.fit_time
        frame["chosen"] = np.arange(len(self.params)) == self.best_index
        return frame

    def __repr__(self) -> str:
        return (f"GridResult(name={self.name!r}, settings={len(self.params)}, "
                f"best={self.best_params!r}, val_rmse={self.best_rmse:.4f})")


def grid_search(make_model: Callable[..., object], grid, ratings, fit_idx, val_idx, *, name=None,
                warm_up=True) -> GridResult:
    """Fit every setting of ``grid`` on rows ``fit_idx`` and score it on rows ``val_idx``.

    Parameters
    ----------
    make_model : callable
        ``make_model(**setting)`` returns a new unfitted model, e.g.
        ``lambda **p: BiasedMF(seed=0, **p)``.
    grid : dict of lists or list of dicts
        The settings (see :func:`param_grid`).
    ratings : Ratings or (user_idx, item_idx, ratings)
        All ratings, users x items, as for :func:`cross_validate`.
    fit_idx, val_idx : array-like of int
        Disjoint row positions into ``ratings`` (e.g. from :func:`tuning_split`).
    name : str, optional
        Label for tables.
    warm_up : bool, default True
        Compile labmf's numba kernels before the clock starts.

    Returns
    -------
    GridResult
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be callable (returning a model), got {make_model!r}")
    settings = param_grid(grid)
    data = check_data(ratings)
    fit_idx, val_idx = check_pair(fit_idx, val_idx, data.user.size, "tuning split")
    warm_up_kernels(warm_up)
    val_rmse, fit_time = [], []
    for setting in settings:
        score, _, seconds, _ = fit_and_score(make_model(**setting), data, fit_idx, val_idx)
        val_rmse.append(score)
        fit_time.append(seconds)
    return GridResult(name="grid search" if name is None else name, params=settings,
                      val_rmse=np.asarray(val_rmse), fit_time=np.asarray(fit_time), fit_idx=fit_idx, val_idx=val_idx)


def nested_cross_validate(make_model: Callable[..., object], grid, ratings, folds=5, *, seed=0,
                          val_fraction=0.2, name=None, search=None, warm_up=True) -> CVResult:
    """Tune on part of each fold's training ratings, refit, score the untouched test fold.

    For each outer fold: :func:`tuning_split` holds out ``val_fraction`` of the training
    rows; every setting of ``grid`` is fitted on the rest and scored on the held-out rows;
    the setting with the lowest validation RMSE is refitted on all the training rows and
    scored on the test fold. No test rating takes part in any choice.

    Parameters
    ----------
    make_model : callable
        ``make_model(**setting)`` returns a new unfitted model.
    grid : dict of lists or list of dicts
        The candidate settings (see :func:`param_grid`).
    ratings : Ratings or (user_idx, item_idx, ratings)
        All ratings, users x items.
    folds : int or sequence of (train_idx, test_idx), default 5
        As for :func:`cross_validate`.
    seed : int or numpy.random.Generator, default 0
        Seeds the folds (when ``folds`` is an int) and then the tuning splits, in fold
        order: two calls with the same ``folds``, ``seed`` and ``val_fraction`` tune on
        the same rows, so models compared this way share every split.
    val_fraction : float, default 0.2
        Share of each training part held out for the choice, ``0 < val_fraction < 1``.
    name : str, optional
        Label for tables (default: ``repr`` of the first refitted model).
    search : callable, optional
        ``search(data, fit_idx, val_idx)`` returning a :class:`GridResult` whose
        ``best_params`` feed ``make_model``; default :func:`grid_search` with
        ``make_model`` and ``grid`` (``data`` is the checked triplets). Use it to tune with
        another library's own search, e.g. :func:`labrec.surprise.svd_grid_search`.
    warm_up : bool, default True
        Compile labmf's numba kernels before the clock starts.

    Returns
    -------
    CVResult
        With ``tune_time`` (wall time of each fold's search) and ``tuning`` (each fold's
        :class:`GridResult`); ``fit_time`` is the refit on the whole training part.
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be callable (returning a model), got {make_model!r}")
    if search is not None and not callable(search):
        raise TypeError(f"search must be callable or None, got {search!r}")
    settings = param_grid(grid)
    data = check_data(ratings)
    seed = check_numpy_seed(seed)
    folds = check_folds(folds, data.user.size, seed)
    # The tuning splits draw from a stream of their own, so an int seed gives the same
    # outer folds as cross_validate(..., seed=seed).
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    val_fraction = check_scalar(val_fraction, "val_fraction", float, min_val=0.0, max_val=1.0,
                                include_boundaries="neither")
    warm_up_kernels(warm_up)
    scores, models, tuning, tune_time = [], [], [], []
    for train, test in folds:
        fit_idx, val_idx = tuning_split(train, val_fraction, seed=rng)
        start = time.perf_counter()
        found = (grid_search(make_model, settings, data, fit_idx, val_idx, warm_up=False) if search is None
                 else search(data, fit_idx, val_idx))
        tune_time.append(time.perf_counter() - start)
        if not isinstance(found, GridResult):
            raise TypeError(f"search must return a GridResult, got {type(found).__name__}")
        model = make_model(**found.best_params)
        scores.append(fit_and_score(model, data, train, test))
        models.append(model)
        tuning.append(found)
    rmses, maes, fit_times, predict_times = (np.asarray(col) for col in zip(*scores, strict=True))
    return CVResult(name=repr(models[0]) if name is None else name, rmse=rmses, mae=maes,
                    fit_time=fit_times, predict_time=predict_times, models=models,
                    tune_time=np.asarray(tune_time), tuning=tuning)
