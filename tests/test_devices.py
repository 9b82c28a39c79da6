"""CPU only, said once: every tensor argument on another device gets the same message; NaN as
"missing" under a mask; metrics take a result object (issue 13, items 4 and 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import labmf
from labmf.validation import check_device, check_matrix, check_observed
from labrec import BiasedMF

META = "must be on the CPU, got a tensor on meta"


def _meta(*shape):
    return torch.zeros(*shape, device="meta")


# ------------------------------------------------------------------ devices


def test_every_dense_argument_names_itself():
    A = labmf.lab_matrix()
    with pytest.raises(ValueError, match="A " + META):
        labmf.factorise_sgd(_meta(3, 3), rank=2)
    with pytest.raises(ValueError, match="mask " + META):
        labmf.factorise_sgd(A, _meta(3, 3), rank=2)
    with pytest.raises(ValueError, match="mask " + META):
        labmf.factorise_gd(A, _meta(3, 3), rank=2)


@pytest.mark.parametrize("metric", [labmf.sse, labmf.mse, labmf.rmse, labmf.mae])
def test_every_metric_argument_names_itself(metric):
    A = labmf.lab_matrix()
    with pytest.raises(ValueError, match="target " + META):
        metric(_meta(3, 3), A)
    with pytest.raises(ValueError, match="prediction " + META):
        metric(A, _meta(3, 3))
    with pytest.raises(ValueError, match="mask " + META):
        metric(A, A, _meta(3, 3))


def test_recsys_index_tensors_name_themselves():
    with pytest.raises(ValueError, match="user_idx " + META):
        BiasedMF().fit(_meta(3).long(), [0, 1, 2], [1.0, 2.0, 3.0])


def test_sparse_tensor_on_another_device():
    S = torch.sparse_coo_tensor(torch.tensor([[0], [1]]), torch.tensor([1.0]), (2, 2),
                                check_invariants=False).to("meta")
    with pytest.raises(ValueError, match="A " + META):
        labmf.factorise_sgd(S, rank=1)


def test_check_device_message_and_docs():
    with pytest.raises(ValueError, match=r"X must be on the CPU, got a tensor on meta \(labmf runs on the CPU only\)"):
        check_device(_meta(1), "X")
    x = torch.zeros(2)
    assert check_device(x, "x") is x and check_device([1, 2], "x") == [1, 2]
    for doc in (labmf.__doc__, labmf.validation.__doc__, labmf.metrics.__doc__):
        assert "CPU" in doc


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_cuda_tensors_get_the_same_message():  # pragma: no cover - needs a GPU
    with pytest.raises(ValueError, match="A must be on the CPU, got a tensor on cuda"):
        labmf.factorise_sgd(torch.ones(3, 3, device="cuda"), rank=1)


# --------------------------------------------------------- NaN as "missing"


def _with_gaps():
    A = labmf.lab_matrix().clone()
    A[0, 2] = A[2, 0] = float("nan")
    return A


def test_nan_under_a_zero_mask_means_missing():
    A = _with_gaps()
    before = A.clone()
    checked, M = check_observed(A, ~torch.isnan(A))
    assert torch.equal(torch.isnan(A), torch.isnan(before))  # the caller's A is untouched
    assert float(checked[0, 2]) == 0.0 and float(M[0, 2]) == 0.0 and torch.isfinite(checked).all()
    clean, M2 = check_observed(labmf.lab_matrix(), None)  # no NaN: exactly check_matrix + check_mask
    assert M2 is None and torch.equal(clean, labmf.lab_matrix())


def test_nan_without_a_mask_says_to_pass_one():
    A = _with_gaps()
    for check in (lambda: check_matrix(A), lambda: check_observed(A, None)):
        with pytest.raises(ValueError, match=r"pass a mask that leaves it out, e.g. mask=~torch.isnan\(A\)"):
            check()
    with pytest.raises(ValueError, match=r"A\[0, 2\] is NaN where mask is 1"):
        check_observed(A, torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"mask=~torch.isnan\(A\)"):
        labmf.factorise_sgd(A, rank=2)


def test_factorise_accepts_nan_under_the_mask():
    A = _with_gaps()
    mask = ~torch.isnan(A)
    res = labmf.factorise_sgd(A, mask, rank=2, seed=0)
    ref = labmf.factorise_sgd(torch.nan_to_num(A), mask, rank=2, seed=0)
    assert torch.equal(res.U, ref.U) and res.loss == ref.loss


# ---------------------------------------------------------------- metrics


def test_metrics_take_a_result_and_nan_targets_under_a_mask():
    A = labmf.lab_matrix()
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 1, 1]])
    res = labmf.factorise_sgd(A, mask, rank=2, seed=0)
    assert labmf.rmse(A, res, mask) == labmf.rmse(A, res.reconstruction, mask)
    assert labmf.sse(A, res, mask) == pytest.approx(res.loss, rel=1e-2)  # float32 factors
    gappy = _with_gaps()
    assert labmf.rmse(gappy, res, mask) == labmf.rmse(A, res, mask)  # NaN only where mask is 0
    with pytest.raises(ValueError, match=r"target is NaN at an observed entry, first at \[0, 2\]"):
        labmf.rmse(gappy, res)
    # A NaN prediction (a diverged fit) is reported, not refused: the fit loop turns it into DivergenceError.
    assert np.isnan(labmf.sse(A, torch.full((3, 3), float("nan"))))
