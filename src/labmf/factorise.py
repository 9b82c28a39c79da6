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
handout. Every iterative method runs through one loop, :func:`labmf._fit.run_epochs`.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

from . import kernels
from ._fit import check_args, data_scale, dense_only, result, run_epochs, start, triplet_fit
from .metrics import reconstruction_sse
from .result import FactorisationResult
from .validation import check_n_jobs, check_observed, check_rank

__all__ = ["factorise_sgd", "factorise_gd", "factorise_autograd", "factorise_adam", "factorise_svd", "OPTIMISERS"]

Callback = Callable[[int, float], object]


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
    equal in float64 to the readable :func:`labmf.lab.sgd_factorise` (bit for bit up
    to rank 4, to rounding beyond); ``make bench`` measures the difference in speed.
    Only the observed entries are visited, so a sparse ``A`` (e.g. 100k ratings in a
    1000 x 10000 layout) costs time in proportion to its ratings.

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
        If the loss becomes NaN or infinite, or grows beyond
        :data:`labmf.convergence.DIVERGED` times the larger of its start and the sum of the
        squared observed entries (every method; the message names the likely cause).
    """
    A, M, rank, lr, num_epochs = check_args(A, mask, rank, lr, num_epochs, callback)
    U0, V0 = start(A, rank, seed, generator, init)
    return triplet_fit(kernels.sgd_epochs, A, M, U0, V0, at_start=False, method="sgd", lr=lr,
                        num_epochs=num_epochs, seed=seed, callback=callback, progress=progress, info={}, init=init)


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
    n_jobs: int = 1,
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
      observed entries rather than of cells (``benchmarks/bench_sparse_gd.py`` compares
      the two).

    Parameters are those of :func:`factorise_sgd`, plus ``sparse``; the default
    ``lr=1e-5`` is the course's, chosen for its 1000 x 10000 ratings matrix.

    Parameters
    ----------
    sparse : bool, optional
        ``None`` (default): sparse path iff ``A`` is sparse. ``True``: sparse path
        on the observed entries of a dense ``A`` and ``mask``. ``False``: dense
        path, densifying a sparse ``A`` and its stored-entry mask first.
    n_jobs : int, default 1
        Threads for the sparse path (rows, then columns, split between them;
        same factors as one thread, the SSE summed in another order; ``make bench``
        measures the gain), at most 4 per core (:func:`labmf.validation.check_n_jobs`).
        The dense path ignores it.

    Returns
    -------
    FactorisationResult
        ``losses[k]`` is the masked SSE after ``k`` epochs.
    """
    A, M, rank, lr, num_epochs = check_args(A, mask, rank, lr, num_epochs, callback)
    if sparse is not None and not isinstance(sparse, bool):
        raise TypeError(f"sparse must be None, True or False, got {sparse!r}")
    n_jobs = check_n_jobs(n_jobs)
    U, V = start(A, rank, seed, generator, init)
    run = dict(lr=lr, num_epochs=num_epochs, seed=seed, callback=callback, progress=progress)
    if sparse or (sparse is None and A.layout == torch.sparse_coo):
        return triplet_fit(kernels.gd_epochs, A, M, U, V, at_start=True, method="gd", info={"sparse": True},
                           n_jobs=n_jobs, init=init, **run)
    if A.layout == torch.sparse_coo:
        # Dense semantics for a sparse input: the stored entries are the mask.
        ones = torch.ones(A._nnz(), dtype=A.dtype)
        M = torch.sparse_coo_tensor(A.indices(), ones, tuple(A.shape), check_invariants=False).to_dense()
        A = A.to_dense()
    masked = M is not None and not bool(M.bool().all())
    gd = _DenseGD(A, torch.ones_like(A) if M is None else M, U, V, lr)
    losses, elapsed = run_epochs(gd.run, gd.loss, at_start=True, chunk=1, method="gd", lr=lr, num_epochs=num_epochs,
                                 callback=callback, progress=progress, scale=data_scale(A[gd.M.bool()], init))
    return result(gd.U, gd.V, losses, elapsed, dtype=A.dtype, method="gd", lr=lr, num_epochs=num_epochs, seed=seed,
                  info={"masked": masked})


class _DenseGD:
    """The course's dense update, its factors ``U``, ``V`` as state that :func:`labmf._fit.run_epochs`
    advances (``run``) and scores (``loss``)."""

    def __init__(self, A, M, U, V, lr):
        self.A, self.M, self.U, self.V, self.lr = A, M, U, V, lr

    def run(self, todo: int, out) -> int:
        """``todo`` epochs; ``out[k]`` the loss at the start of each. Stops after a NaN/inf loss."""
        A, M, lr = self.A, self.M, self.lr
        for k in range(todo):
            U, V = self.U, self.V
            E = (A - U @ V.T) * M
            # The SSE of the residual we already hold is the loss at the start of the epoch.
            out[k] = float(torch.linalg.vector_norm(E, dtype=torch.float64)) ** 2
            if not math.isfinite(out[k]):
                return k + 1
            self.U = U + lr * (E @ V)
            self.V = V + lr * (E.T @ self.U)
        return todo

    def loss(self) -> float:
        return reconstruction_sse(self.A, self.U, self.V, self.M)


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
    A, M, rank, lr, num_epochs = check_args(A, mask, rank, lr, num_epochs, callback, dense="factorise_autograd")
    make_opt, opt_name = _optimiser(optimizer)
    U0, V0 = start(A, rank, seed, generator, init)
    U = U0.clone().requires_grad_(True)
    V = V0.clone().requires_grad_(True)
    masked = M is not None and not bool(M.bool().all())
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

    losses, elapsed = run_epochs(epochs, lambda: reconstruction_sse(A, U.detach(), V.detach(), M), at_start=True,
                                 chunk=1, method=method, lr=lr, num_epochs=num_epochs, callback=callback,
                                 progress=progress, scale=data_scale(A[M.bool()], init))
    return result(U.detach(), V.detach(), losses, elapsed, dtype=A.dtype, method=method, lr=lr,
                   num_epochs=num_epochs, seed=seed, info={"optimizer": opt_name, "masked": masked})


def factorise_adam(A, mask=None, rank: int = 2, *, lr: float = 0.05, num_epochs: int = 1000, seed: int | None = None,
                   generator: torch.Generator | None = None, init: tuple[torch.Tensor, torch.Tensor] | None = None,
                   callback: Callback | None = None, progress: bool = False) -> FactorisationResult:
    """Full-batch Adam compiled (:mod:`labmf._adam`), the explorer's Adam: ``factorise_autograd(optimizer="adam")``'s
    trajectory to rounding (tested). A dense or sparse ``A``; parameters are those of :func:`factorise_sgd`."""
    from ._adam import adam_epochs, adam_state

    A, M, rank, lr, num_epochs = check_args(A, mask, rank, lr, num_epochs, callback)
    U0, V0 = start(A, rank, seed, generator, init)
    state = adam_state(A.shape[0], A.shape[1], rank)

    def kernel(rows, cols, vals, U, V, lr, todo, out):
        return adam_epochs(rows, cols, vals, U, V, lr, todo, out, state=state)

    return triplet_fit(kernel, A, M, U0, V0, at_start=True, method="adam", lr=lr, num_epochs=num_epochs,
                       seed=seed, callback=callback, progress=progress, info={"optimizer": "adam"}, init=init)


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
    A, M = check_observed(dense_only(A, "factorise_svd"), mask, "A", "mask")
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
        elapsed=time.perf_counter() - t0, singular_values=S, info={"masked": False},
    )
