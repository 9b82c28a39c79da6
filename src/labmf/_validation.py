"""Input checks shared by every algorithm.

The messages follow scikit-learn's habit: name the parameter, show the bad value,
say what was expected. Every public function validates through these helpers so
that the same mistake gives the same error everywhere.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch

__all__ = [
    "check_matrix",
    "check_mask",
    "check_binary",
    "check_rank",
    "check_lr",
    "check_num_epochs",
    "make_generator",
    "check_int",
    "check_real",
    "check_numpy_seed",
    "check_callback",
    "check_finite_loss",
    "DivergenceError",
]


class DivergenceError(FloatingPointError):
    """Raised when a training loss becomes NaN or infinite."""


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return repr(x)


def check_matrix(A, name: str = "A") -> torch.Tensor:
    """Return ``A`` as a 2-D floating tensor, or raise.

    Integer and boolean tensors (and nested lists / numpy arrays) are converted to
    the default floating dtype; floating tensors keep their dtype.
    """
    if not isinstance(A, torch.Tensor):
        try:
            A = torch.as_tensor(A)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise TypeError(
                f"{name} must be a 2-D tensor (or array-like), got {type(A).__name__}"
            ) from exc
    if A.is_complex():
        raise TypeError(f"{name} must be real, got complex dtype {A.dtype}")
    if A.device.type != "cpu":
        raise ValueError(f"{name} must be on the CPU, got a tensor on {A.device}")
    # A tensor that is part of a graph is data here, not a parameter.
    A = A.detach()
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (m x n), got {A.ndim}-D tensor of shape {tuple(A.shape)}"
        )
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(A.shape)}")
    if not A.is_floating_point():
        A = A.to(torch.get_default_dtype())
    elif A.dtype in (torch.float16, torch.bfloat16):
        # Half precision stalls gradient descent silently (updates round to nothing)
        # and has no CPU SVD: compute in float32.
        A = A.float()
    bad = ~torch.isfinite(A)
    if bool(bad.any()):
        r, c = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name} must be finite; found {int(bad.sum())} NaN/inf value(s), "
            f"first at {name}[{r}, {c}] = {A[r, c].item()}"
        )
    return A


def check_mask(M, A: torch.Tensor, name: str = "M") -> torch.Tensor | None:
    """Return the 0/1 mask as a tensor of ``A``'s dtype (``None`` stays ``None``)."""
    if M is None:
        return None
    if not isinstance(M, torch.Tensor):
        try:
            M = torch.as_tensor(M)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(
                f"{name} must be a 0/1 tensor of A's shape, got {type(M).__name__}"
            ) from exc
    if tuple(M.shape) != tuple(A.shape):
        hint = ""
        if M.ndim == 0 and not M.is_floating_point():
            hint = f" (did you mean rank={int(M)}? the order is A, mask, rank)"
        raise ValueError(
            f"{name} must have the same shape as A {tuple(A.shape)}, got {tuple(M.shape)}{hint}"
        )
    M = check_binary(M.detach(), name).to(A.dtype)
    if not bool(M.any()):
        raise ValueError(f"{name} observes no entry (all zeros); nothing to fit")
    return M


def check_binary(M: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Return the tensor ``M`` unchanged if it is boolean or holds only 0 and 1, else raise."""
    if M.dtype != torch.bool:
        ok = (M == 0) | (M == 1)
        if not bool(ok.all()):
            bad = sorted({float(v) for v in M[~ok].flatten()[:5].tolist()})
            raise ValueError(
                f"{name} must contain only 0 and 1 (or be boolean), found value(s) {bad}"
            )
    return M


def check_rank(rank, A: torch.Tensor, name: str = "rank") -> int:
    """Return ``rank`` as an int in ``[1, min(m, n)]``, or raise."""
    if isinstance(rank, bool) or not isinstance(rank, Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(rank)}")
    limit = min(A.shape)
    if not 1 <= rank <= limit:
        raise ValueError(
            f"{name} must be between 1 and min(m, n) = {limit} for A of shape "
            f"{tuple(A.shape)}, got {rank}"
        )
    return int(rank)


def check_lr(lr, name: str = "lr") -> float:
    """Return ``lr`` as a positive finite float, or raise."""
    if isinstance(lr, bool) or not isinstance(lr, Real):
        raise TypeError(f"{name} must be a positive real number, got {_describe(lr)}")
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{name} must be a positive finite number, got {lr}")
    return lr


def check_num_epochs(num_epochs, name: str = "num_epochs") -> int:
    """Return ``num_epochs`` as a non-negative int, or raise."""
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {_describe(num_epochs)}")
    if num_epochs < 0:
        raise ValueError(f"{name} must be >= 0, got {num_epochs}")
    return int(num_epochs)


def check_int(value, name: str, minimum: int) -> int:
    """Return ``value`` as an int ``>= minimum``, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(value, name: str, *, positive: bool, upper: float | None = None) -> float:
    """Return ``value`` as a finite float (> 0 or >= 0, optionally <= ``upper``), or raise."""
    what = "a positive" if positive else "a non-negative"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {what} real number, got {value!r}")
    value = float(value)
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if upper is not None:
        ok = ok and value <= upper
    if not ok:
        bound = f" and <= {upper:g}" if upper is not None else ""
        raise ValueError(f"{name} must be {what} finite number{bound}, got {value!r}")
    return value


def check_numpy_seed(seed, *, allow_none: bool = False):
    """Return a seed for ``numpy.random.default_rng``: an int, a Generator (or None).

    The numpy-side twin of :func:`make_generator`, for the modules that shuffle
    ratings with numpy (splits, the recommender).
    """
    if isinstance(seed, np.random.Generator) or (allow_none and seed is None):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        options = "None, an integer" if allow_none else "an integer"
        raise TypeError(f"seed must be {options} or a numpy Generator, got {type(seed).__name__} {seed!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)


def make_generator(seed=None, generator: torch.Generator | None = None) -> torch.Generator | None:
    """Resolve the ``seed`` / ``generator`` pair into a generator.

    ``seed`` creates a fresh CPU generator; ``generator`` is used as is (its state
    advances); with neither, ``None`` is returned and torch's global generator is
    used, which is what the handout's unseeded ``torch.rand`` does.
    """
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {_describe(generator)}")
        return generator
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be an integer, got {_describe(seed)}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def check_callback(callback, name: str = "callback"):
    """Return ``callback`` if it is None or callable, else raise before any work."""
    if callback is not None and not callable(callback):
        raise TypeError(f"{name} must be callable as {name}(epoch, loss) or None, got {_describe(callback)}")
    return callback


def check_finite_loss(loss: float, epoch: int, lr: float, method: str) -> None:
    """Raise :class:`DivergenceError` if ``loss`` is NaN or infinite."""
    if not math.isfinite(loss):
        raise DivergenceError(
            f"{method} diverged: the loss became {loss} at epoch {epoch} with lr={lr:g}; "
            f"lower lr (try lr={lr / 10:g})"
        )
