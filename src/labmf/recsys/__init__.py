"""A rating recommender: biased matrix factorisation, baselines and model selection.

Every model is *users x items* and has the same interface::

    model.fit(user_idx, item_idx, ratings, n_users=None, n_items=None)  # -> model
    model.predict(user_idx, item_idx)                                    # -> ndarray

with contiguous integer indices (``Ratings.indexed()`` gives them) and each
(user, item) pair rated at most once. Modules: ``model`` (:class:`BiasedMF`),
``baselines``, ``ensemble``, ``model_selection`` (folds, :func:`cross_validate`,
:class:`CVResult`, :func:`summary_frame`, :func:`paired_differences`), ``tuning``
(:func:`nested_cross_validate`: settings chosen on a held-out part of each fold's
training ratings; :func:`grid_search`, :func:`tuning_split`, :func:`param_grid`) and
``surprise`` (an adapter for Surprise's algorithms, :func:`svd_params`, and
:func:`svd_grid_search`, Surprise's own ``GridSearchCV`` on a given tuning split).
"""

from .baselines import BASELINES, BiasBaseline, GlobalMean, ItemMean, baseline_rmses
from .ensemble import Ensemble
from .model import TUNED, BiasedMF
from .model_selection import CVResult, cross_validate, kfold_indices, paired_differences, summary_frame
from .surprise import SurpriseModel, svd_grid_search, svd_params
from .tuning import GridResult, grid_search, nested_cross_validate, param_grid, tuning_split

__all__ = [
    "BiasedMF",
    "TUNED",
    "GlobalMean",
    "ItemMean",
    "BiasBaseline",
    "BASELINES",
    "baseline_rmses",
    "Ensemble",
    "SurpriseModel",
    "svd_params",
    "svd_grid_search",
    "CVResult",
    "cross_validate",
    "kfold_indices",
    "summary_frame",
    "paired_differences",
    "GridResult",
    "grid_search",
    "nested_cross_validate",
    "param_grid",
    "tuning_split",
]
