"""labrec: every bad input gets a clear error naming the parameter, before any work."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labmf import DivergenceError
from labrec import (
    BiasBaseline,
    BiasedMF,
    Ensemble,
    GlobalMean,
    ItemMean,
    SurpriseModel,
    baseline_rmses,
    cross_validate,
    kfold_indices,
)

USERS = np.array([0, 0, 1, 1, 2, 2])
ITEMS = np.array([0, 1, 0, 2, 1, 2])
RATINGS = np.array([4.0, 3.0, 5.0, 2.0, 1.0, 4.5])
TINY = dict(rank=2, num_epochs=2, seed=0)


# ------------------------------------------------------------ hyper-parameters


@pytest.mark.parametrize(
    "kwargs, exc, shown",
    [
        (dict(rank=0), ValueError, "rank must be in [1, inf], got 0"),
        (dict(rank=2.5), TypeError, "rank must be an integer, got 2.5"),
        (dict(rank=True), TypeError, "rank must be an integer, got True"),
        (dict(reg=-0.1), ValueError, "reg must be in [0, inf], got -0.1"),
        (dict(reg=float("nan")), ValueError, "reg must be finite, got nan"),
        (dict(lr=0.0), ValueError, "lr must be in (0, inf), got 0.0"),
        (dict(lr="0.1"), TypeError, "lr must be a real number, got '0.1'"),
        (dict(num_epochs=0), ValueError, "num_epochs must be in [1, inf], got 0"),
        (dict(lr_decay=1.5), ValueError, "lr_decay must be in (0, 1], got 1.5"),
        (dict(reg_bias=-1.0), ValueError, "reg_bias must be in [0, inf], got -1.0"),
        (dict(lr_bias=0), ValueError, "lr_bias must be in (0, inf), got 0.0"),
        (dict(init_std=float("inf")), ValueError, "init_std must be finite, got inf"),
        (dict(clip="yes"), TypeError, "clip must be True or False, got 'yes'"),
        (dict(seed=-1), ValueError, "seed must be in [0, 2**63), got -1"),
        (dict(seed=1.5), TypeError, "seed must be an integer, got 1.5"),
    ],
)
def test_bad_hyperparameters_fail_in_fit(kwargs, exc, shown):
    model = BiasedMF(**kwargs)  # scikit-learn convention: __init__ stores, fit checks
    assert getattr(model, next(iter(kwargs))) is next(iter(kwargs.values()))
    with pytest.raises(exc) as info:
        model.fit(USERS, ITEMS, RATINGS)
    assert shown in str(info.value)
    assert not hasattr(model, "user_factors_")


def test_old_parameter_names_are_gone():
    with pytest.raises(TypeError, match="n_epochs"):
        BiasedMF(n_epochs=3)
    with pytest.raises(TypeError, match="n_factors"):
        BiasedMF(n_factors=3)


def test_get_params_follow_the_signature():
    model = BiasedMF(20, reg=0.07, seed=1)
    assert repr(model) == "BiasedMF(rank=20, reg=0.07, seed=1)"
    params = model.get_params()
    assert list(params) == ["rank", "reg", "lr", "num_epochs", "reg_bias", "lr_bias", "lr_decay",
                            "init_std", "clip", "seed", "n_jobs", "schedule"]
    assert BiasedMF(**params).get_params() == params
    assert BiasBaseline().get_params() == {"reg_item": 10.0, "reg_user": 15.0, "num_epochs": 10, "clip": True}
    assert repr(ItemMean(2.0)) == "ItemMean(shrinkage=2.0)"
    assert SurpriseModel("SVD", n_epochs=5).get_params() == {"algorithm": "SVD", "rating_scale": None, "n_epochs": 5}


@pytest.mark.parametrize(
    "model, exc, shown",
    [
        (ItemMean(shrinkage=-1), ValueError, "shrinkage must be in [0, inf], got -1.0"),
        (BiasBaseline(reg_item=-1), ValueError, "reg_item must be in [0, inf], got -1.0"),
        (BiasBaseline(num_epochs=0), ValueError, "num_epochs must be in [1, inf], got 0"),
        (GlobalMean(clip=1), TypeError, "clip must be True or False, got 1"),
    ],
)
def test_bad_baseline_parameters(model, exc, shown):
    with pytest.raises(exc) as info:
        model.fit(USERS, ITEMS, RATINGS)
    assert shown in str(info.value)


# ------------------------------------------------------------------ fit inputs


@pytest.mark.parametrize(
    "args, kwargs, exc, words",
    [
        (([0, 1], [0], [3.0, 4.0]), {}, ValueError, "same length"),
        (([0, -1], [0, 1], [3.0, 4.0]), {}, ValueError, r"user_idx\[1\] = -1"),
        (([0, 1], [0, 1.5], [3.0, 4.0]), {}, TypeError, "item_idx"),
        (([0, 1], [0, 1], [3.0]), {}, ValueError, "ratings"),
        (([0, 1], [0, 1], [3.0, float("nan")]), {}, ValueError, r"ratings\[1\] = nan"),
        (([0, 1], [0, 1], [3.0 + 1j, 4.0]), {}, TypeError, "ratings must be real"),
        (([], [], []), {}, ValueError, "user_idx must not be empty"),
        (([0, 5], [0, 1], [3.0, 4.0]), {"n_users": 3}, ValueError, "n_users=3 is too small"),
        (([0, 1], [0, 1], [3.0, 4.0]), {"n_items": 2.0}, TypeError, "n_items must be an integer"),
        (([[0, 1]], [0, 1], [3.0, 4.0]), {}, ValueError, "user_idx must be 1-D"),
    ],
)
@pytest.mark.parametrize("cls", [BiasedMF, GlobalMean, BiasBaseline])
def test_bad_fit_inputs(cls, args, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        (cls(**TINY) if cls is BiasedMF else cls()).fit(*args, **kwargs)


def test_duplicate_pairs_are_refused():
    u = np.array([0, 1, 2, 1])
    i = np.array([5, 3, 5, 3])
    with pytest.raises(ValueError, match=r"1 duplicate \(user, item\) pair.*user 1, item 3\) at positions 1 and 3"):
        BiasedMF(**TINY).fit(u, i, [4.0, 3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="duplicate"):
        BiasBaseline().fit(u, i, [4.0, 3.0, 2.0, 1.0])


def test_torch_ratings_bfloat16_and_requires_grad():
    r = torch.tensor(RATINGS)
    with pytest.raises(TypeError, match=r"ratings has dtype torch.bfloat16.*ratings.double\(\)"):
        BiasedMF(**TINY).fit(USERS, ITEMS, r.to(torch.bfloat16))
    with pytest.raises(ValueError, match=r"ratings is a tensor that requires grad.*ratings.detach\(\)"):
        BiasedMF(**TINY).fit(USERS, ITEMS, r.requires_grad_())
    # Plain tensors (indices and ratings) are fine and give the numpy result.
    a = BiasedMF(**TINY).fit(torch.tensor(USERS), torch.tensor(ITEMS), torch.tensor(RATINGS, dtype=torch.float32))
    b = BiasedMF(**TINY).fit(USERS, ITEMS, RATINGS.astype(np.float32))
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_uint64_indices_beyond_int64():
    big = np.array([0, 2**63 + 5], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"user_idx must be below 2\*\*63, found user_idx\[1\] = 9223372036854775813"):
        BiasedMF(**TINY).fit(big, [0, 1], [3.0, 4.0])
    # Small uint64 indices are fine.
    BiasedMF(**TINY).fit(USERS.astype(np.uint64), ITEMS.astype(np.uint64), RATINGS)


def test_eval_set_errors():
    with pytest.raises(ValueError, match="eval_set must be a"):
        BiasedMF(**TINY).fit(USERS, ITEMS, RATINGS, eval_set=(USERS, ITEMS))
    with pytest.raises(ValueError, match=r"eval_set item_idx\[0\] = 7 is out of range"):
        BiasedMF(**TINY).fit(USERS, ITEMS, RATINGS, eval_set=([0], [7], [3.0]))
    with pytest.raises(ValueError, match=r"eval_set ratings\[0\] = inf"):
        BiasedMF(**TINY).fit(USERS, ITEMS, RATINGS, eval_set=([0], [1], [np.inf]))


def test_divergence_is_an_error():
    rng = np.random.default_rng(0)
    u, i = np.divmod(rng.permutation(400)[:300], 20)
    with pytest.raises(DivergenceError, match="lr=50"):
        BiasedMF(rank=4, lr=50.0, num_epochs=30, seed=0).fit(u, i, rng.uniform(1, 5, u.size))


# ------------------------------------------------------- predict and recommend


def test_predict_and_recommend_errors():
    with pytest.raises(RuntimeError, match="BiasedMF is not fitted"):
        BiasedMF().predict([0], [0])
    with pytest.raises(RuntimeError, match="BiasedMF is not fitted"):
        BiasedMF().recommend(0)
    with pytest.raises(RuntimeError, match="GlobalMean is not fitted"):
        GlobalMean().predict([0], [0])
    model = BiasedMF(**TINY).fit(USERS, ITEMS, RATINGS)
    with pytest.raises(ValueError, match=r"item_idx\[1\] = 3 is out of range: there are 3 items"):
        model.predict([0, 1], [0, 3])
    with pytest.raises(ValueError, match=r"user must be in \[0, 2\], got 3"):
        model.recommend(3)
    with pytest.raises(ValueError, match=r"n must be in \[1, inf\], got 0"):
        model.recommend(0, n=0)
    with pytest.raises(TypeError, match="min_item_ratings must be an integer"):
        model.recommend(0, min_item_ratings=1.5)
    with pytest.raises(TypeError, match="exclude_seen must be True or False, got 'no'"):
        model.recommend(0, exclude_seen="no")
    with pytest.raises(TypeError, match="exclude_seen must be True or False, got 'no'"):
        Ensemble([BiasedMF(**TINY)]).fit(USERS, ITEMS, RATINGS).recommend(0, exclude_seen="no")


# -------------------------------------------------------------- cross-validate


def test_cross_validate_errors():
    triple = (USERS, ITEMS, RATINGS)
    with pytest.raises(TypeError, match="model_factory"):
        cross_validate(BiasedMF(), triple, 2)
    with pytest.raises(TypeError, match="ratings must be"):
        cross_validate(BiasedMF, {"u": USERS}, 2)
    with pytest.raises(ValueError, match=r"folds\[0\] test_idx\[0\] = 6 is out of range"):
        cross_validate(BiasedMF, triple, [(np.arange(3), np.array([6]))])
    with pytest.raises(ValueError, match=r"k must be in \[2, 6\], got 7"):
        cross_validate(BiasedMF, triple, 7)
    with pytest.raises(TypeError, match="seed must be an integer"):
        cross_validate(BiasedMF, triple, 3, seed="x")
    with pytest.raises(ValueError, match=r"max_seconds must be in \(0, inf\), got 0.0"):
        cross_validate(BiasedMF, triple, 2, max_seconds=0)
    with pytest.raises(ValueError, match="folds must contain at least one"):
        cross_validate(BiasedMF, triple, [])


def test_cross_validate_refuses_overlapping_or_repeated_folds():
    def factory():
        return BiasedMF(**TINY)

    with pytest.raises(ValueError, match=r"folds\[0\] scores 2 rating\(s\) it also trains on.*disjoint"):
        cross_validate(factory, (USERS, ITEMS, RATINGS), [(np.arange(4), np.array([0, 1]))])
    with pytest.raises(ValueError, match=r"folds\[0\] train_idx lists a rating more than once"):
        cross_validate(factory, (USERS, ITEMS, RATINGS), [(np.array([0, 0, 1]), np.array([2]))])
    # The same (user, item) pair at two positions could be trained on and scored.
    u, i = np.append(USERS, 0), np.append(ITEMS, 1)
    with pytest.raises(ValueError, match=r"duplicate \(user, item\) pair.*user 0, item 1\) at positions 1 and 6"):
        cross_validate(factory, (u, i, np.append(RATINGS, 2.0)), [(np.arange(6), np.array([6]))])


def test_kfold_indices_errors():
    with pytest.raises(ValueError, match=r"k must be in \[2, 10\], got 1"):
        kfold_indices(10, 1, seed=0)
    with pytest.raises(ValueError, match=r"n must be in \[2, inf\], got 1"):
        kfold_indices(1, 2, seed=0)
    with pytest.raises(TypeError, match="n must be an integer"):
        kfold_indices(10.0, 2, seed=0)


def test_baseline_rmses_on_the_dense_lab_layout():
    A = torch.tensor([[4.0, 0.0, 3.0], [5.0, 2.0, 0.0]])  # 2 movies x 3 users
    train = torch.tensor([[1, 0, 1], [1, 0, 0]])
    test = torch.tensor([[0, 0, 0], [0, 1, 0]])
    out = baseline_rmses(A, train, test)
    assert list(out) == ["global mean", "movie mean", "user + movie bias"]
    assert out["global mean"] == pytest.approx(4.0 - 2.0)
    assert out["movie mean"] == pytest.approx(5.0 - 2.0)  # movie 1's mean is 5
    with pytest.raises(ValueError, match="train_mask and test_mask overlap"):
        baseline_rmses(A, train, train)
    with pytest.raises(ValueError, match="test_mask must have the same shape"):
        baseline_rmses(A, train, test.T)
