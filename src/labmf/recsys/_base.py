"""What every recsys model shares: parameter introspection and input checks (private).

Ratings come as three aligned 1-D arrays: rating ``ratings[j]`` was given by user
``user_idx[j]`` to item ``item_idx[j]``, with contiguous integer indices
(``Ratings.indexed()`` gives them). Every check names the parameter and shows the
bad value.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np
import torch

from .._validation import check_scalar

__all__ = ["RatingModel", "Triplets", "index_array", "rating_array", "check_triplets", "check_pairs",
           "check_in_range", "check_bool", "check_fitted"]

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


def check_pairs(user_idx, item_idx, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Two equally long int64 index arrays, or raise naming ``prefix + "user_idx"`` etc."""
    u = index_array(user_idx, prefix + "user_idx")
    i = index_array(item_idx, prefix + "item_idx")
    if u.size != i.size:
        raise ValueError(f"{prefix}user_idx and {prefix}item_idx must have the same length, "
                         f"got {u.size} and {i.size}")
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
    order = np.lexsort((i, u))
    su, si = u[order], i[order]
    dup = np.flatnonzero((su[1:] == su[:-1]) & (si[1:] == si[:-1]))
    if dup.size:
        a, b = sorted(int(p) for p in order[dup[0]:dup[0] + 2])
        raise ValueError(
            f"user_idx and item_idx contain {dup.size} duplicate (user, item) pair(s), the first "
            f"(user {int(u[a])}, item {int(i[a])}) at positions {a} and {b}; each pair must be "
            "rated once (average or drop the repeats first)")
    return Triplets(u, i, r, n_users, n_items, order)


def check_in_range(idx: np.ndarray, n: int, name: str, what: str) -> None:
    """Raise if an index is ``>= n`` (``what``: "users", "items", ...)."""
    if idx.size and int(idx.max()) >= n:
        pos = int(np.argmax(idx))
        raise ValueError(f"{name}[{pos}] = {int(idx[pos])} is out of range: there are {n} {what} "
                         f"(indices 0..{n - 1})")


def check_bool(x, name: str) -> bool:
    """``x`` as a bool if it is one (Python or numpy), else raise naming ``name``."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {x!r}")
    return bool(x)


def check_fitted(model, attribute: str) -> None:
    """Raise if ``model`` has no ``attribute`` (set by its ``fit``)."""
    if not hasattr(model, attribute):
        raise RuntimeError(f"this {type(model).__name__} is not fitted yet; call fit(...) first")
