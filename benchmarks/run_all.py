"""Run every ``benchmarks/bench_*.py`` in its own process, one thread each.

Usage::

    python benchmarks/run_all.py            # all benchmarks (what `make bench` runs)
    python benchmarks/run_all.py -k kernel  # only scripts whose name contains "kernel"
    python benchmarks/run_all.py --quick    # smaller problems (LABMF_BENCH_QUICK=1)
    python benchmarks/run_all.py -k scale --scale  # bench_scale up to 10^8 ratings (make bench-scale)
    python benchmarks/run_all.py --list

Each script prints its own tables and JSON lines (see ``_harness.py``) and appends
to ``benchmarks/results/<bench>.jsonl``; this runner adds a summary (status and
wall time per script) and exits non-zero if any script failed. It warns when the
machine is busy, since timings then overstate everything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Threads pinned to one for every child, whatever the caller's environment says:
# the figures are single-core, and oversubscription on small machines ruins them.
# (labmf's n_jobs uses Python threads, which these variables do not limit: the
# two-thread figures of bench_scale.py are unaffected.)
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "NUMBA_NUM_THREADS": "1"}


def discover(pattern: str | None = None) -> list[Path]:
    scripts = sorted(HERE.glob("bench_*.py"))
    if pattern:
        return [s for s in scripts if pattern in s.stem]
    # bench_spark needs Java and the spark extra, and minutes: only by name (make bench-spark).
    return [s for s in scripts if s.stem != "bench_spark"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", dest="pattern", help="run only scripts whose name contains this")
    ap.add_argument("--quick", action="store_true", help="small problems, few repeats (smoke run)")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    ap.add_argument("--scale", action="store_true",
                    help="bench_scale up to 10^8 ratings and the Netflix shape (LABMF_BENCH_SCALE=1; ~5 min)")
    args = ap.parse_args(argv)

    scripts = discover(args.pattern)
    if args.list:
        print("\n".join(s.name for s in scripts))
        return 0
    if not scripts:
        print(f"no benchmarks/bench_*.py matches {args.pattern!r}", file=sys.stderr)
        return 1

    env = {**os.environ, **SINGLE_THREAD}
    if args.quick:
        env["LABMF_BENCH_QUICK"] = "1"
    if args.scale:
        env["LABMF_BENCH_SCALE"] = "1"
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if load > 0.5 * cores:
            print(f"warning: load average {load:.2f} on {cores} cores; other processes will "
                  "slow the timings (run again when the machine is idle)", file=sys.stderr)
    except OSError:
        pass

    summary = []
    for script in scripts:
        print(f"\n=== {script.name} " + "=" * max(0, 60 - len(script.name)), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, env=env).returncode
        summary.append((script.name, rc, time.perf_counter() - t0))

    print("\n=== summary " + "=" * 50)
    for name, rc, secs in summary:
        print(f"{name:<32} {'ok' if rc == 0 else f'FAILED (exit {rc})':<18} {secs:7.1f} s")
    return 0 if all(rc == 0 for _, rc, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
