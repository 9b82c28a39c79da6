"""Scale: the synthetic Netflix-shaped data, the blocked multi-threaded BiasedMF, the two-core
sparse GD and the memory refusal. Small sizes only; timings are `make bench`'s job."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labmf import kernels
from labmf.factorise import factorise_gd
from labmf.sparse import from_triplets
from labmf.validation import check_memory
from labrec import BiasedMF
from labrec.synthetic import synthetic_ratings

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def ratings():
    return synthetic_ratings(30_000, 300, 400, rank=4, seed=1, test_fraction=0.05)


# ------------------------------------------------------------------ synthetic data


def test_synthetic_is_reproducible_and_well_formed(ratings):
    again = synthetic_ratings(30_000, 300, 400, rank=4, seed=1, test_fraction=0.05)
    for a, b in zip(ratings[:6], again[:6], strict=True):
        assert np.array_equal(a, b)
    other = synthetic_ratings(30_000, 300, 400, rank=4, seed=2, test_fraction=0.05)
    assert not np.array_equal(ratings.rating, other.rating)
    assert ratings.user.dtype == np.int32 and ratings.rating.dtype == np.float32
    assert ratings.user.size + ratings.test_user.size == 30_000
    assert 0.03 < ratings.test_user.size / 30_000 < 0.07
    u = np.concatenate([ratings.user, ratings.test_user]).astype(np.int64)
    i = np.concatenate([ratings.item, ratings.test_item]).astype(np.int64)
    assert np.unique(u * 400 + i).size == u.size  # each (user, item) pair once
    assert u.max() < 300 and i.max() < 400
    r = np.concatenate([ratings.rating, ratings.test_rating])
    assert r.min() >= 1.0 and r.max() <= 5.0
    # Heavy-tailed popularity: the top item has many times the median item's ratings.
    counts = np.bincount(i, minlength=400)
    assert counts.max() > 3 * np.median(counts)
    # Clipping makes the best achievable RMSE a little under the noise level.
    assert 0.4 < ratings.oracle_rmse <= 0.51


def test_synthetic_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="n_ratings=1000 is too many"):
        synthetic_ratings(1000, 10, 20)
    with pytest.raises(MemoryError, match=r"synthetic_ratings .* would need about [\d,.]+ GiB"):
        synthetic_ratings(10**12, 10**8, 10**6)
    with pytest.raises(ValueError, match="n_ratings must be in"):
        synthetic_ratings(0, 10, 20)


# ------------------------------------------------------------- blocked BiasedMF


def _test_rmse(model, data) -> float:
    pred = model.predict(data.test_user, data.test_item)
    return float(np.sqrt(np.mean((pred - data.test_rating) ** 2)))


def test_blocked_is_the_same_for_every_thread_count(ratings):
    fits = [BiasedMF(8, seed=0, n_jobs=n, schedule="blocked").fit(ratings.user, ratings.item, ratings.rating,
                                                                   300, 400) for n in (1, 2, 3, 2)]
    for other in fits[1:]:
        for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_", "train_rmse_"):
            assert np.array_equal(getattr(fits[0], name), getattr(other, name)), name
    assert fits[0].schedule_ == "blocked" and fits[0].user_factors_.dtype == np.float32


def test_blocked_is_as_accurate_as_shuffle(ratings):
    kw = dict(rank=8, seed=0, lr_bias=0.02)
    shuffle = BiasedMF(**kw).fit(ratings.user, ratings.item, ratings.rating, 300, 400)
    blocked = BiasedMF(**kw, n_jobs=2).fit(ratings.user, ratings.item, ratings.rating, 300, 400)
    assert shuffle.schedule_ == "shuffle" and shuffle.user_factors_.dtype == np.float64
    assert abs(_test_rmse(blocked, ratings) - _test_rmse(shuffle, ratings)) < 0.01
    # The same bookkeeping: counts and each user's seen items.
    assert np.array_equal(blocked.user_counts_, shuffle.user_counts_)
    assert np.array_equal(blocked.seen(7), shuffle.seen(7))
    items = blocked.recommend(7, n=5)["item"].to_numpy()
    assert not np.isin(items, shuffle.seen(7)).any()


def test_blocked_trains_with_empty_user_and_item_ranges(ratings):
    # Users 300..599 and items 400..799 have no rating; so do whole bins of the grid.
    model = BiasedMF(8, seed=0, n_jobs=2).fit(ratings.user, ratings.item, ratings.rating, 600, 800,
                                             eval_set=(ratings.test_user, ratings.test_item, ratings.test_rating))
    assert np.all(model.user_factors_[300:] == 0) and np.all(model.item_bias_[400:] == 0)
    assert np.isfinite(model.eval_rmse_).all() and model.eval_rmse_[-1] < model.eval_rmse_[0]
    assert np.isfinite(model.predict([599, 0], [799, 0])).all()
    # A handful of ratings in one corner still trains (most blocks empty).
    tiny = BiasedMF(4, seed=0, n_jobs=2).fit([0, 1, 5], [3, 0, 9], [4.0, 2.0, 5.0], 50, 60)
    assert np.isfinite(tiny.train_rmse_).all()


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(n_jobs=0), ValueError, "n_jobs must be in [1, inf], got 0"),
    (dict(n_jobs=1.5), TypeError, "n_jobs must be an integer, got 1.5"),
    (dict(n_jobs=True), TypeError, "n_jobs must be an integer, got True"),
    (dict(schedule="fast"), ValueError, "schedule must be one of"),
    (dict(schedule="shuffle", n_jobs=2), ValueError, "schedule='shuffle' runs on one thread"),
])
def test_bad_n_jobs_and_schedule_are_refused(kwargs, exc, message):
    with pytest.raises(exc, match=message.replace("[", r"\[").replace("]", r"\]")):
        BiasedMF(**kwargs).fit([0, 1], [1, 0], [3.0, 4.0])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sizes_that_cannot_fit_are_refused_before_allocating(n_jobs):
    with pytest.raises(MemoryError, match=r"BiasedMF.fit \(2 ratings, 1,000,000,000,000 users .* would need about"):
        BiasedMF(n_jobs=n_jobs).fit([0, 1], [1, 0], [3.0, 4.0], n_users=10**12)


def test_blocked_refuses_duplicates_like_shuffle():
    with pytest.raises(ValueError, match=r"1 duplicate \(user, item\) pair\(s\), the first \(user 1, item 2\)"):
        BiasedMF(n_jobs=2).fit(np.array([0, 1, 1], np.int32), np.array([0, 2, 2], np.int32), [1.0, 2.0, 3.0])


def test_check_memory_names_the_estimate():
    with pytest.raises(MemoryError, match=r"test job would need about 1,024.0 GiB but only"):
        check_memory(2**40, "test job")
    check_memory(1, "nothing")


# -------------------------------------------------------------- two-core sparse GD


@pytest.mark.filterwarnings("ignore:gd stopped while its loss was still falling")
@pytest.mark.parametrize("rank", [3, 12])  # rank-specialised and generic sweeps
def test_sparse_gd_threads_agree_and_are_deterministic(ratings, rank):
    A = from_triplets(torch.from_numpy(ratings.user.astype(np.int64)), torch.from_numpy(ratings.item.astype(np.int64)),
                      torch.from_numpy(ratings.rating.astype(np.float64)), (300, 400))
    runs = {n: factorise_gd(A, rank=rank, lr=1e-4, num_epochs=30, seed=0, n_jobs=n) for n in (1, 2, 2, 3)}
    one = runs[1]
    for n in (2, 3):
        torch.testing.assert_close(runs[n].U, one.U, rtol=1e-12, atol=0)
        torch.testing.assert_close(runs[n].losses, one.losses, rtol=1e-12, atol=0)
    again = factorise_gd(A, rank=rank, lr=1e-4, num_epochs=30, seed=0, n_jobs=2)
    assert torch.equal(again.U, runs[2].U) and torch.equal(again.V, runs[2].V)
    assert "n_jobs" not in one.info and runs[2].info["n_jobs"] == 2


def test_sparse_gd_one_thread_plan_is_the_serial_kernel(ratings):
    rows, cols = ratings.user.astype(np.int64), ratings.item.astype(np.int64)
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], ratings.rating[order].astype(np.float64)
    rng = np.random.default_rng(0)
    out = []
    for plan in (None, kernels.gd_plan(rows, 300, 1)):
        U, V, losses = rng.random((300, 5)), rng.random((400, 5)), np.empty(4)
        kernels.gd_epochs(rows, cols, vals, U, V, 1e-4, 4, losses, plan=plan)
        out.append((U, V, losses))
        rng = np.random.default_rng(0)
    for a, b in zip(*out, strict=True):
        assert np.array_equal(a, b)


def test_sparse_gd_bad_n_jobs_and_unsorted_rows_are_refused():
    A = from_triplets(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([1.0, 2.0]), (2, 2))
    with pytest.raises(ValueError, match=r"n_jobs must be in \[1, \d+\], got 0"):
        factorise_gd(A, rank=1, n_jobs=0)
    with pytest.raises(ValueError, match="grouped by row"):
        kernels.gd_plan(np.array([1, 0]), 2, 2)
