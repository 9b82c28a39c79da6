"""The one result type every factorisation returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .validation import check_index

__all__ = ["FactorisationResult"]


@dataclass(frozen=True, eq=False)
class FactorisationResult:
    """A fitted rank-r factorisation ``A ~ U @ V.T`` and how it was obtained.

    Attributes
    ----------
    U : Tensor, shape (m, r)
        Row factors.
    V : Tensor, shape (n, r)
        Column factors.
    losses : Tensor, shape (num_epochs + 1,), float64
        Training SSE over the observed entries: ``losses[0]`` at the random start,
        ``losses[k]`` after epoch ``k``. A closed-form method (truncated SVD) has a
        single entry.
    method : str
        Name of the algorithm (``"sgd"``, ``"gd"``, ``"autograd-adam"``, ``"svd"``, ...).
    rank : int
    lr : float or None
        Learning rate (``None`` for closed-form methods).
    num_epochs : int
    seed : int or None
        Seed of the initialisation, when one was given.
    elapsed : float
        Wall time of the fit in seconds (not part of any regression check).
    singular_values : Tensor, shape (min(m, n),), optional
        All singular values of ``A`` (truncated SVD only).
    info : dict
        Method-specific extras (backend, optimiser, ...).
    """

    U: torch.Tensor
    V: torch.Tensor
    losses: torch.Tensor
    method: str
    rank: int
    lr: float | None = None
    num_epochs: int = 0
    seed: int | None = None
    elapsed: float = 0.0
    singular_values: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    @property
    def reconstruction(self) -> torch.Tensor:
        """``U @ V.T``, shape (m, n)."""
        return self.U @ self.V.T

    @property
    def loss(self) -> float:
        """Final training SSE over the observed entries."""
        return float(self.losses[-1])

    def predict(self, row: int, col: int) -> float:
        """Predicted value of entry ``(row, col)`` of the ``(m, n)`` reconstruction (negative
        indices refused: :func:`labmf.validation.check_index`)."""
        m, n = self.U.shape[0], self.V.shape[0]
        row = check_index(row, f"row (of a {m} x {n} reconstruction)", m)
        col = check_index(col, f"col (of a {m} x {n} reconstruction)", n)
        return float(self.U[row] @ self.V[col])

    def __repr__(self) -> str:
        m, n = self.U.shape[0], self.V.shape[0]
        parts = [f"method={self.method!r}", f"shape=({m}, {n})", f"rank={self.rank}"]
        if self.lr is not None:
            parts.append(f"lr={self.lr:g}")
        parts.append(f"num_epochs={self.num_epochs}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        parts.append(f"loss={self.loss:.6g}")
        return f"FactorisationResult({', '.join(parts)})"
