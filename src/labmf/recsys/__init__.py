"""A rating recommender: biased matrix factorisation, baselines and model selection.

Every model is *users x items* and has the same interface::

    model.fit(user_idx, item_idx, ratings, n_users=None, n_items=None)  # -> model
    model.predict(user_idx, item_idx)                                    # -> ndarray

with contiguous integer indices (``Ratings.indexed()`` gives them) and each
(user, item) pair rated at most once. Modules: ``model`` (:class:`BiasedMF`),
``baselines``, ``ensemble``, ``model_selection`` (folds, :func:`cross_validate`,
:class:`CVResult`) and ``surprise`` (an adapter for Surprise's algorithms).
"""

from .baselines import BASELINES, BiasBaseline, GlobalMean, ItemMean, baseline_rmses
from .ensemble import Ensemble
from .model import TUNED, BiasedMF
from .model_selection import CVResult, cross_validate, kfold_indices
from .surprise import SurpriseModel

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
    "CVResult",
    "cross_validate",
    "kfold_indices",
]
