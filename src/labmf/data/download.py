"""Hash-checked downloads of the remote data files, through pooch.

pooch does the HTTP, the hashing, the atomic write (download to a temporary
file in the cache directory, check the hash, then rename) and the caching; this
module only holds the registry of files and turns pooch's failures into errors
that say what to do.

The cache directory is ``$LABMF_DATA_DIR`` when set, else ``pooch.os_cache("labmf")``
(``~/.cache/labmf`` on Linux). To install a file by hand (offline machines), put
it in that directory under its registry name: a file whose hash matches is used
without any network access.

Where the hashes come from
--------------------------
- GroupLens zips (``ml-latest-small.zip``, ``ml-100k.zip``, ``ml-1m.zip``): sha256
  and sizes recorded by TensorFlow Datasets in
  ``tensorflow_datasets/url_checksums/movielens.txt`` (github.com/tensorflow/datasets,
  commit 1c076ac3c19c8ea83e1d1a75e0623c9a699e0d7c). We could not download the zips
  ourselves (GroupLens is unreachable from our build machines). As a cross-check,
  the md5 that several projects use for ml-100k (0e33842e24a9c977be4e0107933c0723)
  and ml-1m (c4d9eecfca2ab87c1945afe126590906) are noted beside them. GroupLens has
  replaced ``ml-latest-small.zip`` with newer editions over time; the hash is for
  the edition TFDS saw (978,202 bytes; the 2018 edition, 100,836 ratings), which
  differs from labmf's embedded 2016 copy.
- Course ``titles.csv``: sha256 of the copy shipped in ``labmf/data/files``.
- Course ``ratings.pt``: **unknown** (the file was not reachable from our machines).
  :func:`fetch` refuses to download it without a hash given by the user; the
  usual route is to download it yourself and pass its path to
  :func:`labmf.data.course_layout`, which checks its shape and values instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RemoteFile",
    "REGISTRY",
    "DownloadError",
    "UnknownHashError",
    "data_dir",
    "fetch",
    "ENV_VAR",
]

ENV_VAR = "LABMF_DATA_DIR"

_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_COURSE = "https://ecs-vlc.github.io/COMP6258/labs/lab1/"
_TFDS = "tensorflow/datasets tensorflow_datasets/url_checksums/movielens.txt @1c076ac3"


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
        Expected size in bytes, when known (for the error messages).
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
        RemoteFile(
            "ml-latest-small.zip", _GROUPLENS + "ml-latest-small.zip",
            "sha256:696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            978_202, _TFDS,
        ),
        RemoteFile(
            "ml-100k.zip", _GROUPLENS + "ml-100k.zip",
            "sha256:50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            4_924_029, _TFDS + " (md5 0e33842e24a9c977be4e0107933c0723)",
        ),
        RemoteFile(
            "ml-1m.zip", _GROUPLENS + "ml-1m.zip",
            "sha256:a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            5_917_549, _TFDS + " (md5 c4d9eecfca2ab87c1945afe126590906)",
        ),
        RemoteFile(
            "titles.csv", _COURSE + "titles.csv",
            "sha256:f1f37f48558fdd1306fc47bc8e86d8d556d9a08d013c3659087e9054f3fcdf90",
            21_273, "the course file shipped in labmf/data/files/comp6258-titles.csv",
        ),
        RemoteFile(
            "ratings.pt", _COURSE + "ratings.pt", None, None,
            "unknown: the file was not reachable when labmf was written",
        ),
    )
}


class DownloadError(OSError):
    """A file could not be downloaded or failed its hash check."""


class UnknownHashError(ValueError):
    """No trusted hash is known for a file and none was given."""


def data_dir() -> Path:
    """The download cache: ``$LABMF_DATA_DIR``, else ``pooch.os_cache("labmf")``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("labmf"))


def _by_hand(entry: RemoteFile, cache: Path) -> str:
    what = f"sha256 {entry.known_hash.split(':', 1)[1]}" if entry.known_hash else "its hash"
    return (
        f"To install it by hand, download {entry.url} on a connected machine, check "
        f"{what}, and copy it to {cache / entry.name} (or set {ENV_VAR} to the "
        f"directory holding it)."
    )


def fetch(
    name: str,
    *,
    known_hash: str | None = None,
    cache_dir=None,
    registry: dict[str, RemoteFile] | None = None,
    progressbar: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Path to a registry file in the cache, downloading and checking it if needed.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY` (``"ml-100k.zip"``, ``"titles.csv"``, ...).
    known_hash : str, optional
        ``"sha256:<hex>"`` (or ``"md5:<hex>"``) overriding the registry's; required
        for files whose hash is unknown (``ratings.pt``).
    cache_dir : str or Path, optional
        Cache directory (default :func:`data_dir`).
    registry : dict, optional
        Replaces :data:`REGISTRY` (tests serve synthetic files this way).
    progressbar : bool
        Show pooch's tqdm progress bar.
    timeout : float
        Seconds before an unresponsive server counts as offline.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    UnknownHashError
        The file has no known hash and ``known_hash`` was not given.
    DownloadError
        Network failure, HTTP error, truncated transfer or hash mismatch; nothing is
        left in the cache. The message names the file, the URL and how to install it
        by hand.
    """
    import pooch
    import requests

    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise ValueError(f"name must be one of {sorted(registry)}, got {name!r}")
    entry = registry[name]
    cache = Path(cache_dir).expanduser() if cache_dir is not None else data_dir()
    hash_ = known_hash if known_hash is not None else entry.known_hash
    if hash_ is None:
        raise UnknownHashError(
            f"no trusted hash is known for {name} ({entry.hash_source}), so labmf will not "
            f"download it unchecked. Download {entry.url} yourself and pass its path "
            f"(for the course's ratings, labmf.data.course_layout(ratings_path=...) checks "
            f"its shape and values), or call fetch({name!r}, known_hash='sha256:<hex>')."
        )
    if ":" not in hash_:
        hash_ = f"sha256:{hash_}"
    entry_now = RemoteFile(entry.name, entry.url, hash_, entry.size, entry.hash_source)
    p = pooch.create(path=cache, base_url="", registry={name: hash_}, urls={name: entry.url})
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
    try:
        return Path(p.fetch(name, downloader=downloader))
    except requests.exceptions.RequestException as exc:
        raise DownloadError(
            f"could not download {name} from {entry.url}: {exc}. " + _by_hand(entry_now, cache)
        ) from exc
    except ValueError as exc:  # pooch's hash mismatch
        raise DownloadError(
            f"{name} downloaded from {entry.url} failed its hash check and was discarded "
            f"({exc}). The server may hold another version, or the transfer was cut. "
            + _by_hand(entry_now, cache)
        ) from exc
