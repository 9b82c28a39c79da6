"""MovieLens ratings: the embedded ml-latest-small copy and the GroupLens zips.

``read_movielens("small")`` reads the compact copy of *ml-latest-small* (October
2016: 100,004 ratings by 671 users on 9,125 movies) shipped in
``labmf/data/files/``, offline and sha256-checked. ``"100k"``, ``"1m"`` and
``"latest-small"`` read the GroupLens zips, fetched and hash-checked by
:mod:`labmf.data.download`. Every reader returns the rows of raw ids
(:class:`MovieLens`); :func:`labmf.data.lab_layout` lays them out as the course's
dense movies x users matrix, and ``labrec.load_movielens`` makes them a ``Ratings``
table for the recommender.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .download import check_sha256, fetch
from .fields import parse_ids, parse_numbers

__all__ = ["MovieLens", "read_movielens", "read_movielens_zip", "embedded_files", "EMBEDDED_SHA256",
           "MOVIELENS_NAMES"]

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


class MovieLens(NamedTuple):
    """A MovieLens data set as read: one entry per rating, raw ids (users x items, as in
    :mod:`labmf.data`'s orientation note). ``labrec.load_movielens`` makes it a ``Ratings``
    table for the recommender; :func:`labmf.data.lab_layout` lays it out for Question 4."""

    user: np.ndarray       # int64, shape (nnz,)
    item: np.ndarray       # int64 (movie ids), shape (nnz,)
    rating: np.ndarray     # float32, shape (nnz,)
    timestamp: np.ndarray  # int64 seconds since the epoch, shape (nnz,)
    titles: dict           # movie id -> title
    name: str


def _rows(user, item, rating, timestamp, titles, name) -> MovieLens:
    return MovieLens(np.asarray(user, dtype=np.int64), np.asarray(item, dtype=np.int64),
                     np.asarray(rating, dtype=np.float32), np.asarray(timestamp, dtype=np.int64), titles, name)


def _load_embedded() -> MovieLens:
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
    return _rows(user, item, rating, timestamp, titles, "ml-latest-small (2016, embedded)")


def _member(zf: zipfile.ZipFile, suffix: str) -> bytes:
    for name in zf.namelist():
        if name.endswith(suffix):
            return zf.read(name)
    raise ValueError(f"{suffix} not found in {zf.filename}")


def _split_lines(text: str, sep: str) -> dict[int, str]:
    return {int(p[0]): p[1] for p in (ln.split(sep) for ln in text.splitlines()) if len(p) > 1}


def _rating_lines(data: bytes, member: str, sep: str, header: bool) -> list[np.ndarray]:
    """The four columns (user, item, rating, timestamp) of a ratings member, each field read by
    :mod:`labmf.data.fields` (the strictness of ``labrec.load_ratings``); a bad line is refused by number."""
    lines = [(k, ln.split(sep)) for k, ln in enumerate(data.decode("latin-1").splitlines(), 1)
             if ln.strip() and not (header and k == 1)]
    if not lines:
        raise ValueError(f"{member} holds no ratings")

    def where(j: int) -> str:
        return f"line {lines[j][0]} of {member}"

    for j, (_, fields) in enumerate(lines):
        if len(fields) != 4:
            raise ValueError(f"{where(j)}: {len(fields)} fields, expected 4 (user, item, rating, timestamp) "
                             f"separated by {sep!r}")
    cols = [np.array(c, dtype=object) for c in zip(*(f for _, f in lines), strict=True)]
    ids = [parse_ids(cols[k], what, where, numbers_only=True) for k, what in ((0, "user id"), (1, "item id"),
                                                                               (3, "timestamp"))]
    return [ids[0], ids[1], parse_numbers(cols[2], "rating", where), ids[2]]


def read_movielens_zip(path, name: str) -> MovieLens:
    """Parse a GroupLens zip (``ml-latest-small``, ``ml-100k`` or ``ml-1m``); a malformed ratings
    line is refused with its number (no line is reshaped, rounded or skipped)."""
    name = MOVIELENS_NAMES.get(name, name)
    with zipfile.ZipFile(path) as zf:
        if name == "ml-latest-small":
            rows = _rating_lines(_member(zf, "/ratings.csv"), "ratings.csv", ",", header=True)
            titles = _read_titles_csv(_member(zf, "/movies.csv").decode("utf-8"))
        elif name == "ml-100k":
            rows = _rating_lines(_member(zf, "/u.data"), "u.data", "\t", header=False)
            titles = _split_lines(_member(zf, "/u.item").decode("latin-1"), "|")
        elif name == "ml-1m":
            rows = _rating_lines(_member(zf, "/ratings.dat"), "ratings.dat", "::", header=False)
            titles = _split_lines(_member(zf, "/movies.dat").decode("latin-1"), "::")
        else:
            raise ValueError(f"name must be one of {sorted(set(MOVIELENS_NAMES))}, got {name!r}")
    return _rows(*rows, titles, name)


def read_movielens(name: str = "small", *, path=None) -> MovieLens:
    """Read a MovieLens data set (``labrec.load_movielens`` gives it as a ``Ratings`` table).

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
    MovieLens
    """
    if not isinstance(name, str) or name not in MOVIELENS_NAMES:
        raise ValueError(f"name must be one of {sorted(MOVIELENS_NAMES)}, got {name!r}")
    canonical = MOVIELENS_NAMES[name]
    if path is not None and (canonical == "small" or not str(path).lower().endswith(".zip")):
        what = "'small' is embedded" if canonical == "small" else f"expected {canonical}.zip"
        raise ValueError(f"path is for the downloadable GroupLens zips ({what}), got {str(path)!r}. For a "
                         "ratings CSV or DataFrame of your own: labrec.load_ratings(path, user=..., item=..., "
                         "rating=...)")
    if canonical == "small":
        return _load_embedded()
    if path is None:
        path = fetch(f"{canonical}.zip")
    return read_movielens_zip(path, canonical)
