"""How cost grows with the data: BiasedMF and sparse GD on Netflix-shaped ratings, 1 and 2 threads.

Data: :func:`labrec.synthetic_ratings` (planted rank ``PLANTED_RANK``,
noise 0.5, 1 % held out), shaped like the Netflix Prize set scaled down: users in
proportion to the ratings (480,189 at 10^8), items to their square root (17,770 at 10^8).

Cases, each point in its own process (so that its peak RSS is its own):

* ``curve``: ``BiasedMF(50)``, ``MODEL`` settings, 20 epochs, from 10^5 to 10^7
  ratings (to 10^8 with ``LABMF_BENCH_SCALE=1``): the blocked schedule on 1 and
  2 threads, and the default one-thread ``shuffle`` schedule for comparison.
  Per point: fit time (everything ``fit`` does), ns per rating and epoch, peak
  RSS of the process (data included), held-out RMSE against the noise level.
* ``speedup``: 2 threads vs 1, in one run: ``BiasedMF.fit`` (blocked) at the
  largest size of the curve, and the epochs of sparse full-batch GD
  (``labmf.kernels.gd_epochs``, which ``factorise_gd(A_sparse, n_jobs=)`` runs;
  ranks 5 and 50) at 10^7. Target >= 1.7x.
* ``netflix`` (``LABMF_BENCH_SCALE=1``, ``make bench-scale``): the full shape,
  100,480,507 ratings, 480,189 x 17,770, ``BiasedMF(50, n_jobs=2)``, 20 epochs.
  Targets: fit <= 120 s, peak RSS <= 4 GB, held-out RMSE within 0.01 of the noise.
* ``ml-latest-small``: 5-fold CV of the default ``BiasedMF`` and of the blocked
  one on 2 threads (accuracy of the blocked schedule on real data).

Writes ``benchmarks/results/scale.csv`` (one row per point, with the machine,
load and date), the file committed as ``benchmarks/reference/scale.csv`` and
plotted by notebook 07. Run: ``python benchmarks/bench_scale.py``.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone

import _harness as H

H.setup()

QUICK = H.quick()
SCALE = os.environ.get("LABMF_BENCH_SCALE", "") not in ("", "0")
PLANTED_RANK = 5
NOISE = 0.5
RANK, EPOCHS = 50, 20
#: BiasedMF settings for the synthetic data (weaker reg, larger decaying steps than the
#: MovieLens defaults: the planted interaction is cleaner), chosen on 10^7 ratings.
MODEL = dict(reg=0.015, lr=0.03, lr_decay=0.9)
CURVE = [10**5, 3 * 10**5, 10**6, 3 * 10**6, 10**7] + ([3 * 10**7, 10**8] if SCALE else [])
FIELDS = ["case", "schedule", "n_jobs", "n_ratings", "n_users", "n_items", "rank", "epochs", "fit_s",
          "ns_per_rating_epoch", "peak_rss_gb", "test_rmse", "oracle_rmse", "noise", "load1", "cpu", "date"]


def shape(n: int) -> tuple[int, int]:
    """Netflix's users x items scaled to ``n`` ratings (users ~ n, items ~ sqrt(n))."""
    f = n / 1e8
    return max(50, round(480_189 * f)), max(100, round(17_770 * f**0.5))


def child(spec: dict) -> dict:
    """One point, in this (fresh) process."""
    import numpy as np

    from labrec import BiasedMF
    from labrec.synthetic import NETFLIX_RATINGS, NETFLIX_SHAPE, synthetic_ratings

    n = spec["n"]
    nu, ni = NETFLIX_SHAPE if n == NETFLIX_RATINGS else shape(n)
    t0 = time.perf_counter()
    d = synthetic_ratings(n, nu, ni, PLANTED_RANK, seed=0, noise=NOISE, test_fraction=0.01)
    gen_s = time.perf_counter() - t0
    if spec["kind"] == "gd":
        return child_gd(spec, d)
    # Compile (or load) the kernels outside the timing: a few ratings, same dtypes.
    BiasedMF(4, num_epochs=1, n_jobs=spec["n_jobs"], schedule=spec["schedule"]).fit(
        d.user[:2000], d.item[:2000], d.rating[:2000], nu, ni)
    model = BiasedMF(RANK, num_epochs=EPOCHS, seed=0, n_jobs=spec["n_jobs"], schedule=spec["schedule"], **MODEL)
    model.fit(d.user, d.item, d.rating, nu, ni)
    pred = model.predict(d.test_user, d.test_item)
    return dict(n_ratings=int(d.user.size), n_users=nu, n_items=ni, fit_s=model.fit_time_, generate_s=gen_s,
                test_rmse=float(np.sqrt(np.mean((pred - d.test_rating) ** 2))), oracle_rmse=d.oracle_rmse)


def child_gd(spec: dict, d) -> dict:
    """Sparse GD epochs as ``factorise_gd(A_sparse, n_jobs=)`` runs them: the kernel
    (:func:`labmf.kernels.gd_epochs`) on row-major float64 triplets, timed alone (the fit's
    closing full SSE, a numpy gather, would blur the ratio)."""
    import numpy as np

    from labmf import kernels

    order = np.lexsort((d.item, d.user))
    rows, cols = d.user[order].astype(np.int64), d.item[order].astype(np.int64)
    vals = d.rating[order].astype(np.float64)
    del order
    rng = np.random.default_rng(0)
    U0, V0 = rng.random((d.n_users, spec["rank"])), rng.random((d.n_items, spec["rank"]))
    out = {"n_ratings": int(rows.size), "n_users": d.n_users, "n_items": d.n_items}
    for n_jobs in (1, 2):
        plan = None if n_jobs == 1 else kernels.gd_plan(rows, d.n_users, n_jobs)
        times = []
        for _ in range(4):  # the first compiles (or loads) the kernel
            U, V, losses = U0.copy(), V0.copy(), np.empty(spec["epochs"])
            t0 = time.perf_counter()
            kernels.gd_epochs(rows, cols, vals, U, V, 1e-5, spec["epochs"], losses, plan=plan)
            times.append(time.perf_counter() - t0)
        out[f"epoch_s_{n_jobs}"] = min(times[1:]) / spec["epochs"]
    return out


def run_child(spec: dict) -> dict:
    """Run one point in a fresh interpreter; its result plus its peak RSS."""
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env={**os.environ})
    if proc.returncode != 0:
        raise RuntimeError(f"point {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load1() -> float:
    return os.getloadavg()[0]


def curve_points() -> list[dict]:
    specs = []
    for n in CURVE if not QUICK else CURVE[:3]:
        specs += [dict(kind="fit", n=n, schedule="blocked", n_jobs=j) for j in (1, 2)]
        if n in (10**5, 10**6, 10**7):  # the old path, for comparison (about 1 min at 10^7)
            specs.append(dict(kind="fit", n=n, schedule="shuffle", n_jobs=1))
    if SCALE:
        from labrec.synthetic import NETFLIX_RATINGS

        specs.append(dict(kind="fit", n=NETFLIX_RATINGS, schedule="blocked", n_jobs=2, case="netflix"))
    return specs


def main() -> None:
    rec = H.Recorder("scale")
    env = H.environment()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for spec in curve_points():
        before = load1()
        res = run_child(spec)
        res.update(spec, load1=round(max(before, load1()), 2))
        per = res["fit_s"] / (res["n_ratings"] * EPOCHS) * 1e9
        rows.append({"case": spec.get("case", "curve"), "schedule": spec["schedule"], "n_jobs": spec["n_jobs"],
                     "n_ratings": res["n_ratings"], "n_users": res["n_users"], "n_items": res["n_items"], "rank": RANK,
                     "epochs": EPOCHS, "fit_s": round(res["fit_s"], 3), "ns_per_rating_epoch": round(per, 2),
                     "peak_rss_gb": round(res["peak_rss_gb"], 3), "test_rmse": round(res["test_rmse"], 4),
                     "oracle_rmse": round(res["oracle_rmse"], 4), "noise": NOISE, "load1": res["load1"],
                     "cpu": env["cpu"], "date": date})
        r = rows[-1]
        print(f"{r['case']:8} {r['schedule']:8} n_jobs={r['n_jobs']} n={r['n_ratings']:>11,}  fit {r['fit_s']:8.2f} s  "
              f"{per:6.1f} ns/rating-epoch  peak RSS {r['peak_rss_gb']:.2f} GB  test RMSE {r['test_rmse']:.4f} "
              f"(oracle {r['oracle_rmse']:.4f})  load {r['load1']:.2f}", flush=True)
        rec.add(f"{r['case']} {r['schedule']} n_jobs={r['n_jobs']} n={r['n_ratings']}", "seconds/fit", r["fit_s"], "s",
                **{k: r[k] for k in FIELDS if k not in ("case", "fit_s", "cpu", "date")})
    report(rec, rows)
    gd(rec)
    movielens(rec)
    out = H.RESULTS_DIR / "scale.csv"
    H.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"\n{len(rows)} rows written to {out.relative_to(H.REPO_ROOT)}")
    rec.emit()


def report(rec: H.Recorder, rows: list[dict]) -> None:
    """The ratios: 2 threads vs 1, blocked vs shuffle, cost flatness, the Netflix targets."""
    blocked = {(r["n_jobs"], r["n_ratings"]): r for r in rows if r["schedule"] == "blocked" and r["case"] == "curve"}
    for n_jobs in (1, 2):
        costs = [r["ns_per_rating_epoch"] for (j, _), r in sorted(blocked.items()) if j == n_jobs]
        mid = (max(costs) + min(costs)) / 2
        spread = (max(costs) - min(costs)) / 2 / mid
        print(f"cost per rating-epoch, blocked, {n_jobs} thread(s): {min(costs):.1f}-{max(costs):.1f} ns, "
              f"+/-{spread:.0%} around {mid:.1f} (target +/-25 %): {'met' if spread <= 0.25 else 'MISSED'}")
        rec.add("curve", f"spread/cost_per_rating_blocked_{n_jobs}", spread, None, low=min(costs), high=max(costs))
    n_top = max(n for (_, n) in blocked if (1, n) in blocked and (2, n) in blocked)
    speedup = blocked[(1, n_top)]["fit_s"] / blocked[(2, n_top)]["fit_s"]
    print(f"BiasedMF.fit 2 threads vs 1 at {n_top:,} ratings: {speedup:.2f}x (target >= 1.7x): "
          f"{'met' if speedup >= 1.7 else 'MISSED'}")
    rec.add(f"curve n={n_top}", "ratio/biasedmf_fit_1_vs_2_threads", speedup, "x")
    old = {r["n_ratings"]: r for r in rows if r["schedule"] == "shuffle"}
    for n, r in sorted(old.items()):
        if (2, n) in blocked:
            ratio = r["fit_s"] / blocked[(2, n)]["fit_s"]
            print(f"at {n:,} ratings: shuffle (1 thread) {r['fit_s']:.2f} s vs blocked (2 threads) "
                  f"{blocked[(2, n)]['fit_s']:.2f} s: {ratio:.1f}x")
            rec.add(f"curve n={n}", "ratio/shuffle_vs_blocked_2_threads", ratio, "x")
    for r in (r for r in rows if r["case"] == "netflix"):
        gap = r["test_rmse"] - r["noise"]
        ok = r["fit_s"] <= 120 and r["peak_rss_gb"] <= 4 and abs(gap) <= 0.01
        print(f"Netflix shape: fit {r['fit_s']:.1f} s (<= 120), peak RSS {r['peak_rss_gb']:.2f} GB (<= 4), "
              f"test RMSE {r['test_rmse']:.4f} vs noise {r['noise']} ({gap:+.4f}; oracle {r['oracle_rmse']:.4f}): "
              f"{'met' if ok else 'MISSED'}")
        rec.add("netflix", "goal/netflix_targets_met", ok, None)


def gd(rec: H.Recorder) -> None:
    n = 10**6 if QUICK else 10**7
    table = []
    for rank, epochs in ((5, 10), (50, 4)):
        res = run_child(dict(kind="gd", n=n, rank=rank, epochs=epochs))
        ratio = res["epoch_s_1"] / res["epoch_s_2"]
        table.append([f"rank {rank}", H.fmt_time(res["epoch_s_1"]), H.fmt_time(res["epoch_s_2"]), f"{ratio:.2f}x",
                      "met" if ratio >= 1.7 else "MISSED"])
        rec.add(f"sparse GD n={n} rank={rank}", "ratio/gd_epoch_1_vs_2_threads", ratio, "x",
                epoch_s_1=res["epoch_s_1"], epoch_s_2=res["epoch_s_2"], load1=load1())
    H.print_table(f"Sparse full-batch GD (kernels.gd_epochs) per epoch, {n:,} Netflix-shaped ratings (best of 3)",
                  ["case", "1 thread", "2 threads", "speed-up", "target 1.7x"], table)


def movielens(rec: H.Recorder) -> None:
    from labrec import BiasedMF, cross_validate, kfold_indices, load_movielens

    data = load_movielens("small")
    folds = kfold_indices(len(data), 5, seed=0)
    table = []
    for name, kw in (("default (shuffle, 1 thread)", {}), ("blocked, 2 threads", {"n_jobs": 2})):
        cross_validate(lambda kw=kw: BiasedMF(seed=0, num_epochs=1, **kw), data, folds[:1])  # compile
        runs = [cross_validate(lambda kw=kw: BiasedMF(seed=0, **kw), data, folds) for _ in range(3)]
        best = min(r.total_time for r in runs)
        table.append([name, f"{runs[0].mean_rmse:.4f}", H.fmt_time(best)])
        rec.add("ml-latest-small 5-fold", f"rmse/{name}", runs[0].mean_rmse, None, seconds=best)
    H.print_table("ml-latest-small, 5-fold CV (seed 0), BiasedMF defaults, fit + predict, best of 3",
                  ["schedule", "RMSE", "time"], table)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        result = child(json.loads(sys.argv[2]))
        result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
        print(json.dumps(result))
    else:
        main()
