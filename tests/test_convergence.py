"""Not converged is never silent: a fit whose loss still falls materially warns."""

from __future__ import annotations

import warnings

import numpy as np
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


# ---------------------------------------------------------------- issue 21, item 1: a slow crawl warns


@pytest.fixture
def planted():
    """Issue 21's case: a 50 x 40 rank-3 matrix plus noise (rank-3 optimum SSE 17.79)."""
    g = torch.Generator().manual_seed(0)
    U, V = torch.randn(50, 3, generator=g), torch.randn(40, 3, generator=g)
    return U @ V.T + 0.1 * torch.randn(50, 40, generator=g)


def test_slow_crawl_far_from_the_optimum_warns(planted):
    # The last 100 epochs fell only 0.84 % (under the 1 % rule), but the pace of the last two
    # tenths says 1000 more epochs would take another ~5 %: 6,467 against an optimum of 17.79.
    assert labmf.factorise_svd(planted, rank=3).loss == pytest.approx(17.7931, abs=1e-3)
    with pytest.warns(labmf.ConvergenceWarning, match=r"0\.84% lower over the last 100 of 1000 epochs.*1000 more "
                      r"epochs would lower it by about 5% more"):
        res = labmf.factorise_gd(planted, rank=3, seed=0)
    assert res.loss == pytest.approx(6467.0, rel=1e-3)


def test_q4_sparse_crawl_warns():
    from labmf.data import load_lab_layout

    layout = load_lab_layout("movielens-small")
    with pytest.warns(labmf.ConvergenceWarning, match=r"0\.89% lower.*about 9% more"):
        res = labmf.factorise_gd(layout.ratings, layout.mask, rank=5, sparse=True, lr=1e-4, seed=0)
    assert res.loss == pytest.approx(41010.3, rel=1e-4)


def test_the_rule_separates_a_crawl_from_the_float_floor():
    from labmf.convergence import projected_fall, still_falling

    crawl = np.linspace(6600.0, 6467.0, 1001)  # linear: 0.2 % per tenth, never slowing
    assert not labmf.still_improving(crawl, window=100) and still_falling(crawl)
    assert projected_fall(crawl) == pytest.approx(10 * (crawl[-101] - crawl[-1]) / crawl[-1])
    floor = 10.0 * 0.97 ** np.arange(1001)  # still halving every 23 epochs, but at 6e-13 from 10
    assert floor[-1] < 1e-11 and labmf.still_improving(floor, window=100) and not still_falling(floor)
    converged = 17.79 + 100 * 0.9 ** np.arange(1001)  # fast geometric convergence: nothing left to gain
    assert not still_falling(converged)


def test_fits_at_the_float_floor_are_quiet():
    # Q3 with rank 2 and the full 3 x 3 with rank 3 can be fitted exactly: SSE ~1e-12 and below.
    with warnings.catch_warnings():
        warnings.simplefilter("error", labmf.ConvergenceWarning)
        for lr in (0.03, 0.1):
            res = labmf.factorise_gd(labmf.lab_matrix(), labmf.lab_mask(), rank=2, lr=lr, seed=0, sparse=True)
            assert res.loss < 1e-10
        assert labmf.factorise_sgd(labmf.lab_matrix(), rank=3, lr=0.1, seed=0).loss < 1e-10


# ---------------------------------------------------------------- item 2: float32 rounding is not instability


def test_float32_rounding_rise_is_stable(planted):
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    t32 = labmf.lr_sweep(labmf.factorise_gd, planted, None, 3, lrs, num_epochs=50, seed=0)
    t64 = labmf.lr_sweep(labmf.factorise_gd, planted.double(), None, 3, lrs, num_epochs=50, seed=0)
    assert float(np.diff(t32[2].losses).max()) > 0  # float32 nudges the converged 17.7931 up ...
    assert labmf.largest_stable_lr(t32) == labmf.largest_stable_lr(t64) == 1e-2  # ... and that is rounding
    assert t32[2].losses[-1] == pytest.approx(17.7931, abs=1e-3)


def test_a_real_rise_is_unstable():
    from labmf.convergence import rose

    assert not rose([17.79310042, 17.79310121], torch.float32)
    assert rose([17.79310042, 17.79310121], torch.float64)
    assert rose([100.0, 50.0, 50.5], torch.float32)


# ---------------------------------------------------------------- item 3: divergence raises in every method


@pytest.mark.parametrize("fit, match", [
    (lambda A: labmf.factorise_autograd(A, rank=2, seed=0, lr=1e4), r"autograd-adam diverged: the loss grew"),
    (lambda A: labmf.factorise_autograd(A, rank=2, seed=0, optimizer="rmsprop", lr=10),
     r"autograd-rmsprop diverged: the loss grew to 3\.6\d*e\+09"),
    (lambda A: labmf.factorise_gd(A, rank=2, seed=0, lr=1.0), r"gd diverged"),
    (lambda A: labmf.factorise_gd(A, rank=2, seed=0, lr=1.0, sparse=True), r"gd diverged"),
    (lambda A: labmf.factorise_sgd(A, rank=2, seed=0, lr=3.0), r"sgd diverged"),
])
def test_blow_up_is_a_divergence_error(fit, match):
    with pytest.raises(labmf.DivergenceError, match=match + r".*epoch \d+ with lr=.*lower lr \(try lr="):
        fit(labmf.lab_matrix())


def test_divergence_is_defined_once():
    from labmf.convergence import DIVERGED, check_loss

    check_loss(DIVERGED * 29.0, 3, 0.1, "gd", bound=DIVERGED * 29.0)  # at the bound: not yet
    for bad in (float("nan"), float("inf"), DIVERGED * 29.0 * 1.01):
        with pytest.raises(labmf.DivergenceError, match="gd diverged"):
            check_loss(bad, 3, 0.1, "gd", bound=DIVERGED * 29.0)


def test_divergence_names_the_likely_cause():
    A = labmf.lab_matrix()
    with pytest.raises(labmf.DivergenceError, match=r"likely cause: A's entries are large \(max \|A\| = 3\.34e\+03\)"
                       r".*rescale A.*or lower lr"):
        labmf.factorise_gd(A * 1000, rank=2, seed=0, lr=0.01)
    big = (torch.full((3, 2), 100.0), torch.full((3, 2), 100.0))
    with pytest.raises(labmf.DivergenceError, match=r"likely cause: the starting factors \(init\) are large"):
        labmf.factorise_sgd(A, rank=2, init=big, lr=0.01)
    with pytest.raises(labmf.DivergenceError) as caught:
        labmf.factorise_sgd(A, rank=2, seed=0, lr=3.0)
    assert "likely cause" not in str(caught.value)  # a plain too-large lr: just the lr advice


def test_a_flat_then_rising_tail_projects_no_fall():
    # found by make test-rounding: a converged float64 loss, flat over one tenth, then up by rounding
    from labmf.convergence import projected_fall, still_falling

    losses = [10.0] + [1.0] * 19 + [1.0 + 1e-15]
    assert projected_fall(losses) == 0.0 and not still_falling(losses)
