"""Per-entry SGD: compiled kernel vs the Python-float reference vs the handout's torch loop.

Measures entry-updates per second at rank 5 on the Q4 layout (embedded
ml-latest-small: top 1000 movies x 671 users, 62,397 ratings) for

* ``numba``     - labmf's compiled kernel (``backend="numba"``),
* ``python``    - labmf's readable reference loop on Python floats,
* ``torch``     - the handout's loop indexing torch tensors (benchmarks/_baselines.py),

their ratios, and end-to-end times of Q1 (3 x 3, rank 2, 1000 epochs) and of one
epoch on a course-size synthetic layout (1000 x 10000, 5M ratings).

The kernels' epochs include the per-epoch SSE pass over the ratings (a second
sweep); the torch baseline does updates only, so the ratios understate the
kernel's advantage. Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_kernel.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import torch

import _harness as H
from _baselines import handout_sgd_torch

H.setup()

import labmf  # noqa: E402
from labmf import kernels  # noqa: E402
from labmf.data import lab_layout, load_movielens  # noqa: E402
from labmf.sparse import observed_triplets  # noqa: E402

RANK = 5
LR = 0.005  # stable on MovieLens at rank 5; speed does not depend on it
QUICK = H.quick()


def _init(m, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(m, RANK, generator=g, dtype=torch.float64).numpy()
    V = torch.rand(n, RANK, generator=g, dtype=torch.float64).numpy()
    return U, V


def kernel_rate(kernel, rows, cols, vals, U0, V0, epochs, repeat):
    """Best-of-``repeat`` updates/s of ``epochs`` epochs from fresh copies of U0, V0."""
    losses = np.empty(epochs)
    state = {}

    def run():
        U, V = U0.copy(), V0.copy()
        done = kernel(rows, cols, vals, U, V, LR, epochs, losses)
        assert done == epochs, f"diverged after {done} epochs"
        state["UV"] = (U, V)

    t = H.timeit(run, repeat=repeat)
    return len(vals) * epochs / t.best, t, state["UV"]


def cold_start_seconds() -> float:
    """Fresh process: import labmf, then Q1 with the numba backend (loads numba's cache)."""
    code = textwrap.dedent("""
        import time
        t0 = time.perf_counter()
        import labmf
        t1 = time.perf_counter()
        labmf.factorise_sgd(labmf.lab_matrix(), rank=2, seed=0, backend="numba")
        print(t1 - t0, time.perf_counter() - t1)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, first = (float(x) for x in out.stdout.split())
    return imp, first


def main() -> None:
    rec = H.Recorder("kernel")
    kernels.load_numba_kernels()  # import numba outside the timings

    layout = lab_layout(load_movielens("small"))
    rows, cols, vals = observed_triplets(layout.ratings, layout.mask)
    m, n = layout.shape
    U0, V0 = _init(m, n)
    nnz = len(vals)
    case = f"Q4 layout {m}x{n}, {nnz} ratings, rank {RANK}"

    numba_epochs = 5 if QUICK else 20
    numba_rate, numba_t, _ = kernel_rate(
        kernels.sgd_epochs_numba, rows, cols, vals, U0, V0, epochs=numba_epochs,
        repeat=3 if QUICK else 7)
    py_rate, py_t, _ = kernel_rate(
        kernels.sgd_epochs_reference, rows, cols, vals, U0, V0, epochs=1, repeat=1 if QUICK else 3)

    # Same start, one epoch each: the compiled kernel must be the reference bit for bit.
    out = {}
    for name in ("python", "numba"):
        U, V = U0.copy(), V0.copy()
        kernels.KERNELS[name](rows, cols, vals, U, V, LR, 1, np.empty(1))
        out[name] = (U, V)
    identical = all(np.array_equal(a, b) for a, b in zip(out["python"], out["numba"]))

    # Handout's torch loop: a prefix of the entries (a full epoch takes minutes).
    k = 1000 if QUICK else 4000
    A64 = layout.ratings.double()
    entries = list(zip(rows[:k].tolist(), cols[:k].tolist()))

    def torch_run():
        handout_sgd_torch(A64, entries, torch.from_numpy(U0.copy()), torch.from_numpy(V0.copy()), LR, 1)

    torch_t = H.timeit(torch_run, repeat=1 if QUICK else 3, warmup=1)
    torch_rate = k / torch_t.best

    rows_out = [
        ["numba (labmf kernel)", H.fmt_rate(numba_rate), f"{numba_rate / torch_rate:,.0f}x",
         f"{numba_rate / py_rate:,.0f}x", f"{nnz * numba_epochs:,} x {numba_t.repeats}"],
        ["python (reference loop)", H.fmt_rate(py_rate), f"{py_rate / torch_rate:,.1f}x", "1x",
         f"{nnz:,} x {py_t.repeats}"],
        ["torch scalars (handout)", H.fmt_rate(torch_rate), "1x", f"{torch_rate / py_rate:.3f}x",
         f"{k:,} x {torch_t.repeats}"],
    ]
    H.print_table(f"Per-entry SGD, {case} (best of repeats, one thread)",
                  ["implementation", "updates/s", "vs torch", "vs python", "updates timed"], rows_out)
    print(f"numba == python reference after 1 epoch from the same start: "
          f"{'bit-identical' if identical else 'DIFFERENT'}")
    ok_rate, ok_ratio = numba_rate >= 2e6, numba_rate / torch_rate >= 100
    print(f"targets: >= 2M updates/s {'met' if ok_rate else 'MISSED'}; "
          f">= 100x the torch loop {'met' if ok_ratio else 'MISSED'}")

    for name, rate, t in (("numba", numba_rate, numba_t), ("python", py_rate, py_t),
                          ("torch-scalar", torch_rate, torch_t)):
        rec.add(case, f"updates_per_s/{name}", rate, "1/s", **t.as_dict())
    rec.add(case, "ratio/numba_vs_torch-scalar", numba_rate / torch_rate, "x")
    rec.add(case, "ratio/numba_vs_python", numba_rate / py_rate, "x")
    rec.add(case, "identical/numba_vs_python", identical, None)

    # End to end: Q1 as the notebooks run it (3 x 3, rank 2, 1000 epochs).
    A = labmf.lab_matrix()
    q1 = {}
    for backend in ("numba", "python"):
        q1[backend] = H.timeit(lambda b=backend: labmf.factorise_sgd(A, rank=2, seed=0, backend=b),
                               repeat=3 if QUICK else 5)
    q1_epochs = 100 if QUICK else 1000
    g = torch.Generator().manual_seed(0)
    Ut, Vt = torch.rand(3, 2, generator=g), torch.rand(3, 2, generator=g)
    cells = [(r, c) for r in range(3) for c in range(3)]
    q1_torch = H.timeit(lambda: handout_sgd_torch(A, cells, Ut.clone(), Vt.clone(), 0.01, q1_epochs),
                        repeat=1, warmup=0)
    q1_torch_s = q1_torch.best * 1000 / q1_epochs
    imp_s, first_s = cold_start_seconds()
    H.print_table("Q1 end to end: factorise_sgd(lab_matrix(), rank=2), 1000 epochs",
                  ["implementation", "wall time"],
                  [["numba", H.fmt_time(q1["numba"].best)],
                   ["python", H.fmt_time(q1["python"].best)],
                   ["torch scalars (handout)" + ("" if q1_epochs == 1000 else f" ({q1_epochs} epochs, scaled)"),
                    H.fmt_time(q1_torch_s)],
                   ["fresh process: import labmf", H.fmt_time(imp_s)],
                   ["fresh process: first fit (imports numba)", H.fmt_time(first_s)]])
    rec.add("Q1 3x3 rank 2 1000 epochs", "seconds/numba", q1["numba"].best, "s", **q1["numba"].as_dict())
    rec.add("Q1 3x3 rank 2 1000 epochs", "seconds/python", q1["python"].best, "s", **q1["python"].as_dict())
    rec.add("Q1 3x3 rank 2 1000 epochs", "seconds/torch-scalar", q1_torch_s, "s",
            extrapolated_from_epochs=q1_epochs)
    rec.add("fresh process", "seconds/import_labmf", imp_s, "s")
    rec.add("fresh process", "seconds/first_numba_fit", first_s, "s")

    if not QUICK:
        # Course-size layout (1000 x 10000, ~half observed): synthetic, one epoch.
        rng = np.random.default_rng(0)
        cm, cn, cnnz = 1000, 10000, 5_000_000
        flat = np.sort(rng.choice(cm * cn, size=cnnz, replace=False))
        crow, ccol = np.divmod(flat.astype(np.int64), cn)
        cval = rng.integers(1, 6, size=cnnz).astype(np.float64)
        cU, cV = _init(cm, cn, seed=1)
        c_rate, c_t, _ = kernel_rate(kernels.sgd_epochs_numba, crow, ccol, cval, cU, cV, epochs=1, repeat=3)
        ccase = f"synthetic course size {cm}x{cn}, {cnnz} ratings, rank {RANK}"
        H.print_table(f"Per-entry SGD, {ccase}", ["implementation", "updates/s", "s/epoch"],
                      [["numba", H.fmt_rate(c_rate), H.fmt_time(c_t.best)]])
        rec.add(ccase, "updates_per_s/numba", c_rate, "1/s", **c_t.as_dict())

    rec.emit()


if __name__ == "__main__":
    main()
