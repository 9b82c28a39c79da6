"""One machine against Spark on it: local blocked BiasedMF, DSGD and MLlib ALS on local[2], libmf.

Data: :func:`labrec.synthetic_ratings`, Netflix-shaped (``bench_scale.shape``: users ~ n,
items ~ sqrt(n)), planted rank 5, noise 0.5, 1 % held out; ``n`` from ``LABMF_BENCH_SPARK_N``
(default 10^6: this machine is shared; ``make bench-spark N=10000000`` for 10^7), 10^5 with
``LABMF_BENCH_QUICK=1``. Rank 50, 20 epochs, ``bench_scale.MODEL``'s settings for the SGD models.

Cases, each in its own process (peak RSS: summed over the case's processes, JVM and workers included):

* ``local``: ``BiasedMF(50, n_jobs=2)`` (blocked schedule), the whole ``fit``.
* ``dsgd``: :class:`labrec.spark.SparkBiasedMF` on ``local[2]``, ``n_blocks=2``: the whole
  ``fit``, its epochs alone (``sweep_time_``) and the sweep tasks' own time (``task_time_``,
  measured inside the tasks: deserialising the block and factor blocks, the kernel).
* ``als``: MLlib ALS (``labrec.spark_als.SparkALS``), rank 50, ``max_iter`` 5, 10 and 20: the
  time of the fit with the best held-out RMSE.
* ``libmf``: PyPI's ``libmf`` (``pip install -e '.[bench-spark]'``), k = 50, 20 iterations,
  2 threads, when installed.

Then the on-paper extrapolation from these per-stratum costs: an epoch of DSGD on p executors
(one core each) costs ``p * t_sub + n * c / p`` (p sub-epochs of fixed cost ``t_sub``, the
sub-epoch's wall time less its slowest task; each task sweeps n / p^2 ratings at ``c`` a
rating, the tasks' summed time over the ratings swept), against ``n * c_local`` on one 2-core
machine like this one with the memory for it. The smallest p at which DSGD is faster, and the
best p, are printed for 10^9 and 10^10 ratings (Netflix-shaped: the factor blocks that move
grow with the users, which grow with n, so they are folded into ``c``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import _harness as H

H.setup()

N = 10**5 if H.quick() else int(float(os.environ.get("LABMF_BENCH_SPARK_N", "1e6")))
RANK, EPOCHS = 50, 20
MODEL = dict(reg=0.015, lr=0.03, lr_decay=0.9)  # bench_scale.MODEL
SPARK_CONF = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
              "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
              "spark.driver.memory": "6g", "spark.sql.execution.arrow.pyspark.enabled": "true"}


def data(n: int):
    from bench_scale import shape

    from labrec import synthetic_ratings

    nu, ni = shape(n)
    return synthetic_ratings(n, nu, ni, 5, seed=0, noise=0.5, test_fraction=0.01)


def frames(spark, d):
    import pandas as pd

    def frame(u, i, r):
        return spark.createDataFrame(pd.DataFrame({"user": u.astype("int64"), "item": i.astype("int64"),
                                                   "rating": r.astype("float64")}))

    return frame(d.user, d.item, d.rating).persist(), frame(d.test_user, d.test_item, d.test_rating).persist()


def tree_peak_gb() -> float:
    """Sum of the peak RSS (VmHWM) of this process and all its descendants alive now (the JVM
    and Spark's Python workers included): an upper bound of the case's peak memory."""
    parent = {}
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as f:
                    parent[int(stat)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, grew = {os.getpid()}, True
    while grew:
        new = {pid for pid, pp in parent.items() if pp in tree} - tree
        tree, grew = tree | new, bool(new)
    kb = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                kb += next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        except (OSError, StopIteration):
            continue
    return kb / 2**20


def child(case: str, n: int) -> dict:
    out = _child(case, n)
    out["peak_rss_gb"] = tree_peak_gb()
    return out


def _child(case: str, n: int) -> dict:
    import numpy as np

    d = data(n)
    if case == "local":
        from labrec import BiasedMF

        BiasedMF(4, num_epochs=1, n_jobs=2, schedule="blocked").fit(d.user[:2000], d.item[:2000], d.rating[:2000])
        m = BiasedMF(RANK, num_epochs=EPOCHS, seed=0, n_jobs=2, schedule="blocked", **MODEL)
        m.fit(d.user, d.item, d.rating, d.n_users, d.n_items)
        pred = m.predict(d.test_user, d.test_item)
        return dict(fit_s=m.fit_time_, test_rmse=float(np.sqrt(np.mean((pred - d.test_rating) ** 2))))
    if case == "libmf":
        from libmf import mf

        # libmf's model has no biases: it is given the ratings less their mean (added back).
        t0 = time.perf_counter()
        mu = float(d.rating.mean(dtype=np.float64))
        engine = mf.MF(k=RANK, nr_iters=EPOCHS, nr_threads=2)
        engine.fit(np.column_stack([d.user, d.item, d.rating - mu]).astype(np.float64))
        fit_s = time.perf_counter() - t0
        pred = mu + engine.predict(np.column_stack([d.test_user, d.test_item]).astype(np.float64))
        return dict(fit_s=fit_s, test_rmse=float(np.sqrt(np.mean((pred - d.test_rating) ** 2))))
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from labrec.spark import SparkBiasedMF, session
    from labrec.spark_als import SparkALS, rmse

    spark = session("local[2]", app_name="bench-spark", config=SPARK_CONF)
    spark.sparkContext.setLogLevel("ERROR")
    train, test = frames(spark, d)
    train.count(), test.count()
    if case == "dsgd":
        m = SparkBiasedMF(RANK, num_epochs=EPOCHS, seed=0, n_blocks=2, **MODEL).fit(train)
        return dict(fit_s=m.fit_time_, sweep_s=m.sweep_time_, task_s=m.task_time_[0], critical_s=m.task_time_[1],
                    sub_epochs=EPOCHS * 2, test_rmse=rmse(m, test))
    runs = []
    for it in (5, 10, 20):
        m = SparkALS(RANK, reg=0.05, max_iter=it, seed=0).fit(train)
        runs.append(dict(max_iter=it, fit_s=m.fit_time_, test_rmse=rmse(m, test)))
    best = min(runs, key=lambda r: r["test_rmse"])
    return dict(fit_s=best["fit_s"], test_rmse=best["test_rmse"], best_max_iter=best["max_iter"], runs=runs)


def run_child(case: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", case, str(n)], capture_output=True, text=True)
    if proc.returncode != 0:
        return dict(error=proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _notes(r: dict) -> str:
    if "runs" in r:
        return "ALS max_iter " + ", ".join(f"{x['max_iter']}: {x['fit_s']:.1f} s RMSE {x['test_rmse']:.4f}"
                                           for x in r["runs"])
    if "sweep_s" not in r:
        return ""
    return f"epochs {r['sweep_s']:.1f} s, {r['sub_epochs']} sub-epochs, tasks {r['task_s']:.1f} core-s"


def crossover(n: float, c_local: float, c_dsgd: float, t_sub: float) -> tuple[int | None, float, float]:
    """Smallest p with ``p * t_sub + n * c_dsgd / p < n * c_local`` (None if none), and the
    local and best DSGD epoch times."""
    local = n * c_local
    best_p = max(1, round(math.sqrt(n * c_dsgd / t_sub)))
    best = best_p * t_sub + n * c_dsgd / best_p
    for p in range(1, best_p + 1):
        if p * t_sub + n * c_dsgd / p < local:
            return p, local, best
    return None, local, best


def main() -> None:
    rec = H.Recorder("spark")
    results = {case: run_child(case, N) for case in ("local", "dsgd", "als", "libmf")}
    rows = []
    base = results["local"].get("fit_s")
    for case, r in results.items():
        if "error" in r:
            rows.append((case, "-", "-", "-", "-", r["error"][:70]))
            continue
        rec.add(case, "fit_time", r["fit_s"], "s", n_ratings=N, **{k: v for k, v in r.items() if k != "fit_s"})
        rows.append((case, H.fmt_time(r["fit_s"]), f"{r['fit_s'] / base:.1f}x" if base else "-",
                     f"{r['test_rmse']:.4f}", f"{r['peak_rss_gb']:.2f}", _notes(r)))
    H.print_table(f"{N:,} ratings, rank {RANK}, {EPOCHS} epochs, local[2] ({H.environment().get('cpu', '')})",
                  ["case", "fit", "vs local", "held-out RMSE", "peak RSS GB", "notes"], rows)
    dsgd = results["dsgd"]
    if "error" not in dsgd and base:
        t_sub = (dsgd["sweep_s"] - dsgd["critical_s"]) / dsgd["sub_epochs"]
        c_dsgd = dsgd["task_s"] / (EPOCHS * N)
        c_local = base / EPOCHS / N
        print(f"\nper-stratum costs: t_sub = {t_sub:.2f} s a sub-epoch, c = {c_dsgd * 1e9:.0f} ns a rating in a DSGD "
              f"task, one machine {c_local * 1e9:.0f} ns a rating-epoch (2 threads, whole fit)")
        for n in (1e9, 1e10):
            p, local, best = crossover(n, c_local, c_dsgd, t_sub)
            rec.add("extrapolation", "crossover_executors", p, None, n_ratings=n, t_sub=t_sub, c_dsgd=c_dsgd,
                    c_local=c_local)
            print(f"  {n:.0e} ratings: one machine {local:,.0f} s an epoch; DSGD overtakes it from p = {p} "
                  f"executors; best p ~ {math.sqrt(n * c_dsgd / t_sub):,.0f} ({best:,.0f} s an epoch)")
    rec.emit()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
