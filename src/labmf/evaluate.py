"""Held-out evaluation of the lab's factorisations: splits, held-out curves, lr sweeps.

A rating matrix is judged on ratings the model never saw. :func:`holdout_split`
divides the observed entries of a mask into disjoint training and test masks,
deterministically given ``seed``, so a printed held-out RMSE is the same on every run.
(k-fold splits of a list of ratings are :func:`labrec.kfold_indices`.)
:func:`fit_early_stopped` records the held-out RMSE while training and keeps
the factors of the epoch that was best on it, :func:`lr_sweep` tries learning rates (:func:`best_lr_trial` picks
the lowest final loss) and :func:`top_n_unrated` recommends from a prediction.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .convergence import ConvergenceWarning, DivergenceError, rose, warn_if_still_falling
from .metrics import rmse
from .result import FactorisationResult
from .validation import check_binary, check_index, check_lr, check_numpy_seed, check_scalar

__all__ = ["holdout_split", "fit_early_stopped", "EarlyStopped", "HeldoutHistory", "top_n_unrated", "top_n",
           "LrTrial", "lr_sweep", "largest_stable_lr", "best_lr_trial"]


def holdout_split(mask, frac: float = 0.1, *, seed) -> tuple[torch.Tensor, torch.Tensor]:
    """Hold out a random fraction of the observed entries of ``mask``.

    Parameters
    ----------
    mask : Tensor of 0/1 or bool, shape (m, n)
        1 (True) where a rating is observed.
    frac : float
        Fraction of the observed entries moved to the test mask, ``0 < frac < 1``.
        ``round(frac * nnz)`` entries are held out (at least 1, at most nnz - 1).
    seed : int or numpy.random.Generator
        Makes the split reproducible (required: an unseeded split would make every
        held-out figure unrepeatable).

    Returns
    -------
    train_mask, test_mask : Tensor, shape (m, n), same dtype as ``mask``
        Disjoint, and their union is ``mask``.
    """
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (m x n), got shape {tuple(mask.shape)}")
    check_binary(mask)
    frac = check_scalar(frac, "frac", float, min_val=0.0, max_val=1.0, include_boundaries="neither")
    rng = np.random.default_rng(check_numpy_seed(seed))
    observed = mask.bool().flatten().nonzero().flatten().numpy()  # row-major order
    nnz = observed.size
    if nnz < 2:
        raise ValueError(f"mask must observe at least 2 entries to split, got {nnz}")
    n_test = min(max(int(round(frac * nnz)), 1), nnz - 1)
    chosen = observed[rng.permutation(nnz)[:n_test]]
    test = torch.zeros(mask.numel(), dtype=torch.bool)
    test[torch.from_numpy(chosen)] = True
    test = test.reshape(mask.shape)
    train = mask.bool() & ~test
    return train.to(mask.dtype), test.to(mask.dtype)


@dataclass(frozen=True, eq=False)
class HeldoutHistory:
    """Held-out error recorded during training.

    Attributes
    ----------
    epochs : numpy.ndarray of int, shape (k,)
        Epoch numbers at which the test error was measured (0 = the random start).
    test_rmse : numpy.ndarray of float, shape (k,)
        RMSE over the test mask at those epochs.
    """

    epochs: np.ndarray
    test_rmse: np.ndarray


@dataclass(frozen=True, eq=False)
class EarlyStopped:
    """The outcome of :func:`fit_early_stopped`.

    Attributes
    ----------
    best, final : FactorisationResult
        The factors after ``best_epoch`` epochs and after all of them; ``losses`` holds the
        training SSE of every epoch up to there.
    best_epoch : int
        The measured epoch with the lowest held-out RMSE (the earliest on a tie).
    history : HeldoutHistory
        The held-out RMSE at every measured epoch.
    """

    best: FactorisationResult
    final: FactorisationResult
    best_epoch: int
    history: HeldoutHistory


def fit_early_stopped(fit: Callable[..., FactorisationResult], A, train_mask, val_mask, rank: int, *,
                      num_epochs: int, every: int = 10, seed: int | None = None, **kwargs) -> EarlyStopped:
    """Train ``fit`` on ``train_mask``, record the RMSE on ``val_mask``, keep the best epoch.

    The ``callback`` of an algorithm sees only the training loss, so training runs
    in chunks of ``every`` epochs, each warm-started (``init=``) from the previous
    chunk's factors, and the held-out RMSE is measured between chunks. For the dense
    GD the final factors equal one uninterrupted run's bit for bit; paths that round
    to ``A``'s dtype at each chunk boundary agree to that rounding (~1e-7).
    The epoch is chosen on ``val_mask``: keep it disjoint from the ratings that will
    score the model, or the choice flatters it.

    Parameters
    ----------
    fit : callable
        A memoryless labmf algorithm accepting ``(A, mask, rank, num_epochs=, seed=,
        init=)``: :func:`labmf.factorise_gd` or :func:`labmf.factorise_sgd` (an
        optimiser with state, :func:`labmf.factorise_autograd`, is refused).
    A : Tensor, shape (m, n)
    train_mask, val_mask : Tensor of 0/1 or bool, shape (m, n)
        Disjoint (e.g. from :func:`holdout_split`).
    rank : int
    num_epochs : int
        Total number of epochs (>= 1).
    every : int
        Measure the held-out RMSE every ``every`` epochs (and at the start and end).
    seed : int, optional
        Seed of the initialisation (or pass ``generator=`` in ``kwargs``).
    **kwargs
        Passed to ``fit`` (``lr``, ...).
    """
    num_epochs = check_scalar(num_epochs, "num_epochs", int, min_val=1)
    every = check_scalar(every, "every", int, min_val=1)
    if getattr(fit, "__name__", "") == "factorise_autograd":
        raise ValueError("fit must be a memoryless update such as factorise_gd or factorise_sgd; "
                         "factorise_autograd's optimiser state (e.g. Adam's moments) would restart at every chunk")
    A_t = torch.as_tensor(A)
    val_b = _heldout_mask(val_mask, train_mask, A_t)
    # Draw the start once and warm-start every chunk from it, so the error at
    # epoch 0 is measured on the very factors that are trained (also without a seed).
    generator = kwargs.pop("generator", None)
    res = fit(A_t, train_mask, rank, num_epochs=0, seed=seed, generator=generator, **kwargs)
    losses: list[torch.Tensor] = [res.losses]
    epochs, errs = [0], [rmse(A_t, res.reconstruction, val_b)]
    done, elapsed, best = 0, 0.0, (res, 0)
    while done < num_epochs:
        todo = min(every, num_epochs - done)
        with warnings.catch_warnings():  # a chunk still falling says nothing; the whole run is judged below
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = fit(A_t, train_mask, rank, num_epochs=todo, init=(res.U, res.V), **kwargs)
        losses.append(res.losses[1:])
        elapsed += res.elapsed
        done += todo
        epochs.append(done)
        errs.append(rmse(A_t, res.reconstruction, val_b))
        if errs[-1] < min(errs[:-1]):
            best = (res, done)
    all_losses = torch.cat(losses)
    warn_if_still_falling(all_losses.numpy(), res.method, res.lr)

    def whole(r, k):
        return FactorisationResult(U=r.U, V=r.V, losses=all_losses[: k + 1].clone(), method=r.method, rank=r.rank,
                                   lr=r.lr, num_epochs=k, seed=seed, elapsed=elapsed, info=dict(r.info))

    history = HeldoutHistory(np.asarray(epochs, dtype=np.int64), np.asarray(errs))
    return EarlyStopped(best=whole(*best), final=whole(res, num_epochs), best_epoch=best[1], history=history)


def _heldout_mask(val_mask, train_mask, A: torch.Tensor) -> torch.Tensor:
    """``val_mask`` as a boolean tensor, checked against ``train_mask`` and ``A``."""
    masks = {}
    for name, M in (("train_mask", train_mask), ("val_mask", val_mask)):
        M = torch.as_tensor(M)
        if tuple(M.shape) != tuple(A.shape):
            raise ValueError(f"{name} must have A's shape {tuple(A.shape)}, got {tuple(M.shape)}")
        masks[name] = check_binary(M, name).bool()
    val_b = masks["val_mask"]
    if not bool(val_b.any()):
        raise ValueError("val_mask observes no entry; nothing to evaluate")
    overlap = int((val_b & masks["train_mask"]).sum())
    if overlap:
        # A held-out entry that is also trained on makes the held-out error optimistic.
        raise ValueError(f"val_mask and train_mask must be disjoint; {overlap} of the {int(val_b.sum())} "
                         f"held-out entries are also in train_mask (use holdout_split)")
    return val_b


def top_n_unrated(prediction, mask, col: int, n: int = 10) -> list[int]:
    """Rows with the highest predictions in column ``col`` among its unrated entries.

    In the lab's movies x users layout: the movies to recommend to user ``col``.

    Parameters
    ----------
    prediction : Tensor, shape (n_movies, n_users)
        Predicted ratings (e.g. ``U @ V.T``).
    mask : Tensor, shape (n_movies, n_users)
        1 where a rating exists: those rows are never recommended.
    col : int
        The user (column).
    n : int
        Number of rows to return (fewer if the user has fewer unrated movies).

    Returns
    -------
    list of int
        Row indices, best first; equal predictions keep increasing row order.
    """
    P = torch.as_tensor(prediction)
    M = torch.as_tensor(mask)
    if P.ndim != 2 or tuple(P.shape) != tuple(M.shape):
        raise ValueError(f"prediction and mask must be 2-D of the same shape, got {tuple(P.shape)} "
                         f"and {tuple(M.shape)}")
    col = check_index(col, "col", P.shape[1])
    rows, _ = top_n(P[:, col].double().numpy(), n, allowed=~M[:, col].bool().numpy())
    return [int(i) for i in rows]


def top_n(scores, n: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` highest of ``scores`` (shape (k,)) among the ``allowed`` positions (bool, shape (k,);
    None: all), best first; equal scores keep increasing position, so results are reproducible.

    Returns ``(positions, scores)``, each of shape (<= n,). The one top-N rule: :func:`top_n_unrated`
    here and ``labrec``'s ``recommend`` both rank through it.
    """
    n = check_scalar(n, "n", int, min_val=1)
    scores = np.asarray(scores)
    candidates = np.arange(scores.shape[0]) if allowed is None else np.flatnonzero(allowed)
    cand_scores = scores[candidates]
    top = np.argsort(-cand_scores, kind="stable")[:n]  # stable on -score: ties to the lower position
    return candidates[top], cand_scores[top]


@dataclass(frozen=True, eq=False)
class LrTrial:
    """One learning rate tried by :func:`lr_sweep`.

    Attributes
    ----------
    lr : float
    losses : numpy.ndarray, shape (k,)
        Training SSE per epoch, up to the last finite one.
    result : FactorisationResult or None
        The fit, ``None`` if it diverged.
    diverged_at : int or None
        Epoch at which the loss became NaN/inf.
    """

    lr: float
    losses: np.ndarray
    result: FactorisationResult | None
    diverged_at: int | None

    @property
    def stable(self) -> bool:
        """Finished without diverging and the loss never went up by more than the rounding of the
        fit's dtype (:func:`labmf.convergence.rose`: a converged float32 loss wobbles in its last digits)."""
        return self.result is not None and not rose(self.losses, self.result.U.dtype)


def lr_sweep(
    fit: Callable[..., FactorisationResult],
    A,
    mask,
    rank: int,
    lrs,
    *,
    num_epochs: int,
    seed: int | None = None,
    **kwargs,
) -> list[LrTrial]:
    """Fit once per learning rate, recording divergence instead of raising.

    A diverging run stops at the first NaN/inf loss (usually within a few epochs),
    so trying too-large rates is cheap.

    Parameters
    ----------
    fit : callable
        A labmf algorithm, e.g. :func:`labmf.factorise_gd`.
    A, mask : Tensor, shape (m, n)
    rank : int
    lrs : iterable of float
    num_epochs : int
        Epochs per rate (>= 1: stability is judged on the losses of those epochs).
    seed : int, optional
        Seed of the start, which is drawn once and shared by every rate (or pass
        ``generator=`` in ``kwargs``).
    **kwargs
        Passed to ``fit``.

    Returns
    -------
    list of LrTrial
        In the order of ``lrs``.
    """
    if not hasattr(lrs, "__iter__"):
        raise TypeError(f"lrs must be an iterable of learning rates, got {lrs!r}")
    lrs = [check_lr(lr, f"lrs[{k}]") for k, lr in enumerate(lrs)]
    if not lrs:
        raise ValueError("lrs must contain at least one learning rate, got none")
    # With no epoch every rate would look stable, and largest_stable_lr would pick the largest.
    num_epochs = check_scalar(num_epochs, "num_epochs", int, min_val=1)
    # One start for every rate (drawn once, so runs share it even without a seed).
    generator = kwargs.pop("generator", None)
    start = fit(A, mask, rank, lr=lrs[0], num_epochs=0, seed=seed, generator=generator, **kwargs)
    trials = []
    for lr in lrs:
        seen: list[float] = []
        try:
            res = fit(A, mask, rank, lr=lr, num_epochs=num_epochs, init=(start.U, start.V),
                      callback=lambda epoch, loss, seen=seen: seen.append(loss), **kwargs)
        except DivergenceError:
            losses = np.asarray([start.loss] + seen)
            trials.append(LrTrial(lr, losses, None, len(seen) + 1))
            continue
        trials.append(LrTrial(lr, res.losses.numpy().copy(), res, None))
    return trials


def largest_stable_lr(trials) -> float:
    """The largest learning rate whose trial is :attr:`LrTrial.stable`."""
    stable = [t.lr for t in trials if t.stable]
    if not stable:
        raise ValueError(f"no learning rate was stable among {[t.lr for t in trials]}; try smaller ones")
    return max(stable)


def best_lr_trial(trials, *, floor: float = 0.0) -> LrTrial:
    """The finished :class:`LrTrial` with the lowest final loss (diverged ones never win).

    Final losses at or below ``floor`` (>= 0, e.g. the dtype's rounding noise) count as
    equal; among those the trial that first reached ``floor`` wins, then the smaller lr.
    """
    floor = check_scalar(floor, "floor", float, min_val=0.0)
    finished = [t for t in trials if t.result is not None]
    if not finished:
        raise ValueError(f"every learning rate diverged among {[t.lr for t in trials]}; try smaller ones")

    def key(t):
        below = np.flatnonzero(t.losses <= floor)
        return (max(float(t.losses[-1]), floor), int(below[0]) if below.size else len(t.losses), t.lr)

    return min(finished, key=key)
