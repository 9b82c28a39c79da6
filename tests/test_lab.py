"""The readable handout functions (:mod:`labmf.lab`) equal the fast, general ones.

``labmf.lab`` draws its start from torch's global generator, as the handout
does; the general functions draw the same numbers from it when given no seed
(and from a fresh generator seeded ``s`` when given ``seed=s``, which is the
same stream). So ``torch.manual_seed(s)`` before each call gives both the same
start, and in float64 the per-entry SGD kernel and the dense GD path perform
the very same float operations: the tests demand ``torch.equal``, not a tolerance.
(For SGD this holds up to rank 4: beyond, torch's ``.sum()`` of the dot product
adds in another order; see ``tests/test_kernels.py``.)
"""

from __future__ import annotations

import pytest
import torch

import labmf
from labmf import lab
from labmf.factorise import factorise_autograd, factorise_gd, factorise_sgd, factorise_svd


def _rect(m=6, n=4, seed=0, dtype=torch.float64):
    """A non-square matrix with about two thirds of its entries observed (row 0 fully)."""
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(m, n, generator=g) * 3).to(dtype)
    M = (torch.rand(m, n, generator=g) < 0.7).to(dtype)
    M[0] = 1
    return A, M


def _lab(fn, seed, *args, **kw):
    torch.manual_seed(seed)
    return fn(*args, **kw)


def _assert_equal_factors(pair, res):
    U, V = pair
    assert U.dtype == res.U.dtype and V.dtype == res.V.dtype
    assert torch.equal(U, res.U) and torch.equal(V, res.V)


# ------------------------------------------------------------- Q1 / Q3: SGD


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 5])
def test_sgd_factorise_equals_kernel_bitwise_float64(A, rank, seed):
    A64 = A.double()
    pair = _lab(lab.sgd_factorise, seed, A64, rank, num_epochs=50)
    _assert_equal_factors(pair, _lab(factorise_sgd, seed, A64, rank=rank, num_epochs=50))
    # seed=s draws the same start as torch.manual_seed(s) and the global generator.
    _assert_equal_factors(pair, factorise_sgd(A64, rank=rank, num_epochs=50, seed=seed))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_sgd_factorise_masked_equals_kernel_bitwise_float64(A, M, rank):
    A64 = A.double()
    pair = _lab(lab.sgd_factorise_masked, 1, A64, M, rank, num_epochs=50)
    _assert_equal_factors(pair, _lab(factorise_sgd, 1, A64, M, rank=rank, num_epochs=50))
    # The kernel on the sparse form of (A, M) is the same computation.
    _assert_equal_factors(pair, factorise_sgd(labmf.to_sparse(A64, M), rank=rank, num_epochs=50, seed=1))


def test_sgd_equal_on_a_rectangular_matrix_and_other_lr():
    A, M = _rect()
    pair = _lab(lab.sgd_factorise_masked, 2, A, M, 3, num_epochs=20, lr=0.03)
    _assert_equal_factors(pair, factorise_sgd(A, M, 3, num_epochs=20, lr=0.03, seed=2))
    pair = _lab(lab.sgd_factorise, 2, A, 2, num_epochs=20, lr=0.03)
    _assert_equal_factors(pair, factorise_sgd(A, None, 2, num_epochs=20, lr=0.03, seed=2))


@pytest.mark.parametrize("masked", [False, True])
def test_sgd_float32_within_stated_tolerance(A, M, masked):
    # lab.py runs the handout's update in float32 arithmetic on a float32 A; the
    # kernel always computes in float64 and rounds the factors once at the end.
    # Measured on the lab matrix, seeds 0-4: max |difference| of U and V is
    # 2e-6 after 300 epochs and 3e-6 after 1000 (float32 rounding accumulated
    # along the trajectory). We check 1e-5 after 300 epochs.
    for seed in range(3):
        if masked:
            pair = _lab(lab.sgd_factorise_masked, seed, A, M, 2, num_epochs=300)
        else:
            pair = _lab(lab.sgd_factorise, seed, A, 2, num_epochs=300)
        res = factorise_sgd(A, M if masked else None, 2, num_epochs=300, seed=seed)
        assert res.U.dtype == pair[0].dtype == torch.float32
        assert torch.allclose(res.U, pair[0], rtol=0, atol=1e-5)
        assert torch.allclose(res.V, pair[1], rtol=0, atol=1e-5)


def test_sgd_masked_never_reads_unobserved_values(A, M):
    B = A.clone()
    B[M == 0] = 1e6
    a = _lab(lab.sgd_factorise_masked, 0, A.double(), M, 2, num_epochs=20)
    b = _lab(lab.sgd_factorise_masked, 0, B.double(), M, 2, num_epochs=20)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# ------------------------------------------------------------------ Q4: GD


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_gd_factorise_masked_equals_dense_path_bitwise(A, M, dtype, rank):
    Ad = A.to(dtype)
    pair = _lab(lab.gd_factorise_masked, 3, Ad, M, rank, num_epochs=50, lr=0.01)
    res = _lab(factorise_gd, 3, Ad, M, rank=rank, num_epochs=50, lr=0.01)
    assert "sparse" not in res.info
    _assert_equal_factors(pair, res)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gd_equal_on_a_rectangular_matrix_with_course_lr(dtype):
    A, M = _rect(m=30, n=20, seed=1, dtype=dtype)
    pair = _lab(lab.gd_factorise_masked, 0, A, M, 4, num_epochs=30)  # the course's lr=1e-5
    _assert_equal_factors(pair, factorise_gd(A, M, 4, num_epochs=30, seed=0))


# ----------------------------------------------------------------- Q2: SVD


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_truncated_svd_equals_factorise_svd(A, dtype, rank):
    Ad = A.to(dtype)
    res = factorise_svd(Ad, rank=rank)
    _assert_equal_factors(lab.truncated_svd(Ad, rank), res)
    S = torch.linalg.svdvals(Ad.double())
    assert res.loss == pytest.approx(float((S[rank:] ** 2).sum()), rel=1e-4, abs=1e-6)


def test_truncated_svd_rectangular():
    A, _ = _rect(m=7, n=4)
    U, V = lab.truncated_svd(A, 2)
    assert U.shape == (7, 2) and V.shape == (4, 2)
    _assert_equal_factors((U, V), factorise_svd(A, rank=2))


# ------------------------------------------------- the handout's signatures


def test_handout_functions_live_only_in_labmf_lab():
    # One name per thing (issue 19): the handout's functions are labmf.lab's, not re-exported
    # flat beside factorise_*.
    for name in lab.__all__:
        assert not hasattr(labmf, name)
    assert labmf.lab is lab
    assert set(lab.__all__) == {"sgd_factorise", "truncated_svd", "sgd_factorise_masked", "gd_factorise_masked"}


def test_handout_signatures_return_factor_pairs():
    A, M = _rect(m=5, n=3, dtype=torch.float32)
    torch.manual_seed(0)
    for U, V in (
        lab.sgd_factorise(A, 2, num_epochs=3),
        lab.sgd_factorise_masked(A, M, 2, num_epochs=3),
        lab.gd_factorise_masked(A, M, 2, num_epochs=3),
        lab.truncated_svd(A, 2),
    ):
        assert U.shape == (5, 2) and V.shape == (3, 2)
        assert U.dtype == V.dtype == torch.float32


def test_labmf_lab_truncated_svd_is_the_handouts(A):
    assert labmf.lab.truncated_svd is lab.truncated_svd
    U, V = labmf.lab.truncated_svd(A, 2)
    assert U.shape == (3, 2) and V.shape == (3, 2)


def test_one_seed_one_start_whatever_the_dtype(A):
    # lab.py draws in float32 and casts, as factorise_* do: float32 and float64 starts agree.
    a = _lab(lab.gd_factorise_masked, 4, A, torch.ones(3, 3), 2, num_epochs=0)
    b = _lab(lab.gd_factorise_masked, 4, A.double(), torch.ones(3, 3), 2, num_epochs=0)
    assert torch.equal(a[0].double(), b[0]) and torch.equal(a[1].double(), b[1])
    res = factorise_gd(A.double(), rank=2, num_epochs=0, seed=4)
    _assert_equal_factors(b, res)


# ------------------------------------------------- the restructure's new errors


def test_autograd_lr_beyond_dtype_refused(A):
    with pytest.raises(ValueError, match=r"lr must be at most the largest torch.float32 .*got 1e\+300"):
        factorise_autograd(A, lr=1e300)


def test_svd_overflow_refused():
    with pytest.raises(ValueError, match="SVD of A overflowed torch.float32.*rescale A, or pass it in float64"):
        factorise_svd(torch.full((3, 3), 3e38))


def test_predict_refuses_negative_and_out_of_range_indices(A):
    res = factorise_svd(A, rank=2)
    assert res.predict(2, 1) == pytest.approx(float(res.reconstruction[2, 1]))
    with pytest.raises(ValueError, match=r"row \(of a 3 x 3 reconstruction\) must be in \[0, 2\], got -1"):
        res.predict(-1, 0)
    with pytest.raises(ValueError, match=r"col \(of a 3 x 3 reconstruction\) must be in \[0, 2\], got 3"):
        res.predict(0, 3)
    with pytest.raises(TypeError, match="row .* must be an integer"):
        res.predict(1.0, 0)
