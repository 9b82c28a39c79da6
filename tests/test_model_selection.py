"""labrec tuning: tuning splits, grids, nested cross-validation, DataFrames, Surprise's GridSearchCV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labrec import (
    BiasedMF,
    CVResult,
    GlobalMean,
    GridResult,
    SurpriseModel,
    cross_validate,
    grid_search,
    kfold_indices,
    nested_cross_validate,
    paired_differences,
    param_grid,
    summary_frame,
    svd_grid_search,
    svd_params,
    tuning_split,
)

pytest.importorskip("numba")

# Small synthetic problem: few epochs and factors keep every fit in milliseconds.
FAST = dict(rank=4, lr=0.02, lr_bias=0.02, init_std=0.1)
GRID = {"reg": [0.02, 0.2], "num_epochs": [3, 8]}


def _synthetic(n_users=60, n_items=50, density=0.3, seed=0):
    """Ratings from a biased rank-2 model plus noise, on a 1-5 scale."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(0, 0.6, (n_users, 2)), rng.normal(0, 0.6, (n_items, 2))
    u, i = np.nonzero(rng.random((n_users, n_items)) < density)
    r = 3.5 + np.einsum("nk,nk->n", P[u], Q[i]) + rng.normal(0, 0.3, u.size)
    return u.astype(np.int64), i.astype(np.int64), np.clip(r, 1.0, 5.0)


@pytest.fixture(scope="module")
def triple():
    return _synthetic()


def _mf(**setting):
    return BiasedMF(seed=0, **(FAST | setting))


# ------------------------------------------------------------------ splits and grids


def test_tuning_split_partitions_the_training_rows():
    train = np.arange(3, 103, 2)
    fit, val = tuning_split(train, 0.2, seed=4)
    assert val.size == 10 and fit.size == 40
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), train)
    assert np.all(np.diff(fit) > 0) and np.all(np.diff(val) > 0)
    again = tuning_split(train, 0.2, seed=4)
    np.testing.assert_array_equal(again[1], val)
    assert not np.array_equal(tuning_split(train, 0.2, seed=5)[1], val)


@pytest.mark.parametrize("fraction, match", [(0.0, "val_fraction"), (1.0, "val_fraction"),
                                             (0.01, "at least one"), (True, "val_fraction")])
def test_tuning_split_errors(fraction, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tuning_split(np.arange(10), fraction, seed=0)


def test_param_grid_order_is_surprises():
    grid = param_grid({"rank": [1, 2], "reg": [0.1, 0.2, 0.3]})
    assert len(grid) == 6
    assert grid[:3] == [{"rank": 1, "reg": 0.1}, {"rank": 1, "reg": 0.2}, {"rank": 1, "reg": 0.3}]
    assert param_grid([{"rank": 3}]) == [{"rank": 3}]
    for bad in ({"rank": []}, {"rank": 5}, {"rank": "abc"}, [], "rank"):
        with pytest.raises(ValueError, match="grid"):
            param_grid(bad)


# ------------------------------------------------------------------ grid search


def test_grid_search_scores_every_setting(triple):
    u, i, r = triple
    fit, val = tuning_split(np.arange(u.size), 0.25, seed=0)
    res = grid_search(_mf, GRID, triple, fit, val, name="mf")
    assert isinstance(res, GridResult) and len(res.params) == 4
    assert res.best_index == int(np.argmin(res.val_rmse))
    assert res.best_params == res.params[res.best_index]
    manual = _mf(**res.params[2]).fit(u[fit], i[fit], r[fit], u.max() + 1, i.max() + 1)
    assert res.val_rmse[2] == pytest.approx(np.sqrt(np.mean((manual.predict(u[val], i[val]) - r[val]) ** 2)))
    frame = res.to_frame()
    assert list(frame.columns) == ["reg", "num_epochs", "val_rmse", "fit_time", "chosen"]
    assert frame["chosen"].sum() == 1 and frame["chosen"].iloc[res.best_index]
    np.testing.assert_array_equal(res.fit_idx, fit)


def test_grid_search_refuses_overlapping_split(triple):
    with pytest.raises(ValueError, match="disjoint"):
        grid_search(_mf, GRID, triple, np.arange(10), np.arange(5, 20))
    with pytest.raises(TypeError, match="make_model"):
        grid_search(None, GRID, triple, np.arange(10), np.arange(10, 20))


# ------------------------------------------------------------------ nested cross-validation


def test_nested_cross_validate_never_tunes_on_a_test_fold(triple):
    folds = kfold_indices(triple[0].size, 3, seed=2)
    res = nested_cross_validate(_mf, GRID, triple, folds, seed=1, name="mf")
    assert isinstance(res, CVResult) and res.n_folds == 3 and res.tune_time.shape == (3,)
    for (train, test), found, model in zip(folds, res.tuning, res.models, strict=True):
        assert np.intersect1d(found.fit_idx, test).size == 0 and np.intersect1d(found.val_idx, test).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([found.fit_idx, found.val_idx])), train)
        assert {k: getattr(model, k) for k in found.best_params} == found.best_params
        assert model.user_counts_.sum() == train.size  # refitted on the whole training part
    frame = res.to_frame()
    assert frame.index.name == "fold" and list(frame.index) == [1, 2, 3]
    assert {"rmse", "mae", "fit_time", "predict_time", "tune_time", "reg", "num_epochs"} <= set(frame.columns)
    assert res.total_time >= res.tune_time.sum()


def test_nested_cross_validate_shares_splits_between_models(triple):
    """Same folds, seed and val_fraction: two models are tuned on the same rows; an int
    ``folds`` gives the outer folds of cross_validate with the same seed."""
    a = nested_cross_validate(_mf, GRID, triple, 3, seed=5)
    b = nested_cross_validate(lambda **p: _mf(rank=2, **p), GRID, triple, 3, seed=5)
    c = cross_validate(GlobalMean, triple, 3, seed=5)
    for x, y in zip(a.tuning, b.tuning, strict=True):
        np.testing.assert_array_equal(x.val_idx, y.val_idx)
    for x, (train, _) in zip(a.tuning, kfold_indices(triple[0].size, 3, seed=5), strict=True):
        np.testing.assert_array_equal(np.sort(np.concatenate([x.fit_idx, x.val_idx])), train)
    assert c.n_folds == 3
    again = nested_cross_validate(_mf, GRID, triple, 3, seed=5)
    np.testing.assert_array_equal(again.rmse, a.rmse)


def test_nested_cross_validate_with_a_custom_search(triple):
    calls = []

    def search(data, fit, val):
        calls.append(val.size)
        return GridResult("fixed", [{"reg": 0.2, "num_epochs": 3}], np.array([1.0]), np.array([0.0]))

    res = nested_cross_validate(_mf, GRID, triple, 2, seed=0, search=search)
    assert len(calls) == 2 and res.chosen_params == [{"reg": 0.2, "num_epochs": 3}] * 2
    with pytest.raises(TypeError, match="GridResult"):
        nested_cross_validate(_mf, GRID, triple, 2, search=lambda d, f, v: None)


def test_consensus_params():
    def result(chosen):
        tuning = [GridResult("g", [p], np.array([1.0]), np.array([0.0])) for p in chosen]
        z = np.zeros(len(chosen))
        return CVResult("m", z, z, z, z, tuning=tuning, tune_time=z)

    assert result([{"a": 1}, {"a": 2}, {"a": 2}]).consensus_params == {"a": 2}
    assert result([{"a": 1}, {"a": 2}]).consensus_params == {"a": 1}
    z = np.zeros(2)
    assert CVResult("m", z, z, z, z).consensus_params is None


# ------------------------------------------------------------------ tables


def test_frames_and_paired_differences(triple):
    folds = kfold_indices(triple[0].size, 4, seed=0)
    mean = cross_validate(GlobalMean, triple, folds, name="mean")
    mf = cross_validate(lambda: _mf(num_epochs=8), triple, folds, name="mf")
    frame = mf.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["rmse", "mae", "fit_time", "predict_time"]
    np.testing.assert_array_equal(frame["rmse"], mf.rmse)
    table = summary_frame({"global mean": mean, "MF": mf})
    assert list(table.index) == ["global mean", "MF"] and table.index.name == "model"
    assert table.loc["MF", "rmse_std"] == pytest.approx(np.std(mf.rmse, ddof=1))
    assert list(summary_frame([mean]).index) == ["mean"]
    np.testing.assert_allclose(paired_differences(mf, mean), mf.rmse - mean.rmse)
    with pytest.raises(ValueError, match="same folds"):
        paired_differences(mf, cross_validate(GlobalMean, triple, folds[:2]))
    with pytest.raises(TypeError, match="CVResult"):
        paired_differences(mf, mf.rmse)
    with pytest.raises(ValueError, match="at least one"):
        summary_frame({})


# ------------------------------------------------------------------ Surprise


def test_svd_params_translates_biasedmf_settings():
    assert svd_params() == {"n_factors": 50, "n_epochs": 20, "lr_all": 0.02, "reg_all": 0.05, "lr_bu": 0.005,
                            "lr_bi": 0.005, "reg_bu": 0.005, "reg_bi": 0.005, "init_std_dev": 0.01}
    assert svd_params(seed=3, rank=7)["random_state"] == 3
    assert svd_params(rank=7)["n_factors"] == 7
    with pytest.raises(ValueError, match="step decay"):
        svd_params(lr_decay=0.9)
    with pytest.raises(ValueError, match="not a BiasedMF parameter"):
        svd_params(n_factors=3)
    with pytest.raises(ValueError, match="reg"):
        svd_params(reg=-1.0)
    with pytest.raises(TypeError, match="random_state"):
        svd_params(seed=np.random.default_rng(0))


def test_svd_grid_search_is_surprises_gridsearchcv_on_the_same_split(triple):
    """Surprise's own GridSearchCV and a grid search through the adapter see the same rows
    and settings, so they score every setting alike."""
    pytest.importorskip("surprise")
    u = triple[0]
    fit, val = tuning_split(np.arange(u.size), 0.25, seed=0)
    grid = {"rank": [2, 4], "reg": [0.02, 0.1], "num_epochs": [3]}
    ours = svd_grid_search(grid, triple, fit, val, seed=0, init_std=0.1)
    via_adapter = grid_search(lambda **p: SurpriseModel("SVD", **svd_params(seed=0, init_std=0.1, **p)), grid,
                              triple, fit, val)
    assert ours.params == param_grid(grid)
    np.testing.assert_allclose(ours.val_rmse, via_adapter.val_rmse, rtol=1e-12)
    assert ours.best_params == via_adapter.best_params
    with pytest.raises(ValueError, match="cross"):
        svd_grid_search({"lr_bias": [0.01, 0.02]}, triple, fit, val)


def test_corrected_t_widens_the_naive_standard_error():
    from labrec import corrected_t

    d = np.array([-0.0064, -0.0028, 0.0, -0.0016, -0.0030])
    t, p = corrected_t(d, n_train=80_000, n_test=20_000)
    naive = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
    # Nadeau-Bengio: variance times (1/k + n_test/n_train) instead of 1/k
    assert t == pytest.approx(naive / np.sqrt(d.size * (1 / d.size + 0.25)))
    assert abs(t) < abs(naive) and 0.05 < p < 1
    assert corrected_t(np.zeros(5), 4, 1) == (0.0, 1.0)


@pytest.mark.parametrize("bad, match", [((np.zeros(1), 4, 1), "at least 2"), ((np.ones(3), 0, 1), "n_train"),
                                        ((np.ones(3), 4, 1.5), "n_test")])
def test_corrected_t_refuses_bad_input(bad, match):
    from labrec import corrected_t

    with pytest.raises((ValueError, TypeError), match=match):
        corrected_t(*bad)
