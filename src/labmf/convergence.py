"""When a fit has converged, and what it says when it has not (one home for both rules).

* :func:`still_improving` -- did the loss fall by more than ``rtol`` over the last
  ``window`` epochs? (notebooks 01, 03, 04 judge convergence with it);
* :func:`still_falling` -- the library's verdict on a finished run (its last tenth, or the pace
  of its last two, :func:`projected_fall`); every fit warns :class:`ConvergenceWarning` on it
  and the explorer marks it in its summary line;
* :func:`rose` -- did the loss go up by more than its dtype's rounding (``lr_sweep``'s stability);
* :func:`diverged` -- the :class:`DivergenceError` for a loss that became NaN/inf or grew
  beyond :data:`DIVERGED` times its start (:func:`check_loss`, the one definition), naming
  the epoch, the likely cause (:func:`likely_cause`) and a smaller learning rate to try (the
  factorisations and ``labrec``'s ``BiasedMF`` raise it).
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import torch

from .validation import check_scalar

__all__ = ["ConvergenceWarning", "DivergenceError", "STILL_FALLING", "still_improving", "still_falling",
           "warn_if_still_falling", "projected_fall", "rose", "DIVERGED", "diverged", "likely_cause", "check_loss"]

#: A run is "still falling" when its last tenth of epochs lowered the loss by more than this
#: fraction (of the final loss, as :func:`still_improving` measures it).
STILL_FALLING = 0.01
#: ... unless the final loss is below this fraction of the starting one: converged for any purpose.
NEGLIGIBLE = 1e-6
#: A loss that rises by fewer ulps of its dtype than this (at the scale :func:`rose` states) is rounding.
ROUNDING = 16
#: A loss above this many times the larger of its start and the sum of the squared observed entries has diverged.
DIVERGED = 1e4


class DivergenceError(FloatingPointError):
    """Raised when a training loss becomes NaN or infinite."""


class ConvergenceWarning(UserWarning):
    """Warned when a fit stops while its loss is still falling materially (as scikit-learn's)."""


def still_improving(losses, window: int = 100, rtol: float = 0.01) -> bool:
    """Whether the loss fell by more than ``rtol`` (relative) over the last ``window`` epochs.

    ``True`` means training stopped before converging (the learning rate is too small
    for the number of epochs).
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size < 2:
        raise ValueError(f"losses must be 1-D with at least 2 entries, got shape {losses.shape}")
    window = min(check_scalar(window, "window", int, min_val=1), losses.size - 1)
    rtol = check_scalar(rtol, "rtol", float, min_val=0.0)
    before, after = losses[-1 - window], losses[-1]
    return bool(before - after > rtol * abs(after))


def _windows(losses) -> tuple[int, float, float, float] | None:
    """``(window, L0, L1, L2)``: the losses two tenths, one tenth and no epoch before the end (None: < 10 epochs)."""
    w = (len(losses) - 1) // 10  # under 10 epochs: too short a run to judge
    return None if w < 1 else (w, float(losses[-1 - 2 * w]), float(losses[-1 - w]), float(losses[-1]))


def projected_fall(losses) -> float:
    """How much lower (a fraction of the final loss) as many epochs again would take the loss: the falls
    over the last two tenths, ``d1`` then ``d2``, continued geometrically for ten more tenths,
    ``d2 (q + ... + q^10)`` with ``q = d2 / d1`` capped at 1. A converging run (``q`` small) projects
    little, a crawl (``q`` near 1) ten times its last tenth; 0 under 10 epochs or if it did not fall."""
    _, L0, L1, L2 = _windows(losses) or (0, 0.0, 0.0, 0.0)
    d1, d2 = L0 - L1, L1 - L2
    if d2 <= 0 or L2 <= 0:  # no fall to continue (d1 may then be 0: a loss flat, then up by rounding)
        return 0.0
    q = 1.0 if d1 <= d2 else d2 / d1
    return d2 * sum(q**k for k in range(1, 11)) / L2


def still_falling(losses) -> bool:
    """The library's verdict on a finished run of ``len(losses) - 1 >= 10`` epochs (shorter: False): the
    final loss is above :data:`NEGLIGIBLE` times the start (a fit at the float floor has converged, however
    fast it falls) and its last tenth lowered it by over :data:`STILL_FALLING`, or :func:`projected_fall` would."""
    parts = _windows(losses)
    if parts is None or float(losses[-1]) <= NEGLIGIBLE * float(losses[0]):
        return False
    w, _, L1, L2 = parts
    return (L1 - L2) > STILL_FALLING * abs(L2) or projected_fall(losses) > STILL_FALLING


def warn_if_still_falling(losses, method: str, lr: float) -> None:
    """Warn (:class:`ConvergenceWarning`) if :func:`still_falling` says the run stopped too early."""
    if not still_falling(losses):
        return
    w, _, before, after = _windows(losses)
    num_epochs = len(losses) - 1
    warnings.warn(f"{method} stopped while its loss was still falling: {(before - after) / before:.2%} lower over the "
                  f"last {w} of {num_epochs} epochs (SSE {after:.6g}), and at that pace {num_epochs} more epochs would "
                  f"lower it by about {projected_fall(losses):.0%} more. Run more epochs (num_epochs) or raise lr (now "
                  f"{lr:g}); labmf.evaluate.largest_stable_lr(labmf.lr_sweep(...)) finds the largest stable rate on a "
                  "grid.", ConvergenceWarning, stacklevel=_caller_level())


def rose(losses, dtype) -> bool:
    """Whether the loss went up by more than :data:`ROUNDING` ulps of ``dtype`` at the scale
    ``sqrt(loss * max(losses))`` (the rounding of ``A - U V^T``, about eps |A|, enters the SSE times the
    residual): a converged float32 loss wobbles (17.79310042 -> 17.79310121) without being unstable."""
    L = np.asarray(losses, dtype=np.float64)
    scale = np.sqrt(np.abs(L[1:]) * float(np.max(np.abs(L), initial=0.0)))
    return bool(np.any(np.diff(L) > ROUNDING * torch.finfo(dtype).eps * scale))


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside labmf (the user's call)."""
    package = __file__.rsplit("/", 1)[0]
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def diverged(method: str, what: str, *, lr: float, epoch: int | None = None, lr_bias: float | None = None,
             try_lr: float | None = None, cause: str | None = None) -> DivergenceError:
    """The one divergence message: ``method``, ``what`` happened (``"the loss became nan"``), the
    epoch when known, the learning rate(s), the likely ``cause`` when the caller knows one
    (:func:`likely_cause`), and a rate ten times smaller (than ``try_lr``, default ``lr``) to try."""
    when = "" if epoch is None else f" at epoch {epoch}"
    rates = f"lr={lr:g}" if lr_bias is None else f"lr={lr:g}, lr_bias={lr_bias:g}"
    why = "; " if not cause else f"; likely cause: {cause}; or "
    return DivergenceError(f"{method} diverged: {what}{when} with {rates}{why}"
                           f"lower lr (try lr={(lr if try_lr is None else try_lr) / 10:g})")


def likely_cause(max_abs: float, init_max: float | None = None) -> str | None:
    """Why a fit on data of largest entry ``max_abs`` from factors of largest entry ``init_max`` (None: a
    random start) diverges, besides a too-large lr (None): a step scales with the data and the factors."""
    causes = []
    if max_abs > 100:
        causes.append(f"A's entries are large (max |A| = {max_abs:.3g}) and a stable lr shrinks as they grow; "
                      f"rescale A (e.g. A / {max_abs:.3g})")
    if init_max is not None and init_max**2 > 100 * max(max_abs, 1.0):
        causes.append(f"the starting factors (init) are large (max |U|, |V| = {init_max:.3g}) for data of size "
                      f"{max_abs:.3g}; start from smaller factors")
    return "; ".join(causes) or None


def check_loss(loss: float, epoch: int, lr: float, method: str, *, bound: float = math.inf,
               cause: str | None = None) -> None:
    """Raise :func:`diverged`'s :class:`DivergenceError` if ``loss`` is NaN/inf or above ``bound``
    (:data:`DIVERGED` times the larger of the starting loss and the zero factorisation's)."""
    if not math.isfinite(loss):
        raise diverged(method, f"the loss became {loss}", epoch=epoch, lr=lr, cause=cause)
    if loss > bound:
        raise diverged(method, f"the loss grew to {loss:.4g}, over {DIVERGED:g} times the larger of its start and "
                       f"the sum of the squared observed entries ({bound / DIVERGED:.4g})", epoch=epoch, lr=lr,
                       cause=cause)

