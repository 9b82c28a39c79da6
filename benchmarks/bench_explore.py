"""Explorer redraw latency (labmf.explore): one control change to the new picture, end to end.

What a user waits for after letting go of a slider, measured as the kernel side of it:
the widget's value is set (as a front-end message would), its observer refits (or takes
the cached fit), draws the loss curve PNG and the tables, and sets the widgets' values.
Fits run in the calling thread here (``threaded=False``) so the time is the work itself;
in a kernel the same work runs on a worker thread. The browser's own rendering is not
included (``tests/test_browser.py`` drives a real one).

* 3 x 3 lab, Q3's two entries hidden, 1000 epochs, each method (per-entry SGD, full-batch GD,
  Adam -- compiled, ``labmf.factorise.factorise_adam``, where ``torch.optim.Adam`` alone took
  ~200 ms -- and truncated SVD): a new seed every repeat (a fresh fit, never a cache hit), and
  going back to settings already fitted (cached). Target: <= 100 ms.
* Q4 layout (embedded MovieLens, 1000 movies x 671 users), rank 5, 1000 epochs of
  full-batch GD (sparse path): a new seed (fresh fit), and another user column
  (cached fit: prediction and top 10 only). Target: <= 1 s.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_explore.py``.
"""

from __future__ import annotations

import itertools

import _harness as H

H.setup()  # one thread before labmf is imported

import labmf  # noqa: E402 - after setup()
from labmf.explore import explore, explore_recommendations  # noqa: E402 - after setup()

QUICK = H.quick()
LAB_TARGET, Q4_TARGET = 0.100, 1.0


def setter(widget, values):
    """A function that sets ``widget.value`` to the next of ``values``, as a front-end message would."""
    values = iter(values)

    def set_next():
        widget.value = next(values)
    return set_next


def lab_timings(method: str, repeat: int) -> tuple[H.Timing, H.Timing]:
    ex = explore(labmf.lab_matrix(), labmf.lab_mask(), method=method, num_epochs=1000, threaded=False)
    assert ex.widget is not None
    if method == "svd":  # no seed to change: a fresh fit is another rank, the cache emptied first
        set_rank = setter(ex.controls["rank"], itertools.cycle([1, 3, 2]))
        fresh = H.timeit(lambda: (ex._fits.cache.clear(), set_rank()), repeat=repeat)
    else:
        fresh = H.timeit(setter(ex.controls["seed"], itertools.count(1)), repeat=repeat)
    cached = H.timeit(setter(ex.controls["seed"], itertools.cycle([0, 1])), repeat=repeat, warmup=2)
    return fresh, cached


def lab_rows(rec) -> list:
    rows = []
    repeat = 3 if QUICK else 7
    for method in ("sgd", "gd", "adam", "svd"):
        fresh, cached = lab_timings(method, repeat)
        case = f"3x3 lab, Q3 mask, {method}, 1000 epochs"
        for what, t in (("fresh fit", fresh), ("cached fit", cached)):
            rec.add(case, f"redraw, {what}", t.best, "s", median=t.median, target=LAB_TARGET)
            rows.append([case, what, f"{t.best * 1e3:.1f}", f"{t.median * 1e3:.1f}",
                         "yes" if t.median <= LAB_TARGET else "NO"])
    return rows


def q4_rows(rec) -> list:
    q4 = explore_recommendations("movielens-small", rank=5, num_epochs=1000, threaded=False)
    assert q4.widget is not None
    c = q4.controls
    fresh = H.timeit(setter(c["seed"], itertools.count(1)), repeat=2 if QUICK else 4)
    cached = H.timeit(setter(c["user_col"], itertools.cycle([5, 6, 7, 8])), repeat=5 if QUICK else 10)
    case = "Q4 layout 1000x671, rank 5, 1000 epochs (sparse GD)"
    rows = []
    for what, t in (("fresh fit (new seed)", fresh), ("cached fit (new user)", cached)):
        rec.add(case, f"redraw, {what}", t.best, "s", median=t.median, target=Q4_TARGET)
        rows.append([case, what, f"{t.best * 1e3:.1f}", f"{t.median * 1e3:.1f}",
                     "yes" if t.median <= Q4_TARGET else "NO"])
    return rows


def main() -> None:
    rec = H.Recorder("explore")
    lab = lab_rows(rec)
    H.print_table(f"3x3 explorer: one control change to the new picture (target <= {LAB_TARGET * 1e3:.0f} ms)",
                  ["case", "redraw", "best ms", "median ms", "within target"], lab)
    q4 = q4_rows(rec)
    H.print_table(f"Q4 explorer: one control change to the new answer (target <= {Q4_TARGET:.0f} s)",
                  ["case", "redraw", "best ms", "median ms", "within target"], q4)
    rec.emit()


if __name__ == "__main__":
    main()
