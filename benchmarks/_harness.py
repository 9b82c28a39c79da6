"""Shared conventions of the ``benchmarks/bench_*.py`` scripts.

Every script:

* runs stand-alone (``python benchmarks/bench_x.py``) and under
  ``benchmarks/run_all.py`` / ``make bench``, single-threaded
  (``OMP_NUM_THREADS=1``; :func:`setup` also calls ``torch.set_num_threads(1)``);
* honours ``LABMF_BENCH_QUICK=1`` (:func:`quick`): fewer repeats and smaller
  problems, for a smoke run;
* times with :func:`timeit` (best and median of a few repeats after a warm-up;
  the *best* is the figure quoted, the least disturbed by other processes);
* prints a readable table (:func:`print_table`) and, through a :class:`Recorder`,
  one JSON object per result, both on stdout (lines starting with ``{``, nothing
  else does) and appended to ``benchmarks/results/<bench>.jsonl`` (git-ignored).

JSON record fields: ``bench`` (script name without ``bench_``), ``case``,
``metric``, ``value``, ``unit``, plus free extras; every record of one run shares
``run`` (UTC timestamp) and the run's first record (``metric: "environment"``)
holds versions, thread settings and the load average.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["setup", "quick", "timeit", "Timing", "Recorder", "print_table", "environment"]


def setup() -> None:
    """Single-threaded torch, as ``make bench`` runs (call first in every script)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def quick() -> bool:
    """True when ``LABMF_BENCH_QUICK`` is set to a non-empty value other than 0."""
    return os.environ.get("LABMF_BENCH_QUICK", "") not in ("", "0")


class Timing:
    """Wall times of repeated calls, in seconds per call."""

    def __init__(self, times: Sequence[float]):
        self.times = list(times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def repeats(self) -> int:
        return len(self.times)

    def as_dict(self) -> dict:
        return {"best_s": self.best, "median_s": self.median, "repeats": len(self.times)}


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(times)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=5, check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    """Versions, threads, CPU and load: what a timing depends on."""
    import numpy
    import torch

    try:
        import numba

        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "numba": numba_version,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg_1min": load,
        "platform": platform.platform(),
        "commit": _git_commit(),
        "quick": quick(),
    }


class Recorder:
    """Collects a script's results; prints and appends them as JSON lines.

    Parameters
    ----------
    bench : str
        Short name (``"kernel"`` for ``bench_kernel.py``); also the results file name.
    write : bool
        Append to ``benchmarks/results/<bench>.jsonl`` (default True).
    """

    def __init__(self, bench: str, write: bool = True):
        self.bench = bench
        self.run = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.records: list[dict] = []
        self.write = write
        self.add("environment", "environment", None, None, **environment())

    def add(self, case: str, metric: str, value, unit: str | None, **extra) -> dict:
        """Record one result (``value`` a number, or None for descriptive records)."""
        rec = {"bench": self.bench, "run": self.run, "case": case, "metric": metric,
               "value": value, "unit": unit, **extra}
        self.records.append(rec)
        return rec

    def emit(self) -> Path | None:
        """Print every record as a JSON line and append them to the results file."""
        lines = [json.dumps(r, sort_keys=False, default=_jsonable) for r in self.records]
        print()
        for line in lines:
            print(line)
        if not self.write:
            return None
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.bench}.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        print(f"\n{len(lines)} records appended to {path.relative_to(REPO_ROOT)}")
        return path


def _jsonable(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence], file=None) -> None:
    """Print a plain-text table; cells are printed with ``str`` (pre-format numbers)."""
    file = file or sys.stdout
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print(f"\n{title}", file=file)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for r in rows:
        # Text left, numbers right: the first column is a label.
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        print("  ".join(cells), file=file)


def fmt_rate(x: float) -> str:
    """``12.3 M/s`` style for rates."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.2f} {suffix}/s"
    return f"{x:.1f} /s"


def fmt_time(s: float) -> str:
    """Seconds in the most readable unit."""
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"
