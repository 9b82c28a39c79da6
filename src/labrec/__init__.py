"""labrec: a rating recommender built on labmf (biased matrix factorisation, baselines, model selection).

Every model is *users x items* (the orientation convention, stated once in
:mod:`labmf.data`) and has the same interface::

    model.fit(ratings)                                                   # a Ratings table of ids
    model.fit(user_idx, item_idx, ratings, n_users=None, n_items=None)  # -> model
    model.predict(user_idx, item_idx)                                    # -> ndarray

with contiguous integer indices (``Ratings.indexed()`` gives them) and each
(user, item) pair rated at most once. Modules: ``model`` (:class:`BiasedMF`, its
shuffled and blocked schedules in ``_sgd``), ``baselines``, ``ensemble``,
``model_selection`` (folds, :func:`cross_validate`, :class:`CVResult`,
:func:`summary_frame`, :func:`paired_differences`), ``tuning``
(:func:`nested_cross_validate`: settings chosen on a held-out part of each fold's
training ratings; :func:`grid_search`, :func:`tuning_split`, :func:`param_grid`),
``surprise`` (an adapter for Surprise's algorithms, :func:`svd_params`,
:func:`svd_grid_search`), ``table`` (:class:`Ratings`, a table of raw ids, and
:func:`load_movielens`), ``ratings`` (:func:`load_ratings`: your own table) and
``synthetic`` (:func:`synthetic_ratings`: Netflix-shaped ratings from a planted model) and
``persist`` (``model.save(path)``, ``BiasedMF.load(path)``, :func:`load_model`: npz + JSON, no pickle).

labrec uses labmf through its public names only; labmf never imports labrec.
"""

from .baselines import BASELINES, BiasBaseline, GlobalMean, ItemMean, baseline_rmses
from .ensemble import Ensemble
from .model import TUNED, BiasedMF
from .model_selection import CVResult, corrected_t, cross_validate, kfold_indices, paired_differences, summary_frame
from .persist import load_model
from .ratings import load_ratings
from .surprise import SurpriseModel, svd_grid_search, svd_params
from .synthetic import NETFLIX_RATINGS, NETFLIX_SHAPE, SyntheticRatings, synthetic_ratings
from .table import IdMap, Ratings, load_movielens
from .tuning import GridResult, grid_search, nested_cross_validate, param_grid, tuning_split

__version__ = "0.1.0"

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
    "corrected_t",
    "GridResult",
    "grid_search",
    "nested_cross_validate",
    "param_grid",
    "tuning_split",
    "Ratings",
    "IdMap",
    "load_ratings",
    "load_movielens",
    "load_model",
    "synthetic_ratings",
    "SyntheticRatings",
    "NETFLIX_SHAPE",
    "NETFLIX_RATINGS",
]
