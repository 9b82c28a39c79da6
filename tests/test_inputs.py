"""Reliability-probe inputs (issue 9, item 7) in the data, metrics, evaluation and sparse-input code.

Each bad input gets a clear error naming the parameter (and, for files, the file)
before any work is done; each overflow-prone input gives the right answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labmf.convergence import still_improving
from labmf.data import course_layout, data_dir, fetch, lab_layout, load_course_titles
from labmf.data.download import ENV_VAR, RemoteFile
from labmf.evaluate import fit_early_stopped, holdout_split, lr_sweep, top_n_unrated
from labmf.metrics import mae, mse, rmse, sse
from labmf.result import FactorisationResult
from labmf.sparse import check_sparse_matrix, from_triplets
from labrec import Ratings


def _never_called(*args, **kwargs):
    raise AssertionError("the input should have been refused before any fit")


# --------------------------------------------------------------- evaluate


def test_lr_sweep_needs_an_epoch():
    A = torch.ones(3, 3)
    # With no epoch every rate would count as stable and largest_stable_lr would return 1e6.
    with pytest.raises(ValueError, match=r"num_epochs must be in \[1, inf\], got 0"):
        lr_sweep(_never_called, A, None, 1, [1e-3, 1e6], num_epochs=0)
    with pytest.raises(ValueError, match=r"lrs\[1\] must be in \(0, inf\)"):
        lr_sweep(_never_called, A, None, 1, [1e-3, -1.0], num_epochs=5)
    with pytest.raises(TypeError, match=r"lrs\[0\] must be a real number"):
        lr_sweep(_never_called, A, None, 1, ["0.1"], num_epochs=5)


def test_fit_early_stopped_refuses_overlapping_masks():
    A = torch.ones(3, 4)
    train = torch.ones(3, 4)
    test = torch.zeros(3, 4)
    test[0, :2] = 1
    with pytest.raises(ValueError, match=r"disjoint; 2 of the 2 held-out entries are also in train_mask"):
        fit_early_stopped(_never_called, A, train, test, 1, num_epochs=3)
    with pytest.raises(ValueError, match=r"val_mask must have A's shape \(3, 4\)"):
        fit_early_stopped(_never_called, A, train, torch.ones(4, 3), 1, num_epochs=3)
    with pytest.raises(TypeError, match="num_epochs must be an integer"):
        fit_early_stopped(_never_called, A, train, test, 1, num_epochs=2.0)


@pytest.mark.parametrize("call, exc, match", [
    (lambda M: holdout_split(M, True, seed=0), TypeError, "frac must be a real number"),
    (lambda M: holdout_split(M, float("nan"), seed=0), ValueError, "frac must be finite"),
    (lambda M: top_n_unrated(M, M, True), TypeError, "col must be an integer"),
    (lambda M: top_n_unrated(M, M, -1), ValueError, r"col must be in \[0, 3\], got -1"),
    (lambda M: top_n_unrated(M, M, 0, n=2.0), TypeError, "n must be an integer"),
    (lambda M: still_improving([3.0, 2.0, 1.0], window=0), ValueError, "window must be in"),
    (lambda M: still_improving([3.0, 2.0, 1.0], rtol=-1), ValueError, "rtol must be in"),
])
def test_evaluate_scalars_go_through_check_scalar(call, exc, match):
    with pytest.raises(exc, match=match):
        call(torch.ones(3, 4))


# ----------------------------------------------------------------- result


def test_predict_refuses_negative_and_out_of_range_indices():
    res = FactorisationResult(U=torch.ones(2, 1), V=torch.full((3, 1), 2.0), losses=torch.zeros(1),
                              method="test", rank=1)
    assert res.predict(1, 2) == 2.0
    assert res.predict(np.int64(1), 0) == 2.0
    with pytest.raises(ValueError, match=r"row \(of a 2 x 3 reconstruction\) must be in \[0, 1\], got -1"):
        res.predict(-1, 0)
    with pytest.raises(ValueError, match=r"col \(of a 2 x 3 reconstruction\) must be in \[0, 2\], got 3"):
        res.predict(0, 3)
    with pytest.raises(TypeError, match="row .* must be an integer"):
        res.predict(0.0, 0)


# ---------------------------------------------------------------- metrics


@pytest.mark.parametrize("metric, factor", [(sse, 4.0), (mse, 1.0), (rmse, None), (mae, None)])
def test_metrics_do_not_overflow_in_half_precision(metric, factor):
    A = torch.full((2, 2), 60000.0, dtype=torch.float16)
    got = metric(A, -A)
    want = {sse: 4 * 120000.0**2, mse: 120000.0**2, rmse: 120000.0, mae: 120000.0}[metric]
    assert np.isfinite(got) and got == pytest.approx(want)


def test_metrics_do_not_overflow_in_float32():
    A = torch.full((2, 2), 3e38, dtype=torch.float32)
    assert sse(A, -A) == pytest.approx(4 * (2 * float(A[0, 0])) ** 2)
    assert rmse(A, -A, torch.eye(2)) == pytest.approx(2 * float(A[0, 0]))


def test_metrics_refuse_complex():
    with pytest.raises(TypeError, match="must be real"):
        sse(torch.ones(2, 2, dtype=torch.complex64), torch.ones(2, 2))


# ------------------------------------------------------------ from_triplets


def test_from_triplets_refuses_complex_values():
    with pytest.raises(TypeError, match="vals must be real, got complex"):
        from_triplets([0, 1], [0, 1], np.array([1 + 2j, 3 + 0j]), (2, 2))


@pytest.mark.parametrize("shape, match", [
    ((2.7, 3.9), r"shape\[0\] must be an integer, got 2\.7"),
    ((2, 3.0), r"shape\[1\] must be an integer, got 3\.0"),  # integral floats too
    ((2, 0), r"shape\[1\] must be in \[1, inf\], got 0"),
])
def test_from_triplets_refuses_float_or_empty_shapes(shape, match):
    with pytest.raises((TypeError, ValueError), match=match):
        from_triplets([0, 1], [0, 1], [1.0, 2.0], shape)


def test_from_triplets_accepts_numpy_integer_shapes():
    A = from_triplets([0, 1], [0, 1], [1.0, 2.0], (np.int64(2), np.int32(2)))
    assert A.shape == (2, 2)


def test_from_triplets_large_indices_have_no_false_duplicate():
    # Far apart rows whose row * n + col keys are far below 2**63: both entries kept.
    m, n = 2**41, 2**20
    A = from_triplets([m - 1, 0], [n - 1, n - 1], [1.0, 2.0], (m, n))
    assert A._nnz() == 2 and A.indices().tolist() == [[0, m - 1], [n - 1, n - 1]]
    # Here row * n + col overflowed int64 and two distinct entries looked alike; torch
    # cannot hold 2**63 cells anyway, so the shape is refused up front.
    with pytest.raises(ValueError, match=r"shape \(4611686018427387904, 4\) has m \* n = .* < 2\*\*63"):
        from_triplets([2**62 - 1, 2**61 - 1], [3, 3], [1.0, 2.0], (2**62, 4))


def test_uncoalesced_duplicates_at_large_indices_are_found():
    idx = torch.tensor([[2**40, 0, 2**40], [5, 5, 5]])
    A = torch.sparse_coo_tensor(idx, torch.ones(3), (2**41, 2**20), check_invariants=True)
    with pytest.raises(ValueError, match=r"1 duplicate \(row, col\) pair\(s\), first at A\[1099511627776, 5\]"):
        check_sparse_matrix(A)


def test_from_triplets_uint64_indices_do_not_wrap():
    rows = np.array([2**63 + 1, 0], dtype=np.uint64)
    with pytest.raises(ValueError, match=rf"rows must lie in \[0, 5\), got values in \[0, {2**63 + 1}\]"):
        from_triplets(rows, [0, 1], [1.0, 2.0], (5, 5))
    A = from_triplets(np.array([4, 0], dtype=np.uint64), [0, 1], [1.0, 2.0], (5, 5))
    assert A.indices().tolist() == [[0, 4], [1, 0]]


def test_from_triplets_duplicates_and_dtype():
    with pytest.raises(ValueError, match=r"must be unique; 1 pair\(s\) repeat, first \(1, 2\)"):
        from_triplets([1, 0, 1], [2, 0, 2], [1.0, 2.0, 3.0], (2, 3))
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype"):
        from_triplets([0], [0], [1.0], (1, 1), dtype=torch.int64)


# -------------------------------------------------------------- data files


def _saved(tmp_path, obj, name="ratings.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_course_layout_on_a_text_file(tmp_path):
    path = tmp_path / "ratings.pt"
    path.write_text("movie,user,rating\n0,0,5\n")
    with pytest.raises(ValueError, match=rf"ratings file {path} is not readable by torch.load .*torch.save"):
        course_layout(path)


def test_course_layout_on_an_empty_file(tmp_path):
    path = tmp_path / "ratings.pt"
    path.touch()
    with pytest.raises(ValueError, match=rf"ratings file {path} is empty; expected a dense 2-D float tensor"):
        course_layout(path)


def test_course_layout_on_a_sparse_tensor(tmp_path):
    path = _saved(tmp_path, torch.eye(3).to_sparse())
    with pytest.raises(ValueError, match=rf"{path} holds a torch.sparse_coo tensor; expected a dense"):
        course_layout(path, shape=(3, 3))


def test_course_layout_on_a_dict(tmp_path):
    path = _saved(tmp_path, {"ratings": torch.ones(2, 2)})
    with pytest.raises(TypeError, match=rf"ratings \({path}\) must be a dense torch.Tensor, got dict"):
        course_layout(path, shape=(2, 2))


def test_course_titles_on_a_binary_file(tmp_path):
    path = tmp_path / "titles.csv"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=rf"titles file {path} is not UTF-8 text"):
        load_course_titles(path)


def test_data_dir_that_is_a_file_is_named(tmp_path, monkeypatch):
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    monkeypatch.setenv(ENV_VAR, str(afile))
    with pytest.raises(NotADirectoryError, match=rf"{ENV_VAR} must name a directory.*{afile} is a file"):
        data_dir()
    monkeypatch.delenv(ENV_VAR)
    reg = {"f.csv": RemoteFile("f.csv", "http://127.0.0.1:9/f.csv", "sha256:" + "0" * 64)}
    with pytest.raises(NotADirectoryError, match="cache_dir must name a directory"):
        fetch("f.csv", cache_dir=afile, registry=reg)


# The URL is a closed loopback port: any of these reaching the network would fail differently.
_REG = {"f.csv": RemoteFile("f.csv", "http://127.0.0.1:9/f.csv", "sha256:" + "0" * 64)}


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"timeout": -1}, ValueError, r"timeout must be in \(0, inf\), got -1\.0"),
    ({"timeout": 0}, ValueError, "timeout must be in"),
    ({"timeout": "30"}, TypeError, "timeout must be a real number"),
    ({"known_hash": "abc"}, ValueError, "known_hash must be 'sha256:<64 hex digits>'.*'abc'"),
    ({"known_hash": "sha256:" + "z" * 64}, ValueError, "known_hash must be"),
    ({"known_hash": "md5:" + "0" * 64}, ValueError, "known_hash must be"),  # wrong length for md5
    ({"known_hash": "crc32:00000000"}, ValueError, "known_hash must be"),
    ({"known_hash": 123}, ValueError, "known_hash must be"),
])
def test_fetch_checks_arguments_before_any_download(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fetch("f.csv", cache_dir=tmp_path, registry=_REG, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_fetch_checks_the_registry_hash(tmp_path):
    reg = {"f.csv": RemoteFile("f.csv", "http://127.0.0.1:9/f.csv", "sha256:123")}
    with pytest.raises(ValueError, match="the registry's hash of f.csv must be"):
        fetch("f.csv", cache_dir=tmp_path, registry=reg)


# ------------------------------------------------------------- Ratings table


def test_ratings_refuse_lossy_casts():
    with pytest.raises(ValueError, match=r"user must be below 2\*\*63"):
        Ratings(np.array([2**63], dtype=np.uint64), [1], [4.0], [0])
    with pytest.raises(TypeError, match="item must hold integers, got dtype float64"):
        Ratings([1], [1.5], [4.0], [0])
    with pytest.raises(TypeError, match="rating must hold real numbers, got dtype complex128"):
        Ratings([1], [1], [4.0 + 1j], [0])


def test_lab_layout_with_ids_near_2_63_has_no_false_duplicate():
    big = 2**62
    # Keyed by user * (max item + 1) + item these pairs collided after int64 overflow.
    r = Ratings([big, 1, 1], [big, big, 7], [4.0, 3.0, 5.0], [0, 0, 0])
    L = lab_layout(r, n_movies=2, n_users=2)
    assert L.movie_ids.tolist() == [big, 7] and L.user_ids.tolist() == [1, big]
    assert L.ratings.tolist() == [[3.0, 4.0], [5.0, 0.0]]
    # A pair rated twice is refused by the ratings table itself, before any layout.
    with pytest.raises(ValueError, match=r"1 duplicate \(user, item\) pair\(s\), first \(user 1, item 7\)"):
        lab_layout(Ratings([1, 1, 2], [7, 7, 7], [1.0, 2.0, 3.0], [0, 0, 0]), n_movies=1)


def test_lab_layout_refuses_bool_or_float_sizes():
    r = Ratings([1, 2], [7, 8], [1.0, 2.0], [0, 0])
    with pytest.raises(TypeError, match="n_movies must be an integer"):
        lab_layout(r, n_movies=True)
    with pytest.raises(TypeError, match="n_users must be an integer"):
        lab_layout(r, n_movies=2, n_users=10.0)
    L = lab_layout(r, n_movies=2)
    with pytest.raises(ValueError, match=r"row must be in \[0, 1\], got -1"):
        L.is_rated(-1, 0)


# ------------------------------------------------------------------ plots


def test_plots_refuse_the_wrong_containers():
    from labmf.plot import plot_loss_curves

    with pytest.raises(TypeError, match=r"results\['a'\] must be a FactorisationResult, got list"):
        plot_loss_curves({"a": [1.0, 0.5]})
    with pytest.raises(TypeError, match="results must be a FactorisationResult or a mapping"):
        plot_loss_curves([1.0, 0.5])


# --------------------------------------------------------------- issue 21, items 6 and 7


@pytest.mark.parametrize("n_jobs", [10**12, 2**70, 10_000])
def test_factorise_gd_bounds_n_jobs(n_jobs):
    import os

    import labmf

    with pytest.raises(ValueError, match=rf"n_jobs must be in \[1, \d+\], got {n_jobs} \(4 threads per core on "
                       rf"this machine's {os.cpu_count()} cores\)"):
        labmf.factorise_gd(labmf.lab_matrix(), rank=2, sparse=True, n_jobs=n_jobs)


@pytest.mark.parametrize("num_epochs", [2**70, 10**12, 10**8 + 1])
@pytest.mark.parametrize("fit", ["factorise_sgd", "factorise_gd", "factorise_autograd"])
def test_huge_num_epochs_refused_clearly(fit, num_epochs):
    import labmf

    with pytest.raises(ValueError, match=rf"num_epochs must be in \[0, 100000000\], got {num_epochs}"):
        getattr(labmf, fit)(labmf.lab_matrix(), rank=2, num_epochs=num_epochs)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("metric", [sse, mse, rmse, mae])
def test_metrics_on_sparse_tensors(metric):
    import labmf

    A, M = labmf.lab_matrix(), labmf.lab_mask()
    P = A + 0.1 * torch.arange(9.0).reshape(3, 3)
    S = from_triplets(*M.nonzero().T, A[M.bool()], (3, 3))
    want = metric(A, P, M)  # a sparse target is scored on its stored (observed) entries
    assert metric(S, P) == pytest.approx(want)
    assert metric(S.to_sparse_csr(), P) == pytest.approx(want)
    assert metric(A, P.to_sparse(), M.to_sparse()) == pytest.approx(want)
    with pytest.raises(ValueError, match="mask must be None when target is sparse"):
        metric(S, P, M)
