"""Input checks shared by every algorithm.

The messages follow scikit-learn's habit: name the parameter, show the bad value,
say what was expected. Every public function validates through these helpers so
that the same mistake gives the same error everywhere.

labmf runs on the CPU only: every tensor argument (``A``, masks, metric arguments,
sparse tensors, index tensors) goes through :func:`check_device`, which refuses a
tensor on another device (``cuda``, ``mps``, ``meta``) with one message.

NaN may mark a missing entry of a dense ``A``, but only under a mask that leaves it
out (:func:`check_observed`): a NaN the mask observes, or a NaN with no mask, is
refused with the fix (``mask=~torch.isnan(A)``).
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real

import numpy as np
import torch

__all__ = [
    "check_scalar", "check_rank", "check_index", "check_lr", "check_num_epochs", "MAX_EPOCHS", "check_n_jobs",
    "check_seed", "check_numpy_seed", "make_generator", "check_callback",  # scalars and seeds
    "check_device", "check_matrix", "check_observed", "check_mask", "check_binary", "pair_groups",  # arrays
    "available_memory", "check_memory",
]


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return repr(x)


def check_device(x, name: str):
    """Return ``x`` unchanged unless it is a tensor on a device other than the CPU, then raise.

    labmf's kernels (numba) and its numpy paths run on the CPU only; one message
    for every argument, before any computation touches the tensor.
    """
    if isinstance(x, torch.Tensor) and x.device.type != "cpu":
        raise ValueError(f"{name} must be on the CPU, got a tensor on {x.device} (labmf runs on the CPU only)")
    return x


def _as_tensor(x, name: str, what: str) -> torch.Tensor:
    """``x`` as a CPU tensor, or a TypeError saying that ``name`` must be ``what``."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise TypeError(f"{name} must be {what}, got {type(x).__name__}") from exc
    return check_device(x, name)


def _as_matrix(A, name: str) -> torch.Tensor:
    """``A`` as a non-empty 2-D real floating CPU tensor (values not checked)."""
    A = _as_tensor(A, name, "a 2-D tensor (or array-like)")
    if A.is_complex():
        raise TypeError(f"{name} must be real, got complex dtype {A.dtype}")
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
    return A


def _check_finite(A: torch.Tensor, name: str) -> torch.Tensor:
    bad = ~torch.isfinite(A)
    if bool(bad.any()):
        r, c = (int(i) for i in bad.nonzero()[0])
        hint = ""
        if bool(torch.isnan(A).any()):
            hint = (f"; if NaN marks a missing entry, pass a mask that leaves it out, e.g. "
                    f"mask=~torch.isnan({name})")
        raise ValueError(
            f"{name} must be finite; found {int(bad.sum())} NaN/inf value(s), "
            f"first at {name}[{r}, {c}] = {A[r, c].item()}{hint}"
        )
    return A


def check_matrix(A, name: str = "A") -> torch.Tensor:
    """Return ``A`` as a 2-D floating CPU tensor with finite values, or raise.

    Integer and boolean tensors (and nested lists / numpy arrays) are converted to
    the default floating dtype; floating tensors keep their dtype. A tensor on
    another device than the CPU is refused (:func:`check_device`).
    """
    return _check_finite(_as_matrix(A, name), name)


def check_observed(A, mask, name: str = "A", mask_name: str = "mask"):
    """Check a dense ``A`` and its ``mask`` together; NaN in ``A`` may mark a missing entry.

    Returns ``(A, M)`` as :func:`check_matrix` and :func:`check_mask` would, except
    that NaN is accepted where ``mask`` is 0: ``A`` is then a copy with those
    entries set to 0 (the caller's tensor is untouched; unobserved entries never
    enter a fit or a metric).

    Raises
    ------
    ValueError
        NaN where ``mask`` is 1, or NaN with no mask (the message shows the fix,
        ``mask=~torch.isnan(A)``); inf anywhere.
    """
    A = _as_matrix(A, name)
    nan = torch.isnan(A)
    if mask is None or not bool(nan.any()):
        return _check_finite(A, name), check_mask(mask, A, mask_name)
    M = check_mask(mask, A, mask_name)
    seen = nan & M.bool()
    if bool(seen.any()):
        r, c = (int(i) for i in seen.nonzero()[0])
        raise ValueError(f"{name}[{r}, {c}] is NaN where {mask_name} is 1 (observed); {int(seen.sum())} such "
                         f"entries. Set {mask_name} to 0 there (e.g. {mask_name} & ~torch.isnan({name}))")
    return _check_finite(A.masked_fill(nan, 0), name), M


def check_mask(M, A: torch.Tensor, name: str = "M") -> torch.Tensor | None:
    """Return the 0/1 mask as a tensor of ``A``'s dtype (``None`` stays ``None``)."""
    if M is None:
        return None
    M = _as_tensor(M, name, "a 0/1 tensor of A's shape")
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


def pair_groups(x, y) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int] | None]:
    """Sort the pairs ``(x[j], y[j])`` and find those that repeat (the one duplicate-pair check).

    Sorted, not keyed as ``x * n + y``: any sortable ids work (strings too) and nothing
    can overflow int64.

    Parameters
    ----------
    x, y : ndarray, shape (n,)

    Returns
    -------
    order : ndarray of int, shape (n,)
        Positions sorted by ``(x, y)``; stable, so a pair's rows keep their order.
    first : ndarray of bool, shape (n,)
        True where ``order[k]`` is the first row of its pair.
    repeat : (int, int, int) or None
        None when no pair repeats; else (rows that repeat an earlier row's pair, the
        earliest such row ``b``, the row ``a < b`` that first had its pair).
    """
    order = np.lexsort((y, x))
    sx, sy = x[order], y[order]
    first = np.r_[True, (sx[1:] != sx[:-1]) | (sy[1:] != sy[:-1])]
    if first.all():
        return order, first, None
    start = np.maximum.accumulate(np.where(first, np.arange(first.size), 0))
    repeats = np.flatnonzero(~first)
    k = repeats[np.argmin(order[repeats])]
    return order, first, (int(repeats.size), int(order[start[k]]), int(order[k]))


def check_binary(M: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Return the CPU tensor ``M`` unchanged if it is boolean or holds only 0 and 1, else raise."""
    check_device(M, name)
    if M.dtype != torch.bool:
        ok = (M == 0) | (M == 1)
        if not bool(ok.all()):
            bad = sorted({float(v) for v in M[~ok].flatten()[:5].tolist()})
            raise ValueError(
                f"{name} must contain only 0 and 1 (or be boolean), found value(s) {bad}"
            )
    return M


def check_scalar(x, name: str, target_type, *, min_val=None, max_val=None,
                 include_boundaries: str = "both"):
    """Return the scalar ``x`` converted to ``target_type``, or raise naming ``name``.

    The one scalar checker of the package, modelled on scikit-learn's
    ``sklearn.utils.check_scalar``. ``target_type`` is ``int`` (any
    :class:`numbers.Integral` but not bool, so numpy and torch integers pass) or
    ``float`` (any :class:`numbers.Real` but not bool; must be finite). Bounds are
    inclusive or exclusive by ``include_boundaries`` (``"both"``, ``"left"``,
    ``"right"``, ``"neither"``).

    Raises
    ------
    TypeError
        ``x`` is not of the target type (booleans never are).
    ValueError
        ``x`` is out of bounds, or a float that is NaN or infinite.
    """
    if include_boundaries not in ("both", "left", "right", "neither"):
        raise ValueError(f"include_boundaries must be 'both', 'left', 'right' or 'neither', "
                         f"got {include_boundaries!r}")
    kind = {int: Integral, float: Real}.get(target_type)
    if kind is None:
        raise TypeError(f"target_type must be int or float, got {target_type!r}")
    noun = "an integer" if target_type is int else "a real number"
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, kind):
        raise TypeError(f"{name} must be {noun}, got {_describe(x)}")
    try:
        x = target_type(x)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be finite, got {x!r}") from None
    if target_type is float and not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    low_ok = min_val is None or (x >= min_val if include_boundaries in ("both", "left") else x > min_val)
    high_ok = max_val is None or (x <= max_val if include_boundaries in ("both", "right") else x < max_val)
    if not (low_ok and high_ok):
        left = "[" if include_boundaries in ("both", "left") else "("
        right = "]" if include_boundaries in ("both", "right") else ")"
        lo = "-inf" if min_val is None else _bound(min_val)
        hi = "inf" if max_val is None else _bound(max_val)
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {x!r}")
    return x


def _bound(v) -> str:
    # Integers exactly (a seed's bound is 2**63, not 9.22337e+18); floats briefly.
    if isinstance(v, Integral):
        return "2**63" if v == 2**63 else str(int(v))
    return f"{v:g}"


def check_rank(rank, A: torch.Tensor, name: str = "rank") -> int:
    """Return ``rank`` as an int in ``[1, min(m, n)]``, or raise."""
    return check_scalar(rank, name, int, min_val=1, max_val=min(A.shape))


def check_index(i, name: str, n: int) -> int:
    """Return ``i`` as a position in ``range(n)``, or raise naming ``name``. Negative positions
    are refused rather than counted from the end: a negative row is almost always a bug."""
    return check_scalar(i, name, int, min_val=0, max_val=n - 1)


def check_lr(lr, name: str = "lr") -> float:
    """Return ``lr`` as a positive finite float, or raise."""
    return check_scalar(lr, name, float, min_val=0.0, include_boundaries="neither")


MAX_EPOCHS = 10**8  # a float64 loss per epoch (0.8 GB) and hours even on the 3 x 3: more is a typo


def check_num_epochs(num_epochs, name: str = "num_epochs") -> int:
    """Return ``num_epochs`` as an int in ``[0, MAX_EPOCHS]``, or raise."""
    return check_scalar(num_epochs, name, int, min_val=0, max_val=MAX_EPOCHS)


def check_n_jobs(n_jobs, name: str = "n_jobs", *, per_core: int = 4) -> int:
    """Return ``n_jobs`` as an int in ``[1, per_core * cores]`` (at least 8), or raise: more threads only queue
    for the same cores, and ``10**12`` would start threads until the system refused one."""
    limit = max(8, per_core * (os.cpu_count() or 1))
    try:
        return check_scalar(n_jobs, name, int, min_val=1, max_val=limit)
    except ValueError as exc:
        raise ValueError(f"{exc} ({per_core} threads per core on this machine's {os.cpu_count()} cores)") from None


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as an int in ``[0, 2**63)``, or raise."""
    return check_scalar(seed, name, int, min_val=0, max_val=2**63, include_boundaries="left")


def check_numpy_seed(seed, *, allow_none: bool = False):
    """Return a seed for ``numpy.random.default_rng``: an int, a Generator (or None).

    The numpy-side twin of :func:`make_generator`, for the modules that shuffle
    ratings with numpy (splits, the recommender).
    """
    if isinstance(seed, np.random.Generator) or (allow_none and seed is None):
        return seed
    return check_seed(seed)


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
    g = torch.Generator()
    g.manual_seed(check_seed(seed))
    return g


def check_callback(callback, name: str = "callback"):
    """Return ``callback`` if it is None or callable, else raise before any work."""
    if callback is not None and not callable(callback):
        raise TypeError(f"{name} must be callable as {name}(epoch, loss) or None, got {_describe(callback)}")
    return callback


def available_memory() -> int | None:
    """Bytes the kernel can hand out now (``MemAvailable`` of /proc/meminfo), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(nbytes: int, what: str) -> None:
    """Raise MemoryError, before anything is allocated, if ``what`` needs more than is available.

    ``nbytes`` is the caller's estimate; the message shows it and what is available so
    that a user can tell how far the problem must shrink.
    """
    free = available_memory()
    if free is not None and nbytes > free:
        raise MemoryError(f"{what} would need about {nbytes / 2**30:,.1f} GiB but only {free / 2**30:,.1f} GiB "
                          "is available; use fewer ratings, users/items or factors, or a machine with more "
                          "memory (see README, 'Scale')")
