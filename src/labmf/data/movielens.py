"""MovieLens ratings: the embedded ml-latest-small copy and the GroupLens zips.

``load_movielens("small")`` reads the compact copy of *ml-latest-small* (October
2016: 100,004 ratings by 671 users on 9,125 movies) shipped in
``labmf/data/files/``, offline and sha256-checked. ``"100k"``, ``"1m"`` and
``"latest-small"`` read the GroupLens zips, fetched and hash-checked by
:mod:`labmf.data.download`. Every loader returns a :class:`Ratings` table of raw
ids; :meth:`Ratings.indexed` gives contiguous indices and
:func:`labmf.data.lab_layout` the course's dense movies x users matrix.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .download import check_sha256, fetch

__all__ = ["Ratings", "load_movielens", "read_movielens_zip", "embedded_files",
           "EMBEDDED_SHA256", "MOVIELENS_NAMES"]

# Embedded files (``labmf/data/files/``) and their sha256, as written by
# scripts/make_movielens_small.py (see files/PROVENANCE.md).
EMBEDDED_RATINGS = "ml-latest-small-2016.npz"
EMBEDDED_TITLES = "ml-latest-small-2016-movies.csv.gz"
EMBEDDED_SHA256: dict[str, str] = {
    EMBEDDED_RATINGS: "50e3f7b2033125da25ae140362adafe106bdb416bdae106350e8a885ae9af8fe",
    EMBEDDED_TITLES: "9cc44559d8d358f845d14a6afc151b86ce97c00b3591c19b38cc9cffefb3fba4",
}

# Accepted dataset names -> canonical name.
MOVIELENS_NAMES = {
    "small": "small", "movielens-small": "small",
    "latest-small": "ml-latest-small", "ml-latest-small": "ml-latest-small",
    "100k": "ml-100k", "ml-100k": "ml-100k",
    "1m": "ml-1m", "ml-1m": "ml-1m",
}


def _column(values, name: str, dtype) -> np.ndarray:
    """``values`` as a read-only 1-D array of ``dtype``, refusing lossy casts."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    kinds = "iu" if dtype is np.int64 else "iuf"
    if arr.size and arr.dtype.kind not in kinds:
        what = "integers" if dtype is np.int64 else "real numbers"
        raise TypeError(f"{name} must hold {what}, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 2**63:
        # The cast to int64 would wrap these ids to negative numbers.
        raise ValueError(f"{name} must be below 2**63, got {int(arr.max())}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Ratings:
    """A table of explicit ratings with raw MovieLens ids (one row per rating).

    Attributes
    ----------
    user, item : numpy.ndarray of int64, shape (nnz,)
        Raw user and movie ids.
    rating : numpy.ndarray of float32, shape (nnz,)
        Stars, > 0 (MovieLens: 0.5 to 5 in half stars, or whole stars 1-5).
    timestamp : numpy.ndarray of int64, shape (nnz,)
        Seconds since the Unix epoch.
    titles : dict[int, str]
        Movie id -> title as MovieLens spells it (``"Beautiful Mind, A (2001)"``).
    name : str
        Where the table came from.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    titles: dict[int, str] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self):
        cast = {"user": np.int64, "item": np.int64, "rating": np.float32, "timestamp": np.int64}
        for attr, dtype in cast.items():
            object.__setattr__(self, attr, _column(getattr(self, attr), attr, dtype))
        n = self.user.size
        for attr in ("item", "rating", "timestamp"):
            if getattr(self, attr).size != n:
                raise ValueError(f"user, item, rating and timestamp must have the same length; "
                                 f"user has {n}, {attr} has {getattr(self, attr).size}")
        if n and not np.all(np.isfinite(self.rating)):
            raise ValueError("rating must be finite")
        if n and float(self.rating.min()) <= 0:
            # 0 means "unrated" in the dense layout, so a stored rating must be positive.
            raise ValueError(f"ratings must be > 0, found {float(self.rating.min())}")

    def __len__(self) -> int:
        return int(self.user.size)

    @property
    def user_ids(self) -> np.ndarray:
        """Sorted distinct user ids, shape (n_users,)."""
        return np.unique(self.user)

    @property
    def item_ids(self) -> np.ndarray:
        """Sorted distinct movie ids, shape (n_items,)."""
        return np.unique(self.item)

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        return int(self.item_ids.size)

    def indexed(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Contiguous indices for the users x items orientation of the recommender.

        Returns
        -------
        user_idx, item_idx : numpy.ndarray of int64, shape (nnz,)
            Position of each rating's user in :attr:`user_ids` (the row of a users x
            items matrix) and of its movie in :attr:`item_ids` (the column).
        n_users, n_items : int
        """
        users, user_idx = np.unique(self.user, return_inverse=True)
        items, item_idx = np.unique(self.item, return_inverse=True)
        return (user_idx.astype(np.int64).reshape(-1), item_idx.astype(np.int64).reshape(-1),
                int(users.size), int(items.size))

    def title(self, movie_id: int) -> str:
        """Title of ``movie_id`` (``"movie <id>"`` when the table has none)."""
        return self.titles.get(int(movie_id), f"movie {int(movie_id)}")

    def __repr__(self) -> str:
        return (f"Ratings(name={self.name!r}, ratings={len(self)}, users={self.n_users}, "
                f"movies={self.n_items})")


def embedded_files() -> dict[str, Path]:
    """Paths of the embedded MovieLens files (ratings ``.npz`` and titles ``.csv.gz``)."""
    base = resources.files("labmf.data").joinpath("files")
    return {name: Path(str(base.joinpath(name))) for name in (EMBEDDED_RATINGS, EMBEDDED_TITLES)}


def _read_titles_csv(text: str) -> dict[int, str]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    if header[:2] != ["movieId", "title"]:
        raise ValueError(f"unexpected movies.csv header {header!r}, expected 'movieId,title,...'")
    return {int(row[0]): row[1] for row in reader if row}


def _load_embedded() -> Ratings:
    paths = embedded_files()
    fix = "reinstall labmf or run scripts/make_movielens_small.py"
    for name, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"the embedded MovieLens file {name} is missing from {path.parent}; {fix}")
        check_sha256(path, EMBEDDED_SHA256[name], f"the embedded MovieLens file {path}", fix)
    with np.load(paths[EMBEDDED_RATINGS]) as z:
        # Stored as twice the rating in a uint8: half-stars are exact integers.
        user, item, rating, timestamp = z["user"], z["item"], z["rating2"].astype(np.float32) / 2, z["timestamp"]
    with gzip.open(paths[EMBEDDED_TITLES], "rt", encoding="utf-8", newline="") as fh:
        titles = _read_titles_csv(fh.read())
    return Ratings(user, item, rating, timestamp, titles, name="ml-latest-small (2016, embedded)")


def _member(zf: zipfile.ZipFile, suffix: str) -> bytes:
    for name in zf.namelist():
        if name.endswith(suffix):
            return zf.read(name)
    raise ValueError(f"{suffix} not found in {zf.filename}")


def _split_lines(text: str, sep: str) -> dict[int, str]:
    return {int(p[0]): p[1] for p in (ln.split(sep) for ln in text.splitlines()) if len(p) > 1}


def read_movielens_zip(path, name: str) -> Ratings:
    """Parse a GroupLens zip (``ml-latest-small``, ``ml-100k`` or ``ml-1m``)."""
    name = MOVIELENS_NAMES.get(name, name)
    with zipfile.ZipFile(path) as zf:
        if name == "ml-latest-small":
            rows = np.genfromtxt(io.BytesIO(_member(zf, "/ratings.csv")), delimiter=",",
                                 skip_header=1, dtype=np.float64)
            titles = _read_titles_csv(_member(zf, "/movies.csv").decode("utf-8"))
        elif name == "ml-100k":
            rows = np.loadtxt(io.BytesIO(_member(zf, "/u.data")), dtype=np.float64)
            titles = _split_lines(_member(zf, "/u.item").decode("latin-1"), "|")
        elif name == "ml-1m":
            text = _member(zf, "/ratings.dat").decode("latin-1")
            rows = np.array([ln.split("::") for ln in text.splitlines() if ln], dtype=np.float64)
            titles = _split_lines(_member(zf, "/movies.dat").decode("latin-1"), "::")
        else:
            raise ValueError(f"name must be one of {sorted(set(MOVIELENS_NAMES))}, got {name!r}")
    rows = rows.reshape(-1, 4)
    return Ratings(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64),
                   rows[:, 2], rows[:, 3].astype(np.int64), titles, name=name)


def load_movielens(name: str = "small", *, path=None) -> Ratings:
    """Load a MovieLens ratings table.

    Parameters
    ----------
    name : {"small", "latest-small", "100k", "1m"}
        ``"small"`` (alias ``"movielens-small"``): the embedded 2016 ml-latest-small,
        offline. ``"latest-small"``, ``"100k"``, ``"1m"`` (or ``"ml-..."``): the
        GroupLens zip, downloaded once into :func:`labmf.data.data_dir` and
        hash-checked (GroupLens' current ml-latest-small is newer than the embedded one).
    path : str or Path, optional
        A zip already on disk (skips the download, not the parsing).

    Returns
    -------
    Ratings
    """
    if not isinstance(name, str) or name not in MOVIELENS_NAMES:
        raise ValueError(f"name must be one of {sorted(MOVIELENS_NAMES)}, got {name!r}")
    canonical = MOVIELENS_NAMES[name]
    if canonical == "small":
        if path is not None:
            raise ValueError("path is for the downloadable zips; 'small' is embedded")
        return _load_embedded()
    if path is None:
        path = fetch(f"{canonical}.zip")
    return read_movielens_zip(path, canonical)
