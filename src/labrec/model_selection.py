"""Model selection: seeded k-fold splits, cross-validation and tuning of any recsys model.

:func:`cross_validate` scores every model on the same folds (an int ``k`` makes
``kfold_indices(n, k, seed=seed)``; explicit folds can be shared between calls),
so models are compared on exactly the same train/test rows.
Tuned runs (:func:`labrec.tuning.nested_cross_validate`) return the same
:class:`CVResult`, with each fold's search attached. Results are pandas DataFrames
through ``to_frame()`` and :func:`summary_frame`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from labmf.metrics import mae, rmse
from labmf.validation import check_numpy_seed, check_scalar

from ._base import check_in_range, check_triplets, index_array

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["kfold_indices", "CVResult", "cross_validate", "summary_frame", "paired_differences",
           # the steps that tuning and the Surprise adapter build on (one home for each)
           "check_data", "check_pair", "check_folds", "fit_and_score", "warm_up_kernels"]


def kfold_indices(n, k=5, *, seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split ``range(n)`` into ``k`` folds after a seeded permutation.

    Parameters
    ----------
    n : int
        Number of ratings to split, ``n >= 2``.
    k : int, default 5
        Number of folds, ``2 <= k <= n``. Fold sizes differ by at most one.
    seed : int or numpy.random.Generator
        Required: an unseeded split would make every cross-validated figure unrepeatable.

    Returns
    -------
    list of (train_idx, test_idx)
        ``k`` pairs of sorted int64 arrays; the test folds partition ``range(n)`` and
        each ``train_idx`` is the complement of its ``test_idx``.
    """
    n = check_scalar(n, "n", int, min_val=2)
    k = check_scalar(k, "k", int, min_val=2, max_val=n)
    perm = np.random.default_rng(check_numpy_seed(seed)).permutation(n).astype(np.int64)
    folds = np.array_split(perm, k)
    out = []
    for f, test in enumerate(folds):
        train = np.concatenate([fold for g, fold in enumerate(folds) if g != f])
        out.append((np.sort(train), np.sort(test)))
    return out


@dataclass(frozen=True, eq=False)
class CVResult:
    """Per-fold scores of one model.

    Attributes
    ----------
    name : str
    rmse, mae : ndarray, shape (n_folds,)
        Test-fold errors.
    fit_time, predict_time : ndarray, shape (n_folds,)
        Seconds per fold (the model's ``fit_time_`` when it reports one, else the wall
        time of ``fit``; the wall time of ``predict`` on the test fold).
    models : list
        The fitted model of each fold.
    complete : bool
        False when ``max_seconds`` stopped the run before the last fold.
    tune_time : ndarray, shape (n_folds,), or None
        Wall time of each fold's setting search (tuned runs only).
    tuning : list of GridResult
        Each fold's search (tuned runs only; empty otherwise).
    """

    name: str
    rmse: np.ndarray
    mae: np.ndarray
    fit_time: np.ndarray
    predict_time: np.ndarray
    models: list = field(default_factory=list, repr=False)
    complete: bool = True
    tune_time: np.ndarray | None = None
    tuning: list = field(default_factory=list, repr=False)

    @property
    def n_folds(self) -> int:
        return int(self.rmse.size)

    @property
    def mean_rmse(self) -> float:
        return float(self.rmse.mean())

    @property
    def std_rmse(self) -> float:
        """Sample standard deviation (ddof=1) of the RMSE over the folds; 0 for one fold."""
        return float(self.rmse.std(ddof=1)) if self.n_folds > 1 else 0.0

    @property
    def mean_mae(self) -> float:
        return float(self.mae.mean())

    @property
    def total_time(self) -> float:
        """Fit plus predict time (plus the setting search, for a tuned run) summed over the folds, seconds."""
        tune = 0.0 if self.tune_time is None else float(self.tune_time.sum())
        return float(self.fit_time.sum() + self.predict_time.sum()) + tune

    @property
    def chosen_params(self) -> list[dict]:
        """The setting each fold's search chose (empty for an untuned run)."""
        return [g.best_params for g in self.tuning]

    @property
    def consensus_params(self) -> dict | None:
        """The setting chosen in most folds (on a tie, the one chosen first); None if untuned."""
        chosen = self.chosen_params
        if not chosen:
            return None
        keys = [tuple(sorted(p.items())) for p in chosen]
        return dict(chosen[max(range(len(keys)), key=lambda f: (keys.count(keys[f]), -keys.index(keys[f])))])

    def summary(self) -> dict:
        """A flat dict whose keys say what each figure is: means over the folds (``rmse_mean``,
        ``mae_mean``), the RMSE's sample standard deviation (``rmse_std``), seconds summed over
        the folds (``fit_time_sum``, ``predict_time_sum``, and ``total_time_sum``: both plus any
        setting search)."""
        return {
            "model": self.name,
            "folds": self.n_folds,
            "rmse_mean": self.mean_rmse,
            "rmse_std": self.std_rmse,
            "mae_mean": self.mean_mae,
            "fit_time_sum": float(self.fit_time.sum()),
            "predict_time_sum": float(self.predict_time.sum()),
            "total_time_sum": self.total_time,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per fold (index ``fold``, from 1): ``rmse``, ``mae``, the times in seconds
        and, for a tuned run, ``tune_time`` and the chosen setting's parameters."""
        import pandas as pd  # imported on use: `import labmf` stays light

        frame = pd.DataFrame({"rmse": self.rmse, "mae": self.mae, "fit_time": self.fit_time,
                              "predict_time": self.predict_time},
                             index=pd.RangeIndex(1, self.n_folds + 1, name="fold"))
        if self.tune_time is not None:
            frame["tune_time"] = self.tune_time
        if self.tuning:
            chosen = pd.DataFrame(self.chosen_params, index=frame.index)
            frame = frame.join(chosen)
        return frame

    def __repr__(self) -> str:
        partial = "" if self.complete else ", complete=False"
        return (f"CVResult(name={self.name!r}, folds={self.n_folds}, "
                f"rmse={self.mean_rmse:.4f}, mae={self.mean_mae:.4f}{partial})")


def check_data(ratings):
    """``ratings`` (a Ratings table or a triple) as checked triplets; duplicate pairs refused."""
    if hasattr(ratings, "indexed") and hasattr(ratings, "rating"):
        u, i, n_users, n_items = ratings.indexed()
        return check_triplets(u, i, np.asarray(ratings.rating), n_users, n_items)
    if hasattr(ratings, "by_user") and hasattr(ratings, "n_items"):
        return ratings  # already checked (Triplets)
    if isinstance(ratings, (tuple, list)) and len(ratings) == 3:
        return check_triplets(*ratings)
    raise TypeError("ratings must be a labmf Ratings table or a (user_idx, item_idx, ratings) triple, "
                    f"got {type(ratings).__name__}")


def check_pair(train, test, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A (train_idx, test_idx) pair of distinct in-range positions sharing no row."""
    train = index_array(train, f"{where} train_idx")
    test = index_array(test, f"{where} test_idx")
    for idx, s in ((train, "train_idx"), (test, "test_idx")):
        check_in_range(idx, n, f"{where} {s}", "ratings")
        if np.unique(idx).size != idx.size:
            raise ValueError(f"{where} {s} lists a rating more than once; each position must "
                             "appear at most once")
    shared = np.intersect1d(train, test, assume_unique=True)
    if shared.size:
        raise ValueError(f"{where} scores {shared.size} rating(s) it also trains on (first index "
                         f"{int(shared[0])}); train_idx and test_idx must be disjoint")
    return train, test


def check_folds(folds, n: int, seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """Explicit folds checked against ``n`` ratings, or ``kfold_indices(n, folds, seed)``."""
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        return kfold_indices(n, folds, seed=seed)
    out = []
    for f, pair in enumerate(folds):
        if len(pair) != 2:
            raise ValueError(f"folds[{f}] must be a (train_idx, test_idx) pair")
        out.append(check_pair(pair[0], pair[1], n, f"folds[{f}]"))
    if not out:
        raise ValueError("folds must contain at least one (train_idx, test_idx) pair")
    return out


def fit_and_score(model, data, train: np.ndarray, test: np.ndarray) -> tuple[float, float, float, float]:
    """Fit ``model`` on rows ``train``, score rows ``test``: (rmse, mae, fit seconds, predict seconds)."""
    start = time.perf_counter()
    model.fit(data.user[train], data.item[train], data.rating[train], data.n_users, data.n_items)
    fit_time = float(getattr(model, "fit_time_", time.perf_counter() - start))
    start = time.perf_counter()
    est = torch.from_numpy(np.asarray(model.predict(data.user[test], data.item[test]), dtype=np.float64))
    predict_time = time.perf_counter() - start
    truth = torch.from_numpy(data.rating[test])
    return rmse(truth, est), mae(truth, est), fit_time, predict_time


def warm_up_kernels(warm_up) -> None:
    """If ``warm_up``, compile (or load) the kernels now, so that no fit time includes compiling."""
    if warm_up:
        from . import _kernels

        _kernels.warm_up()


def cross_validate(model_factory: Callable[[], object], ratings, folds=5, *, seed=0, name=None,
                   warm_up=True, max_seconds=None) -> CVResult:
    """Fit a fresh model on each fold's training ratings and score its test ratings.

    Parameters
    ----------
    model_factory : callable
        Returns a new unfitted model with ``fit(user_idx, item_idx, ratings, n_users,
        n_items)`` and ``predict(user_idx, item_idx)``, e.g. ``lambda: BiasedMF(seed=0)``,
        ``lambda: GlobalMean()`` or ``lambda: SurpriseModel("SVD", random_state=0)``.
    ratings : Ratings or (user_idx, item_idx, ratings)
        All ratings, users x items; a :class:`labrec.Ratings` table is indexed with
        ``Ratings.indexed()``. Each (user, item) pair at most once.
    folds : int or sequence of (train_idx, test_idx), default 5
        An int ``k`` makes ``kfold_indices(len(ratings), k, seed=seed)``; or row positions
        into ``ratings``, disjoint within each pair. Pass the same folds to every model compared.
    seed : int or numpy.random.Generator, default 0
        Seeds the folds when ``folds`` is an int (unused otherwise).
    name : str, optional
        Label for tables (default: ``repr`` of the first model).
    warm_up : bool, default True
        Compile labmf's numba kernels before the clock starts, so fold 1 is not charged
        a one-off JIT compilation.
    max_seconds : float, optional
        Stop after a fold when the projected total (mean time per fold so far times the
        number of folds) exceeds this; the result then has ``complete=False``.

    Returns
    -------
    CVResult
    """
    if not callable(model_factory):
        raise TypeError(f"model_factory must be callable (returning a model), got {model_factory!r}")
    data = check_data(ratings)
    folds = check_folds(folds, data.user.size, seed)
    if max_seconds is not None:
        max_seconds = check_scalar(max_seconds, "max_seconds", float, min_val=0.0, include_boundaries="neither")
    warm_up_kernels(warm_up)
    scores, models = [], []
    clock = time.perf_counter()
    for f, (train, test) in enumerate(folds):
        if max_seconds is not None and f > 0 and (time.perf_counter() - clock) / f * len(folds) > max_seconds:
            break
        model = model_factory()
        scores.append(fit_and_score(model, data, train, test))
        models.append(model)
    rmses, maes, fit_times, predict_times = (np.asarray(col) for col in zip(*scores, strict=True))
    return CVResult(name=repr(models[0]) if name is None else name, rmse=rmses, mae=maes,
                    fit_time=fit_times, predict_time=predict_times, models=models,
                    complete=len(models) == len(folds))


def summary_frame(results) -> pd.DataFrame:
    """One row per model (index ``model``): mean test RMSE, its sample standard deviation
    over the folds (ddof=1), mean MAE, the number of folds and the total seconds.

    ``results`` is a dict of :class:`CVResult` (keys become the row labels) or a list.
    """
    import pandas as pd  # imported on use: `import labmf` stays light
    items = results.items() if isinstance(results, dict) else ((r.name, r) for r in results)
    rows = {name: {"rmse": r.mean_rmse, "rmse_std": r.std_rmse, "mae": r.mean_mae, "folds": r.n_folds,
                   "seconds": r.total_time} for name, r in items}
    if not rows:
        raise ValueError("results must hold at least one CVResult")
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def paired_differences(a: CVResult, b: CVResult) -> np.ndarray:
    """Per-fold ``a.rmse - b.rmse``, shape (n_folds,), for two results on the same folds.

    A pair of results scored on the same folds shares each fold's test ratings, so the
    difference fold by fold removes what makes one fold harder than another; its spread
    is usually much smaller than either model's spread over the folds.
    """
    if not (isinstance(a, CVResult) and isinstance(b, CVResult)):
        raise TypeError(f"a and b must be CVResults, got {type(a).__name__} and {type(b).__name__}")
    if a.n_folds != b.n_folds:
        raise ValueError(f"a and b must be scored on the same folds; a has {a.n_folds} folds, b has {b.n_folds}")
    return a.rmse - b.rmse


def corrected_t(diff, n_train: int, n_test: int) -> tuple[float, float]:
    """Nadeau and Bengio's corrected resampled t-test of per-fold differences.

    The folds of one data set share their training ratings, so the per-fold differences are
    correlated and the plain standard error ``std / sqrt(k)`` is too small. The correction
    scales the variance by ``1/k + n_test/n_train`` (Nadeau & Bengio, Machine Learning 52, 2003).

    Parameters
    ----------
    diff : array of float, shape (k,)
        Per-fold differences, e.g. :func:`paired_differences`; k >= 2.
    n_train, n_test : int
        Ratings in a fold's training and test part.

    Returns
    -------
    (t, p) : the statistic and its two-sided p-value, Student's t with k - 1 degrees of freedom
        (t = 0, p = 1 when every difference is zero).
    """
    from scipy import stats  # only this test needs SciPy

    d = np.asarray(diff, dtype=np.float64)
    if d.ndim != 1 or d.size < 2:
        raise ValueError(f"diff must hold one difference per fold, at least 2, got shape {d.shape}")
    check_scalar(n_train, "n_train", int, min_val=1)
    check_scalar(n_test, "n_test", int, min_val=1)
    var = (1 / d.size + n_test / n_train) * d.var(ddof=1)
    if var == 0:
        return (0.0, 1.0) if d.mean() == 0 else (float(np.copysign(np.inf, d.mean())), 0.0)
    t = float(d.mean() / np.sqrt(var))
    return t, float(2 * stats.t.sf(abs(t), d.size - 1))
