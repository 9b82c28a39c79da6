"""Average the predictions of several models (e.g. BiasedMF with different seeds)."""

from __future__ import annotations

import time

import numpy as np

from ._base import RatingModel, check_bool, check_fitted
from .model import top_n

__all__ = ["Ensemble"]


class Ensemble(RatingModel):
    """The mean prediction of several models, each fitted on the same ratings.

    SGD from different random starts and visiting orders lands in different minima
    whose errors are partly independent, so their mean predicts better than any one
    of them, at the cost of one fit per member.

    Parameters
    ----------
    members : sequence of unfitted models
        Distinct objects with ``fit`` and ``predict``; :meth:`recommend` also needs
        ``scores``, ``seen`` and ``item_counts_`` (as :class:`~labrec.BiasedMF` has).

    Attributes
    ----------
    members_ : list
        The fitted members.
    fit_time_ : float

    Examples
    --------
    >>> Ensemble([BiasedMF(seed=s) for s in range(3)])  # doctest: +SKIP
    """

    def __init__(self, members):
        self.members = members

    def _checked_members(self) -> list:
        members = list(self.members)
        if not members:
            raise ValueError("members must contain at least one model")
        for k, m in enumerate(members):
            if not (hasattr(m, "fit") and hasattr(m, "predict")):
                raise TypeError(f"members[{k}] must have fit and predict methods, got {m!r}")
        if len({id(m) for m in members}) != len(members):
            raise ValueError("members must be distinct model objects (each is fitted separately)")
        return members

    def fit(self, user_idx, item_idx=None, ratings=None, n_users=None, n_items=None):
        """Fit every member on the same ratings, a Ratings table or index arrays; returns ``self``.

        After a table, the ensemble keeps its ids (``ids_``) and the members work on
        positions, so :meth:`predict` and :meth:`recommend` take and give ids.
        """
        start = time.perf_counter()
        members = self._checked_members()
        arrays, ids = self._fit_input(user_idx, item_idx, ratings, n_users, n_items)
        for m in members:
            m.fit(*arrays)
        self.members_ = members
        self.ids_ = ids
        self.fit_time_ = time.perf_counter() - start
        return self

    def predict(self, user_idx, item_idx):
        """Mean of the members' predictions, shape (n,) (a float for one pair of scalars)."""
        check_fitted(self, "members_")
        user_idx, item_idx, scalar = self._pairs(user_idx, item_idx)
        out = np.mean([m.predict(user_idx, item_idx) for m in self.members_], axis=0)
        return float(out[0]) if scalar else out

    def recommend(self, user, n=10, exclude_seen=True, *, min_item_ratings=1):
        """Like :meth:`BiasedMF.recommend <labrec.BiasedMF.recommend>` (a DataFrame of
        item, title, score), ranked by the members' mean score."""
        check_fitted(self, "members_")
        if not all(hasattr(m, "scores") and hasattr(m, "seen") for m in self.members_):
            raise TypeError("recommend needs members with scores and seen (BiasedMF members)")
        user = self._user_position(user)
        scores = np.mean([m.scores(user) for m in self.members_], axis=0)
        first = self.members_[0]  # all members saw the same ratings
        exclude = first.seen(user) if check_bool(exclude_seen, "exclude_seen") else None
        return self._recommendations(*top_n(scores, n, exclude=exclude, item_counts=first.item_counts_,
                                            min_item_ratings=min_item_ratings))
