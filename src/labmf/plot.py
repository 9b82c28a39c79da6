"""Plots shared by the notebooks and the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .result import FactorisationResult

__all__ = ["plot_loss_curves", "plot_seed_spread"]


def _pyplot():
    # Imported on first use: `import labmf` should not pay for matplotlib.
    import matplotlib.pyplot as plt

    return plt


def plot_loss_curves(
    results: Mapping[str, FactorisationResult] | FactorisationResult,
    *,
    ax=None,
    logy: bool = True,
    reference: Mapping[str, float] | None = None,
    title: str | None = None,
    ylabel: str = "training SSE (observed entries)",
):
    """Plot ``losses`` against epoch for one or several results.

    Parameters
    ----------
    results : FactorisationResult or mapping label -> FactorisationResult
    ax : matplotlib Axes, optional
    logy : bool
        Logarithmic y axis (losses span orders of magnitude).
    reference : mapping label -> float, optional
        Horizontal lines, e.g. the truncated-SVD optimum.
    title, ylabel : str

    Returns
    -------
    matplotlib Axes
    """
    if isinstance(results, FactorisationResult):
        results = {results.method: results}
    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a FactorisationResult or a mapping label -> result, "
                        f"got {type(results).__name__}")
    for label, res in results.items():
        if not isinstance(res, FactorisationResult):
            raise TypeError(f"results[{label!r}] must be a FactorisationResult, got {type(res).__name__}")
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 3.6))
    for label, res in results.items():
        losses = res.losses.double().numpy()
        epochs = np.arange(len(losses))
        # On a log axis a loss of exactly 0 would vanish; clip to the smallest float.
        y = np.maximum(losses, np.finfo(float).tiny) if logy else losses
        ax.plot(epochs, y, label=label, lw=1.4)
    for label, value in (reference or {}).items():
        ax.axhline(value, ls="--", lw=1, color="k", alpha=0.6, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_seed_spread(
    values: Mapping[str, Sequence[float]],
    truth: Mapping[str, float] | None = None,
    *,
    ax=None,
    ylabel: str = "value",
    title: str | None = None,
):
    """Strip plot of one quantity per seed, grouped by label, with the true value.

    Parameters
    ----------
    values : mapping label -> sequence of floats (one per seed)
    truth : mapping label -> float, optional
        Drawn as a short horizontal bar at each group.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping label -> sequence of floats, got {type(values).__name__}")
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 3.6))
    labels = list(values)
    for i, label in enumerate(labels):
        v = np.asarray(values[label], dtype=float)
        # Deterministic jitter so points do not overlap and plots are reproducible.
        jitter = (np.arange(len(v)) % 7 - 3) * 0.03
        ax.scatter(i + jitter, v, s=18, alpha=0.8, label="seeds" if i == 0 else None)
        if truth and label in truth:
            ax.hlines(truth[label], i - 0.3, i + 0.3, colors="crimson", lw=2,
                      label="true value" if i == 0 else None)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax
