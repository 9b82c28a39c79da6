"""Not converged is never silent: a fit whose loss still falls materially warns."""

from __future__ import annotations

import warnings

import pytest
import torch

import labmf


@pytest.fixture
def X():
    g = torch.Generator().manual_seed(0)
    return torch.rand(50, 40, generator=g) * 5


def test_too_small_lr_warns_with_advice(X):
    # The course's lr on a small matrix: far from the optimum after 1000 epochs.
    with pytest.warns(labmf.ConvergenceWarning, match=r"still falling: .* last 100 of 1000 epochs.*num_epochs.*lr"):
        labmf.factorise_gd(X, rank=5, seed=0)


@pytest.mark.parametrize("fit", [
    lambda A: labmf.factorise_gd(A, rank=5, seed=0, lr=1e-5, sparse=True),
    lambda A: labmf.factorise_autograd(A, rank=5, seed=0, lr=1e-4),
    lambda A: labmf.factorise_sgd(labmf.lab_matrix(), labmf.lab_mask(), rank=2, seed=0),  # Q3, still converging
])
def test_every_iterative_method_warns(X, fit):
    with pytest.warns(labmf.ConvergenceWarning):
        fit(X)


def test_warning_points_at_the_callers_line(X):
    with pytest.warns(labmf.ConvergenceWarning) as caught:
        labmf.factorise_gd(X, rank=5, seed=0)
    assert caught[0].filename == __file__


def test_converged_fit_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error", labmf.ConvergenceWarning)
        labmf.factorise_sgd(labmf.lab_matrix(), rank=2, seed=0, num_epochs=3000)
        labmf.factorise_svd(labmf.lab_matrix())
        labmf.factorise_sgd(labmf.lab_matrix(), rank=2, seed=0, num_epochs=5)  # too short to judge


def test_negligible_loss_is_quiet():
    # Seed 1 of Q3 still falls fast, but at 6e-7 from a start near 10 it has converged for any purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("error", labmf.ConvergenceWarning)
        labmf.factorise_sgd(labmf.lab_matrix(), labmf.lab_mask(), rank=2, seed=1)


def test_stable_lr_helpers_are_public(X):
    trials = labmf.lr_sweep(labmf.factorise_gd, X, None, 5, [1e-5, 1e-3, 1e-1], num_epochs=20, seed=0)
    assert labmf.largest_stable_lr(trials) == 1e-3
    assert labmf.still_improving(torch.linspace(10, 1, 200, dtype=torch.float64))
