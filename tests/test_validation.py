"""Every bad input gets an error that names the parameter and the bad value."""

import math

import numpy as np
import pytest
import torch

import labmf
from labmf.validation import check_scalar, pair_groups

ALGOS = {
    "sgd": labmf.factorise_sgd,
    "gd": labmf.factorise_gd,
    "autograd": labmf.factorise_autograd,
}


@pytest.fixture(params=sorted(ALGOS))
def fit(request):
    return ALGOS[request.param]


def test_A_not_2d(fit):
    with pytest.raises(ValueError, match=r"A must be 2-D.*3-D"):
        fit(torch.ones(2, 2, 2), rank=1)
    with pytest.raises(ValueError, match=r"A must be 2-D.*1-D"):
        fit(torch.ones(4), rank=1)


def test_A_empty(fit):
    with pytest.raises(ValueError, match=r"A must not be empty"):
        fit(torch.ones(0, 3), rank=1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_A_non_finite(fit, A, bad):
    A[1, 2] = bad
    with pytest.raises(ValueError, match=r"A must be finite.*A\[1, 2\]"):
        fit(A, rank=2)


def test_A_wrong_type(fit):
    with pytest.raises(TypeError, match="A must be"):
        fit(object(), rank=1)


def test_mask_wrong_shape(fit, A):
    with pytest.raises(ValueError, match=r"mask must have the same shape as A \(3, 3\), got \(3, 2\)"):
        fit(A, torch.ones(3, 2), rank=2)


def test_mask_values_not_binary(fit, A):
    M = labmf.lab_mask()
    M[0, 0] = 2
    with pytest.raises(ValueError, match=r"mask must contain only 0 and 1.*2\.0"):
        fit(A, M, rank=2)


def test_mask_all_zero(fit, A):
    with pytest.raises(ValueError, match=r"mask observes no entry"):
        fit(A, torch.zeros(3, 3), rank=2)


def test_bool_mask_accepted(A):
    res = labmf.factorise_sgd(A, labmf.lab_mask().bool(), rank=2, seed=0, num_epochs=2)
    assert res.info["nnz"] == 7


@pytest.mark.parametrize("rank", [0, -1, 4])
def test_rank_out_of_range(fit, A, rank):
    with pytest.raises(ValueError, match=rf"rank must be in \[1, 3\], got {rank}"):
        fit(A, rank=rank)


@pytest.mark.parametrize("rank", [2.0, "2", True])
def test_rank_not_integer(fit, A, rank):
    with pytest.raises(TypeError, match="rank must be an integer"):
        fit(A, rank=rank)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_lr_not_positive(fit, A, lr):
    with pytest.raises(ValueError, match=r"lr must be (in \(0, inf\)|finite), got"):
        fit(A, rank=2, lr=lr)


def test_lr_wrong_type(fit, A):
    with pytest.raises(TypeError, match="lr must be a real number, got '0.01'"):
        fit(A, rank=2, lr="0.01")


def test_num_epochs_negative(fit, A):
    with pytest.raises(ValueError, match=r"num_epochs must be in \[0, 100000000\], got -1"):
        fit(A, rank=2, num_epochs=-1)


def test_num_epochs_not_int(fit, A):
    with pytest.raises(TypeError, match=r"num_epochs must be an integer, got 10.5"):
        fit(A, rank=2, num_epochs=10.5)


def test_seed_and_generator_exclusive(fit, A):
    with pytest.raises(ValueError, match="either seed or generator"):
        fit(A, rank=2, seed=1, generator=torch.Generator())


def test_negative_seed(fit, A):
    with pytest.raises(ValueError, match=r"seed must be in \[0, .*\), got -3"):
        fit(A, rank=2, seed=-3)
    with pytest.raises(ValueError, match=r"seed must be in \[0, .*\), got 18446744073709551616"):
        fit(A, rank=2, seed=2**64)


def test_init_shape_checked(A):
    with pytest.raises(ValueError, match="init must be"):
        labmf.factorise_sgd(A, rank=2, init=(torch.rand(3, 1), torch.rand(3, 2)))


@pytest.mark.parametrize(
    "name,call",
    [
        ("sgd", lambda A: labmf.factorise_sgd(A * 100, rank=2, lr=1.0, seed=0)),
        ("gd", lambda A: labmf.factorise_gd(A * 100, rank=2, lr=1.0, seed=0)),
        ("autograd-sgd", lambda A: labmf.factorise_autograd(A * 100, rank=2, optimizer="sgd", lr=1.0, seed=0)),
    ],
)
def test_divergence_raises_with_epoch_and_hint(A, name, call):
    with pytest.raises(labmf.DivergenceError, match=rf"{name} diverged.*epoch \d+.*lower lr"):
        call(A)


def test_divergence_is_a_floating_point_error():
    assert issubclass(labmf.DivergenceError, FloatingPointError)


def test_unknown_optimizer(A):
    with pytest.raises(ValueError, match="optimizer must be one of"):
        labmf.factorise_autograd(A, rank=2, optimizer="lbfgs-ish")


def test_svd_rejects_missing_entries(A):
    with pytest.raises(ValueError, match="needs a fully observed A"):
        labmf.factorise_svd(A, labmf.lab_mask(), rank=2)


def test_metrics_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        labmf.sse(torch.ones(2, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match="mask must have"):
        labmf.sse(torch.ones(2, 2), torch.ones(2, 2), torch.ones(3, 3))


def test_metrics_over_mask():
    A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    B = torch.tensor([[1.0, 0.0], [5.0, 4.0]])
    M = torch.tensor([[1, 0], [1, 1]])
    assert labmf.sse(A, B) == 8.0
    assert labmf.sse(A, B, M) == 4.0
    assert labmf.mse(A, B, M) == pytest.approx(4.0 / 3)
    assert labmf.rmse(A, B, M) == pytest.approx((4.0 / 3) ** 0.5)
    assert labmf.mae(A, B, M) == pytest.approx(2.0 / 3)


def test_handout_argument_order_gets_a_hint(fit, A):
    with pytest.raises(ValueError, match=r"did you mean rank=2\?"):
        fit(A, 2)


def test_callback_not_callable(fit, A):
    with pytest.raises(TypeError, match="callback must be callable"):
        fit(A, rank=2, callback="print")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_init_non_finite(fit, A, bad):
    U = torch.rand(3, 2)
    U[0, 0] = bad
    with pytest.raises(ValueError, match="init U must be finite"):
        fit(A, rank=2, init=(U, torch.rand(3, 2)))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(fit, A, dtype):
    res = fit(A.to(dtype), rank=2, seed=0, num_epochs=5)
    assert res.U.dtype == torch.float32


def test_half_precision_svd():
    res = labmf.factorise_svd(labmf.lab_matrix(torch.float16), rank=2)
    assert f"{res.loss:.2f}" == "0.12"


def test_requires_grad_input_is_treated_as_data(fit, A):
    res = fit(A.clone().requires_grad_(True), rank=2, seed=0, num_epochs=3)
    assert not res.U.requires_grad and not res.V.requires_grad


def test_same_seed_same_start_whatever_dtype(fit, A):
    a = fit(A, rank=2, seed=5, num_epochs=0)
    b = fit(A.double(), rank=2, seed=5, num_epochs=0)
    assert torch.equal(a.U.double(), b.U)


def test_metrics_reject_non_binary_mask():
    with pytest.raises(ValueError, match=r"mask must contain only 0 and 1.*0\.5"):
        labmf.sse(torch.ones(2, 2), torch.zeros(2, 2), torch.full((2, 2), 0.5))


# ------------------------------------------------------------ check_scalar


@pytest.mark.parametrize("x, target_type, bounds, expected", [
    (3, int, {}, 3),
    (np.int64(3), int, {}, 3),
    (np.uint8(3), int, {"min_val": 3, "max_val": 3}, 3),
    (2, float, {}, 2.0),  # an int is a real number
    (np.float32(0.5), float, {}, 0.5),
    (0.0, float, {"min_val": 0.0}, 0.0),
    (1, int, {"min_val": 0, "max_val": 1, "include_boundaries": "right"}, 1),
    (0, int, {"min_val": 0, "max_val": 1, "include_boundaries": "left"}, 0),
    (1e-300, float, {"min_val": 0.0, "include_boundaries": "neither"}, 1e-300),
])
def test_check_scalar_accepts_and_converts(x, target_type, bounds, expected):
    out = check_scalar(x, "x", target_type, **bounds)
    assert out == expected and type(out) is target_type


@pytest.mark.parametrize("x, target_type, bounds, exc, match", [
    (True, int, {}, TypeError, "x must be an integer, got True"),
    (np.bool_(False), float, {}, TypeError, "x must be a real number"),
    (2.0, int, {}, TypeError, "x must be an integer, got 2.0"),
    ("1", float, {}, TypeError, "x must be a real number, got '1'"),
    (None, int, {}, TypeError, "x must be an integer, got None"),
    (1 + 0j, float, {}, TypeError, "x must be a real number"),
    (torch.tensor(3), int, {}, TypeError, r"x must be an integer, got tensor of shape \(\) and dtype torch.int64"),
    (math.nan, float, {}, ValueError, "x must be finite, got nan"),
    (-math.inf, float, {}, ValueError, "x must be finite, got -inf"),
    (0, int, {"min_val": 1}, ValueError, r"x must be in \[1, inf\], got 0"),
    (5, int, {"max_val": 4}, ValueError, r"x must be in \[-inf, 4\], got 5"),
    (0.0, float, {"min_val": 0.0, "include_boundaries": "neither"}, ValueError, r"x must be in \(0, inf\), got 0.0"),
    (1, int, {"min_val": 0, "max_val": 1, "include_boundaries": "left"}, ValueError, r"x must be in \[0, 1\), got 1"),
    (0, int, {"min_val": 0, "max_val": 1, "include_boundaries": "right"}, ValueError, r"x must be in \(0, 1\], got 0"),
    (1, int, {"include_boundaries": "all"}, ValueError, "include_boundaries must be"),
    (1, str, {}, TypeError, "target_type must be int or float"),
])
def test_check_scalar_refuses(x, target_type, bounds, exc, match):
    with pytest.raises(exc, match=match):
        check_scalar(x, "x", target_type, **bounds)


def test_pair_groups_finds_the_earliest_repeat_of_any_ids():
    order, first, repeat = pair_groups(np.array([3, 1, 2]), np.array([0, 0, 0]))
    assert repeat is None and first.all() and order.tolist() == [1, 2, 0]
    # Rows 4 and 2 repeat the pairs of rows 0 and 1; row 2 is the earliest repeat.
    big = 2**62  # keyed as x * n + y these would overflow int64
    x = np.array([big, 1, 1, 5, big])
    y = np.array([big, 7, 7, 0, big])
    _, first, repeat = pair_groups(x, y)
    assert repeat == (2, 1, 2) and int((~first).sum()) == 2
    assert pair_groups(np.array(["a", "b", "a"]), np.array(["x", "x", "x"]))[2] == (1, 0, 2)
