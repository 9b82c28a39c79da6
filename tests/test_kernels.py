"""The compiled per-entry SGD kernel against the readable handout loop (:mod:`labmf.lab`).

The numba kernel does :func:`labmf.lab.sgd_factorise`'s float64 operations in its
order without fastmath, so the tests demand bit equality (``torch.equal`` /
``np.array_equal``), not a tolerance. Also here: the kernels' argument checks
and :mod:`labmf.jit`'s fallback when numba cannot write its cache.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch

import labmf
from labmf import jit, kernels, lab
from labmf.factorise import factorise_sgd
from labmf.sparse import from_triplets, observed_triplets, to_sparse


def _problem(m=13, n=9, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(m, n, generator=g, dtype=torch.float64) * 5
    M = (torch.rand(m, n, generator=g) < density).double()
    M[0, 0] = 1  # keep nnz > 0
    return A, M


def _start(m, n, rank, seed):
    """The start lab.py draws after ``torch.manual_seed(seed)``: float32 U then V, as float64."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(m, rank, generator=g).double(), torch.rand(n, rank, generator=g).double()


def _assert_same(a, b):
    assert torch.equal(a.U, b.U)
    assert torch.equal(a.V, b.V)
    assert torch.equal(a.losses, b.losses)


def _kernel_and_lab(rank, num_epochs=30):
    """The kernel on the observed triplets (row-major) from lab.py's start, and lab.py itself."""
    A, M = _problem()
    torch.manual_seed(rank)
    U, V = lab.sgd_factorise_masked(A, M, rank, num_epochs=num_epochs)
    rows, cols, vals = observed_triplets(A, M)
    Uk, Vk = (T.numpy().copy() for T in _start(13, 9, rank, rank))
    losses = np.empty(num_epochs)
    assert kernels.sgd_epochs(rows, cols, vals, Uk, Vk, 0.01, num_epochs, losses) == num_epochs
    # losses[k] is the SSE over the observed entries after epoch k + 1.
    assert losses[-1] == pytest.approx(labmf.sse(A, U @ V.T, M), rel=1e-12)
    return (Uk, Vk), (U.numpy(), V.numpy())


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_kernel_equals_lab_loop_bitwise(rank):
    kernel, handout = _kernel_and_lab(rank)
    assert all(np.array_equal(a, b) for a, b in zip(kernel, handout, strict=True))


@pytest.mark.parametrize("rank", [5, 8])
def test_kernel_equals_lab_loop_to_rounding_beyond_rank_4(rank):
    # lab.py's dot product is torch's (U[r] * V[c]).sum(), which for more than 4
    # terms no longer adds them left to right (measured with torch 2.13 on x86-64:
    # 70% of random 5-term float64 dot products differ from the sequential sum in
    # the last bit). The kernel always sums k = 0 .. r-1, so from rank 5 on the two
    # agree to rounding only: measured max |difference| 6e-16 after 30 epochs.
    kernel, handout = _kernel_and_lab(rank)
    assert all(np.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(kernel, handout, strict=True))


@pytest.mark.parametrize("rank", [1, 2, 5, kernels.MAX_UNROLLED_RANK, kernels.MAX_UNROLLED_RANK + 1])
def test_rank_specialised_sgd_kernel_bit_identical_to_generic(rank):
    A, M = _problem(m=30, n=20, seed=rank)
    rows, cols, vals = observed_triplets(A, M)
    U0, V0 = (T.numpy() for T in _start(30, 20, rank, rank))
    expected = kernels._sgd_compiled if rank > kernels.MAX_UNROLLED_RANK else kernels._specialised("sgd", rank)
    assert kernels._sgd_kernel(rank) is expected
    runs = []
    for specialise in (True, False):
        U, V, losses = U0.copy(), V0.copy(), np.empty(25)
        assert kernels.sgd_epochs(rows, cols, vals, U, V, 0.01, 25, losses, specialise=specialise) == 25
        runs.append((U, V, losses))
    assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))


@pytest.mark.parametrize("case", ["dense", "masked", "sparse"])
def test_factorise_sgd_equals_lab_loop_bitwise(case):
    A, M = _problem(m=8, n=6)
    torch.manual_seed(4)
    if case == "dense":
        U, V = lab.sgd_factorise(A, 3, num_epochs=25)
        res = factorise_sgd(A, None, 3, num_epochs=25, seed=4)
    else:
        U, V = lab.sgd_factorise_masked(A, M, 3, num_epochs=25)
        res = factorise_sgd(*((A, M) if case == "masked" else (to_sparse(A, M), None)), 3, num_epochs=25, seed=4)
    assert res.info["backend"] == "numba"
    assert torch.equal(res.U, U) and torch.equal(res.V, V)


def test_sparse_input_is_the_masked_computation():
    A, M = _problem()
    init = _start(13, 9, 3, 0)
    masked = factorise_sgd(A, M, 3, init=init, num_epochs=60)
    sparse = factorise_sgd(to_sparse(A, M), None, 3, init=init, num_epochs=60)
    _assert_same(masked, sparse)
    assert sparse.info["nnz"] == int(M.sum())


def test_sparse_input_stored_zero_is_observed():
    # A stored 0.0 is a rating of zero, unlike a cell that is not stored.
    rows, cols, vals = [0, 0, 1, 2], [0, 2, 1, 0], [1.0, 0.0, 2.0, 3.0]
    As = from_triplets(rows, cols, vals, (3, 3), dtype=torch.float64)
    M = torch.zeros(3, 3, dtype=torch.float64)
    M[rows, cols] = 1
    torch.manual_seed(0)
    U, V = lab.sgd_factorise_masked(As.to_dense(), M, 1, num_epochs=40)
    res = factorise_sgd(As, None, 1, num_epochs=40, seed=0)
    assert torch.equal(res.U, U) and torch.equal(res.V, V)


def test_float32_input_computed_in_float64():
    # Arithmetic is float64 whatever A's dtype: a float32 A gives the float64 run
    # rounded once at the end (the start is drawn in float32 either way).
    A = labmf.lab_matrix()
    r32 = factorise_sgd(A, rank=2, seed=3, num_epochs=300)
    r64 = factorise_sgd(A.double(), rank=2, seed=3, num_epochs=300)
    assert r32.U.dtype == torch.float32
    assert torch.equal(r32.U, r64.U.float()) and torch.equal(r32.V, r64.V.float())
    assert torch.equal(r32.losses, r64.losses)


def test_same_seed_same_result():
    A, M = _problem()
    a = factorise_sgd(A, M, rank=3, seed=11, num_epochs=20)
    b = factorise_sgd(A, M, rank=3, seed=11, num_epochs=20)
    _assert_same(a, b)
    c = factorise_sgd(A, M, rank=3, seed=12, num_epochs=20)
    assert not torch.equal(a.U, c.U)


def test_divergence_raises():
    A = labmf.lab_matrix()
    with pytest.raises(labmf.DivergenceError, match="sgd diverged"):
        factorise_sgd(A, rank=2, seed=0, lr=10.0, num_epochs=200)


@pytest.mark.parametrize("kernel", [kernels.sgd_epochs, kernels.gd_epochs])
def test_kernel_stops_at_first_nonfinite_epoch(kernel):
    A, M = _problem()
    rows, cols, vals = observed_triplets(A, M)
    U, V = (T.numpy().copy() for T in _start(13, 9, 3, 0))
    losses = np.zeros(500)
    done = kernel(rows, cols, vals, U, V, 5.0, 500, losses)
    assert 0 < done < 500 and not np.isfinite(losses[done - 1])
    assert np.all(np.isfinite(losses[: done - 1]))
    assert np.all(losses[done:] == 0)  # nothing written after the stop


@pytest.mark.parametrize("kernel", [kernels.sgd_epochs, kernels.gd_epochs])
def test_kernel_checks_its_arrays(kernel):
    rows = np.array([0, 1], dtype=np.int64)
    vals = np.ones(2)
    U, V, losses = np.ones((2, 1)), np.ones((2, 1)), np.empty(3)
    with pytest.raises(TypeError, match="rows must be a numpy array of int64, got int32"):
        kernel(rows.astype(np.int32), rows, vals, U, V, 0.1, 3, losses)
    with pytest.raises(TypeError, match="U must be a numpy array of float64, got float32"):
        kernel(rows, rows, vals, U.astype(np.float32), V, 0.1, 3, losses)
    with pytest.raises(TypeError, match="vals must be a numpy array of float64, got list"):
        kernel(rows, rows, [1.0, 1.0], U, V, 0.1, 3, losses)
    with pytest.raises(ValueError, match=r"cols in \[0, 2\)"):
        kernel(rows, rows + 1, vals, U, V, 0.1, 3, losses)
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 2\)"):
        kernel(rows - 1, rows, vals, U, V, 0.1, 3, losses)
    with pytest.raises(ValueError, match="losses must hold num_epochs=4"):
        kernel(rows, rows, vals, U, V, 0.1, 4, losses)
    with pytest.raises(ValueError, match="same number of columns"):
        kernel(rows, rows, vals, U, np.ones((2, 2)), 0.1, 3, losses)
    with pytest.raises(ValueError, match="1-D of one length"):
        kernel(rows, rows, np.ones(3), U, V, 0.1, 3, losses)
    assert np.array_equal(U, np.ones((2, 1)))  # a refused call touched nothing


def test_sparse_with_mask_rejected():
    A, M = _problem()
    with pytest.raises(ValueError, match="mask must be None when A is sparse"):
        factorise_sgd(to_sparse(A, M), M, rank=2)


def _tiny(x):
    return x + 1


def test_unwritable_cache_falls_back_to_memory(monkeypatch):
    # numba raises RuntimeError at decoration when no cache directory is writable;
    # compile_kernel must then compile in memory instead of failing the import,
    # warning once per process however many kernels it compiles.
    real = jit.numba.njit
    asked = []

    def njit(*, cache=False, **kw):
        asked.append(cache)
        if cache:
            raise RuntimeError("cannot cache function '_tiny': no locator available")
        return real(cache=False, **kw)

    monkeypatch.setattr(jit, "numba", types.SimpleNamespace(njit=njit))
    monkeypatch.setattr(jit, "_uncached", [])
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        fn = jit.compile_kernel(_tiny)
    assert fn(1) == 2 and asked == [True, False]
    assert not jit.all_cached()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second uncached kernel must not warn again
        assert jit.compile_kernel(_tiny)(2) == 3

