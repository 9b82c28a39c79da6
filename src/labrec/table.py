"""A ratings table of raw ids (:class:`Ratings`) and the id <-> position maps (:class:`IdMap`).

Ids are integers or strings, as the data has them. The recommender works on
contiguous positions (users x items); :attr:`Ratings.users` and :attr:`Ratings.items`
translate both ways, and a model fitted on a table keeps them
(``model.predict(user_id, item_id)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labmf.data.movielens import read_movielens
from labmf.data.titles import TitleLookup, UnknownIdError
from labmf.validation import check_scalar, pair_groups

__all__ = ["Ratings", "IdMap", "UnknownIdError", "load_movielens", "id_column", "check_scale", "first_outside"]


def id_column(values, name: str) -> np.ndarray:
    """``values`` as a read-only 1-D array of ids: int64, or strings (numpy ``str_``).

    Floats are refused rather than truncated (an id 1.5 is a data error, not id 1).
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr):
        arr = arr.astype(str)
    if arr.dtype.kind not in "iuU":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype} (ids may also be strings)")
    if arr.dtype == np.uint64 and int(arr.max()) >= 2**63:
        # The cast to int64 would wrap these ids to negative numbers.
        raise ValueError(f"{name} must be below 2**63, got {int(arr.max())}")
    arr = np.ascontiguousarray(arr, dtype=arr.dtype if arr.dtype.kind == "U" else np.int64)
    arr.setflags(write=False)
    return arr


def _column(values, name: str, dtype) -> np.ndarray:
    """``values`` as a read-only 1-D array of ``dtype`` (int64 or float32), refusing lossy casts."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    kinds = "iu" if dtype is np.int64 else "iuf"
    if arr.size and arr.dtype.kind not in kinds:
        what = "integers" if dtype is np.int64 else "real numbers"
        raise TypeError(f"{name} must hold {what}, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _plain(value):
    """A numpy scalar as the Python value (for messages and dict keys)."""
    return value.item() if isinstance(value, np.generic) else value


class IdMap:
    """Ids <-> contiguous positions for one side (users or items) of a ratings table.

    Attributes
    ----------
    ids : numpy.ndarray, shape (n,)
        The distinct ids, sorted (int64 or strings); position ``p`` holds id ``ids[p]``.
    what : str
        ``"user"`` or ``"item"`` (for messages).
    """

    def __init__(self, ids, what: str):
        self.ids = np.unique(id_column(ids, f"{what} ids"))
        self.ids.setflags(write=False)
        self.what = what

    def __len__(self) -> int:
        return int(self.ids.size)

    def __contains__(self, value) -> bool:
        try:
            self.index(value)
        except KeyError:
            return False
        return True

    def index(self, ids):
        """Position of each id: an int for one id, an int64 array (same shape) for an array.

        Raises
        ------
        UnknownIdError (a KeyError)
            An id that is not in the map; the message names it.
        """
        arr = np.asarray(ids)
        flat = arr.reshape(-1)
        if self.ids.dtype.kind == "i" and flat.dtype.kind == "f" and np.all(flat == np.round(flat)):
            flat = flat.astype(np.int64)  # 17.0 is id 17; 17.5 is no id
        same_kind = flat.dtype.kind in ("iu" if self.ids.dtype.kind == "i" else "U")
        pos = np.zeros(flat.size, dtype=np.int64)
        found = np.zeros(flat.size, dtype=bool)
        if same_kind and len(self):
            pos = np.minimum(np.searchsorted(self.ids, flat), len(self) - 1)
            found = self.ids[pos] == flat
        if not found.all():
            bad = _plain(flat[int(np.argmin(found))])
            examples = ", ".join(repr(_plain(v)) for v in self.ids[:3])
            raise UnknownIdError(f"unknown {self.what} id {bad!r}: not among the {len(self):,} {self.what}s "
                                 f"of the ratings (ids look like {examples})")
        return int(pos[0]) if arr.ndim == 0 else pos.astype(np.int64).reshape(arr.shape)

    def id(self, positions):
        """The id at each position (``ids[positions]``)."""
        return self.ids[positions]

    def __repr__(self) -> str:
        return f"IdMap({self.what}s={len(self)}, dtype={self.ids.dtype})"


@dataclass(frozen=True, eq=False)
class Ratings(TitleLookup):
    """A table of explicit ratings with raw ids (one row per rating), users x items.

    Build one with :func:`labrec.load_ratings` (a CSV, a DataFrame or rows) or
    :func:`load_movielens`; ``model.fit(ratings)`` remembers its ids.

    Attributes
    ----------
    user, item : numpy.ndarray, shape (nnz,)
        Raw user and item ids: int64, or strings.
    rating : numpy.ndarray of float32, shape (nnz,)
        Finite ratings (MovieLens: 0.5 to 5 in half stars).
    timestamp : numpy.ndarray of int64, shape (nnz,), or None
        Seconds since the Unix epoch, when known.
    titles : dict
        Item id -> title (``"Beautiful Mind, A (2001)"``); may list items without ratings.
    name : str
        Where the table came from.
    scale : (float, float) or None
        The declared rating scale ``(low, high)``; every rating lies in it.

    Each (user, item) pair is rated once. :attr:`users` / :attr:`items` map ids to
    positions and back; :meth:`title`, :meth:`find_title` and :meth:`search_titles`
    look titles up by item id.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray | None = None
    titles: dict = field(default_factory=dict)
    name: str = ""
    scale: tuple | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "user", id_column(self.user, "user"))
        set_(self, "item", id_column(self.item, "item"))
        set_(self, "rating", _column(self.rating, "rating", np.float32))
        if self.timestamp is not None:
            set_(self, "timestamp", _column(self.timestamp, "timestamp", np.int64))
        n = self.user.size
        for attr in ("item", "rating", "timestamp"):
            col = getattr(self, attr)
            if col is not None and col.size != n:
                raise ValueError(f"user, item, rating and timestamp must have the same length; "
                                 f"user has {n}, {attr} has {col.size}")
        bad = ~np.isfinite(self.rating)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"rating must be finite, found rating[{k}] = {self.rating[k]}")
        set_(self, "titles", {_plain(k): v for k, v in dict(self.titles or {}).items()})
        set_(self, "scale", _check_scale(self.scale, self.rating))
        _refuse_duplicates(self.user, self.item)
        set_(self, "_maps", None)

    def __len__(self) -> int:
        return int(self.user.size)

    def _id_maps(self) -> tuple[IdMap, IdMap]:
        if self._maps is None:  # built on first use, then kept (the table is immutable)
            object.__setattr__(self, "_maps", (IdMap(self.user, "user"), IdMap(self.item, "item")))
        return self._maps

    @property
    def users(self) -> IdMap:
        """User ids <-> positions (rows of the users x items matrix)."""
        return self._id_maps()[0]

    @property
    def items(self) -> IdMap:
        """Item ids <-> positions (columns of the users x items matrix)."""
        return self._id_maps()[1]

    @property
    def user_ids(self) -> np.ndarray:
        """Sorted distinct user ids, shape (n_users,)."""
        return self.users.ids

    @property
    def item_ids(self) -> np.ndarray:
        """Sorted distinct item ids, shape (n_items,)."""
        return self.items.ids

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def indexed(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Contiguous indices for the users x items orientation of the recommender.

        Returns
        -------
        user_idx, item_idx : numpy.ndarray of int64, shape (nnz,)
            Position of each rating's user in :attr:`user_ids` (the row of a users x
            items matrix) and of its item in :attr:`item_ids` (the column).
        n_users, n_items : int
        """
        return self.users.index(self.user), self.items.index(self.item), self.n_users, self.n_items

    def to_frame(self):
        """The table as a pandas DataFrame: columns user, item, rating[, timestamp][, title]."""
        import pandas as pd  # imported on use: `import labmf` stays light

        cols = {"user": self.user, "item": self.item, "rating": self.rating}
        if self.timestamp is not None:
            cols["timestamp"] = self.timestamp
        if self.titles:
            cols["title"] = [self.titles.get(_plain(i)) for i in self.item]
        return pd.DataFrame(cols)

    def __repr__(self) -> str:
        return (f"Ratings(name={self.name!r}, ratings={len(self)}, users={self.n_users}, "
                f"movies={self.n_items})")


def check_scale(scale) -> tuple[float, float] | None:
    """``scale`` as ``(low, high)`` floats with ``low < high`` (None stays None), or raise."""
    if scale is None:
        return None
    try:
        low, high = scale
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a pair (low, high), got {scale!r}") from None
    low = check_scalar(low, "scale[0]", float)
    return low, check_scalar(high, "scale[1]", float, min_val=low, include_boundaries="neither")


def first_outside(rating: np.ndarray, scale) -> int | None:
    """Position of the first of ``rating`` outside ``scale`` = ``(low, high)`` (None: all inside)."""
    bad = (rating < scale[0]) | (rating > scale[1])
    return int(np.argmax(bad)) if bad.any() else None


def _check_scale(scale, rating: np.ndarray):
    scale = check_scale(scale)
    k = None if scale is None else first_outside(rating, scale)
    if k is not None:
        raise ValueError(f"rating[{k}] = {rating[k]:g} is outside scale ({scale[0]:g}, {scale[1]:g})")
    return scale


def _refuse_duplicates(user: np.ndarray, item: np.ndarray) -> None:
    repeat = pair_groups(user, item)[2]
    if repeat:
        k, a, b = repeat
        raise ValueError(f"ratings has {k} duplicate (user, item) pair(s), first (user "
                         f"{_plain(user[a])!r}, item {_plain(item[a])!r}) at rows {a} and {b}; keep one "
                         "rating per pair (load_ratings(..., duplicates='last' or 'mean') does)")


def load_movielens(name: str = "small", *, path=None) -> Ratings:
    """A MovieLens data set as a :class:`Ratings` table: :func:`labmf.data.read_movielens`'s
    rows (same ``name`` and ``path``), checked (one rating per pair) and with its id maps."""
    return Ratings(*read_movielens(name, path=path))
