"""Reconstruction errors over a mask: the one implementation used everywhere.

The lab's loss is the *sum* of squared errors (SSE), ``||M * (A - B)||_F^2``;
``torch.nn.functional.mse_loss(B, A, reduction="sum")`` is the same number when
no mask is given. MSE and RMSE divide by the number of *observed* entries, so an
unrated cell never counts as a rating of zero.

``prediction`` may be a :class:`~labmf.FactorisationResult` (its ``U @ V.T`` is
used): ``rmse(A, result, mask)``. Unobserved entries may hold NaN (missing); a NaN
the mask observes is refused. CPU tensors only (:func:`labmf.validation.check_device`).

A sparse ``target`` is scored on its stored (observed) entries, ``mask`` None; a sparse
``prediction`` or ``mask`` is densified.
"""

from __future__ import annotations

import torch

from . import sparse as _sparse
from .result import FactorisationResult
from .validation import check_binary, check_device

__all__ = ["sse", "mse", "rmse", "mae", "reconstruction_sse"]


def _masked_residual(target, prediction, mask, *, mean: bool = False) -> torch.Tensor:
    """``target - prediction`` on the entries where ``mask`` is 1, flattened (at least one if ``mean``)."""
    if isinstance(prediction, FactorisationResult):
        prediction = prediction.reconstruction
    if _sparse.is_sparse(prediction):
        prediction = prediction.to_dense()
    if _sparse.is_sparse(mask):
        mask = mask.to_dense()
    if _sparse.is_sparse(target):
        target, prediction, mask = _stored(target, prediction, mask)
    target = torch.as_tensor(check_device(target, "target"))
    prediction = torch.as_tensor(check_device(prediction, "prediction"))
    if target.shape != prediction.shape:
        raise ValueError(f"target and prediction must have the same shape, got "
                         f"{tuple(target.shape)} and {tuple(prediction.shape)}")
    dtype = torch.promote_types(target.dtype, prediction.dtype)
    if dtype.is_complex:
        raise TypeError(f"target and prediction must be real, got dtype {dtype}")
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    # Half precision overflows at 65504, so its differences are taken in float32
    # (exactly); float32/64 keep their dtype, so reported figures do not move.
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    diff = target.to(dtype) - prediction.to(dtype)
    if dtype != torch.float64 and not bool(torch.isfinite(diff).all()):
        # An inf from overflow (not from the inputs) disappears in float64.
        diff = target.double() - prediction.double()
    if mask is not None:
        mask = torch.as_tensor(check_device(mask, "mask"))
        if mask.shape != target.shape:
            raise ValueError(f"mask must have the target's shape {tuple(target.shape)}, got {tuple(mask.shape)}")
        diff = diff[check_binary(mask).bool()]
    if mean and diff.numel() == 0:
        raise ValueError("mask observes no entry; the mean is undefined")
    return diff.flatten()


def _stored(target, prediction, mask):
    """A sparse ``target``'s stored values and ``prediction`` at those entries, both (nnz,), no mask."""
    if mask is not None:
        raise ValueError(f"mask must be None when target is sparse (its stored entries are the observed ones), "
                         f"got {type(mask).__name__}")
    target = _sparse.check_sparse_matrix(target, "target")
    prediction = torch.as_tensor(check_device(prediction, "prediction"))
    if tuple(prediction.shape) != tuple(target.shape):  # else the dense check below names both shapes
        return target.to_dense(), prediction, None
    return target.values(), prediction[tuple(target.indices())], None


def _checked(value: float, target, mask) -> float:
    """``value``, unless it is NaN because ``target`` is NaN at an observed entry: then raise.

    Checked only when the value is NaN, so the loss computed every epoch pays nothing;
    a NaN *prediction* (a diverged fit) passes through for the fit loop to report.
    """
    if value == value:
        return value
    t = torch.as_tensor(target)
    nan = torch.isnan(t) if t.is_floating_point() else torch.zeros(t.shape, dtype=torch.bool)
    if mask is not None:
        nan &= torch.as_tensor(mask).bool()
    if bool(nan.any()):
        r = tuple(int(k) for k in nan.nonzero()[0])
        raise ValueError(f"target is NaN at an observed entry, first at {list(r)}; if NaN marks a missing entry, "
                         "pass a mask that leaves it out (e.g. mask=~torch.isnan(target))")
    return value


def sse(target, prediction, mask=None) -> float:
    """Sum of squared errors over the entries where ``mask`` is 1 (all if ``None``).

    Parameters
    ----------
    target : Tensor, shape (m, n)
    prediction : Tensor, shape (m, n), or FactorisationResult
    mask : Tensor of 0/1 or bool, shape (m, n), optional

    Returns
    -------
    float
    """
    return _checked(float((_masked_residual(target, prediction, mask).double() ** 2).sum()), target, mask)


def mse(target, prediction, mask=None) -> float:
    """Mean squared error over the observed entries."""
    diff = _masked_residual(target, prediction, mask, mean=True)
    return _checked(float((diff.double() ** 2).sum()) / diff.numel(), target, mask)


def rmse(target, prediction, mask=None) -> float:
    """Root mean squared error over the observed entries."""
    return mse(target, prediction, mask) ** 0.5


def mae(target, prediction, mask=None) -> float:
    """Mean absolute error over the observed entries."""
    diff = _masked_residual(target, prediction, mask, mean=True)
    return _checked(float(diff.double().abs().sum()) / diff.numel(), target, mask)


def reconstruction_sse(A, U, V, mask=None) -> float:
    """SSE of the rank-r reconstruction ``U @ V.T`` against ``A`` over ``mask``.

    Parameters
    ----------
    A : Tensor, shape (m, n)
    U : Tensor, shape (m, r)
    V : Tensor, shape (n, r)
    mask : Tensor, shape (m, n), optional
    """
    return sse(A, torch.as_tensor(U) @ torch.as_tensor(V).T, mask)
