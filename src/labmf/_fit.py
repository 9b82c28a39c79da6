"""The one fit loop and the steps every factorisation shares (private).

:func:`run_epochs` runs the epochs of any iterative method, records and checks each
loss, calls the callback and shows progress; :func:`check_args` and
:func:`start` validate the common arguments and draw the starting factors;
:func:`triplet_fit` drives a compiled kernel of :mod:`labmf.kernels`.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import kernels
from . import sparse as _sparse
from .convergence import DIVERGED, check_loss, likely_cause, warn_if_still_falling
from .result import FactorisationResult
from .validation import (
    check_callback,
    check_lr,
    check_num_epochs,
    check_observed,
    check_rank,
    make_generator,
)

CHUNK = 50  # epochs per compiled-kernel call between progress/callback reports


def check_input(A, mask):
    """Validate ``A`` (dense or sparse) and ``mask``; return ``(A, M)``.

    A sparse ``A`` comes back coalesced COO with ``M = None`` (its stored entries
    are the observed ones, so a mask would be ambiguous).
    """
    if _sparse.is_sparse(A):
        if mask is not None:
            raise ValueError("mask must be None when A is sparse (its stored entries are the observed "
                             f"ones), got {type(mask).__name__}")
        return _sparse.check_sparse_matrix(A, "A"), None
    return check_observed(A, mask, "A", "mask")


def dense_only(A, fname: str):
    if _sparse.is_sparse(A):
        raise TypeError(f"{fname} needs a dense A, got a sparse tensor of shape {tuple(A.shape)}; "
                        "pass A.to_dense() and its mask (factorise_sgd and factorise_gd take sparse A)")
    return A


def start(A, rank, seed, generator, init) -> tuple[torch.Tensor, torch.Tensor]:
    """The starting factors: ``init`` (copied), else U then V from U[0, 1)."""
    if init is None:
        g = make_generator(seed, generator)
        # Drawn in float32 whatever A's dtype, so that one seed gives one start
        # (torch.rand draws other numbers for float64); lab.py does the same.
        U = torch.rand(A.shape[0], rank, generator=g, dtype=torch.float32)
        V = torch.rand(A.shape[1], rank, generator=g, dtype=torch.float32)
        return U.to(A.dtype), V.to(A.dtype)
    try:
        U0, V0 = (torch.as_tensor(t).detach() for t in init)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"init must be a pair (U, V) of tensors, got {type(init).__name__}") from exc
    if tuple(U0.shape) != (A.shape[0], rank) or tuple(V0.shape) != (A.shape[1], rank):
        raise ValueError(f"init must be (U, V) with shapes {(A.shape[0], rank)} and {(A.shape[1], rank)}, "
                         f"got {tuple(U0.shape)} and {tuple(V0.shape)}")
    if seed is not None or generator is not None:
        raise ValueError("give init or seed/generator, not both")
    for label, T in (("U", U0), ("V", V0)):
        if not bool(torch.isfinite(T).all()):
            raise ValueError(f"init {label} must be finite, found NaN/inf")
    return U0.to(A.dtype).clone(), V0.to(A.dtype).clone()


def check_args(A, mask, rank, lr, num_epochs, callback, *, dense: str | None = None):
    """Validate the arguments every iterative method shares; return ``(A, M, rank, lr, num_epochs)``."""
    if dense is not None:
        A, M = check_observed(dense_only(A, dense), mask, "A", "mask")
    else:
        A, M = check_input(A, mask)
    rank = check_rank(rank, A)
    lr = check_lr(lr)
    if lr > torch.finfo(A.dtype).max:  # torch would fail deep inside an update
        raise ValueError(f"lr must be at most the largest {A.dtype} ({torch.finfo(A.dtype).max:.3g}), got {lr:g}")
    check_callback(callback)
    return A, M, rank, lr, check_num_epochs(num_epochs)


def data_scale(vals, init=None) -> tuple[float, str | None]:
    """``(sum of squares, likely cause)`` of the observed ``vals`` and the start ``init`` for :func:`run_epochs`."""
    v = torch.as_tensor(vals).double()
    max_abs = float(v.abs().max()) if v.numel() else 0.0
    init_max = None if init is None else max(float(torch.as_tensor(T).abs().max()) for T in init)
    return float((v**2).sum()), likely_cause(max_abs, init_max)


def run_epochs(run, loss, *, num_epochs, at_start, chunk, lr, method, callback, progress, scale=(0.0, None)):
    """The one fit loop: run epochs in chunks, record and check every loss, report progress.

    ``run(todo, out)`` runs ``todo`` epochs, writes one loss per epoch into ``out``
    and returns how many it ran (fewer when a loss became NaN/inf). When
    ``at_start`` is False these are the losses *after* each epoch and ``loss()``
    gives the starting one; when True (full-batch methods, which get the loss of
    the residual they compute anyway) they are the losses at the *start* of each
    epoch and ``loss()`` gives the one after the last. Either way ``losses[k]``
    is the loss after ``k`` epochs, and ``callback(k, losses[k])`` hears of every
    ``k >= 1`` in order. ``scale`` (:func:`data_scale`) bounds the loss (:func:`labmf.convergence.check_loss`).

    Warns :class:`~labmf.ConvergenceWarning` when :func:`labmf.convergence.still_falling`
    says the run stopped too early.

    Returns
    -------
    losses : ndarray of float64, shape (num_epochs + 1,)
    elapsed : float
        Seconds.
    """
    losses = np.empty(num_epochs + 1)

    sum_sq, cause = scale

    def report(epoch):
        check_loss(float(losses[epoch]), epoch, lr, method, bound=DIVERGED * max(float(losses[0]), sum_sq),
                   cause=cause)
        if callback is not None and epoch > 0:
            callback(epoch, float(losses[epoch]))

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_epochs, desc=method, unit="epoch", leave=False)
    t0 = time.perf_counter()
    first = 0 if at_start else 1
    try:
        if not at_start:
            losses[0] = loss()
            report(0)
        done = 0
        while done < num_epochs:
            todo = min(chunk, num_epochs - done)
            ran = run(todo, losses[done + first: done + first + todo])
            for epoch in range(done + first, done + first + ran):
                report(epoch)
            if ran < todo:  # a kernel stops early only on a non-finite loss, which report() raised on
                raise RuntimeError(f"{method}: the kernel ran {ran} of {todo} epochs")
            done += ran
            if bar is not None:
                bar.update(ran)
        if at_start:
            losses[num_epochs] = loss()
            report(num_epochs)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    warn_if_still_falling(losses, method, lr)
    return losses, elapsed


def result(U, V, losses, elapsed, *, dtype, method, lr, num_epochs, seed, info=None):
    U, V = (torch.as_tensor(T).to(dtype) for T in (U, V))
    return FactorisationResult(
        U=U, V=V, losses=torch.from_numpy(losses), method=method, rank=int(U.shape[1]), lr=lr,
        num_epochs=num_epochs, seed=None if seed is None else int(seed), elapsed=elapsed, info=info or {},
    )


def triplet_fit(kernel, A, M, U0, V0, *, at_start, method, lr, num_epochs, seed, callback, progress, info,
                n_jobs=1, init=None):
    """Fit with a compiled triplet kernel (:mod:`labmf.kernels`), in float64; ``n_jobs > 1``
    (full-batch GD only) runs it on that many threads through a :func:`labmf.kernels.gd_plan`."""
    rows, cols, vals = _sparse.sparse_triplets(A) if A.layout == torch.sparse_coo else _sparse.observed_triplets(A, M)
    U = U0.double().numpy().copy()
    V = V0.double().numpy().copy()
    extra = {} if n_jobs == 1 else {"plan": kernels.gd_plan(rows, U.shape[0], n_jobs)}

    losses, elapsed = run_epochs(
        lambda todo, out: kernel(rows, cols, vals, U, V, lr, todo, out, **extra),
        lambda: kernels.sse(rows, cols, vals, U, V),
        num_epochs=num_epochs, at_start=at_start, chunk=1 if callback is not None else CHUNK,
        lr=lr, method=method, callback=callback, progress=progress, scale=data_scale(vals, init),
    )
    threads = {"n_jobs": n_jobs} if n_jobs > 1 else {}
    return result(U, V, losses, elapsed, dtype=A.dtype, method=method, lr=lr, num_epochs=num_epochs,
                   seed=seed, info={"backend": "numba", "nnz": int(len(vals)),
                                    "masked": len(vals) < A.shape[0] * A.shape[1], **info, **threads})
