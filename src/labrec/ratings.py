"""Ratings from what a user has: a CSV file, a pandas DataFrame, or rows.

::

    from labmf.data import load_ratings
    R = load_ratings("ratings.csv", user="userId", item="movieId", rating="rating",
                     timestamp="timestamp", scale=(0.5, 5))
    R = load_ratings(df, user="customer", item="book", rating="stars", title="book_title")
    R = load_ratings([("u1", "i1", 4.0), ("u1", "i2", 2.5), ("u2", "i1", 5.0)])

Ids may be integers or strings: a column whose every value is a number must hold
whole numbers (id ``1.5`` is refused, never truncated to 1); any other column is
kept as strings. A bad row is refused with where it is (``line 7 of ratings.csv``,
``row 6``) and why; nothing is silently dropped or rounded.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from labmf.data.fields import number, parse_ids, parse_numbers
from labmf.validation import pair_groups

from .table import Ratings, check_scale, first_outside

__all__ = ["load_ratings", "DUPLICATES"]

#: What ``load_ratings`` does with a (user, item) pair rated more than once.
DUPLICATES = ("error", "last", "mean")


class _Source(NamedTuple):
    columns: dict  # role ("user", "item", ...) -> 1-D array of raw values
    where: Callable[[int], str]  # row position -> "line 7 of ratings.csv"
    name: str


def load_ratings(source, *, user="user", item="item", rating="rating", timestamp=None, title=None,
                 titles=None, scale=None, duplicates="error", sep=",", name=None) -> Ratings:
    """Read a ratings table (users x items) from a CSV path, a DataFrame or rows.

    Parameters
    ----------
    source : str, Path, pandas.DataFrame, mapping of columns, or iterable of rows
        A CSV file with a header row; a DataFrame (or a dict of equally long
        columns); or rows ``(user, item, rating)`` / ``(user, item, rating,
        timestamp)``, read by position (the column names below are then unused).
    user, item, rating : str
        Names of the id and rating columns (defaults ``"user"``, ``"item"``, ``"rating"``).
    timestamp, title : str, optional
        Names of a timestamp column (seconds since the epoch, or ISO dates) and of
        an item-title column (one title per item).
    titles : mapping item id -> title, CSV path or DataFrame, optional
        Titles from elsewhere: ``{item_id: title}``, or a table (``"movies.csv"``)
        with the item column (named as ``item``) and a ``title`` column.
    scale : (low, high), optional
        The rating scale; a rating outside it is refused.
    duplicates : {"error", "last", "mean"}, default "error"
        A (user, item) pair rated more than once is refused, or keeps its last
        rating (in source order), or the mean of its ratings (with the last timestamp).
    sep : str, default ","
        CSV field separator.
    name : str, optional
        Label of the table (default: the file name).

    Returns
    -------
    Ratings
        With the id maps (``.users``, ``.items``) and titles; ``model.fit(R)``
        lets the model take and give ids.

    Raises
    ------
    ValueError
        A missing column (the message lists the columns there are), a bad row
        (where it is and why), an empty source, a repeated pair with ``duplicates="error"``.
    FileNotFoundError
        ``source`` is a path with no file.
    """
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
    scale = check_scale(scale)
    roles = {"user": user, "item": item, "rating": rating, "timestamp": timestamp, "title": title}
    src = _read(source, {k: v for k, v in roles.items() if v is not None}, sep)
    cols, where = src.columns, src.where
    if cols["user"].size == 0:
        raise ValueError(f"{src.name} holds no ratings")
    u = parse_ids(cols["user"], "user id", where)
    i = parse_ids(cols["item"], "item id", where)
    r = _parse_ratings(cols["rating"], where, scale)
    ts = _parse_timestamps(cols["timestamp"], where) if "timestamp" in cols else None
    title_map = _titles_from_column(i, cols["title"], where) if "title" in cols else {}
    title_map.update(_titles_from_mapping(_titles_table(titles, item), i))
    keep, r = _resolve_duplicates(u, i, r, duplicates, where)
    return Ratings(u[keep], i[keep], r, None if ts is None else ts[keep], title_map,
                   name=src.name if name is None else str(name), scale=scale)


# ------------------------------------------------------------------ reading


def _read(source, roles: dict, sep: str) -> _Source:
    if isinstance(source, (str, bytes, os.PathLike)):
        return _read_csv(Path(os.fsdecode(source)), roles, sep)
    import pandas as pd  # imported on use: `import labmf` stays light

    if isinstance(source, Mapping):
        source = pd.DataFrame(source)
    if isinstance(source, pd.DataFrame):
        return _read_frame(source, roles, isinstance(source.index, pd.RangeIndex))
    if "title" in roles:
        raise ValueError("title names a column, but rows are read by position (user, item, rating[, "
                         "timestamp]); pass titles={item_id: title} instead")
    return _read_rows(source)


def _missing_column(role: str, column, where: str, present) -> ValueError:
    return ValueError(f"{role} column {column!r} not found in {where}; its columns are {list(present)} "
                      f"(pass {role}='<name>')")


def _read_csv(path: Path, roles: dict, sep: str) -> _Source:
    if not path.is_file():
        raise FileNotFoundError(f"ratings file {path} not found")
    lines, cells = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=sep)
            header = [h.strip() for h in next(reader, [])]
            for role, column in roles.items():
                if column not in header:
                    raise _missing_column(role, column, path.name, header)
            picks = [header.index(c) for c in roles.values()]
            for row in reader:
                if not any(c.strip() for c in row):
                    continue  # blank line
                if len(row) != len(header):
                    raise ValueError(f"line {reader.line_num} of {path.name}: {len(row)} fields, but the header "
                                     f"has {len(header)} (sep={sep!r})")
                lines.append(reader.line_num)
                cells.append([row[p] for p in picks])
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text; expected a CSV file") from exc
    except csv.Error as exc:  # a NUL byte, a field over csv's size limit, an unclosed quote
        raise ValueError(f"line {reader.line_num} of {path.name}: {exc}") from exc
    columns = {role: np.array([c[k] for c in cells] or [], dtype=object) for k, role in enumerate(roles)}
    return _Source(columns, lambda j: f"line {lines[j]} of {path.name}", path.name)


def _read_frame(df, roles: dict, range_index: bool) -> _Source:
    for role, column in roles.items():
        if column not in df.columns:
            raise _missing_column(role, column, "the DataFrame", df.columns)
    columns = {role: df[column].to_numpy() for role, column in roles.items()}
    index = df.index
    plain = range_index and index.start == 0 and index.step == 1  # labels are the positions

    def where(j: int) -> str:
        return f"row {j}" if plain else f"row {j} (index {index[j]!r})"

    return _Source(columns, where, "DataFrame")


def _read_rows(source) -> _Source:
    try:
        rows = list(source)
    except TypeError:
        raise TypeError("source must be a CSV path, a DataFrame, a mapping of columns or rows (user, item, "
                        f"rating[, timestamp]), got {type(source).__name__}") from None
    width = len(rows[0]) if rows and hasattr(rows[0], "__len__") else 0
    for j, row in enumerate(rows):
        if not hasattr(row, "__len__") or isinstance(row, str) or len(row) != width or width not in (3, 4):
            raise ValueError(f"row {j}: expected (user, item, rating) or (user, item, rating, timestamp) like "
                             f"row 0, got {row!r}")
    roles = ["user", "item", "rating", "timestamp"][:width or 3]
    columns = {role: np.array([row[k] for row in rows] or [], dtype=object) for k, role in enumerate(roles)}
    return _Source(columns, lambda j: f"row {j}", "rows")


# ------------------------------------------------------------------ parsing


def _parse_ratings(values, where, scale) -> np.ndarray:
    out = parse_numbers(values, "rating", where)
    j = None if scale is None else first_outside(out, scale)
    if j is not None:
        raise ValueError(f"{where(j)}: rating {out[j]:g} is outside the scale [{scale[0]:g}, {scale[1]:g}]")
    return out


def _parse_timestamps(values, where) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[s]").astype(object)
    out = np.empty(arr.size, dtype=np.int64)
    for j, v in enumerate(arr.tolist()):
        n = number(v)
        if n is None and isinstance(v, str) and v.strip():
            try:
                n = int(np.datetime64(v.strip(), "s").astype(np.int64))
            except ValueError:
                n = None
        elif n is None and hasattr(v, "timestamp") and v == v:  # datetime, pandas Timestamp (not NaT)
            n = int(v.timestamp())
        if n is None or not (abs(n) < 2**63 and float(n).is_integer()):
            raise ValueError(f"{where(j)}: timestamp {v!r} is neither whole seconds since the epoch nor a date")
        out[j] = int(n)
    return out


def _titles_from_column(items: np.ndarray, values, where) -> dict:
    titles, first = {}, {}
    for j, (i, t) in enumerate(zip(items.tolist(), np.asarray(values).tolist(), strict=True)):
        if t is None or (isinstance(t, float) and math.isnan(t)) or not str(t).strip():
            continue  # this row gives no title
        t = str(t).strip()
        if titles.setdefault(i, t) != t:
            raise ValueError(f"{where(j)}: item {i!r} is titled {t!r}, but {titles[i]!r} on {where(first[i])}")
        first.setdefault(i, j)
    return titles


def _titles_table(titles, item: str):
    """``titles`` given as a CSV path or a DataFrame with columns ``item`` and ``"title"``, as a dict."""
    import pandas as pd  # imported on use: `import labmf` stays light

    if isinstance(titles, (str, bytes, os.PathLike)):
        path = Path(os.fsdecode(titles))
        if not path.is_file():
            raise FileNotFoundError(f"titles file {path} not found")
        titles, where = pd.read_csv(path, dtype=str, keep_default_na=False), path.name
    elif isinstance(titles, pd.DataFrame):
        where = "the titles DataFrame"
    else:
        return titles
    for column in (item, "title"):
        if column not in titles.columns:
            raise ValueError(f"titles: column {column!r} not found in {where}; its columns are "
                             f"{list(titles.columns)} (a titles table needs the item column {item!r} and 'title')")
    return dict(zip(titles[item].tolist(), titles["title"].tolist(), strict=True))


def _titles_from_mapping(titles, items: np.ndarray) -> dict:
    if titles is None:
        return {}
    if not hasattr(titles, "items"):
        raise TypeError(f"titles must be a mapping item id -> title, a CSV path or a DataFrame, "
                        f"got {type(titles).__name__}")
    pairs = list(titles.items())
    keys = parse_ids(np.array([k for k, _ in pairs] or [], dtype=object), "titles key",
                     lambda j: f"titles entry {pairs[j][0]!r}")
    if pairs and (keys.dtype.kind == "U") != (items.dtype.kind == "U"):
        kinds = ["integers", "strings"]
        raise TypeError(f"titles keys are {kinds[keys.dtype.kind == 'U']} but the item ids are "
                        f"{kinds[items.dtype.kind == 'U']}; key titles by item id")
    for k, t in pairs:
        if not isinstance(t, str):
            raise TypeError(f"titles[{k!r}] must be a string, got {type(t).__name__}: {t!r}")
    return {k: t for k, (_, t) in zip(keys.tolist(), pairs, strict=True)}


def _resolve_duplicates(u, i, r, how: str, where) -> tuple[np.ndarray, np.ndarray]:
    """Rows to keep (source order) and their ratings, after ``duplicates=how``."""
    order, first, repeat = pair_groups(u, i)
    if repeat is None:
        return np.arange(u.size), r
    if how == "error":
        k, a, b = repeat
        raise ValueError(f"{where(b)} rates (user {u[b].item()!r}, item {i[b].item()!r}) again, first rated on "
                         f"{where(a)} ({k} repeated row(s) in all); pass duplicates='last' or "
                         "'mean' to keep one rating per pair")
    last = np.r_[first[1:], True]
    kept = order[last]
    by_source = np.argsort(kept, kind="stable")
    if how == "last":
        return kept[by_source], r[kept[by_source]]
    group = np.cumsum(first) - 1
    means = np.bincount(group, weights=r[order]) / np.bincount(group)
    return kept[by_source], means[by_source]
