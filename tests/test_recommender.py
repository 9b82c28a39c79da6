"""labrec: BiasedMF accuracy against the baselines, reproducibility, recommend, cross-validation."""

from __future__ import annotations

import numpy as np
import pytest

from labrec import (
    BiasBaseline,
    BiasedMF,
    CVResult,
    Ensemble,
    GlobalMean,
    SurpriseModel,
    cross_validate,
    kfold_indices,
)

numba = pytest.importorskip("numba")

# Settings for the small synthetic problem (a few thousand ratings: the defaults,
# tuned for 100k ratings, would stop the factors before they grow).
SMALL = dict(rank=8, num_epochs=25, reg=0.05, lr=0.02, lr_bias=0.02, init_std=0.1)



def _top(rec):
    """``(items, scores)`` arrays of a recommend() DataFrame."""
    return rec["item"].to_numpy(), rec["score"].to_numpy()

def _synthetic(n_users=120, n_items=90, rank=3, density=0.3, noise=0.3, seed=0):
    """Ratings from a biased rank-3 model plus noise, on a 1-5 scale."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 0.6, (n_users, rank))
    Q = rng.normal(0, 0.6, (n_items, rank))
    bu = rng.normal(0, 0.4, n_users)
    bi = rng.normal(0, 0.4, n_items)
    observed = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(observed)
    r = 3.5 + bu[u] + bi[i] + np.einsum("nk,nk->n", P[u], Q[i]) + rng.normal(0, noise, u.size)
    return u.astype(np.int64), i.astype(np.int64), np.clip(r, 1.0, 5.0), n_users, n_items


@pytest.fixture(scope="module")
def data():
    return _synthetic()


@pytest.fixture(scope="module")
def split(data):
    u, i, r, nu, ni = data
    train, test = kfold_indices(u.size, 5, seed=1)[0]
    return train, test


def _rmse(pred, truth):
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


# ------------------------------------------------------------------ accuracy


def test_beats_global_mean_and_bias_baselines(data, split):
    u, i, r, nu, ni = data
    train, test = split
    scores = {}
    for name, model in [
        ("global mean", GlobalMean()),
        ("bias", BiasBaseline()),
        ("mf", BiasedMF(**SMALL, seed=0)),
    ]:
        model.fit(u[train], i[train], r[train], nu, ni)
        scores[name] = _rmse(model.predict(u[test], i[test]), r[test])
    assert scores["bias"] < scores["global mean"]
    # The data have a rank-3 interaction on top of the biases: MF must see it.
    assert scores["mf"] < 0.9 * scores["bias"], scores


def test_beats_baselines_on_movielens_subset():
    from labrec import load_movielens

    data = load_movielens("small")
    u, i, nu, ni = data.indexed()
    keep = u < 150  # a deterministic ~20k-rating slice keeps this test to a second
    u, i, r = u[keep], i[keep], data.rating[keep].astype(np.float64)
    folds = kfold_indices(u.size, 5, seed=0)[:1]
    triple = (u, i, r)
    mean = cross_validate(lambda: GlobalMean(), triple, folds)
    bias = cross_validate(lambda: BiasBaseline(), triple, folds)
    mf = cross_validate(lambda: BiasedMF(seed=0), triple, folds)
    assert mf.mean_rmse < bias.mean_rmse < mean.mean_rmse


def test_training_loss_decreases_and_eval_curve_recorded(data, split):
    u, i, r, nu, ni = data
    train, test = split
    model = BiasedMF(**SMALL, seed=0).fit(
        u[train], i[train], r[train], nu, ni, eval_set=(u[test], i[test], r[test])
    )
    assert model.train_rmse_.shape == (SMALL["num_epochs"],)
    assert model.train_rmse_[-1] < model.train_rmse_[0]
    assert model.eval_rmse_.shape == (SMALL["num_epochs"],)
    # The last recorded held-out RMSE is the RMSE of the final model.
    final = _rmse(model.predict(u[test], i[test]), r[test])
    assert model.eval_rmse_[-1] == pytest.approx(final, rel=1e-12)


# ----------------------------------------------------------- reproducibility


def test_same_seed_same_rmse(data):
    u, i, r, nu, ni = data
    folds = kfold_indices(u.size, 3, seed=0)
    a = cross_validate(lambda: BiasedMF(**SMALL, seed=7), (u, i, r), folds)
    b = cross_validate(lambda: BiasedMF(**SMALL, seed=7), (u, i, r), folds)
    c = cross_validate(lambda: BiasedMF(**SMALL, seed=8), (u, i, r), folds)
    np.testing.assert_array_equal(a.rmse, b.rmse)
    np.testing.assert_array_equal(a.mae, b.mae)
    assert not np.array_equal(a.rmse, c.rmse)


def test_same_seed_same_parameters(data):
    u, i, r, nu, ni = data
    m1 = BiasedMF(**SMALL, seed=3).fit(u, i, r)
    m2 = BiasedMF(**SMALL, seed=3).fit(u, i, r)
    np.testing.assert_array_equal(m1.user_factors_, m2.user_factors_)
    np.testing.assert_array_equal(m1.item_bias_, m2.item_bias_)
    np.testing.assert_array_equal(m1.train_rmse_, m2.train_rmse_)


def test_numpy_generator_seed(data):
    u, i, r, nu, ni = data
    m1 = BiasedMF(**SMALL, seed=np.random.default_rng(5)).fit(u, i, r)
    m2 = BiasedMF(**SMALL, seed=np.random.default_rng(5)).fit(u, i, r)
    np.testing.assert_array_equal(m1.predict(u, i), m2.predict(u, i))


# ------------------------------------------------------------- fitted state


def test_fitted_attributes_are_read_only(data):
    u, i, r, nu, ni = data
    model = BiasedMF(**SMALL, seed=0).fit(u, i, r)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_", "train_rmse_", "item_counts_"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(model, name)[0] = 1.0
    assert model.user_factors_.shape == (nu, SMALL["rank"])
    assert model.item_factors_.shape == (ni, SMALL["rank"])
    assert model.global_mean_ == pytest.approx(r.mean())
    assert (model.n_users_, model.n_items_) == (nu, ni)
    assert model.eval_rmse_ is None


def test_unseen_items_and_users_fall_back_to_biases(data):
    u, i, r, nu, ni = data
    model = BiasedMF(**SMALL, seed=0).fit(u, i, r, n_users=nu + 2, n_items=ni + 3)
    assert np.all(model.item_factors_[ni:] == 0) and np.all(model.item_bias_[ni:] == 0)
    assert np.all(model.user_factors_[nu:] == 0) and np.all(model.user_bias_[nu:] == 0)
    pred = model.predict([nu + 1, 0], [0, ni + 2])
    assert pred[0] == pytest.approx(np.clip(model.global_mean_ + model.item_bias_[0], 1, 5))
    assert pred[1] == pytest.approx(np.clip(model.global_mean_ + model.user_bias_[0], 1, 5))


def test_predictions_clipped_to_training_range(data):
    u, i, r, nu, ni = data
    clipped = BiasedMF(**SMALL, seed=0).fit(u, i, r)
    free = BiasedMF(**SMALL, seed=0, clip=False).fit(u, i, r)
    all_u, all_i = np.divmod(np.arange(nu * ni), ni)
    p = clipped.predict(all_u, all_i)
    q = free.predict(all_u, all_i)
    assert p.min() >= r.min() and p.max() <= r.max()
    assert q.min() < r.min() or q.max() > r.max()  # the clip did something
    np.testing.assert_allclose(p, np.clip(q, r.min(), r.max()))


# ---------------------------------------------------------------- recommend


def test_recommend_excludes_seen_items(data):
    u, i, r, nu, ni = data
    model = BiasedMF(**SMALL, seed=0).fit(u, i, r)
    for user in (0, 5, 17):
        seen = set(i[u == user].tolist())
        items, scores = _top(model.recommend(user, n=10))
        assert len(items) == 10
        assert not seen & set(items.tolist())
        assert np.all(np.diff(scores) <= 0)
        # They are the best unseen items.
        all_scores = model.scores(user)
        unseen = np.array(sorted(set(range(ni)) - seen))
        assert scores[0] == pytest.approx(all_scores[unseen].max())


def test_recommend_including_seen_and_small_catalogue(data):
    u, i, r, nu, ni = data
    model = BiasedMF(**SMALL, seed=0).fit(u, i, r)
    items, scores = _top(model.recommend(0, n=5, exclude_seen=False))
    np.testing.assert_array_equal(items, np.argsort(-model.scores(0), kind="stable")[:5])
    n_unseen = ni - np.unique(i[u == 0]).size
    items, _ = _top(model.recommend(0, n=10 * ni))
    assert len(items) == n_unseen


def test_recommend_skips_items_without_training_ratings(data):
    u, i, r, nu, ni = data
    model = BiasedMF(**SMALL, seed=0).fit(u, i, r, n_items=ni + 5)
    items, _ = _top(model.recommend(0, n=ni + 5))
    assert items.max() < ni
    items, _ = _top(model.recommend(0, n=ni + 5, min_item_ratings=0))
    assert items.max() >= ni


# ------------------------------------------------------------ cross-validate


def test_cross_validate_result(data):
    u, i, r, nu, ni = data
    folds = kfold_indices(u.size, 4, seed=0)
    res = cross_validate(lambda: BiasedMF(**SMALL, seed=0), (u, i, r), folds, name="mf")
    assert isinstance(res, CVResult)
    assert res.name == "mf" and res.n_folds == 4
    for arr in (res.rmse, res.mae, res.fit_time, res.predict_time):
        assert arr.shape == (4,)
    assert np.all(res.mae < res.rmse)
    # Each fold's RMSE is the RMSE of that fold's model on that fold's test rows.
    train, test = folds[2]
    assert res.rmse[2] == pytest.approx(_rmse(res.models[2].predict(u[test], i[test]), r[test]))
    assert set(res.summary()) >= {"model", "rmse_mean", "mae_mean", "fit_time_sum", "total_time_sum"}


def test_cross_validate_accepts_ratings_table():
    from labrec import Ratings

    u, i, r, nu, ni = _synthetic(40, 30)
    table = Ratings(u + 100, i * 2 + 7, r.astype(np.float32), np.zeros(u.size, dtype=np.int64))
    folds = kfold_indices(len(table), 3, seed=0)
    res = cross_validate(lambda: GlobalMean(), table, folds)
    assert res.n_folds == 3


def test_surprise_adapter_on_same_folds(data):
    pytest.importorskip("surprise")
    u, i, r, nu, ni = data
    folds = kfold_indices(u.size, 3, seed=0)
    a = cross_validate(lambda: SurpriseModel("SVD", random_state=0, n_epochs=5), (u, i, r), folds)
    b = cross_validate(lambda: SurpriseModel("SVD", random_state=0, n_epochs=5), (u, i, r), folds)
    np.testing.assert_array_equal(a.rmse, b.rmse)
    # Surprise clips to the training range, like BiasedMF.
    pred = a.models[0].predict(u[:50], i[:50])
    assert pred.min() >= r.min() and pred.max() <= r.max()
    with pytest.raises(ValueError, match="algorithm"):
        SurpriseModel("NoSuchAlgo").fit(u, i, r)
    assert repr(SurpriseModel("SVD", random_state=0)) == "SurpriseModel(algorithm='SVD', random_state=0)"


# ------------------------------------------------------------------ ensemble


def test_ensemble_averages_members(data, split):
    u, i, r, nu, ni = data
    train, test = split
    members = [BiasedMF(**SMALL, seed=s) for s in range(3)]
    ens = Ensemble(members).fit(u[train], i[train], r[train], nu, ni)
    preds = [m.predict(u[test], i[test]) for m in members]
    np.testing.assert_allclose(ens.predict(u[test], i[test]), np.mean(preds, axis=0))
    # Averaging seeds beats the typical member.
    assert _rmse(ens.predict(u[test], i[test]), r[test]) < np.mean([_rmse(p, r[test]) for p in preds])
    items, scores = _top(ens.recommend(0, n=5))
    seen = set(i[train][u[train] == 0].tolist())
    assert not seen & set(items.tolist()) and np.all(np.diff(scores) <= 0)


def test_ensemble_errors(data):
    u, i, r, nu, ni = data
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([]).fit(u, i, r)
    m = BiasedMF()
    with pytest.raises(ValueError, match="distinct"):
        Ensemble([m, m]).fit(u, i, r)
    with pytest.raises(TypeError, match=r"members\[1\]"):
        Ensemble([m, object()]).fit(u, i, r)
    with pytest.raises(RuntimeError, match="not fitted"):
        Ensemble([m]).predict([0], [0])


def test_cross_validate_max_seconds_stops_early(data):
    u, i, r, nu, ni = data
    folds = kfold_indices(u.size, 5, seed=0)
    res = cross_validate(lambda: BiasedMF(**SMALL, seed=0), (u, i, r), folds, max_seconds=1e-9)
    assert res.n_folds == 1 and not res.complete
    assert "complete=False" in repr(res)


def test_compiled_shuffle_is_a_uniform_permutation():
    from labrec import _kernels as kernels

    order = np.arange(1000, dtype=np.int32)
    kernels.shuffle(order, 12345)
    np.testing.assert_array_equal(np.sort(order), np.arange(1000))
    assert not np.array_equal(order, np.arange(1000))
    # Position of element 0 after shuffling 10 items, over many seeds: ~uniform.
    counts = np.zeros(10)
    for s in range(4000):
        small = np.arange(10, dtype=np.int64)
        kernels.shuffle(small, s * 7919 + 1)
        counts[int(np.flatnonzero(small == 0)[0])] += 1
    expected = 400
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 30, counts  # 9 dof: p < 0.001 at 27.9


def test_cross_validate_makes_folds_from_an_int(data):
    u, i, r, nu, ni = data
    res = cross_validate(lambda: BiasedMF(**SMALL, seed=0), (u, i, r), 4, seed=3)
    same = cross_validate(lambda: BiasedMF(**SMALL, seed=0), (u, i, r), kfold_indices(u.size, 4, seed=3))
    np.testing.assert_array_equal(res.rmse, same.rmse)


def test_baselines_are_models_like_the_others(data):
    u, i, r, nu, ni = data
    from labrec import ItemMean

    for factory in (lambda: GlobalMean(), ItemMean, BiasBaseline):
        res = cross_validate(factory, (u, i, r), 3)
        assert res.n_folds == 3 and np.all(np.isfinite(res.rmse))
    mean = GlobalMean().fit(u, i, r)
    np.testing.assert_array_equal(mean.predict([0, 1], [2, 3]), [r.mean(), r.mean()])
    # ItemMean is the per-item mean (shrinkage 0); an item without ratings gets mu.
    model = ItemMean().fit(u, i, r, n_items=ni + 1)
    assert model.predict([0], [5])[0] == pytest.approx(r[i == 5].mean())
    assert model.predict([0], [ni])[0] == pytest.approx(r.mean())


def test_kfold_indices_partition():
    folds = kfold_indices(23, 5, seed=0)
    tests = np.concatenate([t for _, t in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(23))
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0 and train.size + test.size == 23
    assert sorted(t.size for _, t in folds) == [4, 4, 5, 5, 5]
    again = kfold_indices(23, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
