"""Title lookup, the one implementation every data object with titles uses.

:func:`find_title` finds the course's ``"A Beautiful Mind"`` among MovieLens'
``"Beautiful Mind, A (2001)"``; :class:`TitleLookup` gives ``labrec.Ratings``
(titles by item id) and :class:`~labmf.data.LabLayout` (titles by row) the same
``title``, ``find_title`` and ``search_titles`` methods.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping

import numpy as np

from ..validation import check_scalar

__all__ = ["normalise_title", "find_title", "search_titles", "title_of", "TitleLookup", "UnknownIdError"]


class UnknownIdError(KeyError):
    """An id (user, item, title key) that the data or the fitted model does not know.

    A :class:`KeyError`, so ``except KeyError`` catches it; its message names the id.
    """

    def __str__(self) -> str:  # KeyError's own str() is the repr of the message
        return str(self.args[0]) if self.args else ""


_YEAR = re.compile(r"\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
# MovieLens moves leading articles to the end: "Beautiful Mind, A (2001)".
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.*),\s*(?P<art>the|a|an|les|la|le|l'|il|el|los|las|die|der|das|den|det)$",
    re.IGNORECASE,
)


def normalise_title(title: str) -> tuple[str, int | None]:
    """Canonical form of a movie title and its year (``None`` when absent).

    ``"Beautiful Mind, A (2001)"`` and ``"A Beautiful Mind"`` both give
    ``"a beautiful mind"``: the trailing year is split off, a trailing article
    ("X, The") moves to the front, an "a.k.a." part is dropped, and accents, case,
    punctuation and "&" vs "and" are ignored.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    s, year = title.strip(), None
    m = _YEAR.search(s)
    if m:
        year, s = int(m.group(1)), s[: m.start()]
    s = re.sub(r"\s*\((?:a\.k\.a\.|aka)[^)]*\)", "", s, flags=re.IGNORECASE).strip()
    m = _TRAILING_ARTICLE.match(s)
    if m:
        s = f"{m.group('art')} {m.group('body')}"
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9]+", " ", s.replace("&", " and "))
    return " ".join(s.split()), year


def _entries(titles) -> list[tuple[object, str]]:
    """``(key, title)`` pairs: a mapping's items, or a sequence's ``(index, title)``; no-title entries dropped."""
    if isinstance(titles, Mapping):
        pairs = titles.items()
    elif isinstance(titles, str) or not hasattr(titles, "__len__"):
        raise TypeError(f"titles must be a mapping key -> title or a sequence of titles, got {type(titles).__name__}")
    else:
        pairs = enumerate(titles)
    return [(k, t) for k, t in pairs if isinstance(t, str)]


def _query(query) -> tuple[str, int | None]:
    if not isinstance(query, str):
        raise TypeError(f"query must be a title (a string), got {type(query).__name__}: {query!r}")
    key, year = normalise_title(query)
    if not key:
        raise ValueError(f"query must contain letters or digits, got {query!r}")
    return key, year


def search_titles(titles, query: str, n: int = 5) -> list[tuple[object, str]]:
    """The (up to) ``n`` titles closest to ``query``, best first, as ``(key, title)`` pairs.

    Titles containing the query (compared by :func:`normalise_title`) come first,
    then the closest spellings (:func:`difflib.get_close_matches`, cutoff 0.6).
    ``titles`` is a mapping key -> title or a sequence (key = index).
    """
    key, year = _query(query)
    n = check_scalar(n, "n", int, min_val=1)
    entries = _entries(titles)
    normal = [normalise_title(t) for _, t in entries]
    scored = []
    for k, (nk, ny) in enumerate(normal):
        ratio = difflib.SequenceMatcher(None, key, nk).ratio()
        contains = bool(re.search(rf"\b{re.escape(key)}\b", nk))
        if contains or ratio >= 0.6:
            same_year = year is not None and ny == year
            scored.append((-contains, -same_year, -ratio, nk, k))
    return [entries[k] for *_, k in sorted(scored)[:n]]


def find_title(titles, query: str):
    """Key of the title matching ``query``: the index in a sequence, the key of a mapping.

    Titles are compared by :func:`normalise_title`. A year in ``query`` selects the
    titles of that year; a title without a year (the course's) matches any year
    when no title has the year asked for.

    Raises
    ------
    UnknownIdError (a KeyError)
        No title matches; the message lists the closest titles (:func:`search_titles`).
    ValueError
        Several titles match; the message lists them with their keys (add the year,
        or use the key when they share title and year).
    """
    key, year = _query(query)
    entries = _entries(titles)
    normal = ((k, t, *normalise_title(t)) for k, t in entries)
    same = [(k, t, y) for k, t, nk, y in normal if nk == key]
    hits = [(k, t) for k, t, y in same if year is None or y == year]
    if not hits and year is not None:
        hits = [(k, t) for k, t, y in same if y is None]
    if len(hits) == 1:
        return hits[0][0]
    if not hits:
        close = [f"{t} [{k!r}]" for k, t in search_titles(titles, query)]
        raise UnknownIdError(f"no title matches {query!r}; closest: {close or 'none'}")
    listed = [f"{t} [{k!r}]" for k, t in hits]
    fix = "add the year" if year is None else "they share title and year: pick one by its key"
    raise ValueError(f"{len(hits)} titles match {query!r}: {listed}; {fix}")


def title_of(titles, key, what: str = "item"):
    """``titles[key]``, or :class:`UnknownIdError` naming ``key`` (never a made-up title)."""
    try:
        if isinstance(titles, Mapping):
            found = titles[key.item() if isinstance(key, np.generic) else key]
        else:
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) or key < 0:
                raise KeyError(key)
            found = titles[int(key)]
    except (KeyError, IndexError, TypeError):
        raise UnknownIdError(f"no title for {what} {key!r}: it is not among the {len(titles)} "
                             f"{what}s with a title") from None
    if found is None:
        raise UnknownIdError(f"{what} {key!r} has no title")
    return found


class TitleLookup:
    """Title methods for a data object with a ``titles`` attribute (a mapping or a sequence).

    Subclasses set ``_title_key`` to what a title is keyed by (``"item"``, ``"row"``).
    """

    _title_key = "item"

    def title(self, key) -> str:
        """The title of ``key``; :class:`UnknownIdError` (a KeyError) if it has none."""
        return title_of(self.titles, key, self._title_key)

    def find_title(self, query: str):
        """The key whose title matches ``query`` (see :func:`labmf.data.find_title`)."""
        return find_title(self.titles, query)

    def search_titles(self, query: str, n: int = 5) -> list[tuple[object, str]]:
        """The ``n`` closest titles as ``(key, title)`` pairs (see :func:`labmf.data.search_titles`)."""
        return search_titles(self.titles, query, n)
