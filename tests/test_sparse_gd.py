"""Sparse inputs and the sparse full-batch GD path against the course's dense loop (:mod:`labmf.lab`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import labmf
from labmf import kernels, lab
from labmf.factorise import factorise_gd
from labmf.sparse import check_sparse_matrix, from_triplets, sparse_triplets, to_sparse


def _ratings(m=150, n=100, density=0.1, seed=0, dtype=torch.float64):
    """A small layout like Q4's: half-star ratings in [0.5, 5], popular rows denser."""
    g = torch.Generator().manual_seed(seed)
    p = torch.linspace(2 * density, density / 5, m)[:, None].expand(m, n)
    M = (torch.rand(m, n, generator=g) < p).to(dtype)
    A = (torch.randint(1, 11, (m, n), generator=g) / 2).to(dtype) * M
    return A, M


def _rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def test_sparse_gd_follows_dense_trajectory():
    A, M = _ratings()
    dense = factorise_gd(A, M, rank=5, lr=2e-3, num_epochs=1000, seed=0)
    sparse = factorise_gd(to_sparse(A, M), rank=5, lr=2e-3, num_epochs=1000, seed=0)
    assert sparse.info == {"backend": "numba", "nnz": int(M.sum()), "sparse": True, "masked": True}
    assert dense.losses[-1] < 0.2 * dense.losses[0]  # it did learn something
    # float64 on both sides: only the summation order differs; measured ~1e-15.
    assert _rel(sparse.U, dense.U) < 1e-10
    assert _rel(sparse.V, dense.V) < 1e-10
    assert torch.allclose(sparse.losses, dense.losses, rtol=1e-10, atol=0)


def test_sparse_gd_float32_course_dtype():
    # Dense float32 (the course's dtype) vs sparse (float64 inside, rounded at the end):
    # measured ~9e-7 relative after 1000 epochs; we check 1e-4, the bound.
    A, M = _ratings(dtype=torch.float32)
    dense = factorise_gd(A, M, rank=5, lr=2e-3, num_epochs=1000, seed=0)
    sparse = factorise_gd(A, M, rank=5, lr=2e-3, num_epochs=1000, seed=0, sparse=True)
    assert sparse.U.dtype == torch.float32
    assert _rel(sparse.U, dense.U) < 1e-4
    assert _rel(sparse.V, dense.V) < 1e-4
    assert torch.allclose(sparse.losses, dense.losses, rtol=1e-4, atol=0)


def test_dense_default_is_the_course_code():
    A, M = _ratings(m=40, n=30, dtype=torch.float32)
    torch.manual_seed(4)
    U, V = lab.gd_factorise_masked(A, M, 3, num_epochs=50, lr=1e-3)
    res = factorise_gd(A, M, rank=3, lr=1e-3, num_epochs=50, seed=4)
    assert torch.equal(res.U, U) and torch.equal(res.V, V)
    assert "sparse" not in res.info


def test_sparse_gd_follows_lab_code():
    # The sparse kernel against the readable course code itself (float64 both sides).
    A, M = _ratings(m=40, n=30)
    torch.manual_seed(6)
    U, V = lab.gd_factorise_masked(A, M, 3, num_epochs=200, lr=1e-3)
    res = factorise_gd(to_sparse(A, M), rank=3, lr=1e-3, num_epochs=200, seed=6)
    assert _rel(res.U, U) < 1e-10 and _rel(res.V, V) < 1e-10


def test_sparse_flag_routes():
    A, M = _ratings(m=40, n=30)
    kw = dict(rank=3, lr=1e-3, num_epochs=30, seed=2)
    As = to_sparse(A, M)
    # sparse=True on dense A + mask == sparse A, bit for bit (same triplets, same kernel).
    a, b = factorise_gd(A, M, sparse=True, **kw), factorise_gd(As, **kw)
    assert torch.equal(a.U, b.U) and torch.equal(a.losses, b.losses)
    # sparse=False on a sparse A == the dense course code on A and its stored-entry mask.
    c, d = factorise_gd(As, sparse=False, **kw), factorise_gd(A, M, **kw)
    assert torch.equal(c.U, d.U) and torch.equal(c.losses, d.losses)


def test_same_seed_bit_identical():
    As = to_sparse(*_ratings(m=60, n=40))
    a = factorise_gd(As, rank=4, lr=1e-3, num_epochs=40, seed=9)
    b = factorise_gd(As, rank=4, lr=1e-3, num_epochs=40, seed=9)
    assert torch.equal(a.U, b.U) and torch.equal(a.V, b.V) and torch.equal(a.losses, b.losses)
    c = factorise_gd(As, rank=4, lr=1e-3, num_epochs=40, seed=10)
    assert not torch.equal(a.U, c.U)


def test_sparse_gd_divergence_raises():
    As = to_sparse(*_ratings(m=60, n=40))
    with pytest.raises(labmf.DivergenceError, match="gd diverged"):
        factorise_gd(As, rank=4, lr=1.0, num_epochs=200, seed=0)


def test_sparse_gd_loss_non_increasing_at_small_lr():
    As = to_sparse(*_ratings(m=60, n=40))
    res = factorise_gd(As, rank=4, lr=1e-4, num_epochs=200, seed=0)
    assert bool((torch.diff(res.losses) <= 0).all())
    assert res.losses[-1] < res.losses[0]


def test_callback_and_losses_match_dense():
    A, M = _ratings(m=40, n=30)
    seen = {"dense": [], "sparse": []}
    kw = dict(rank=3, lr=1e-3, num_epochs=7, seed=1)
    factorise_gd(A, M, callback=lambda e, loss: seen["dense"].append((e, loss)), **kw)
    factorise_gd(A, M, sparse=True, callback=lambda e, loss: seen["sparse"].append((e, loss)), **kw)
    assert [e for e, _ in seen["dense"]] == [e for e, _ in seen["sparse"]] == list(range(1, 8))
    for (_, x), (_, y) in zip(seen["dense"], seen["sparse"], strict=True):
        assert y == pytest.approx(x, rel=1e-12)


def test_zero_epochs():
    A, M = _ratings(m=20, n=10)
    a = factorise_gd(A, M, rank=2, num_epochs=0, seed=0)
    b = factorise_gd(A, M, rank=2, num_epochs=0, seed=0, sparse=True)
    assert a.losses.shape == b.losses.shape == (1,)
    assert float(b.losses[0]) == pytest.approx(float(a.losses[0]), rel=1e-12)
    assert torch.equal(a.U, b.U) and torch.equal(a.V, b.V)  # both are the seeded start


# ------------------------------------------------------------- input checks


def test_sparse_input_checks():
    A, M = _ratings(m=20, n=10)
    As = to_sparse(A, M)
    with pytest.raises(ValueError, match="mask must be None when A is sparse"):
        factorise_gd(As, M, rank=2)
    with pytest.raises(TypeError, match="sparse must be None, True or False, got 'yes'"):
        factorise_gd(A, M, rank=2, sparse="yes")
    with pytest.raises(TypeError, match="backend"):  # the parameter is gone: one kernel per path
        factorise_gd(As, rank=2, backend="numba")
    with pytest.raises(ValueError, match=r"rank must be in \[1, 10\], got 11"):
        factorise_gd(As, rank=11)
    bad = torch.sparse_coo_tensor([[0, 1], [0, 1]], [1.0, float("nan")], (3, 3), check_invariants=True)
    with pytest.raises(ValueError, match=r"A must be finite; found 1 NaN/inf value\(s\), first at A\[1, 1\] = nan"):
        factorise_gd(bad, rank=1)
    empty = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (3, 3), check_invariants=True)
    with pytest.raises(ValueError, match="A stores no entry"):
        factorise_gd(empty, rank=1)
    cube = torch.zeros(2, 2, 2).to_sparse()
    with pytest.raises(ValueError, match="A must be a 2-D sparse matrix"):
        check_sparse_matrix(cube)


@pytest.mark.parametrize("fn", [labmf.factorise_autograd, labmf.factorise_svd])
def test_dense_only_algorithms_reject_sparse(fn):
    As = to_sparse(labmf.lab_matrix())
    with pytest.raises(TypeError, match=f"{fn.__name__} needs a dense A, got a sparse tensor"):
        fn(As, rank=2)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta state")
def test_csr_and_integer_inputs_accepted():
    A, M = _ratings(m=20, n=10)
    As = to_sparse(A, M)
    a = factorise_gd(As, rank=2, seed=0, num_epochs=5)
    b = factorise_gd(As.to_sparse_csr(), rank=2, seed=0, num_epochs=5)
    assert torch.equal(a.U, b.U)
    ints = torch.sparse_coo_tensor([[0, 2], [1, 0]], [4, 5], (3, 2), check_invariants=True)
    assert check_sparse_matrix(ints).dtype == torch.get_default_dtype()


def test_from_triplets_checks():
    with pytest.raises(ValueError, match=r"\(rows, cols\) must be unique; 1 pair\(s\) repeat, first \(1, 2\)"):
        from_triplets([0, 1, 1], [0, 2, 2], [1.0, 2.0, 3.0], (2, 3))
    with pytest.raises(ValueError, match=r"cols must lie in \[0, 3\), got values in \[0, 3\]"):
        from_triplets([0, 1], [0, 3], [1.0, 2.0], (2, 3))
    with pytest.raises(TypeError, match="rows must hold integers"):
        from_triplets([0.0, 1.0], [0, 1], [1.0, 2.0], (2, 3))
    with pytest.raises(ValueError, match="shape must be a pair of ints"):
        from_triplets([0], [0], [1.0], 5)
    A = from_triplets([1, 0], [0, 2], [2.0, 1.0], (2, 3))
    rows, cols, vals = sparse_triplets(A)
    assert rows.tolist() == [0, 1] and cols.tolist() == [2, 0] and vals.tolist() == [1.0, 2.0]


# ------------------------------------------------- compiled kernel variants


def _gd_runs(rows, cols, vals, U0, V0, num_epochs=20):
    """``kernels.gd_epochs`` specialised and generic from one start: two (U, V, losses)."""
    out = []
    for specialise in (True, False):
        U, V, losses = U0.copy(), V0.copy(), np.empty(num_epochs)
        assert kernels.gd_epochs(rows, cols, vals, U, V, 1e-3, num_epochs, losses, specialise=specialise) == num_epochs
        out.append((U, V, losses))
    return out


@pytest.mark.parametrize("rank", [1, 3, 5, kernels.MAX_UNROLLED_RANK])
def test_rank_specialised_gd_kernel_bit_identical_to_generic(rank):
    A, M = _ratings(m=50, n=30, seed=rank)
    rows, cols, vals = sparse_triplets(to_sparse(A, M))
    assert kernels._gd_kernel(rows, rank) is not kernels._gd_generic  # the specialised one runs
    rng = np.random.default_rng(rank)
    a, b = _gd_runs(rows, cols, vals, rng.random((50, rank)), rng.random((30, rank)))
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


def test_gd_generic_kernel_beyond_max_unrolled_rank():
    rows = np.array([0, 0, 1], dtype=np.int64)
    assert kernels._gd_kernel(rows, kernels.MAX_UNROLLED_RANK + 1) is kernels._gd_generic


def test_gd_dispatch_falls_back_for_unsorted_rows():
    rows = np.array([1, 0, 1], dtype=np.int64)  # not grouped by row
    cols = np.array([0, 1, 1], dtype=np.int64)
    vals = np.array([1.0, 2.0, 3.0])
    assert kernels._gd_kernel(rows, 2) is kernels._gd_generic
    a, b = _gd_runs(rows, cols, vals, np.full((2, 2), 0.5), np.full((2, 2), 0.5), num_epochs=5)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


def test_duplicate_sparse_entries_are_refused():
    idx = torch.tensor([[0, 0, 1], [0, 0, 1]])
    A = torch.sparse_coo_tensor(idx, torch.tensor([4.0, 4.0, 3.0]), (2, 2), check_invariants=True)
    with pytest.raises(ValueError, match=r"duplicate.*A\[0, 0\]"):
        labmf.factorise_sgd(A, rank=1, seed=0)
