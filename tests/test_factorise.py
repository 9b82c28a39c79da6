"""Properties of the factorisation algorithms on the lab's matrices."""

import math

import numpy as np
import pytest
import torch

import labmf
from labmf import kernels

# ------------------------------------------------------------------ Q1 / Q2


def test_q1_default_seed_sse_in_expected_range(A):
    res = labmf.factorise_sgd(A, rank=2, seed=0)
    assert 0.1219 <= res.loss <= 0.125
    assert res.U.shape == (3, 2) and res.V.shape == (3, 2)
    assert res.U.dtype == A.dtype
    # The stored loss is the SSE of the returned factors (what mse_loss(sum) gives).
    expected = torch.nn.functional.mse_loss(res.U @ res.V.T, A, reduction="sum").item()
    assert res.loss == pytest.approx(expected, rel=1e-5)


def test_truncated_svd_sse_equals_discarded_singular_value_squared(A):
    res = labmf.factorise_svd(A, rank=2)
    S = res.singular_values
    assert torch.allclose(S, torch.tensor([5.3339, 0.6959, 0.3492]), atol=1e-4)
    assert res.loss == pytest.approx(float(S[2]) ** 2, abs=1e-5)
    assert f"{res.loss:.4f}" == "0.1219"


@pytest.mark.parametrize("seed", range(5))
def test_eckart_young_identity_random_matrices(seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(7, 5, generator=g, dtype=torch.float64)
    S = torch.linalg.svdvals(A)
    for k in range(1, 5):
        res = labmf.factorise_svd(A, rank=k)
        assert res.loss == pytest.approx(float((S[k:] ** 2).sum()), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_no_rank2_factorisation_beats_svd(A, seed):
    svd = labmf.factorise_svd(A, rank=2).loss
    sgd = labmf.factorise_sgd(A, rank=2, seed=seed).loss
    gd = labmf.factorise_gd(A, rank=2, lr=0.01, seed=seed).loss
    assert sgd >= svd - 1e-6 and gd >= svd - 1e-6


# ------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "fit",
    [
        lambda A, M, s: labmf.factorise_sgd(A, M, 2, seed=s, num_epochs=50),
        lambda A, M, s: labmf.factorise_gd(A, M, 2, lr=0.01, seed=s, num_epochs=50),
        lambda A, M, s: labmf.factorise_autograd(A, M, 2, seed=s, num_epochs=50),
    ],
    ids=["sgd", "gd", "autograd"],
)
def test_same_seed_bit_identical(A, M, fit):
    a, b = fit(A, M, 3), fit(A, M, 3)
    assert torch.equal(a.U, b.U) and torch.equal(a.V, b.V)
    assert torch.equal(a.losses, b.losses)
    c = fit(A, M, 4)
    assert not torch.equal(a.U, c.U)


@pytest.mark.parametrize("fit", [labmf.factorise_sgd, labmf.factorise_gd, labmf.factorise_autograd])
def test_generator_and_seed_agree(A, fit):
    g = torch.Generator().manual_seed(7)
    a = fit(A, rank=2, generator=g, num_epochs=10)
    b = fit(A, rank=2, seed=7, num_epochs=10)
    assert torch.equal(a.U, b.U) and torch.equal(a.V, b.V)
    c = fit(A, rank=2, generator=g, num_epochs=10)  # the generator has advanced
    assert not torch.equal(a.U, c.U)


def test_init_is_the_seeded_start(A):
    # seed=s starts from U then V drawn in float32 from a generator seeded s.
    g = torch.Generator().manual_seed(3)
    U0, V0 = torch.rand(3, 2, generator=g), torch.rand(3, 2, generator=g)
    kept = U0.clone(), V0.clone()
    a = labmf.factorise_sgd(A, rank=2, seed=3, num_epochs=20)
    b = labmf.factorise_sgd(A, rank=2, init=(U0, V0), num_epochs=20)
    assert torch.equal(a.U, b.U) and torch.equal(a.losses, b.losses)
    assert torch.equal(U0, kept[0]) and torch.equal(V0, kept[1])  # init is copied, not modified


def test_result_is_not_the_handouts_pair(A):
    # One name per thing (issue 19): the handout's functions (labmf.lab) return (U, V); a
    # FactorisationResult is read by attribute and does not unpack like that pair.
    res = labmf.factorise_sgd(A, rank=1, seed=0, num_epochs=3)
    with pytest.raises(TypeError):
        U, V = res
    assert res.U.shape == (3, 1) and res.V.shape == (3, 1)
    assert len(res.losses) == 4
    assert "sgd" in repr(res)


# ---------------------------------------------------------- per-entry SGD


def test_sgd_masked_ignores_unobserved_values(A, M):
    B = A.clone()
    B[1, 0] = 1000.0  # hidden entries must not influence the fit
    B[2, 1] = -7.0
    a = labmf.factorise_sgd(A, M, 2, seed=0, num_epochs=30)
    b = labmf.factorise_sgd(B, M, 2, seed=0, num_epochs=30)
    assert torch.equal(a.U, b.U)


def test_sgd_kernel_writes_decreasing_losses():
    rows, cols = np.array([0, 0, 1]), np.array([0, 1, 1])
    vals = np.array([1.0, 2.0, 3.0])
    U, V = np.full((2, 1), 0.5), np.full((2, 1), 0.5)
    losses = np.empty(3)
    done = kernels.sgd_epochs(rows, cols, vals, U, V, 0.1, 3, losses)
    assert done == 3 and np.all(np.diff(losses) < 0)


def test_sgd_loss_non_increasing_at_small_lr(A, M):
    for mask in (None, M):
        res = labmf.factorise_sgd(A, mask, 2, lr=1e-3, num_epochs=300, seed=0)
        assert bool((torch.diff(res.losses) <= 1e-12).all())
        assert res.losses[-1] < res.losses[0]


@pytest.mark.parametrize("fit", [labmf.factorise_sgd, labmf.factorise_gd, labmf.factorise_autograd])
def test_callback_sees_every_epoch(A, fit):
    seen = []
    res = fit(A, rank=2, seed=0, num_epochs=5, callback=lambda e, loss: seen.append((e, loss)))
    assert [e for e, _ in seen] == [1, 2, 3, 4, 5]
    assert [loss for _, loss in seen] == res.losses[1:].tolist()


def test_callback_sees_every_epoch_beyond_a_kernel_chunk(A):
    # The compiled kernel runs epochs in chunks; a callback must still hear of each one.
    seen = []
    labmf.factorise_sgd(A, rank=2, seed=0, num_epochs=120, callback=lambda e, loss: seen.append(e))
    assert seen == list(range(1, 121))


# -------------------------------------------------------------- full batch


def test_gd_loss_non_increasing_at_small_lr(A, M):
    res = labmf.factorise_gd(A, M, 2, lr=1e-3, num_epochs=300, seed=0)
    d = torch.diff(res.losses)
    assert bool((d <= 1e-12).all())
    assert res.losses[-1] < res.losses[0]


def test_gd_matches_course_update(A, M):
    g = torch.Generator().manual_seed(2)
    U = torch.rand(3, 2, generator=g)
    V = torch.rand(3, 2, generator=g)
    res = labmf.factorise_gd(A, M, 2, lr=0.01, num_epochs=10, init=(U, V))
    for _ in range(10):
        E = (A - U @ V.T) * M
        U = U + 0.01 * (E @ V)
        V = V + 0.01 * (E.T @ U)
    # The dense path is the course's code: same float32 operations, same result.
    assert torch.equal(res.U, U) and torch.equal(res.V, V)
    assert res.loss == pytest.approx(labmf.sse(A, U @ V.T, M), rel=1e-5)


def test_autograd_gradient_equals_hand_gradient():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 4, generator=g, dtype=torch.float64)
    M = (torch.rand(5, 4, generator=g) > 0.3).double()
    U = torch.randn(5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    V = torch.randn(4, 2, generator=g, dtype=torch.float64, requires_grad=True)
    loss = (((A - U @ V.T) * M) ** 2).sum()
    loss.backward()
    E = ((A - U @ V.T) * M).detach()
    # d/dU ||M*(A - U V^T)||^2 = -2 E V ; the course's update U += lr E V is a step
    # along the negative gradient with the factor 2 folded into lr.
    assert torch.allclose(U.grad, -2 * E @ V.detach())
    assert torch.allclose(V.grad, -2 * E.T @ U.detach())


@pytest.mark.parametrize("opt", sorted(labmf.OPTIMISERS))
def test_every_named_optimiser_reduces_loss(opt):
    R, M = labmf.blog_matrix()
    res = labmf.factorise_autograd(R, M, 2, optimizer=opt, lr=0.01, num_epochs=100, seed=0)
    assert res.losses[-1] < res.losses[0]
    assert res.info["optimizer"] == opt


def test_autograd_accepts_optimizer_class():
    R, M = labmf.blog_matrix()
    res = labmf.factorise_autograd(R, M, 2, optimizer=torch.optim.NAdam, lr=0.05, num_epochs=50, seed=0)
    assert res.losses[-1] < res.losses[0]


@pytest.mark.parametrize("fit", [labmf.factorise_sgd, labmf.factorise_gd, labmf.factorise_autograd])
def test_zero_epochs_returns_start(A, M, fit):
    g = torch.Generator().manual_seed(0)
    U0, V0 = torch.rand(3, 2, generator=g), torch.rand(3, 2, generator=g)
    res = fit(A, M, rank=2, init=(U0, V0), num_epochs=0)
    assert torch.equal(res.U, U0) and torch.equal(res.V, V0)
    assert res.losses.shape == (1,)
    assert math.isfinite(res.loss)
    assert res.loss == pytest.approx(labmf.sse(A, U0 @ V0.T, M), rel=1e-6)


@pytest.mark.parametrize(
    "fit, method",
    [
        (lambda A: labmf.factorise_sgd(A, rank=2, seed=0, lr=10.0, num_epochs=200), "sgd"),
        (lambda A: labmf.factorise_gd(A, rank=2, seed=0, lr=10.0, num_epochs=200), "gd"),
        (lambda A: labmf.factorise_autograd(A, rank=2, seed=0, optimizer="sgd", lr=10.0, num_epochs=200),
         "autograd-sgd"),
    ],
    ids=["sgd", "gd", "autograd"],
)
def test_divergence_raises(A, fit, method):
    with pytest.raises(labmf.DivergenceError, match=f"{method} diverged: .* with lr=10; lower lr"):
        fit(A)


@pytest.mark.parametrize("fit", [labmf.factorise_sgd, labmf.factorise_gd, labmf.factorise_autograd])
def test_backend_parameter_is_gone(A, fit):
    with pytest.raises(TypeError, match="backend"):
        fit(A, rank=2, backend="numba")


# ------------------------------------------------- issue 21, item 9: compiled Adam = torch.optim.Adam


@pytest.mark.parametrize("problem", ["q3", "full", "blog"])
@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-9), (torch.float32, 2e-3)])
def test_compiled_adam_follows_torch_adam(problem, dtype, rtol):
    from labmf.factorise import factorise_adam

    A, M = {"q3": (labmf.lab_matrix(), labmf.lab_mask()), "full": (labmf.lab_matrix(), None),
            "blog": labmf.blog_matrix()}[problem]
    ref = labmf.factorise_autograd(A.to(dtype), M, 2, lr=0.05, seed=0)
    got = factorise_adam(A.to(dtype), M, 2, lr=0.05, seed=0)
    a, b = ref.losses.numpy(), got.losses.numpy()
    judged = a > 1e-8 * a[0]  # below that both sit at the float floor, where rounding steers Adam's steps
    assert judged.sum() > 150
    np.testing.assert_allclose(b[judged], a[judged], rtol=rtol)
    assert got.method == "adam" and got.info["backend"] == "numba" and got.U.dtype == dtype
    if problem != "q3":  # converged to the same factors
        torch.testing.assert_close(got.U, ref.U, rtol=10 * rtol, atol=1e-5)


def test_compiled_adam_chunks_continue_one_run():
    from labmf.factorise import factorise_adam

    A = labmf.lab_matrix().double()
    seen = []
    one = factorise_adam(A, None, 2, lr=0.05, seed=0, num_epochs=120)  # chunks of 50 epochs
    per_epoch = factorise_adam(A, None, 2, lr=0.05, seed=0, num_epochs=120, callback=lambda k, v: seen.append(v))
    assert torch.equal(one.losses, per_epoch.losses) and len(seen) == 120
