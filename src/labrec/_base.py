"""What every recsys model shares: parameter introspection, ids and input checks (private).

Ratings come as a :class:`labrec.Ratings` table of raw ids, or as three aligned
1-D arrays: rating ``ratings[j]`` was given by user ``user_idx[j]`` to item
``item_idx[j]``, with contiguous integer indices (``Ratings.indexed()`` gives them).
A model fitted on a table keeps its id maps (``ids_``), so ``predict`` and
``recommend`` take and give ids; fitted on arrays, they take and give positions.
Every check names the parameter and shows the bad value. CPU only: a tensor on
another device is refused.
"""

from __future__ import annotations

import inspect
import os
from typing import NamedTuple

import numpy as np
import torch

from labmf.validation import check_device, check_scalar, pair_groups

from .table import IdMap, Ratings

__all__ = ["RatingModel", "FittedIds", "Triplets", "index_array", "rating_array", "check_triplets", "check_pairs",
           "check_in_range", "check_bool", "check_fitted", "check_jobs", "check_epochs", "MAX_EPOCHS"]

_INT64_MAX = np.iinfo(np.int64).max


class RatingModel:
    """scikit-learn style: ``__init__`` stores its arguments verbatim, ``fit`` validates
    them, ``get_params`` and ``repr`` read their names from the ``__init__`` signature."""

    @classmethod
    def _signature(cls) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(cls.__init__).parameters)

    def get_params(self) -> dict:
        """The constructor arguments, as a dict (a ``**kwargs`` parameter is spread out)."""
        out = {}
        for name, p in self._signature().items():
            if p.kind is p.VAR_KEYWORD:
                out.update(getattr(self, name))
            elif name != "self":
                out[name] = getattr(self, name)
        return out

    def __repr__(self) -> str:
        sig = self._signature()
        shown = []
        for name, value in self.get_params().items():
            p = sig.get(name)
            if p is None or p.default is p.empty or not _same(value, p.default):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def save(self, path):
        """Save the fitted model to ``path``: npz + JSON, no pickle (:mod:`labrec.persist`); returns the path."""
        from .persist import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path):
        """The model saved at ``path`` by :meth:`save`, refusing another class, version or a tampered file."""
        from .persist import load_model

        return load_model(path, cls)

    # The id layer: a model fitted on a Ratings table speaks ids, on arrays positions.

    def _fit_input(self, user_idx, item_idx, ratings, n_users, n_items):
        """``((user_idx, item_idx, ratings, n_users, n_items), ids)`` for ``fit``: from a
        Ratings table (``ids`` its maps, to store once the fit succeeds) or as given (``ids`` None)."""
        if isinstance(user_idx, Ratings):
            given = [k for k, v in (("item_idx", item_idx), ("ratings", ratings), ("n_users", n_users),
                                    ("n_items", n_items)) if v is not None]
            if given:
                raise TypeError(f"fit(table) takes the ids, ratings and sizes from the Ratings table; "
                                f"do not also pass {', '.join(given)}")
            table = user_idx
            u, i, n_users, n_items = table.indexed()
            return (u, i, table.rating, n_users, n_items), FittedIds(table.users, table.items, dict(table.titles))
        if item_idx is None or ratings is None:
            missing = " and ".join(k for k, v in (("item_idx", item_idx), ("ratings", ratings)) if v is None)
            raise TypeError("fit takes a labmf Ratings table (load_ratings, load_movielens), or the arrays "
                            f"user_idx, item_idx and ratings; got a {type(user_idx).__name__} without {missing}")
        return (user_idx, item_idx, ratings, n_users, n_items), None

    def _eval_input(self, eval_set, ids):
        """``eval_set`` as index arrays: a Ratings table is mapped through the fit's ids."""
        if not isinstance(eval_set, Ratings):
            return eval_set
        if ids is None:
            raise TypeError("eval_set is a Ratings table, but fit was given index arrays; fit on a table too, "
                            "or pass eval_set as (user_idx, item_idx, ratings)")
        return ids.users.index(eval_set.user), ids.items.index(eval_set.item), eval_set.rating

    def _pairs(self, user, item) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(user_idx, item_idx, scalar)`` for ``predict``: ids mapped to positions when the
        model was fitted on a table (unknown ids raise UnknownIdError, a KeyError); one pair as
        arrays of length 1 with ``scalar`` True."""
        u, i = _as_numpy(user, "user"), _as_numpy(item, "item")
        scalar = u.ndim == 0 and i.ndim == 0
        if scalar:
            u, i = u.reshape(1), i.reshape(1)
        ids = getattr(self, "ids_", None)
        if ids is not None:
            u, i = ids.users.index(u), ids.items.index(i)
        return u, i, scalar

    def _user_position(self, user):
        """The user's row: its position when the model knows ids, else ``user`` itself."""
        ids = getattr(self, "ids_", None)
        if ids is None:
            return user
        if np.ndim(user) != 0:
            raise TypeError(f"user must be one user id, got {type(user).__name__} {user!r}")
        return ids.users.index(_as_numpy(user, "user"))

    def _recommendations(self, items: np.ndarray, scores: np.ndarray):
        """A DataFrame of the recommended items, best first: ``item`` (the id, or the position
        when the model knows no ids), ``title`` (when the ratings had titles) and ``score``."""
        import pandas as pd  # imported on use: `import labmf` stays light

        ids = getattr(self, "ids_", None)
        cols = {"item": items if ids is None else ids.items.id(items)}
        if ids is not None and ids.titles:
            cols["title"] = [ids.titles.get(k) for k in cols["item"].tolist()]
        cols["score"] = scores
        return pd.DataFrame(cols)


class FittedIds(NamedTuple):
    """The id maps a model keeps from the Ratings table it was fitted on (its ``ids_``)."""

    users: IdMap
    items: IdMap
    titles: dict


def _same(a, b) -> bool:
    try:
        return a is b or (type(a) is type(b) and bool(a == b))
    except (TypeError, ValueError):  # arrays and other values without a plain ==
        return False


class Triplets(NamedTuple):
    """Checked ratings: int64 ``user``/``item``, float64 ``rating``, the index-space sizes,
    and ``by_user``, the positions sorted by (user, item)."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    n_users: int
    n_items: int
    by_user: np.ndarray


def _as_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        check_device(x, name)
        if x.requires_grad:
            raise ValueError(f"{name} is a tensor that requires grad; pass {name}.detach() "
                             "(the models here do not backpropagate)")
        if x.dtype == torch.bfloat16:
            raise TypeError(f"{name} has dtype torch.bfloat16, which numpy cannot hold; "
                            f"convert it first, e.g. {name}.double()")
        return x.cpu().numpy()
    return np.asarray(x)


def index_array(x, name: str) -> np.ndarray:
    """``x`` as a non-empty 1-D int64 array of non-negative indices, or raise."""
    arr = _as_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)  # 3.0 is an acceptable index, 3.5 is not
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.max() > _INT64_MAX:
        pos = int(np.argmax(arr))  # would wrap round to a negative index in int64
        raise ValueError(f"{name} must be below 2**63, found {name}[{pos}] = {int(arr[pos])}")
    if arr.min() < 0:
        pos = int(np.argmin(arr))
        raise ValueError(f"{name} must be >= 0, found {name}[{pos}] = {int(arr[pos])}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def rating_array(x, name: str, size: int) -> np.ndarray:
    """``x`` as a 1-D float64 array of ``size`` finite values, or raise."""
    arr = _as_numpy(x, name)
    if arr.ndim != 1 or arr.size != size:
        raise ValueError(f"{name} must be 1-D with one value per (user, item) pair ({size}), "
                         f"got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite, found {name}[{pos}] = {arr[pos]}")
    return arr


def check_pairs(user_idx, item_idx, prefix: str = "", n_users=None, n_items=None) -> tuple[np.ndarray, np.ndarray]:
    """Two equally long int64 index arrays, or raise naming ``prefix + "user_idx"`` etc.; with
    ``n_users`` / ``n_items``, every index must also lie below them (:func:`check_in_range`)."""
    u = index_array(user_idx, prefix + "user_idx")
    i = index_array(item_idx, prefix + "item_idx")
    if u.size != i.size:
        raise ValueError(f"{prefix}user_idx and {prefix}item_idx must have the same length, "
                         f"got {u.size} and {i.size}")
    if n_users is not None:
        check_in_range(u, n_users, prefix + "user_idx", "users")
    if n_items is not None:
        check_in_range(i, n_items, prefix + "item_idx", "items")
    return u, i


def _check_count(n, name: str, idx: np.ndarray, idx_name: str) -> int:
    needed = int(idx.max()) + 1
    if n is None:
        return needed
    n = check_scalar(n, name, int, min_val=1)
    if n < needed:
        raise ValueError(f"{name}={n} is too small: {idx_name} contains index {needed - 1}; "
                         f"{name} must be >= {needed}")
    return n


def check_triplets(user_idx, item_idx, ratings, n_users=None, n_items=None) -> Triplets:
    """Check a model's ``fit`` inputs; duplicate (user, item) pairs are an error.

    Parameters
    ----------
    user_idx, item_idx : array-like of int, shape (nnz,)
    ratings : array-like of real, shape (nnz,)
    n_users, n_items : int, optional
        Sizes of the index spaces (default: largest index + 1).
    """
    u, i = check_pairs(user_idx, item_idx)
    r = rating_array(ratings, "ratings", u.size)
    n_users = _check_count(n_users, "n_users", u, "user_idx")
    n_items = _check_count(n_items, "n_items", i, "item_idx")
    order, _, repeat = pair_groups(u, i)
    if repeat:
        k, a, b = repeat
        raise ValueError(
            f"user_idx and item_idx contain {k} duplicate (user, item) pair(s), the first "
            f"(user {int(u[a])}, item {int(i[a])}) at positions {a} and {b}; each pair must be "
            "rated once (average or drop the repeats first)")
    return Triplets(u, i, r, n_users, n_items, order)


def check_in_range(idx: np.ndarray, n: int, name: str, what: str) -> None:
    """Raise if an index is ``>= n`` (``what``: "users", "items", ...)."""
    if idx.size and int(idx.max()) >= n:
        pos = int(np.argmax(idx))
        raise ValueError(f"{name}[{pos}] = {int(idx[pos])} is out of range: there are {n} {what} "
                         f"(indices 0..{n - 1})")


#: The most epochs a fit may ask for (a million sweeps is far past any use; more is a typo).
MAX_EPOCHS = 10**6


def check_jobs(n_jobs) -> int:
    """``n_jobs`` as an int in ``[1, max_jobs()]``, or raise naming it and this machine's cores."""
    n_jobs = check_scalar(n_jobs, "n_jobs", int, min_val=1)
    if n_jobs > max_jobs():
        raise ValueError(f"n_jobs must be at most {max_jobs()}, got {n_jobs} (this machine has {os.cpu_count()} "
                         "cores; threads beyond them only wait)")
    return n_jobs


def check_epochs(num_epochs) -> int:
    """``num_epochs`` as an int in ``[1, MAX_EPOCHS]``, or raise naming it."""
    num_epochs = check_scalar(num_epochs, "num_epochs", int, min_val=1)
    if num_epochs > MAX_EPOCHS:
        raise ValueError(f"num_epochs must be at most {MAX_EPOCHS:,}, got {num_epochs} (each epoch is a sweep "
                         "over every rating)")
    return num_epochs


def max_jobs() -> int:
    """The most threads a fit may ask for: 64, or 4 per core on a larger machine."""
    return max(64, 4 * (os.cpu_count() or 1))


def check_bool(x, name: str) -> bool:
    """``x`` as a bool if it is one (Python or numpy), else raise naming ``name``."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {x!r}")
    return bool(x)


def check_fitted(model, attribute: str) -> None:
    """Raise if ``model`` has no ``attribute`` (set by its ``fit``)."""
    if not hasattr(model, attribute):
        raise RuntimeError(f"this {type(model).__name__} is not fitted yet; call fit(...) first")
