"""Full-batch masked GD: sparse (observed entries only) vs the course's dense code.

On the Q4 layout (embedded ml-latest-small: top 1000 movies x 671 users, 62,397
ratings, ~9% observed), rank 5, the course's lr = 1e-5, times per epoch of

* ``dense handout``  - the course's loop as the handout writes it,
  ``labmf.lab.gd_factorise_masked`` (benchmarks/_baselines.py), float32 like the
  course's tensor,
* ``dense labmf``    - ``factorise_gd(A, M)`` (the same loop plus the per-epoch SSE),
* ``sparse numba``   - ``factorise_gd(A_sparse)``, the compiled kernel on the
  observed entries (:func:`labmf.kernels.gd_epochs`),

the ratio dense handout / sparse (target: >= 10x), and how closely the sparse trajectory follows
the dense one after 1000 epochs (float32 and float64). A synthetic course-size
layout (1000 x 10000, 5M ratings: half observed) shows where sparsity stops paying.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_sparse_gd.py``.
"""

from __future__ import annotations

import _harness as H
import numpy as np
import torch

H.setup()  # one thread before labmf is imported

# noqa reasons: these imports must follow H.setup() above.
from _baselines import handout_gd  # noqa: E402 - after setup()

from labmf.data import lab_layout, read_movielens  # noqa: E402 - after setup()
from labmf.factorise import factorise_gd  # noqa: E402 - after setup()
from labmf.sparse import from_triplets, to_sparse  # noqa: E402 - after setup()

RANK = 5
LR = 1e-5  # the course's default
QUICK = H.quick()


def _rel(a, b) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def per_epoch(fn, epochs, repeat) -> H.Timing:
    t = H.timeit(fn, repeat=repeat)
    return H.Timing([x / epochs for x in t.times])


def main() -> None:
    rec = H.Recorder("sparse_gd")

    layout = lab_layout(read_movielens("small"))
    A, M = layout.ratings, layout.mask  # float32, as the course's tensor
    As = to_sparse(A, M)
    m, n = layout.shape
    nnz = As._nnz()
    case = f"Q4 layout {m}x{n}, {nnz} ratings ({nnz / (m * n):.1%}), rank {RANK}"
    g = torch.Generator().manual_seed(0)
    U0, V0 = torch.rand(m, RANK, generator=g), torch.rand(n, RANK, generator=g)  # the start of seed=0

    dense_epochs = 10 if QUICK else 50
    sparse_epochs = 50 if QUICK else 500
    repeat = 2 if QUICK else 5
    t = {
        "dense handout": per_epoch(lambda: handout_gd(A, M, RANK, dense_epochs, LR, seed=0), dense_epochs, repeat),
        "dense labmf": per_epoch(lambda: factorise_gd(A, M, RANK, seed=0, num_epochs=dense_epochs),
                                 dense_epochs, repeat),
        "sparse numba": per_epoch(lambda: factorise_gd(As, None, RANK, seed=0, num_epochs=sparse_epochs),
                                  sparse_epochs, repeat),
    }
    base = t["dense handout"].best
    H.print_table(f"Full-batch GD per epoch, {case} (best of {repeat}, one thread)",
                  ["implementation", "time/epoch", "speed-up vs dense handout"],
                  [[k, H.fmt_time(v.best), f"{base / v.best:.1f}x"] for k, v in t.items()])
    ratio = base / t["sparse numba"].best
    print(f"target: sparse >= 10x the dense handout code: {'met' if ratio >= 10 else 'MISSED'} ({ratio:.1f}x)")
    for k, v in t.items():
        rec.add(case, f"seconds_per_epoch/{k.replace(' ', '-')}", v.best, "s", **v.as_dict())
    rec.add(case, "ratio/dense-handout_vs_sparse-numba", ratio, "x")

    # Trajectory: same start, the course's settings, sparse vs dense.
    epochs = 100 if QUICK else 1000
    agree = []
    for dtype in (torch.float32, torch.float64):
        init = (U0.to(dtype), V0.to(dtype))
        d = factorise_gd(A.to(dtype), M.to(dtype), RANK, init=init, num_epochs=epochs)
        s = factorise_gd(As.to(dtype), None, RANK, init=init, num_epochs=epochs)
        r = {"U": _rel(s.U, d.U), "V": _rel(s.V, d.V),
             "loss": abs(s.loss - d.loss) / d.loss}
        agree.append([str(dtype).replace("torch.", ""), f"{r['U']:.1e}", f"{r['V']:.1e}", f"{r['loss']:.1e}",
                      f"{d.loss:,.1f}"])
        rec.add(case, f"relative_difference/{str(dtype).replace('torch.', '')}", max(r.values()), None,
                epochs=epochs, lr=LR, U=r["U"], V=r["V"], loss=r["loss"], dense_loss=d.loss, sparse_loss=s.loss)
    H.print_table(f"Sparse vs dense trajectory after {epochs} epochs (lr={LR:g}, same start; "
                  "relative Frobenius differences)",
                  ["dtype of A", "U", "V", "final SSE", "dense final SSE"], agree)

    if not QUICK:
        # Course size: 1000 x 10000 with half the cells observed (synthetic).
        rng = np.random.default_rng(0)
        cm, cn, cnnz = 1000, 10000, 5_000_000
        flat = np.sort(rng.choice(cm * cn, size=cnnz, replace=False))
        crow, ccol = np.divmod(flat.astype(np.int64), cn)
        cval = rng.integers(1, 6, size=cnnz).astype(np.float32)
        Cs = from_triplets(crow, ccol, cval, (cm, cn))
        CM = torch.zeros(cm, cn)
        CM.view(-1)[torch.from_numpy(flat)] = 1.0
        CA = torch.zeros(cm, cn)
        CA.view(-1)[torch.from_numpy(flat)] = torch.from_numpy(cval)
        ct = {
            "dense handout": per_epoch(lambda: handout_gd(CA, CM, RANK, 3, LR, seed=1), 3, 3),
            "sparse numba": per_epoch(lambda: factorise_gd(Cs, None, RANK, seed=1, num_epochs=3), 3, 3),
        }
        ccase = f"synthetic course size {cm}x{cn}, {cnnz} ratings (50%), rank {RANK}"
        cbase = ct["dense handout"].best
        H.print_table(f"Full-batch GD per epoch, {ccase}", ["implementation", "time/epoch", "speed-up"],
                      [[k, H.fmt_time(v.best), f"{cbase / v.best:.1f}x"] for k, v in ct.items()])
        for k, v in ct.items():
            rec.add(ccase, f"seconds_per_epoch/{k.replace(' ', '-')}", v.best, "s", **v.as_dict())
        rec.add(ccase, "ratio/dense-handout_vs_sparse-numba", cbase / ct["sparse numba"].best, "x")

    rec.emit()


if __name__ == "__main__":
    main()
