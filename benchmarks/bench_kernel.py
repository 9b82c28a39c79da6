"""Per-entry SGD: the compiled kernel vs the handout's torch loop (:func:`labmf.lab.sgd_factorise`).

Measures entry-updates per second at rank 5 of

* ``numba``   - labmf's compiled kernel (:func:`labmf.kernels.sgd_epochs`), on the
  Q4 layout (embedded ml-latest-small: top 1000 movies x 671 users, 62,397
  ratings) and on a fully observed 40 x 50 block,
* ``handout`` - the handout's loop over torch scalars, ``labmf.lab.sgd_factorise``
  (benchmarks/_baselines.py), on the 40 x 50 block (every cell an update; one
  epoch, as a Q4-layout epoch would take minutes),

their ratio (target: >= 1,500x), how far the two are apart after one epoch from
the same start, and end-to-end times of Q1 (3 x 3, rank 2, 1000 epochs) and of
one epoch on a course-size synthetic layout (1000 x 10000, 5M ratings).

The kernel's epochs include the per-epoch SSE pass over the ratings (a second
sweep); the handout loop does updates only, so the ratios understate the
kernel's advantage. Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_kernel.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import _harness as H
import numpy as np
import torch

H.setup()  # one thread before labmf is imported

# noqa reasons: these imports must follow H.setup() above.
from _baselines import handout_sgd  # noqa: E402 - after setup()

import labmf  # noqa: E402 - after setup()
from labmf import kernels  # noqa: E402 - after setup()
from labmf.data import lab_layout, read_movielens  # noqa: E402 - after setup()
from labmf.sparse import observed_triplets  # noqa: E402 - after setup()

RANK = 5
LR = 0.005  # stable on MovieLens at rank 5; speed does not depend on it
QUICK = H.quick()


def _init(m, n, seed=0):
    """The start of ``factorise_sgd(..., seed=seed)`` (float32 draw), as float64 arrays."""
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(m, RANK, generator=g).double().numpy()
    V = torch.rand(n, RANK, generator=g).double().numpy()
    return U, V


def kernel_rate(rows, cols, vals, U0, V0, epochs, repeat):
    """Best-of-``repeat`` updates/s of ``epochs`` kernel epochs from fresh copies of U0, V0."""
    losses = np.empty(epochs)

    def run():
        U, V = U0.copy(), V0.copy()
        done = kernels.sgd_epochs(rows, cols, vals, U, V, LR, epochs, losses)
        assert done == epochs, f"diverged after {done} epochs"

    t = H.timeit(run, repeat=repeat)
    return len(vals) * epochs / t.best, t


def cold_start_seconds() -> tuple[float, float]:
    """Fresh process: import labmf, then Q1 (the first fit loads numba's cache)."""
    code = textwrap.dedent("""
        import time
        t0 = time.perf_counter()
        import labmf
        t1 = time.perf_counter()
        labmf.factorise_sgd(labmf.lab_matrix(), rank=2, seed=0)
        print(t1 - t0, time.perf_counter() - t1)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, first = (float(x) for x in out.stdout.split())
    return imp, first


def per_entry(rec) -> None:
    """Updates/s of the kernel (Q4 layout and a dense block) and of the handout loop (dense block)."""
    layout = lab_layout(read_movielens("small"))
    rows, cols, vals = observed_triplets(layout.ratings, layout.mask)
    m, n = layout.shape
    nnz = len(vals)
    case = f"Q4 layout {m}x{n}, {nnz} ratings, rank {RANK}"
    q4_epochs = 5 if QUICK else 20
    q4_rate, q4_t = kernel_rate(rows, cols, vals, *_init(m, n), epochs=q4_epochs, repeat=3 if QUICK else 7)

    # A fully observed block of half-star ratings: the handout's loop updates every cell.
    bm, bn = (20, 25) if QUICK else (40, 50)
    g = torch.Generator().manual_seed(0)
    B = torch.randint(1, 11, (bm, bn), generator=g).double() / 2
    brows, bcols, bvals = observed_triplets(B, None)
    bcase = f"dense block {bm}x{bn}, rank {RANK}"
    block_epochs = 100 if QUICK else 1000
    block_rate, block_t = kernel_rate(brows, bcols, bvals, *_init(bm, bn), epochs=block_epochs,
                                      repeat=3 if QUICK else 7)
    hand_t = H.timeit(lambda: handout_sgd(B, RANK, 1, LR), repeat=1 if QUICK else 3, warmup=1)
    hand_rate = bm * bn / hand_t.best

    # Same start (seed 0), one epoch each: how far apart? (Bitwise equal up to rank 4;
    # from rank 5 torch's .sum() of the dot product adds in another order.)
    U, V = handout_sgd(B, RANK, 1, LR)
    fast = labmf.factorise_sgd(B, rank=RANK, num_epochs=1, lr=LR, seed=0)
    diff = max(float((U - fast.U).abs().max()), float((V - fast.V).abs().max()))

    ratio = q4_rate / hand_rate
    H.print_table(f"Per-entry SGD, rank {RANK} (best of repeats, one thread)",
                  ["implementation", "updates/s", "vs handout", "updates timed"],
                  [["numba kernel, Q4 layout", H.fmt_rate(q4_rate), f"{ratio:,.0f}x",
                    f"{nnz * q4_epochs:,} x {q4_t.repeats}"],
                   ["numba kernel, dense block", H.fmt_rate(block_rate), f"{block_rate / hand_rate:,.0f}x",
                    f"{bm * bn * block_epochs:,} x {block_t.repeats}"],
                   ["handout loop, dense block", H.fmt_rate(hand_rate), "1x", f"{bm * bn:,} x {hand_t.repeats}"]])
    print(f"{case}; {bcase}, fully observed; handout loop: labmf.lab.sgd_factorise, one epoch")
    print(f"handout vs kernel after 1 epoch from the same start: max |difference| {diff:.1e}")
    ok_rate, ok_ratio = q4_rate >= 2e6, ratio >= 1500
    print(f"targets: >= 2M updates/s {'met' if ok_rate else 'MISSED'}; "
          f">= 1,500x the handout loop {'met' if ok_ratio else 'MISSED'} ({ratio:,.0f}x)")

    rec.add(case, "updates_per_s/numba", q4_rate, "1/s", **q4_t.as_dict())
    rec.add(bcase, "updates_per_s/numba", block_rate, "1/s", **block_t.as_dict())
    rec.add(bcase, "updates_per_s/handout", hand_rate, "1/s", **hand_t.as_dict())
    rec.add(case, "ratio/numba_vs_handout", ratio, "x", handout_case=bcase)
    rec.add(bcase, "ratio/numba_vs_handout", block_rate / hand_rate, "x")
    rec.add(bcase, "max_abs_difference/numba_vs_handout", diff, None, epochs=1)


def q1_end_to_end(rec) -> None:
    """Q1 as the notebooks run it (3 x 3, rank 2, 1000 epochs), and a fresh process."""
    A = labmf.lab_matrix()
    q1 = H.timeit(lambda: labmf.factorise_sgd(A, rank=2, seed=0), repeat=3 if QUICK else 5)
    q1_epochs = 100 if QUICK else 1000
    hand = H.timeit(lambda: handout_sgd(A, 2, q1_epochs, 0.01), repeat=1, warmup=0)
    hand_s = hand.best * 1000 / q1_epochs
    imp_s, first_s = cold_start_seconds()
    H.print_table("Q1 end to end: rank 2, 1000 epochs on the 3 x 3 lab matrix",
                  ["implementation", "wall time"],
                  [["factorise_sgd (numba)", H.fmt_time(q1.best) + f" ({hand_s / q1.best:,.0f}x)"],
                   ["handout (lab.sgd_factorise)" + ("" if q1_epochs == 1000 else f" ({q1_epochs} epochs, scaled)"),
                    H.fmt_time(hand_s)],
                   ["fresh process: import labmf", H.fmt_time(imp_s)],
                   ["fresh process: first fit (loads numba's cache)", H.fmt_time(first_s)]])
    case = "Q1 3x3 rank 2 1000 epochs"
    rec.add(case, "seconds/numba", q1.best, "s", **q1.as_dict())
    rec.add(case, "seconds/handout", hand_s, "s", extrapolated_from_epochs=q1_epochs)
    rec.add(case, "ratio/numba_vs_handout", hand_s / q1.best, "x")
    rec.add("fresh process", "seconds/import_labmf", imp_s, "s")
    rec.add("fresh process", "seconds/first_fit", first_s, "s")


def main() -> None:
    rec = H.Recorder("kernel")
    per_entry(rec)
    q1_end_to_end(rec)

    if not QUICK:
        # Course-size layout (1000 x 10000, ~half observed): synthetic, one epoch.
        rng = np.random.default_rng(0)
        cm, cn, cnnz = 1000, 10000, 5_000_000
        flat = np.sort(rng.choice(cm * cn, size=cnnz, replace=False))
        crow, ccol = np.divmod(flat.astype(np.int64), cn)
        cval = rng.integers(1, 6, size=cnnz).astype(np.float64)
        cU, cV = _init(cm, cn, seed=1)
        c_rate, c_t = kernel_rate(crow, ccol, cval, cU, cV, epochs=1, repeat=3)
        ccase = f"synthetic course size {cm}x{cn}, {cnnz} ratings, rank {RANK}"
        H.print_table(f"Per-entry SGD, {ccase}", ["implementation", "updates/s", "s/epoch"],
                      [["numba", H.fmt_rate(c_rate), H.fmt_time(c_t.best)]])
        rec.add(ccase, "updates_per_s/numba", c_rate, "1/s", **c_t.as_dict())

    rec.emit()


if __name__ == "__main__":
    main()
