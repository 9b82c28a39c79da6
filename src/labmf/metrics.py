"""Reconstruction errors over a mask: the one implementation used everywhere.

The lab's loss is the *sum* of squared errors (SSE), ``||M * (A - B)||_F^2``;
``torch.nn.functional.mse_loss(B, A, reduction="sum")`` is the same number when
no mask is given. MSE and RMSE divide by the number of *observed* entries, so an
unrated cell never counts as a rating of zero.
"""

from __future__ import annotations

import torch

from ._validation import check_binary

__all__ = ["sse", "mse", "rmse", "mae", "reconstruction_sse"]


def _masked_residual(target, prediction, mask, *, mean: bool = False) -> torch.Tensor:
    """``target - prediction`` on the entries where ``mask`` is 1, flattened (at least one if ``mean``)."""
    target = torch.as_tensor(target)
    prediction = torch.as_tensor(prediction)
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
        mask = torch.as_tensor(mask)
        if mask.shape != target.shape:
            raise ValueError(f"mask must have the target's shape {tuple(target.shape)}, got {tuple(mask.shape)}")
        diff = diff[check_binary(mask).bool()]
    if mean and diff.numel() == 0:
        raise ValueError("mask observes no entry; the mean is undefined")
    return diff.flatten()


def sse(target, prediction, mask=None) -> float:
    """Sum of squared errors over the entries where ``mask`` is 1 (all if ``None``).

    Parameters
    ----------
    target, prediction : Tensor, shape (m, n)
    mask : Tensor of 0/1 or bool, shape (m, n), optional

    Returns
    -------
    float
    """
    return float((_masked_residual(target, prediction, mask).double() ** 2).sum())


def mse(target, prediction, mask=None) -> float:
    """Mean squared error over the observed entries."""
    diff = _masked_residual(target, prediction, mask, mean=True)
    return float((diff.double() ** 2).sum()) / diff.numel()


def rmse(target, prediction, mask=None) -> float:
    """Root mean squared error over the observed entries."""
    return mse(target, prediction, mask) ** 0.5


def mae(target, prediction, mask=None) -> float:
    """Mean absolute error over the observed entries."""
    diff = _masked_residual(target, prediction, mask, mean=True)
    return float(diff.double().abs().sum()) / diff.numel()


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
