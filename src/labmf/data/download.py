"""Hash-checked downloads of the remote data files, through pooch.

pooch does the HTTP, the hashing, the atomic write (a temporary file renamed only
after its hash matches) and the caching; this module holds the registry and turns
pooch's failures into errors that say what to do. The cache is ``$LABMF_DATA_DIR``
when set, else ``pooch.os_cache("labmf")``; a file copied there by hand under its
registry name is used without any network access when its hash matches. Where each
hash comes from is in :attr:`RemoteFile.hash_source` and ``files/PROVENANCE.md``; the
course's ``ratings.pt`` has no known hash, so :func:`fetch` refuses it unless given
one (:func:`labmf.data.course_layout` checks a local copy by content instead).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..validation import check_scalar

__all__ = ["RemoteFile", "REGISTRY", "DownloadError", "UnknownHashError", "data_dir", "fetch",
           "check_sha256", "ENV_VAR"]

ENV_VAR = "LABMF_DATA_DIR"

_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_COURSE = "https://ecs-vlc.github.io/COMP6258/labs/lab1/"
_TFDS = "tensorflow/datasets tensorflow_datasets/url_checksums/movielens.txt @1c076ac3"
# Digest length in hex characters of the algorithms a known_hash may name.
_HEX_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file.

    Attributes
    ----------
    name : str
        File name in the cache directory.
    url : str
    known_hash : str or None
        pooch's ``"alg:hex"`` form (``"sha256:..."``, ``"md5:..."``); ``None`` when
        nobody we trust has published it.
    size : int or None
        Expected size in bytes, when known.
    hash_source : str
        Where ``known_hash`` comes from.
    """

    name: str
    url: str
    known_hash: str | None
    size: int | None = None
    hash_source: str = ""


REGISTRY: dict[str, RemoteFile] = {
    f.name: f
    for f in (
        # The ml-latest-small hash is of the 2018 edition TFDS saw (100,836 ratings), not
        # of labmf's embedded 2016 copy; GroupLens replaces that zip from time to time.
        RemoteFile("ml-latest-small.zip", _GROUPLENS + "ml-latest-small.zip",
                   "sha256:696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                   978_202, _TFDS),
        RemoteFile("ml-100k.zip", _GROUPLENS + "ml-100k.zip",
                   "sha256:50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                   4_924_029, _TFDS + " (md5 0e33842e24a9c977be4e0107933c0723)"),
        RemoteFile("ml-1m.zip", _GROUPLENS + "ml-1m.zip",
                   "sha256:a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                   5_917_549, _TFDS + " (md5 c4d9eecfca2ab87c1945afe126590906)"),
        RemoteFile("titles.csv", _COURSE + "titles.csv",
                   "sha256:f1f37f48558fdd1306fc47bc8e86d8d556d9a08d013c3659087e9054f3fcdf90",
                   21_273, "the course file shipped in labmf/data/files/comp6258-titles.csv"),
        RemoteFile("ratings.pt", _COURSE + "ratings.pt", None, None,
                   "unknown: the file was not reachable when labmf was written"),
    )
}


class DownloadError(OSError):
    """A file could not be downloaded or failed its hash check."""


class UnknownHashError(ValueError):
    """No trusted hash is known for a file and none was given."""


def _file_digest(path, alg: str = "sha256") -> str:
    h = hashlib.new(alg)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path, expected: str, what: str, fix: str) -> None:
    """Raise :class:`OSError` unless the local file ``path`` has sha256 ``expected``."""
    if (got := _file_digest(path)) != expected:
        raise OSError(f"{what} is corrupted: sha256 {got}, expected {expected}; {fix}")


def _cached_mismatch(path: Path, hash_: str) -> str:
    """What is wrong with the cached copy at ``path`` ("" when there is none or it passes ``hash_``)."""
    alg, digest = hash_.split(":")
    if not path.is_file() or (got := _file_digest(path, alg)) == digest:
        return ""
    return f"the cached copy {path} failed its hash check ({alg} {got}, expected {digest})"


def _directory(path, what: str) -> Path:
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} must name a directory for the download cache, but {path} is a file")
    return path


def data_dir() -> Path:
    """The download cache: ``$LABMF_DATA_DIR``, else ``pooch.os_cache("labmf")``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return _directory(env, f"the environment variable {ENV_VAR}")
    import pooch

    return _directory(pooch.os_cache("labmf"), "pooch.os_cache('labmf')")


def _check_hash(known_hash, what: str) -> str:
    """``known_hash`` in pooch's ``"alg:hex"`` form (bare hex = sha256), or raise."""
    if isinstance(known_hash, str):
        alg, _, digest = known_hash.rpartition(":")
        alg = alg.lower() or "sha256"
        if _HEX_DIGITS.get(alg) == len(digest) and re.fullmatch(r"[0-9a-fA-F]+", digest):
            return f"{alg}:{digest.lower()}"
    raise ValueError(f"{what} must be 'sha256:<64 hex digits>' (or md5:, sha1:, sha512:, or bare "
                     f"sha256 hex), got {known_hash!r}")


def fetch(name: str, *, known_hash: str | None = None, cache_dir=None,
          registry: dict[str, RemoteFile] | None = None, progressbar: bool = False,
          timeout: float = 30.0) -> Path:
    """Path to a registry file in the cache, downloading and checking it if needed.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY` (``"ml-100k.zip"``, ``"titles.csv"``, ...).
    known_hash : str, optional
        ``"sha256:<hex>"`` (or ``"md5:<hex>"``, or bare sha256 hex) overriding the
        registry's; required for files whose hash is unknown (``ratings.pt``).
    cache_dir : str or Path, optional
        Cache directory (default :func:`data_dir`).
    registry : dict, optional
        Replaces :data:`REGISTRY` (tests serve synthetic files this way).
    progressbar : bool
        Show pooch's progress bar.
    timeout : float
        Seconds (> 0) before an unresponsive server counts as offline.

    Raises
    ------
    UnknownHashError
        The file has no known hash and ``known_hash`` was not given.
    DownloadError
        Network failure, HTTP error, truncated transfer or hash mismatch; nothing is
        left in the cache. The message names the file, the URL and how to install it by hand.
    """
    registry = REGISTRY if registry is None else registry
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"name must be one of {sorted(registry)}, got {name!r}")
    entry = registry[name]
    timeout = check_scalar(timeout, "timeout", float, min_val=0.0, include_boundaries="neither")
    cache = _directory(cache_dir, "cache_dir") if cache_dir is not None else data_dir()
    if known_hash is not None:
        hash_ = _check_hash(known_hash, "known_hash")
    elif entry.known_hash is not None:
        hash_ = _check_hash(entry.known_hash, f"the registry's hash of {name}")
    else:
        raise UnknownHashError(
            f"no trusted hash is known for {name} ({entry.hash_source}), so labmf will not "
            f"download it unchecked. Download {entry.url} yourself and pass its path "
            f"(for the course's ratings, labmf.data.course_layout(ratings_path=...) checks "
            f"its shape and values), or call fetch({name!r}, known_hash='sha256:<hex>')."
        )
    return _download(entry, hash_, cache, progressbar, timeout)


def _download(entry: RemoteFile, hash_: str, cache: Path, progressbar: bool, timeout: float) -> Path:
    import pooch
    import requests

    by_hand = (f"To install it by hand, download {entry.url} on a connected machine, check its "
               f"{hash_.replace(':', ' ', 1)}, and copy it to {cache / entry.name} (or set {ENV_VAR} "
               f"to the directory holding it).")
    stale = _cached_mismatch(cache / entry.name, hash_)  # pooch downloads such a copy again, silently
    p = pooch.create(path=cache, base_url="", registry={entry.name: hash_}, urls={entry.name: entry.url})
    try:
        return Path(p.fetch(entry.name, downloader=pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)))
    except requests.exceptions.RequestException as exc:
        if stale:
            raise DownloadError(f"{stale}, and downloading it again from {entry.url} failed: {exc}. "
                                f"{by_hand}") from exc
        raise DownloadError(f"could not download {entry.name} from {entry.url}: {exc}. {by_hand}") from exc
    except ValueError as exc:  # pooch's hash mismatch (the arguments were checked up front)
        raise DownloadError(
            f"{entry.name} downloaded from {entry.url} failed its hash check and was discarded "
            f"({exc}). The server may hold another version, or the transfer was cut. {by_hand}"
        ) from exc
