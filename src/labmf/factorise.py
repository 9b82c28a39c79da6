"""Low-rank factorisation algorithms ``A ~ U @ V.T``: the general, fast API.

Every algorithm has the same shape::

    fn(A, mask=None, rank=2, *, lr, num_epochs, seed=None, generator=None,
       init=None, callback=None, progress=False) -> FactorisationResult

and minimises the sum of squared errors over the observed entries (``mask == 1``;
all entries when ``mask`` is None). The readable versions of the same algorithms,
as the handout writes them, are in :mod:`labmf.lab`; the tests prove these equal.

Initialisation follows the handout: ``U`` then ``V`` drawn from the uniform
distribution on [0, 1) with ``torch.rand``. With ``seed`` (or ``generator``) the
draw is reproducible; with neither, torch's global generator is used, as in the
handout. Every iterative method runs through one loop, :func:`_train`.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import torch

from . import kernels
from . import sparse as _sparse
from ._validation import (
    check_callback,
    check_finite_loss,
    check_lr,
    check_mask,
    check_matrix,
    check_num_epochs,
    check_rank,
    make_generator,
)
from .metrics import reconstruction_sse
from .result import FactorisationResult

__all__ = ["factorise_sgd", "factorise_gd", "factorise_autograd", "factorise_svd", "OPTIMISERS"]

Callback = Callable[[int, float], object]
_CHUNK = 50  # epochs per compiled-kernel call between progress/callback reports


# ------------------------------------------------------------ shared steps


def _check_input(A, mask):
    """Validate ``A`` (dense or sparse) and ``mask``; return ``(A, M)``.

    A sparse ``A`` comes back coalesced COO with ``M = None`` (its stored entries
    are the observed ones, so a mask would be ambiguous).
    """
    if _sparse.is_sparse(A):
        if mask is not None:
            raise ValueError("mask must be None when A is sparse (its stored entries are the observed "
                             f"ones), got {type(mask).__name__}")
        return _sparse.check_sparse_matrix(A, "A"), None
    A = check_matrix(A, "A")
    return A, check_mask(mask, A, "mask")


def _dense_only(A, fname: str):
    if _sparse.is_sparse(A):
        raise TypeError(f"{fname} needs a dense A, got a sparse tensor of shape {tuple(A.shape)}; "
                        "pass A.to_dense() and its mask (factorise_sgd and factorise_gd take sparse A)")
    return A


def _start(A, rank, seed, generator, init) -> tuple[torch.Tensor, torch.Tensor]:
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


def _common(A, mask, rank, lr, num_epochs, callback, *, dense: str | None = None):
    """Validate the arguments every iterative method shares; return ``(A, M, rank, lr, num_epochs)``."""
    if dense is not None:
        A = check_matrix(_dense_only(A, dense), "A")
        M = check_mask(mask, A, "mask")
    else:
        A, M = _check_input(A, mask)
    rank = check_rank(rank, A)
    lr = check_lr(lr)
    if lr > torch.finfo(A.dtype).max:  # torch would fail deep inside an update
        raise ValueError(f"lr must be at most the largest {A.dtype} ({torch.finfo(A.dtype).max:.3g}), got {lr:g}")
    check_callback(callback)
    return A, M, rank, lr, check_num_epochs(num_epochs)


def _train(run, loss, *, num_epochs, at_start, chunk, lr, method, callback, progress):
    """The one fit loop: run epochs in chunks, record and check every loss, report progress.

    ``run(todo, out)`` runs ``todo`` epochs, writes one loss per epoch into ``out``
    and returns how many it ran (fewer when a loss became NaN/inf). When
    ``at_start`` is False these are the losses *after* each epoch and ``loss()``
    gives the starting one; when True (full-batch methods, which get the loss of
    the residual they compute anyway) they are the losses at the *start* of each
    epoch and ``loss()`` gives the one after the last. Either way ``losses[k]``
    is the loss after ``k`` epochs, and ``callback(k, losses[k])`` hears of every
    ``k >= 1`` in order.

    Returns
    -------
    losses : ndarray of float64, shape (num_epochs + 1,)
    elapsed : float
        Seconds.
    """
    losses = np.empty(num_epochs + 1)

    def report(epoch):
        check_finite_loss(float(losses[epoch]), epoch, lr, method)
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
    return losses, time.perf_counter() - t0


def _result(U, V, losses, elapsed, *, dtype, method, lr, num_epochs, seed, info=None):
    U, V = (torch.as_tensor(T).to(dtype) for T in (U, V))
    return FactorisationResult(
        U=U, V=V, losses=torch.from_numpy(losses), method=method, rank=int(U.shape[1]), lr=lr,
        num_epochs=num_epochs, seed=None if seed is None else int(seed), elapsed=elapsed, info=info or {},
    )


def _triplet_fit(kernel, A, M, U0, V0, *, at_start, method, lr, num_epochs, seed, callback, progress, info):
    """Fit with a compiled triplet kernel (:mod:`labmf.kernels`), in float64."""
    rows, cols, vals = _sparse.sparse_triplets(A) if A.layout == torch.sparse_coo else _sparse.observed_triplets(A, M)
    U = U0.double().numpy().copy()
    V = V0.double().numpy().copy()

    def sse():
        pred = np.einsum("ij,ij->i", U[rows], V[cols])
        return float(((vals - pred) ** 2).sum())

    losses, elapsed = _train(
        lambda todo, out: kernel(rows, cols, vals, U, V, lr, todo, out), sse,
        num_epochs=num_epochs, at_start=at_start, chunk=1 if callback is not None else _CHUNK,
        lr=lr, method=method, callback=callback, progress=progress,
    )
    return _result(U, V, losses, elapsed, dtype=A.dtype, method=method, lr=lr, num_epochs=num_epochs,
                   seed=seed, info={"backend": "numba", "nnz": int(len(vals)), **info})


# --------------------------------------------------------------------------- SGD


def factorise_sgd(
    A,
    mask=None,
    rank: int = 2,
    *,
    lr: float = 0.01,
    num_epochs: int = 1000,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> FactorisationResult:
    """Per-entry gradient descent (the handout's "SGD"), masked or not.

    Each epoch visits the observed entries in row-major order and, for entry
    ``(r, c)``, sets ``e = A[r, c] - U[r] . V[c]``, then ``U[r] += lr * e * V[c]``,
    then ``V[c] += lr * e * U[r]`` with the *updated* ``U[r]``. Arithmetic is in
    float64 whatever ``A``'s dtype; ``U`` and ``V`` are returned in ``A``'s dtype.

    The loop is :func:`labmf.kernels.sgd_epochs`, compiled with numba and
    bit-identical in float64 to the readable :func:`labmf.lab.sgd_factorise`
    (~1500x faster). Only the observed entries are visited, so a sparse ``A`` (e.g. 100k ratings
    in a 1000 x 10000 layout) costs time in proportion to its ratings.

    Parameters
    ----------
    A : Tensor, shape (m, n), dense or sparse
        Matrix to factorise. Dense: unobserved entries may hold anything finite.
        Sparse (``torch.sparse_coo_tensor``; CSR/CSC converted): the stored entries
        are the observed ones (duplicate indices are refused), and ``mask`` must
        be None. See :mod:`labmf.sparse` (``from_triplets``, ``to_sparse``).
    mask : Tensor of 0/1 or bool, shape (m, n), optional
        1 where a dense ``A`` is observed. ``None`` observes every entry.
    rank : int
        Number of factors ``r``, ``1 <= r <= min(m, n)``.
    lr : float
        Learning rate (> 0).
    num_epochs : int
        Number of full sweeps over the observed entries (>= 0).
    seed : int, optional
        Seed for the uniform [0, 1) initialisation.
    generator : torch.Generator, optional
        Generator for the initialisation (instead of ``seed``).
    init : (Tensor (m, r), Tensor (n, r)), optional
        Start from these factors instead of a random draw (copied, not modified).
    callback : callable(epoch, loss), optional
        Called after each epoch with the training SSE.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    FactorisationResult

    Raises
    ------
    DivergenceError
        If the loss becomes NaN or infinite (lower ``lr``).
    """
    A, M, rank, lr, num_epochs = _common(A, mask, rank, lr, num_epochs, callback)
    U0, V0 = _start(A, rank, seed, generator, init)
    return _triplet_fit(kernels.sgd_epochs, A, M, U0, V0, at_start=False, method="sgd", lr=lr,
                        num_epochs=num_epochs, seed=seed, callback=callback, progress=progress, info={})


# -------------------------------------------------------------- full-batch GD


def factorise_gd(
    A,
    mask=None,
    rank: int = 2,
    *,
    lr: float = 1e-5,
    num_epochs: int = 1000,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    sparse: bool | None = None,
) -> FactorisationResult:
    """Full-batch masked gradient descent, the course's update (:func:`labmf.lab.gd_factorise_masked`).

    Each epoch computes the masked residual ``E = (A - U @ V.T) * M``, then
    ``U += lr * E @ V``, then ``V += lr * E.T @ U`` with the *new* ``U``.

    Two implementations of that one update:

    * dense (default for a dense ``A``): the course's code (bit-identical to
      :func:`labmf.lab.gd_factorise_masked` from the same start), every cell of the
      m x n matrices every epoch, arithmetic in ``A``'s dtype (float32 for the
      course's tensor);
    * sparse (default for a sparse ``A``, or ``sparse=True``): only the observed
      entries, ``E`` held as its nonzeros; arithmetic in float64, factors returned
      in ``A``'s dtype. Same trajectory as dense up to rounding (summation order,
      and float64 instead of float32), at a cost proportional to the number of
      observed entries: about 10x faster than the dense loop on the 9%-observed
      1000 x 671 MovieLens layout, slower on a half-observed matrix
      (``benchmarks/bench_sparse_gd.py``).

    Parameters are those of :func:`factorise_sgd`, plus ``sparse``; the default
    ``lr=1e-5`` is the course's, chosen for its 1000 x 10000 ratings matrix.

    Parameters
    ----------
    sparse : bool, optional
        ``None`` (default): sparse path iff ``A`` is sparse. ``True``: sparse path
        on the observed entries of a dense ``A`` and ``mask``. ``False``: dense
        path, densifying a sparse ``A`` and its stored-entry mask first.

    Returns
    -------
    FactorisationResult
        ``losses[k]`` is the masked SSE after ``k`` epochs.
    """
    A, M, rank, lr, num_epochs = _common(A, mask, rank, lr, num_epochs, callback)
    if sparse is not None and not isinstance(sparse, bool):
        raise TypeError(f"sparse must be None, True or False, got {sparse!r}")
    U, V = _start(A, rank, seed, generator, init)
    run = dict(lr=lr, num_epochs=num_epochs, seed=seed, callback=callback, progress=progress)
    if sparse or (sparse is None and A.layout == torch.sparse_coo):
        return _triplet_fit(kernels.gd_epochs, A, M, U, V, at_start=True, method="gd", info={"sparse": True}, **run)
    if A.layout == torch.sparse_coo:
        # Dense semantics for a sparse input: the stored entries are the mask.
        ones = torch.ones(A._nnz(), dtype=A.dtype)
        M = torch.sparse_coo_tensor(A.indices(), ones, tuple(A.shape), check_invariants=False).to_dense()
        A = A.to_dense()
    M = torch.ones_like(A) if M is None else M
    factors = [U, V]

    def epochs(todo, out):
        U, V = factors
        for k in range(todo):
            E = (A - U @ V.T) * M
            # The SSE of the residual we already hold is the loss at the start of the epoch.
            out[k] = float(torch.linalg.vector_norm(E, dtype=torch.float64)) ** 2
            if not math.isfinite(out[k]):
                return k + 1
            U = U + lr * (E @ V)
            V = V + lr * (E.T @ U)
            factors[:] = U, V
        return todo

    losses, elapsed = _train(epochs, lambda: reconstruction_sse(A, *factors, M), at_start=True, chunk=1,
                             method="gd", lr=lr, num_epochs=num_epochs, callback=callback, progress=progress)
    return _result(*factors, losses, elapsed, dtype=A.dtype, method="gd", lr=lr, num_epochs=num_epochs, seed=seed)


# ------------------------------------------------------------- autograd route

OPTIMISERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "rmsprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr),
    "adagrad": lambda params, lr: torch.optim.Adagrad(params, lr=lr),
}


def _optimiser(optimizer) -> tuple[Callable[..., torch.optim.Optimizer], str]:
    if isinstance(optimizer, str):
        if optimizer not in OPTIMISERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMISERS)} or a callable, got {optimizer!r}")
        return OPTIMISERS[optimizer], optimizer
    if callable(optimizer):
        return optimizer, getattr(optimizer, "__name__", "custom").lower()
    raise TypeError(f"optimizer must be a name or a callable, got {type(optimizer).__name__}")


def factorise_autograd(
    A,
    mask=None,
    rank: int = 2,
    *,
    optimizer: str | Callable[..., torch.optim.Optimizer] = "adam",
    lr: float = 0.05,
    num_epochs: int = 1000,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> FactorisationResult:
    """Minimise the masked SSE with autograd and a ``torch.optim`` optimiser.

    One epoch is one full-batch step: ``loss = ||(A - U @ V.T) * M||_F^2``,
    ``loss.backward()``, ``optimizer.step()``.

    Parameters
    ----------
    optimizer : str or callable
        A name from :data:`OPTIMISERS` (``"adam"``, ``"sgd"``, ``"momentum"`` =
        SGD with momentum 0.9, ``"rmsprop"``, ``"adagrad"``), or a callable
        ``(params, lr) -> torch.optim.Optimizer`` such as ``torch.optim.NAdam``.
    Other parameters (``A``, ``mask``, ``rank``, ``lr``, ``num_epochs``, ``seed``,
    ``generator``, ``init``, ``callback``, ``progress``) are those of
    :func:`factorise_sgd`; ``A`` must be dense.

    Returns
    -------
    FactorisationResult
        ``U`` (m, r) and ``V`` (n, r) detached, in ``A``'s dtype; ``losses[k]`` the
        masked SSE after ``k`` steps; ``info["optimizer"]`` the optimiser's name.
    """
    A, M, rank, lr, num_epochs = _common(A, mask, rank, lr, num_epochs, callback, dense="factorise_autograd")
    make_opt, opt_name = _optimiser(optimizer)
    U0, V0 = _start(A, rank, seed, generator, init)
    U = U0.clone().requires_grad_(True)
    V = V0.clone().requires_grad_(True)
    M = torch.ones_like(A) if M is None else M
    method = f"autograd-{opt_name}"
    try:
        opt = make_opt([U, V], lr=lr)
    except ValueError as exc:  # torch.optim's own checks (e.g. an lr it refuses)
        raise ValueError(f"optimizer {opt_name!r} refused lr={lr:g}: {exc}") from exc

    def epochs(todo, out):
        for k in range(todo):
            loss = (((A - U @ V.T) * M) ** 2).sum()
            out[k] = float(loss.detach())
            if not math.isfinite(out[k]):
                return k + 1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return todo

    losses, elapsed = _train(epochs, lambda: reconstruction_sse(A, U.detach(), V.detach(), M), at_start=True,
                             chunk=1, method=method, lr=lr, num_epochs=num_epochs, callback=callback,
                             progress=progress)
    return _result(U.detach(), V.detach(), losses, elapsed, dtype=A.dtype, method=method, lr=lr,
                   num_epochs=num_epochs, seed=seed, info={"optimizer": opt_name})


# --------------------------------------------------------------- truncated SVD


def factorise_svd(A, mask=None, rank: int = 2) -> FactorisationResult:
    """Best rank-``rank`` approximation by truncated SVD (Eckart-Young-Mirsky).

    The general form of :func:`labmf.lab.truncated_svd`, returning a result.

    Uses ``torch.linalg.svd`` (``torch.svd`` is deprecated). The returned factors are
    ``U = U_k diag(S_k)`` and ``V = V_k``, so ``U @ V.T`` is the truncated
    reconstruction and its SSE equals the sum of the squared discarded singular
    values.

    Parameters
    ----------
    A : Tensor, shape (m, n)
    mask : None
        Accepted for a uniform signature; the SVD needs a fully observed matrix,
        so a mask with missing entries is rejected.
    rank : int

    Returns
    -------
    FactorisationResult
        ``singular_values`` holds all of ``A``'s singular values; ``losses`` has the
        single SSE of the reconstruction.
    """
    A = check_matrix(_dense_only(A, "factorise_svd"), "A")
    M = check_mask(mask, A, "mask")
    if M is not None and not bool(M.bool().all()):
        raise ValueError(f"factorise_svd needs a fully observed A; mask has {int((~M.bool()).sum())} "
                         "missing entries (use factorise_sgd / factorise_gd)")
    rank = check_rank(rank, A)
    t0 = time.perf_counter()
    Uf, S, Vh = torch.linalg.svd(A, full_matrices=False)
    U = Uf[:, :rank] * S[:rank]
    V = Vh[:rank].T
    loss = reconstruction_sse(A, U, V)
    if not (math.isfinite(loss) and bool(torch.isfinite(S).all())):
        raise ValueError(f"the SVD of A overflowed {A.dtype} (largest |A| = {float(A.abs().max()):.3g}); "
                         "rescale A" + ("" if A.dtype == torch.float64 else ", or pass it in float64"))
    return FactorisationResult(
        U=U, V=V, losses=torch.tensor([loss], dtype=torch.float64), method="svd", rank=rank,
        elapsed=time.perf_counter() - t0, singular_values=S,
    )
