"""Plots shared by the notebooks and the report.

:func:`plot_loss_curves` draws into a given Axes or, without one, into a new figure with
constrained layout, so a saved figure (``fig.savefig(path)``; add
``bbox_inches="tight"`` for an Axes you laid out yourself) never clips its labels.
Text sizes are in points at the figure's own size: a figure printed narrower than
its ``figsize`` shrinks them in proportion, so keep ``fontsize`` >= 7 / (print
width / figure width).
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from .result import FactorisationResult
from .validation import check_scalar

__all__ = ["plot_loss_curves", "loss_label"]

#: Curves drawn in the default colour cycle before a colour map takes over (the cycle has 10 colours).
MAX_CYCLE = 10
# Styles of the reference lines, in turn: black dashed first (the optimum), then others.
_REFERENCE_STYLES = (("k", "--"), ("0.45", ":"), ("tab:brown", "-."), ("tab:olive", (0, (5, 1, 1, 1))))


def _pyplot():
    # Imported on first use: `import labmf` should not pay for matplotlib.
    import matplotlib.pyplot as plt

    return plt


def _masked(res: FactorisationResult) -> bool | None:
    """Whether ``res`` was fitted to a subset of the entries: True, False, or None (unknown).

    Read from ``info["masked"]`` when the fit recorded it, else from the number of
    observed entries the compiled kernels record (``info["nnz"]``) against the matrix
    size; a sparse fit is masked by nature, a truncated SVD never is.
    """
    info = res.info or {}
    if "masked" in info:
        return bool(info["masked"])
    if info.get("sparse"):
        return True
    if res.method == "svd":
        return False
    if "nnz" in info:
        return int(info["nnz"]) < res.U.shape[0] * res.V.shape[0]
    return None


def loss_label(results) -> str:
    """The y-axis label true to ``results``: which entries their training SSE is over.

    Parameters
    ----------
    results : iterable of FactorisationResult

    Returns
    -------
    str
        ``"training SSE (observed entries)"`` if any result was fitted to a mask,
        ``"training SSE (all entries)"`` if every one is known to use all entries,
        else ``"training SSE"``.
    """
    flags = [_masked(r) for r in results]
    if any(f is True for f in flags):
        return "training SSE (observed entries)"
    if flags and all(f is False for f in flags):
        return "training SSE (all entries)"
    return "training SSE"


def _check_results(results) -> dict:
    if isinstance(results, FactorisationResult):
        results = {results.method: results}
    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a FactorisationResult or a mapping label -> result, "
                        f"got {type(results).__name__}")
    for label, res in results.items():
        if not isinstance(res, FactorisationResult):
            raise TypeError(f"results[{label!r}] must be a FactorisationResult, got {type(res).__name__}")
    return dict(results)


def _colours(results: dict, cmap):
    """One colour per curve, and the ScalarMappable for a colour bar (None with the cycle).

    With a colour map, numeric labels (seeds, learning rates) are the coloured values;
    other labels are coloured by their position.
    """
    if cmap is None and len(results) <= MAX_CYCLE:
        return [f"C{k}" for k in range(len(results))], None
    import matplotlib as mpl

    keys = list(results)
    numeric = all(isinstance(k, Real) and not isinstance(k, bool) for k in keys)
    values = np.asarray(keys if numeric else range(len(keys)), dtype=float)
    lo, hi = float(values.min()), float(values.max())
    norm = mpl.colors.Normalize(lo, hi if hi > lo else lo + 1)
    mappable = mpl.cm.ScalarMappable(norm=norm, cmap=mpl.colormaps[cmap or "viridis"])
    return [mappable.to_rgba(v) for v in values], mappable


def plot_loss_curves(
    results: Mapping[str, FactorisationResult] | FactorisationResult,
    *,
    ax=None,
    logy: bool = True,
    reference: Mapping[str, float] | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    cmap: str | None = None,
    colorbar_label: str | None = None,
    fontsize: float = 9,
    figsize=(6, 3.6),
):
    """Plot ``losses`` against epoch for one or several results.

    Parameters
    ----------
    results : FactorisationResult or mapping label -> FactorisationResult
        A result with a single loss (a closed-form fit such as the truncated SVD)
        is drawn as a horizontal line at that loss.
    ax : matplotlib Axes, optional
        Draw here; by default a new figure of ``figsize`` (inches) with constrained layout.
    logy : bool
        Logarithmic y axis (losses span orders of magnitude).
    reference : mapping label -> float, optional
        Horizontal lines, e.g. the truncated-SVD optimum, each in its own style. On a
        log axis a value <= 0 cannot be drawn; it is named in the legend instead.
    title : str, optional
    ylabel : str, optional
        Default: :func:`loss_label` of the results ("observed entries" only when a
        result was fitted to a mask).
    cmap : str, optional
        Colour the curves from this matplotlib colour map and add a colour bar (the
        legend then lists only the reference lines). Used anyway, as ``"viridis"``,
        for more than :data:`MAX_CYCLE` curves, so that no two curves share a colour.
        Numeric labels (e.g. seeds) are the coloured values.
    colorbar_label : str, optional
        Label of the colour bar (default ``"curve"``).
    fontsize : float
        Legend, tick and axis-label size in points (> 0); the title is one point larger.

    Returns
    -------
    matplotlib Axes
    """
    results = _check_results(results)
    fontsize = check_scalar(fontsize, "fontsize", float, min_val=0, include_boundaries="neither")
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    colours, mappable = _colours(results, cmap)
    for colour, (label, res) in zip(colours, results.items(), strict=True):
        losses = res.losses.double().numpy()
        shown = label if mappable is None else None
        if len(losses) == 1:  # closed form: one value, no epochs to draw it against
            ax.axhline(losses[0], color=colour, lw=1.4, label=shown)
            continue
        # On a log axis a loss of exactly 0 would vanish; clip to the smallest float.
        y = np.maximum(losses, np.finfo(float).tiny) if logy else losses
        ax.plot(np.arange(len(losses)), y, color=colour, label=shown, lw=1.4)
    for k, (label, value) in enumerate((reference or {}).items()):
        colour, style = _REFERENCE_STYLES[k % len(_REFERENCE_STYLES)]
        if logy and value <= 0:
            ax.plot([], [], color=colour, ls=style, lw=1.2, label=f"{label} = {value:g} (off the log axis)")
        else:
            ax.axhline(value, color=colour, ls=style, lw=1.2, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch", fontsize=fontsize)
    ax.set_ylabel(loss_label(results.values()) if ylabel is None else ylabel, fontsize=fontsize)
    ax.tick_params(labelsize=fontsize)
    if title:
        ax.set_title(title, fontsize=fontsize + 1)
    ax.grid(True, which="major", alpha=0.3)
    if mappable is not None:
        bar = ax.figure.colorbar(mappable, ax=ax, pad=0.02)
        bar.set_label(colorbar_label or "curve", fontsize=fontsize)
        if all(isinstance(k, Integral) for k in results) or not all(isinstance(k, Real) for k in results):
            from matplotlib.ticker import MaxNLocator

            bar.locator = MaxNLocator(integer=True)  # seeds or positions: no tick at 2.5
            bar.update_ticks()
        bar.ax.tick_params(labelsize=fontsize)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=fontsize)
    return ax

