"""MovieLens ratings: the embedded ml-latest-small copy and the GroupLens zips.

``load_movielens("small")`` reads the compact copy of MovieLens *ml-latest-small*
(the October 2016 edition: 100,004 ratings by 671 users on 9,125 movies) shipped
in ``labmf/data/files/``; it works offline and checks the files' sha256 first.
``"100k"``, ``"1m"`` and ``"latest-small"`` read the GroupLens zips, fetched and
hash-checked by :mod:`labmf.data.download` (cached after the first download).

Every loader returns a :class:`Ratings` table of raw ids; :meth:`Ratings.indexed`
turns the ids into contiguous indices and :func:`labmf.data.lab_layout` into the
course's dense movies x users matrix.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "Ratings",
    "LabLayout",
    "load_movielens",
    "lab_layout",
    "normalise_title",
    "find_title",
    "read_movielens_zip",
    "embedded_files",
    "EMBEDDED_SHA256",
    "MOVIELENS_NAMES",
]

# Names of the embedded files inside the package (``labmf/data/files/``) and their
# sha256, as written by scripts/make_movielens_small.py (see files/PROVENANCE.md).
EMBEDDED_RATINGS = "ml-latest-small-2016.npz"
EMBEDDED_TITLES = "ml-latest-small-2016-movies.csv.gz"
EMBEDDED_SHA256: dict[str, str] = {
    EMBEDDED_RATINGS: "50e3f7b2033125da25ae140362adafe106bdb416bdae106350e8a885ae9af8fe",
    EMBEDDED_TITLES: "9cc44559d8d358f845d14a6afc151b86ce97c00b3591c19b38cc9cffefb3fba4",
}

# Accepted dataset names -> canonical name.
MOVIELENS_NAMES = {
    "small": "small",
    "movielens-small": "small",
    "latest-small": "ml-latest-small",
    "ml-latest-small": "ml-latest-small",
    "100k": "ml-100k",
    "ml-100k": "ml-100k",
    "1m": "ml-1m",
    "ml-1m": "ml-1m",
}


@dataclass(frozen=True, eq=False)
class Ratings:
    """A table of explicit ratings with raw MovieLens ids.

    Attributes
    ----------
    user : numpy.ndarray of int64, shape (nnz,)
        Raw user ids.
    item : numpy.ndarray of int64, shape (nnz,)
        Raw movie ids.
    rating : numpy.ndarray of float32, shape (nnz,)
        Star ratings (MovieLens: 0.5 to 5.0 in half stars, or whole stars 1-5).
    timestamp : numpy.ndarray of int64, shape (nnz,)
        Seconds since the Unix epoch.
    titles : dict[int, str]
        Movie id -> title, as MovieLens spells it (``"Beautiful Mind, A (2001)"``).
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
            arr = np.ascontiguousarray(np.asarray(getattr(self, attr)), dtype=dtype)
            if arr.ndim != 1:
                raise ValueError(f"{attr} must be 1-D, got shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        n = self.user.size
        for attr in ("item", "rating", "timestamp"):
            if getattr(self, attr).size != n:
                raise ValueError(
                    f"user, item, rating and timestamp must have the same length; "
                    f"user has {n}, {attr} has {getattr(self, attr).size}"
                )
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
        """Contiguous indices for users and movies.

        Returns
        -------
        user_idx : numpy.ndarray of int64, shape (nnz,)
            Position of each rating's user in :attr:`user_ids`.
        item_idx : numpy.ndarray of int64, shape (nnz,)
            Position of each rating's movie in :attr:`item_ids`.
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


# ---------------------------------------------------------------- embedded copy


def embedded_files() -> dict[str, Path]:
    """Paths of the embedded MovieLens files (ratings ``.npz`` and titles ``.csv.gz``)."""
    base = resources.files("labmf.data").joinpath("files")
    return {name: Path(str(base.joinpath(name))) for name in (EMBEDDED_RATINGS, EMBEDDED_TITLES)}


def file_sha256(path) -> str:
    """Hex sha256 of a local file (downloads are hashed by pooch, not here)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_embedded(paths: dict[str, Path]) -> None:
    for name, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(
                f"the embedded MovieLens file {name} is missing from {path.parent}; "
                f"reinstall labmf or run scripts/make_movielens_small.py"
            )
        expected = EMBEDDED_SHA256.get(name)
        if expected is None:
            continue
        got = file_sha256(path)
        if got != expected:
            raise OSError(
                f"the embedded MovieLens file {path} is corrupted: sha256 {got}, "
                f"expected {expected}; reinstall labmf or run scripts/make_movielens_small.py"
            )


def _read_titles_csv(text: str) -> dict[int, str]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    if header[:2] != ["movieId", "title"]:
        raise ValueError(f"unexpected movies.csv header {header!r}")
    return {int(row[0]): row[1] for row in reader if row}


def _load_embedded() -> Ratings:
    paths = embedded_files()
    _check_embedded(paths)
    with np.load(paths[EMBEDDED_RATINGS]) as z:
        user = z["user"].astype(np.int64)
        item = z["item"].astype(np.int64)
        # Stored as twice the rating in a uint8: half-stars are exact integers.
        rating = z["rating2"].astype(np.float32) / 2
        timestamp = z["timestamp"].astype(np.int64)
    with gzip.open(paths[EMBEDDED_TITLES], "rt", encoding="utf-8", newline="") as fh:
        titles = _read_titles_csv(fh.read())
    return Ratings(user, item, rating, timestamp, titles, name="ml-latest-small (2016, embedded)")


# ------------------------------------------------------------ GroupLens zips


def _member(zf: zipfile.ZipFile, suffix: str) -> str:
    for name in zf.namelist():
        if name.endswith(suffix):
            return name
    raise ValueError(f"{suffix} not found in {zf.filename}")


def read_movielens_zip(path, name: str) -> Ratings:
    """Parse a GroupLens zip (``ml-latest-small``, ``ml-100k`` or ``ml-1m``)."""
    name = MOVIELENS_NAMES.get(name, name)
    with zipfile.ZipFile(path) as zf:
        if name == "ml-latest-small":
            rows = np.genfromtxt(
                io.BytesIO(zf.read(_member(zf, "/ratings.csv"))), delimiter=",",
                skip_header=1, dtype=np.float64,
            ).reshape(-1, 4)
            titles = _read_titles_csv(zf.read(_member(zf, "/movies.csv")).decode("utf-8"))
        elif name == "ml-100k":
            rows = np.loadtxt(io.BytesIO(zf.read(_member(zf, "/u.data"))), dtype=np.float64).reshape(-1, 4)
            text = zf.read(_member(zf, "/u.item")).decode("latin-1")
            titles = {int(p[0]): p[1] for p in (ln.split("|") for ln in text.splitlines()) if len(p) > 1}
        elif name == "ml-1m":
            text = zf.read(_member(zf, "/ratings.dat")).decode("latin-1")
            rows = np.array([ln.split("::") for ln in text.splitlines() if ln], dtype=np.float64).reshape(-1, 4)
            text = zf.read(_member(zf, "/movies.dat")).decode("latin-1")
            titles = {int(p[0]): p[1] for p in (ln.split("::") for ln in text.splitlines()) if len(p) > 1}
        else:
            raise ValueError(f"name must be one of {sorted(set(MOVIELENS_NAMES))}, got {name!r}")
    return Ratings(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64),
                   rows[:, 2].astype(np.float32), rows[:, 3].astype(np.int64), titles, name=name)


def load_movielens(name: str = "small", *, path=None) -> Ratings:
    """Load a MovieLens ratings table.

    Parameters
    ----------
    name : {"small", "latest-small", "100k", "1m"}
        ``"small"`` (alias ``"movielens-small"``): the embedded 2016 ml-latest-small,
        offline. ``"latest-small"``, ``"100k"``, ``"1m"`` (or ``"ml-..."``): the
        GroupLens zip, downloaded once into the cache (``LABMF_DATA_DIR``) and
        hash-checked; note that GroupLens' current ml-latest-small is a newer edition
        than the embedded one.
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
        from .download import fetch

        path = fetch(f"{canonical}.zip")
    return read_movielens_zip(path, canonical)


# ------------------------------------------------------------------ lab layout


@dataclass(frozen=True, eq=False)
class LabLayout:
    """A dense movies x users ratings matrix laid out like the course's ``ratings.pt``.

    Attributes
    ----------
    ratings : Tensor of float32, shape (n_movies, n_users)
        ``ratings[i, j]`` is user ``j``'s rating of movie ``i``; 0 means *unrated*
        (never a rating: MovieLens' lowest star is 0.5, Netflix's is 1).
    titles : list of str, length n_movies
        Title of each row.
    movie_ids : numpy.ndarray of int64, shape (n_movies,)
        Source id of each row (MovieLens movie id; the row number for the course data).
    user_ids : numpy.ndarray of int64, shape (n_users,)
        Source id of each column (MovieLens user id; the column number for the course data).
    name : str
        Where the data came from.
    """

    ratings: torch.Tensor
    titles: list
    movie_ids: np.ndarray
    user_ids: np.ndarray
    name: str = ""

    def __post_init__(self):
        R = self.ratings
        if not isinstance(R, torch.Tensor) or R.ndim != 2:
            raise ValueError(f"ratings must be a 2-D tensor, got {type(R).__name__}")
        m, n = R.shape
        if len(self.titles) != m:
            raise ValueError(
                f"titles must have one entry per row: ratings has {m} rows, titles has "
                f"{len(self.titles)} entries"
            )
        if len(self.movie_ids) != m or len(self.user_ids) != n:
            raise ValueError(
                f"movie_ids / user_ids must have lengths {m} / {n}, got "
                f"{len(self.movie_ids)} / {len(self.user_ids)}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.ratings.shape)

    @property
    def mask(self) -> torch.Tensor:
        """1.0 where a rating is observed (``ratings > 0``), shape (n_movies, n_users)."""
        return (self.ratings > 0).to(self.ratings.dtype)

    @property
    def nnz(self) -> int:
        """Number of observed ratings."""
        return int((self.ratings > 0).sum())

    def find_title(self, query: str) -> int:
        """Row of the movie called ``query`` (see :func:`find_title`)."""
        return find_title(self.titles, query)

    def is_rated(self, row: int, col: int) -> bool:
        """Whether user ``col`` rated movie ``row`` (a 0 entry is *unrated*)."""
        return bool(self.ratings[row, col] > 0)

    def __repr__(self) -> str:
        m, n = self.shape
        return f"LabLayout(name={self.name!r}, shape=({m}, {n}), ratings={self.nnz})"


def _order_by_count(ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    # Most counts first; equal counts by increasing id, so the order is reproducible.
    return np.lexsort((ids, -counts))


def lab_layout(ratings: Ratings, n_movies: int = 1000, n_users: int = 10000) -> LabLayout:
    """Build the course's layout (rows = popular movies, columns = active users).

    Rows are the ``n_movies`` movies with the most ratings; columns are the (up to)
    ``n_users`` users with the most ratings *among those movies*, so that the number
    of ratings per column, ``layout.mask.sum(0)``, never increases from left to
    right. Ties are broken by increasing id. Users with no rating among the chosen
    movies are left out.

    Parameters
    ----------
    ratings : Ratings
    n_movies : int
        Number of rows (at most the number of movies).
    n_users : int
        Maximum number of columns (fewer when the data have fewer users).

    Returns
    -------
    LabLayout
        For the embedded ml-latest-small: 1000 x 671, 62,397 ratings.
    """
    if not isinstance(ratings, Ratings):
        raise TypeError(f"ratings must be a Ratings table, got {type(ratings).__name__}")
    for pname, val in (("n_movies", n_movies), ("n_users", n_users)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{pname} must be a positive integer, got {val!r}")
    if ratings.n_items < n_movies:
        raise ValueError(
            f"n_movies={n_movies} exceeds the {ratings.n_items} movies of {ratings.name or 'the table'}"
        )
    pairs = ratings.user.astype(np.int64) * (int(ratings.item.max()) + 1) + ratings.item
    if np.unique(pairs).size != pairs.size:
        raise ValueError("ratings has duplicate (user, movie) pairs; keep one rating per pair")

    movie_ids, movie_counts = np.unique(ratings.item, return_counts=True)
    rows = movie_ids[_order_by_count(movie_ids, movie_counts)[:n_movies]]
    keep = np.isin(ratings.item, rows)
    user_ids, user_counts = np.unique(ratings.user[keep], return_counts=True)
    cols = user_ids[_order_by_count(user_ids, user_counts)[:n_users]]
    keep &= np.isin(ratings.user, cols)

    row_of = {int(m): i for i, m in enumerate(rows)}
    col_of = {int(u): j for j, u in enumerate(cols)}
    r_idx = np.fromiter((row_of[int(m)] for m in ratings.item[keep]), dtype=np.int64)
    c_idx = np.fromiter((col_of[int(u)] for u in ratings.user[keep]), dtype=np.int64)
    R = torch.zeros(len(rows), len(cols), dtype=torch.float32)
    R[torch.from_numpy(r_idx), torch.from_numpy(c_idx)] = torch.from_numpy(ratings.rating[keep].copy())
    titles = [ratings.title(m) for m in rows]
    return LabLayout(R, titles, rows.astype(np.int64), cols.astype(np.int64),
                     name=f"{ratings.name}: top {len(rows)} movies x {len(cols)} users")


# ---------------------------------------------------------------- title lookup

_YEAR = re.compile(r"\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
# MovieLens moves leading articles to the end: "Beautiful Mind, A (2001)".
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.*),\s*(?P<art>the|a|an|les|la|le|l'|il|el|los|las|die|der|das|den|det)$",
    re.IGNORECASE,
)


def normalise_title(title: str) -> tuple[str, int | None]:
    """Canonical form of a movie title and its year (``None`` when absent).

    ``"Beautiful Mind, A (2001)"`` and ``"A Beautiful Mind"`` both give
    ``"a beautiful mind"`` (years 2001 and ``None``): the trailing year is split
    off, a trailing article ("X, The") is moved to the front, accents, case,
    punctuation and "&" vs "and" are ignored.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    s = title.strip()
    year = None
    m = _YEAR.search(s)
    if m:
        year, s = int(m.group(1)), s[: m.start()]
    # An alternative title in parentheses, "Seven (a.k.a. Se7en) (1995)", is dropped.
    s = re.sub(r"\s*\((?:a\.k\.a\.|aka)[^)]*\)", "", s, flags=re.IGNORECASE).strip()
    m = _TRAILING_ARTICLE.match(s)
    if m:
        s = f"{m.group('art')} {m.group('body')}"
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    s = s.replace("&", " and ")
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return " ".join(s.split()), year


def find_title(titles, query: str) -> int:
    """Index of the title matching ``query`` in ``titles``.

    Titles are compared in :func:`normalise_title` form, so the course's
    ``"A Beautiful Mind"`` finds MovieLens' ``"Beautiful Mind, A (2001)"``. A year
    in ``query`` must match the title's year when the title has one.

    Parameters
    ----------
    titles : sequence of str
    query : str

    Returns
    -------
    int

    Raises
    ------
    KeyError
        No title matches (the message lists close candidates).
    ValueError
        Several titles match (the message lists them; add the year).
    """
    key, year = normalise_title(query)
    if not key:
        raise ValueError(f"query must contain letters or digits, got {query!r}")
    normal = [normalise_title(t) for t in titles]
    hits = [i for i, (k, y) in enumerate(normal) if k == key and (year is None or y is None or y == year)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        close = difflib.get_close_matches(key, [k for k, _ in normal], n=5, cutoff=0.6)
        suggestions = [titles[i] for i, (k, _) in enumerate(normal) if k in close][:5]
        raise KeyError(f"no title matches {query!r}; close titles: {suggestions}")
    raise ValueError(
        f"{len(hits)} titles match {query!r}: {[titles[i] for i in hits]}; add the year"
    )
