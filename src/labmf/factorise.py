"""Low-rank factorisation algorithms ``A ~ U @ V.T``.

Every algorithm has the same shape::

    fn(A, mask=None, rank=2, *, lr, num_epochs, seed=None, generator=None,
       callback=None, progress=False) -> FactorisationResult

and minimises the sum of squared errors over the observed entries (``mask == 1``;
all entries when ``mask`` is None). The handout's signatures (``sgd_factorise``,
``sgd_factorise_masked``, ``gd_factorise_masked``) are thin wrappers returning
``(U, V)``.

Initialisation follows the handout: ``U`` then ``V`` drawn from the uniform
distribution on [0, 1) with ``torch.rand``. With ``seed`` (or ``generator``) the
draw is reproducible; with neither, torch's global generator is used, as in the
handout.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from . import kernels as _kernels
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

__all__ = [
    "factorise_sgd",
    "factorise_gd",
    "factorise_autograd",
    "truncated_svd",
    "sgd_factorise",
    "sgd_factorise_masked",
    "gd_factorise_masked",
    "OPTIMISERS",
]

Callback = Callable[[int, float], object]


def _init_factors(m: int, n: int, rank: int, dtype, generator) -> tuple[torch.Tensor, torch.Tensor]:
    # U then V from U[0, 1), as the handout. Drawn in float32 whatever A's dtype, so
    # that one seed gives one start (torch.rand draws other numbers for float64).
    U = torch.rand(m, rank, generator=generator, dtype=torch.float32).to(dtype)
    V = torch.rand(n, rank, generator=generator, dtype=torch.float32).to(dtype)
    return U, V


def _seed_of(seed) -> int | None:
    # Only an explicit seed can be recorded; a generator's state is not a seed.
    return None if seed is None else int(seed)


def _progress_bar(progress: bool, total: int, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", leave=False)


def _check_backend(backend, registry: dict) -> None:
    if not (backend == "auto" or (isinstance(backend, str) and backend in registry)):
        raise ValueError(f"backend must be 'auto' or one of {sorted(registry)}, got {backend!r}")


def _resolve_backend(backend: str, registry: dict, fallback: str) -> tuple[str, Callable]:
    """(name, kernel) for ``backend``; "auto" is numba when it loads, else ``fallback``."""
    _check_backend(backend, registry)
    if backend == "auto":
        backend = "numba" if ("numba" in registry and _kernels.numba_available()) else fallback
    return backend, registry[backend]


def _check_input(A, mask, name: str = "A"):
    """Validate ``A`` (dense or sparse) and ``mask``; return ``(A, M)``.

    A sparse ``A`` comes back coalesced COO with ``M = None`` (its stored entries
    are the observed ones, so a mask would be ambiguous).
    """
    if _sparse.is_sparse(A):
        if mask is not None:
            raise ValueError(
                "mask must be None when A is sparse (its stored entries are the observed "
                f"ones), got {type(mask).__name__}"
            )
        return _sparse.check_sparse_matrix(A, name), None
    A = check_matrix(A, name)
    return A, check_mask(mask, A, "mask")


def _dense_only(A, fname: str):
    if _sparse.is_sparse(A):
        raise TypeError(
            f"{fname} needs a dense A, got a sparse tensor of shape {tuple(A.shape)}; "
            "pass A.to_dense() and its mask (factorise_sgd and factorise_gd take sparse A)"
        )
    return A


def _triplets(A, M):
    if A.layout == torch.sparse_coo:
        return _sparse.sparse_triplets(A)
    return _sparse.observed_triplets(A, M)


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
    backend: str = "auto",
    callback: Callback | None = None,
    progress: bool = False,
) -> FactorisationResult:
    """Per-entry gradient descent (the handout's "SGD"), masked or not.

    Each epoch visits the observed entries in row-major order and, for entry
    ``(r, c)``, sets ``e = A[r, c] - U[r] . V[c]``, then ``U[r] += lr * e * V[c]``,
    then ``V[c] += lr * e * U[r]`` with the *updated* ``U[r]``. Arithmetic is in
    float64 whatever ``A``'s dtype; ``U`` and ``V`` are returned in ``A``'s dtype.

    Only the observed entries are visited, so a sparse ``A`` (e.g. 100k ratings
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
    backend : {"auto", "python", "numba"}
        Inner loop: ``"python"`` is the readable reference, ``"numba"`` the compiled
        kernel (bit-identical result, ~100x faster than the python loop and
        ~1500x faster than the handout's loop on torch scalars), ``"auto"`` numba
        when it is installed, else python.
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
    A, M = _check_input(A, mask)
    rank = check_rank(rank, A)
    lr = check_lr(lr)
    check_callback(callback)
    num_epochs = check_num_epochs(num_epochs)
    _check_backend(backend, _kernels.KERNELS)
    U0, V0 = _start(A, rank, seed, generator, init)

    rows, cols, vals = _triplets(A, M)  # row-major order, as the handout's loop
    return _run_sgd(
        rows, cols, vals, U0, V0, A.dtype,
        lr=lr, num_epochs=num_epochs, seed=_seed_of(seed),
        backend=backend, callback=callback, progress=progress, method="sgd",
    )


def _start(A, rank, seed, generator, init):
    if init is not None:
        try:
            U0, V0 = (torch.as_tensor(t).detach() for t in init)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"init must be a pair (U, V) of tensors, got {type(init).__name__}") from exc
        if tuple(U0.shape) != (A.shape[0], rank) or tuple(V0.shape) != (A.shape[1], rank):
            raise ValueError(
                f"init must be (U, V) with shapes {(A.shape[0], rank)} and "
                f"{(A.shape[1], rank)}, got {tuple(U0.shape)} and {tuple(V0.shape)}"
            )
        if seed is not None or generator is not None:
            raise ValueError("give init or seed/generator, not both")
        for label, T in (("U", U0), ("V", V0)):
            if not bool(torch.isfinite(T).all()):
                raise ValueError(f"init {label} must be finite, found NaN/inf")
        return U0.to(A.dtype).clone(), V0.to(A.dtype).clone()
    g = make_generator(seed, generator)
    return _init_factors(A.shape[0], A.shape[1], rank, A.dtype, g)


def _run_triplet_kernel(kernel, rows, cols, vals, U, V, losses, *, lr, num_epochs, first,
                        chunk, callback, progress, method):
    """Drive an in-place triplet kernel in chunks of epochs, checking every loss.

    The kernel writes the loss of epoch ``first + k`` into ``losses[first + k]``
    (``first`` is 1 for kernels that report the loss *after* an epoch, 0 for those
    that report it at the start). Compiled kernels run many epochs per call; the
    chunk only sets how often the progress bar and the callback hear about it.
    """
    bar = _progress_bar(progress, num_epochs, f"{method} rank {U.shape[1]}")
    done = 0
    try:
        while done < num_epochs:
            todo = min(chunk, num_epochs - done)
            start = done + first
            ran = kernel(rows, cols, vals, U, V, lr, todo, losses[start: start + todo])
            for epoch in range(start, start + ran):
                check_finite_loss(float(losses[epoch]), epoch, lr, method)
                if callback is not None and epoch > 0:
                    callback(epoch, float(losses[epoch]))
            done += ran
            if bar is not None:
                bar.update(ran)
    finally:
        if bar is not None:
            bar.close()


def _triplet_result(U, V, losses, dtype, *, method, lr, num_epochs, seed, elapsed, info):
    return FactorisationResult(
        U=torch.from_numpy(U).to(dtype),
        V=torch.from_numpy(V).to(dtype),
        losses=torch.from_numpy(losses),
        method=method,
        rank=int(U.shape[1]),
        lr=lr,
        num_epochs=num_epochs,
        seed=seed,
        elapsed=elapsed,
        info=info,
    )


def _run_sgd(rows, cols, vals, U0, V0, dtype, *, lr, num_epochs, seed, backend,
             callback, progress, method):
    backend, kernel = _resolve_backend(backend, _kernels.KERNELS, "python")
    U = U0.double().numpy().copy()
    V = V0.double().numpy().copy()
    losses = np.empty(num_epochs + 1)
    t0 = time.perf_counter()
    losses[0] = _sse_triplets(rows, cols, vals, U, V)
    slow = callback is not None or kernel is _kernels.sgd_epochs_reference
    _run_triplet_kernel(
        kernel, rows, cols, vals, U, V, losses, lr=lr, num_epochs=num_epochs, first=1,
        chunk=1 if slow else max(1, min(num_epochs, 50)), callback=callback,
        progress=progress, method=method,
    )
    return _triplet_result(
        U, V, losses, dtype, method=method, lr=lr, num_epochs=num_epochs, seed=seed,
        elapsed=time.perf_counter() - t0, info={"backend": backend, "nnz": int(len(vals))},
    )


def _sse_triplets(rows, cols, vals, U, V) -> float:
    pred = np.einsum("ij,ij->i", U[rows], V[cols])
    return float(((vals - pred) ** 2).sum())


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
    backend: str = "auto",
) -> FactorisationResult:
    """Full-batch masked gradient descent, the course's ``gd_factorise_masked``.

    Each epoch computes the masked residual ``E = (A - U @ V.T) * M``, then
    ``U += lr * E @ V``, then ``V += lr * E.T @ U`` with the *new* ``U``.

    Two implementations of that one update:

    * dense (default for a dense ``A``): the course's code, every cell of the
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
    backend : {"auto", "torch", "numba"}
        Inner loop of the sparse path (ignored by the dense one): ``"torch"``
        gathers and scatter-adds, ``"numba"`` the compiled loop, ``"auto"`` numba
        when installed.

    Returns
    -------
    FactorisationResult
        ``losses[k]`` is the masked SSE after ``k`` epochs.
    """
    A, M = _check_input(A, mask)
    rank = check_rank(rank, A)
    lr = check_lr(lr)
    check_callback(callback)
    num_epochs = check_num_epochs(num_epochs)
    if sparse is not None and not isinstance(sparse, bool):
        raise TypeError(f"sparse must be None, True or False, got {sparse!r}")
    _check_backend(backend, _sparse.GD_KERNELS)
    U, V = _start(A, rank, seed, generator, init)
    a_is_sparse = A.layout == torch.sparse_coo
    if sparse or (sparse is None and a_is_sparse):
        rows, cols, vals = _triplets(A, M)
        return _run_sparse_gd(
            rows, cols, vals, U, V, A.dtype, lr=lr, num_epochs=num_epochs,
            seed=_seed_of(seed), backend=backend, callback=callback,
            progress=progress,
        )
    if a_is_sparse:
        # Dense semantics for a sparse input: the stored entries are the mask.
        M = torch.sparse_coo_tensor(
            A.indices(), torch.ones(A._nnz(), dtype=A.dtype), tuple(A.shape), check_invariants=False
        ).to_dense()
        A = A.to_dense()
    if M is None:
        M = torch.ones_like(A)
    losses = torch.empty(num_epochs + 1, dtype=torch.float64)
    bar = _progress_bar(progress, num_epochs, f"gd rank {rank}")
    t0 = time.perf_counter()
    try:
        for epoch in range(num_epochs):
            E = (A - U @ V.T) * M
            # The SSE of the residual we already hold is the loss after `epoch` epochs.
            losses[epoch] = float(torch.linalg.vector_norm(E, dtype=torch.float64)) ** 2
            check_finite_loss(float(losses[epoch]), epoch, lr, "gd")
            if callback is not None and epoch > 0:
                callback(epoch, float(losses[epoch]))
            U = U + lr * (E @ V)
            V = V + lr * (E.T @ U)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    losses[num_epochs] = reconstruction_sse(A, U, V, M)
    check_finite_loss(float(losses[num_epochs]), num_epochs, lr, "gd")
    if callback is not None and num_epochs > 0:
        callback(num_epochs, float(losses[num_epochs]))
    return FactorisationResult(
        U=U, V=V, losses=losses, method="gd", rank=rank, lr=lr, num_epochs=num_epochs,
        seed=_seed_of(seed), elapsed=time.perf_counter() - t0,
    )


def _run_sparse_gd(rows, cols, vals, U0, V0, dtype, *, lr, num_epochs, seed, backend,
                   callback, progress):
    backend, kernel = _resolve_backend(backend, _sparse.GD_KERNELS, "torch")
    U = U0.double().numpy().copy()
    V = V0.double().numpy().copy()
    losses = np.empty(num_epochs + 1)
    t0 = time.perf_counter()
    # losses[k] is the SSE at the start of epoch k, as in the dense loop.
    _run_triplet_kernel(
        kernel, rows, cols, vals, U, V, losses, lr=lr, num_epochs=num_epochs, first=0,
        chunk=1 if callback is not None else max(1, min(num_epochs, 50)),
        callback=callback, progress=progress, method="gd",
    )
    losses[num_epochs] = _sse_triplets(rows, cols, vals, U, V)
    check_finite_loss(float(losses[num_epochs]), num_epochs, lr, "gd")
    if callback is not None and num_epochs > 0:
        callback(num_epochs, float(losses[num_epochs]))
    return _triplet_result(
        U, V, losses, dtype, method="gd", lr=lr, num_epochs=num_epochs, seed=seed,
        elapsed=time.perf_counter() - t0,
        info={"backend": backend, "nnz": int(len(vals)), "sparse": True},
    )


# ------------------------------------------------------------- autograd route

OPTIMISERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "rmsprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr),
    "adagrad": lambda params, lr: torch.optim.Adagrad(params, lr=lr),
}


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
    A = check_matrix(_dense_only(A, "factorise_autograd"))
    M = check_mask(mask, A, "mask")
    rank = check_rank(rank, A)
    lr = check_lr(lr)
    check_callback(callback)
    num_epochs = check_num_epochs(num_epochs)
    if isinstance(optimizer, str):
        if optimizer not in OPTIMISERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMISERS)} or a callable, got {optimizer!r}")
        make_opt, opt_name = OPTIMISERS[optimizer], optimizer
    elif callable(optimizer):
        make_opt, opt_name = optimizer, getattr(optimizer, "__name__", "custom").lower()
    else:
        raise TypeError(f"optimizer must be a name or a callable, got {type(optimizer).__name__}")
    U0, V0 = _start(A, rank, seed, generator, init)
    U = U0.clone().requires_grad_(True)
    V = V0.clone().requires_grad_(True)
    if M is None:
        M = torch.ones_like(A)
    opt = make_opt([U, V], lr=lr)
    losses = torch.empty(num_epochs + 1, dtype=torch.float64)
    method = f"autograd-{opt_name}"
    bar = _progress_bar(progress, num_epochs, f"{method} rank {rank}")
    t0 = time.perf_counter()
    try:
        for epoch in range(num_epochs):
            loss = (((A - U @ V.T) * M) ** 2).sum()
            losses[epoch] = float(loss.detach())
            check_finite_loss(float(losses[epoch]), epoch, lr, method)
            if callback is not None and epoch > 0:
                callback(epoch, float(losses[epoch]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    U, V = U.detach(), V.detach()
    losses[num_epochs] = reconstruction_sse(A, U, V, M)
    check_finite_loss(float(losses[num_epochs]), num_epochs, lr, method)
    if callback is not None and num_epochs > 0:
        callback(num_epochs, float(losses[num_epochs]))
    return FactorisationResult(
        U=U, V=V, losses=losses, method=method, rank=rank, lr=lr, num_epochs=num_epochs,
        seed=_seed_of(seed), elapsed=time.perf_counter() - t0,
        info={"optimizer": opt_name},
    )


# --------------------------------------------------------------- truncated SVD


def truncated_svd(A, mask=None, rank: int = 2) -> FactorisationResult:
    """Best rank-``rank`` approximation by truncated SVD (Eckart-Young-Mirsky).

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
    A = check_matrix(_dense_only(A, "truncated_svd"))
    M = check_mask(mask, A, "mask")
    if M is not None and not bool(M.bool().all()):
        raise ValueError(
            "truncated_svd needs a fully observed A; mask has "
            f"{int((~M.bool()).sum())} missing entries (use factorise_sgd / factorise_gd)"
        )
    rank = check_rank(rank, A)
    t0 = time.perf_counter()
    Uf, S, Vh = torch.linalg.svd(A, full_matrices=False)
    U = Uf[:, :rank] * S[:rank]
    V = Vh[:rank].T
    loss = reconstruction_sse(A, U, V)
    return FactorisationResult(
        U=U, V=V, losses=torch.tensor([loss], dtype=torch.float64), method="svd", rank=rank,
        elapsed=time.perf_counter() - t0, singular_values=S,
    )


# ------------------------------------------------------ handout's signatures


def sgd_factorise(A: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """The handout's ``sgd_factorise``: per-entry GD on every entry, returns ``(U, V)``.

    Draws the start from torch's global generator, like the handout; use
    :func:`factorise_sgd` with ``seed`` for a reproducible run and the loss curve.
    """
    res = factorise_sgd(A, None, rank, lr=lr, num_epochs=num_epochs)
    return res.U, res.V


def sgd_factorise_masked(A: torch.Tensor, M: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 0.01):
    """The handout's ``sgd_factorise_masked``: per-entry GD where ``M == 1``; ``(U, V)``."""
    res = factorise_sgd(A, M, rank, lr=lr, num_epochs=num_epochs)
    return res.U, res.V


def gd_factorise_masked(A: torch.Tensor, M: torch.Tensor, rank: int, num_epochs: int = 1000, lr: float = 1e-5):
    """The course's full-batch ``gd_factorise_masked``; returns ``(U, V)``."""
    res = factorise_gd(A, M, rank, lr=lr, num_epochs=num_epochs)
    return res.U, res.V
