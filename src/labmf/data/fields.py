"""The one parser of rating-table fields: ids, ratings and whole numbers, strict alike.

``labrec.load_ratings`` (a CSV, a DataFrame, rows) and :func:`labmf.data.read_movielens_zip`
(the GroupLens zips) read every field through here, so both refuse the same things with
where they are (``line 7 of ratings.csv``): a number is plain decimal text (``1_0`` and
``0x10`` are not numbers), a numeric id is a whole number below 2**63 written one way
(``007`` and ``7`` in one column are refused, not merged), a text id holds no control
character (numpy would silently drop a trailing ``\\x00``).
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Callable

import numpy as np

__all__ = ["number", "parse_ids", "parse_numbers"]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_INT64 = 2**63


def number(v):
    """``v`` as an int or float when it is a number (plain decimal text, or a real that is not
    NaN), else None."""
    if isinstance(v, str):
        s = v.strip()
        if _INTEGER.fullmatch(s):
            return int(s)
        return float(s) if _NUMBER.fullmatch(s) else None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, Real):
        return None
    v = int(v) if isinstance(v, Integral) else float(v)
    return None if isinstance(v, float) and math.isnan(v) else v


def _whole(n, v, what: str, at: str) -> int:
    if isinstance(n, float) and not (math.isfinite(n) and n.is_integer()):
        raise ValueError(f"{at}: {what} {v!r} is not a whole number (numeric ids must be integers; "
                         "ids may also be strings)")
    if not -_INT64 <= n < _INT64:
        raise ValueError(f"{at}: {what} {v!r} is outside the 64-bit integer range (|id| < 2**63)")
    return int(n)


def parse_ids(values, what: str, where: Callable[[int], str], *, numbers_only: bool = False) -> np.ndarray:
    """A column of ids as int64 (every value a whole number) or strings, refusing a bad row
    with ``where(j)``; ``numbers_only`` refuses string ids."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind not in "fOU":
        raise TypeError(f"the {what} column must hold integers or strings, got dtype {arr.dtype}")
    vals = arr.tolist()
    nums = [number(v) for v in vals]
    words = [j for j, v in enumerate(vals) if isinstance(v, str) and v.strip() and nums[j] is None]
    if not words or numbers_only:
        return _numeric_ids(vals, nums, what, where, words)
    for j, v in enumerate(vals):
        if not (isinstance(v, str) and v.strip()):
            problem = "is missing" if number(v) is None else "is a number among string ids"
            raise ValueError(f"{where(j)}: {what} {v!r} {problem}")
        if not v.isprintable():
            raise ValueError(f"{where(j)}: {what} {v!r} holds a control character")
    return np.array([v.strip() for v in vals], dtype=str)


def _numeric_ids(vals, nums, what, where, words) -> np.ndarray:
    if words:
        raise ValueError(f"{where(words[0])}: {what} {vals[words[0]]!r} is not a whole number")
    out, spelt = np.empty(len(vals), dtype=np.int64), {}
    for j, (v, n) in enumerate(zip(vals, nums, strict=True)):
        if n is None:
            raise ValueError(f"{where(j)}: {what} {v!r} is missing")
        out[j] = k = _whole(n, v, what, where(j))
        if isinstance(v, str):
            first = spelt.setdefault(k, (v.strip(), j))
            if first[0] != v.strip():
                raise ValueError(f"{where(j)}: {what} {v!r} is the number {k}, written {first[0]!r} on "
                                 f"{where(first[1])}; write each numeric id one way (or make the ids "
                                 "text that is not a number, e.g. 'u007')")
    return out


def parse_numbers(values, what: str, where: Callable[[int], str]) -> np.ndarray:
    """A column of finite numbers as float64, refusing a missing or non-numeric one with ``where(j)``."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        out = arr.astype(np.float64)
    elif arr.dtype.kind in "OU":
        out = np.array([np.nan if n is None else n for n in map(number, arr.tolist())] or [], dtype=np.float64)
    else:
        raise TypeError(f"the {what} column must hold numbers, got dtype {arr.dtype}")
    bad = ~np.isfinite(out)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"{where(j)}: {what} {arr[j]!r} is missing or not a finite number")
    return out
