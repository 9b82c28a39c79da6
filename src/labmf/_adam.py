"""Full-batch Adam on observed-entry triplets, compiled (private; :func:`labmf.factorise.factorise_adam`).

``torch.optim.Adam`` dispatches a dozen tensor operations a step whatever the size; this kernel performs
its default update (betas (0.9, 0.999), eps 1e-8, no weight decay, no amsgrad) in its order::

    m = m + (1 - beta1) * (g - m)                  # torch's exp_avg.lerp_(grad, 1 - beta1)
    v = beta2 * v + (1 - beta2) * g * g
    p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

on the gradient of the SSE over the triplets, ``g_U[r] = -2 sum_c e_rc V[c]`` and
``g_V[c] = -2 sum_r e_rc U[r]`` (at the old factors, as autograd's), in float64: the tests hold the
loss curves to torch's within 1e-9 relative for float64 input (2e-3 for float32, which torch
computes in float32) while the loss is above 1e-8 of its start.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import compile_kernel
from .kernels import check_kernel_arrays

__all__ = ["adam_epochs", "adam_state"]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults


def _adam(rows, cols, vals, U, V, lr, num_epochs, losses, gU, gV, mU, vU, mV, vV, t):
    rank = U.shape[1]
    for epoch in range(num_epochs):
        gU[:, :] = 0.0
        gV[:, :] = 0.0
        total = 0.0
        for i in range(rows.shape[0]):
            r, c = rows[i], cols[i]
            dot = 0.0
            for k in range(rank):
                dot += U[r, k] * V[c, k]
            e = vals[i] - dot
            total += e * e
            for k in range(rank):
                gU[r, k] -= 2.0 * e * V[c, k]
                gV[c, k] -= 2.0 * e * U[r, k]
        losses[epoch] = total
        if not math.isfinite(total):
            return epoch + 1
        t[0] += 1
        step_size = lr / (1.0 - BETA1 ** t[0])
        bc2_sqrt = math.sqrt(1.0 - BETA2 ** t[0])
        for P, G, M, S in ((U, gU, mU, vU), (V, gV, mV, vV)):
            for j in range(P.shape[0]):
                for k in range(rank):
                    g = G[j, k]
                    M[j, k] += (1.0 - BETA1) * (g - M[j, k])
                    S[j, k] = BETA2 * S[j, k] + (1.0 - BETA2) * g * g
                    P[j, k] -= step_size * M[j, k] / (math.sqrt(S[j, k]) / bc2_sqrt + EPS)
    return num_epochs


_compiled = compile_kernel(_adam)


def adam_state(m: int, n: int, rank: int) -> tuple:
    """Fresh state: gradients, first and second moments of U (m, r) and V (n, r), the step count."""
    shapes = ((m, rank), (n, rank), (m, rank), (m, rank), (n, rank), (n, rank))
    return (*(np.zeros(shape) for shape in shapes), np.zeros(1, dtype=np.int64))


def adam_epochs(rows, cols, vals, U, V, lr, num_epochs, losses, *, state) -> int:
    """``num_epochs`` Adam steps; ``losses[k]`` the SSE at the start of step ``k``; ``state`` from
    :func:`adam_state`, advanced in place (so chunks of epochs continue one run)."""
    num_epochs = check_kernel_arrays(rows, cols, vals, U, V, num_epochs, losses)
    return int(_compiled(rows, cols, vals, U, V, float(lr), num_epochs, losses, *state))
