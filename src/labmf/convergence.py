"""When a fit has converged, and what it says when it has not (one home for both rules).

* :func:`still_improving` -- did the loss fall by more than ``rtol`` over the last
  ``window`` epochs? (notebooks 01, 03, 04 judge convergence with it);
* :func:`still_falling` -- the library's own verdict on a finished run: its last tenth of
  epochs lowered the loss by more than :data:`STILL_FALLING` (1 %), and the loss is not
  already negligible. Every fit warns :class:`ConvergenceWarning` on it and the explorer
  marks it in its summary line;
* :func:`diverged` -- the :class:`DivergenceError` for a loss that became NaN/inf, naming
  the epoch and a smaller learning rate to try (the factorisations and ``labrec``'s
  ``BiasedMF`` raise it).
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

from .validation import check_scalar

__all__ = [
    "ConvergenceWarning",
    "DivergenceError",
    "STILL_FALLING",
    "still_improving",
    "still_falling",
    "warn_if_still_falling",
    "diverged",
    "check_finite_loss",
]

#: A run is "still falling" when its last tenth of epochs lowered the loss by more than this
#: fraction (of the final loss, as :func:`still_improving` measures it).
STILL_FALLING = 0.01
#: ... unless the final loss is below this fraction of the starting one: converged for any purpose.
NEGLIGIBLE = 1e-6


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


def still_falling(losses) -> bool:
    """The library's verdict on a finished run of ``len(losses) - 1 >= 10`` epochs (shorter: False).

    True when its last tenth of epochs lowered the loss by more than :data:`STILL_FALLING`
    and the final loss is not negligible (above :data:`NEGLIGIBLE` times the starting one).
    """
    num_epochs = len(losses) - 1
    if num_epochs < 10:  # too short a run to judge
        return False
    # A loss a million times below its start is converged for any purpose, however fast it still falls.
    negligible = float(losses[-1]) <= NEGLIGIBLE * float(losses[0])
    return still_improving(losses, num_epochs // 10, STILL_FALLING) and not negligible


def warn_if_still_falling(losses, method: str, lr: float) -> None:
    """Warn (:class:`ConvergenceWarning`) if :func:`still_falling` says the run stopped too early."""
    if not still_falling(losses):
        return
    num_epochs = len(losses) - 1
    window = num_epochs // 10
    before, after = float(losses[-1 - window]), float(losses[-1])
    warnings.warn(
        f"{method} stopped while its loss was still falling: {(before - after) / before:.2%} lower over the "
        f"last {window} of {num_epochs} epochs (SSE {after:.6g}). Run more epochs (num_epochs) or raise lr "
        f"(now {lr:g}); labmf.evaluate.largest_stable_lr(labmf.lr_sweep(...)) finds the largest stable rate on "
        "a grid.",
        ConvergenceWarning,
        stacklevel=_caller_level(),
    )


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside labmf (the user's call)."""
    package = __file__.rsplit("/", 1)[0]
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def diverged(method: str, what: str, *, lr: float, epoch: int | None = None, lr_bias: float | None = None,
             try_lr: float | None = None) -> DivergenceError:
    """The one divergence message: ``method``, ``what`` happened (``"the loss became nan"``), the
    epoch when known, the learning rate(s) and a rate ten times smaller (than ``try_lr``,
    default ``lr``) to try."""
    when = "" if epoch is None else f" at epoch {epoch}"
    rates = f"lr={lr:g}" if lr_bias is None else f"lr={lr:g}, lr_bias={lr_bias:g}"
    return DivergenceError(f"{method} diverged: {what}{when} with {rates}; "
                           f"lower lr (try lr={(lr if try_lr is None else try_lr) / 10:g})")


def check_finite_loss(loss: float, epoch: int, lr: float, method: str) -> None:
    """Raise :func:`diverged`'s :class:`DivergenceError` if ``loss`` is NaN or infinite."""
    if not math.isfinite(loss):
        raise diverged(method, f"the loss became {loss}", epoch=epoch, lr=lr)
