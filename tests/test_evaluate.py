"""Held-out splits, training with a held-out curve, learning-rate sweeps, baselines on the lab layout."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import labmf
from labmf.convergence import still_improving
from labmf.evaluate import (
    LrTrial,
    best_lr_trial,
    fit_early_stopped,
    holdout_split,
    largest_stable_lr,
    lr_sweep,
    top_n_unrated,
)
from labrec.baselines import BiasBaseline, GlobalMean, ItemMean, baseline_rmses


def _ratings(m=30, n=40, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    M = (torch.rand(m, n, generator=g) < density).float()
    A = torch.randint(1, 6, (m, n), generator=g).float() * M
    return A, M


# ------------------------------------------------------------ holdout_split


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool, torch.float64])
def test_holdout_split_is_a_disjoint_cover(dtype):
    _, M = _ratings()
    M = M.to(dtype)
    train, test = holdout_split(M, 0.1, seed=3)
    assert train.dtype == dtype and test.dtype == dtype
    tb, sb, mb = train.bool(), test.bool(), M.bool()
    assert not bool((tb & sb).any())
    assert torch.equal(tb | sb, mb)
    assert int(sb.sum()) == round(0.1 * int(mb.sum()))


def test_holdout_split_is_seeded():
    _, M = _ratings()
    a = holdout_split(M, 0.2, seed=1)
    b = holdout_split(M, 0.2, seed=1)
    c = holdout_split(M, 0.2, seed=2)
    assert torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    d = holdout_split(M, 0.2, seed=np.random.default_rng(1))
    assert torch.equal(a[1], d[1])


def test_holdout_split_errors():
    _, M = _ratings()
    for frac in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"frac must be in \(0, 1\)"):
            holdout_split(M, frac, seed=0)
    with pytest.raises(TypeError, match="frac must be a real number"):
        holdout_split(M, True, seed=0)
    with pytest.raises(TypeError):
        holdout_split(M, 0.1)  # the seed is required
    with pytest.raises(TypeError, match="seed"):
        holdout_split(M, 0.1, seed=1.5)
    with pytest.raises(ValueError, match="only 0 and 1"):
        holdout_split(M * 2, 0.1, seed=0)
    with pytest.raises(ValueError, match="2-D"):
        holdout_split(M.flatten(), 0.1, seed=0)
    one = torch.zeros(3, 3)
    one[0, 0] = 1
    with pytest.raises(ValueError, match="at least 2"):
        holdout_split(one, 0.5, seed=0)


# --------------------------------------------------------- fit_early_stopped


def test_fit_early_stopped_reproduces_the_uninterrupted_run():
    A, M = _ratings()
    train, test = holdout_split(M, 0.1, seed=0)
    out = fit_early_stopped(labmf.factorise_gd, A, train, test, 3, num_epochs=25, every=10, lr=1e-3, seed=4)
    res, hist = out.final, out.history
    ref = labmf.factorise_gd(A, train, 3, lr=1e-3, num_epochs=25, seed=4)
    assert torch.equal(res.U, ref.U) and torch.equal(res.V, ref.V)
    assert res.losses.shape == (26,)
    assert torch.allclose(res.losses, ref.losses, rtol=1e-9, atol=0)
    assert hist.epochs.tolist() == [0, 10, 20, 25]
    assert hist.test_rmse[-1] == pytest.approx(labmf.rmse(A, ref.reconstruction, test))
    start = labmf.factorise_gd(A, train, 3, num_epochs=0, seed=4)
    assert hist.test_rmse[0] == pytest.approx(labmf.rmse(A, start.reconstruction, test))
    with pytest.raises(ValueError, match="every"):
        fit_early_stopped(labmf.factorise_gd, A, train, test, 3, num_epochs=5, every=0, seed=0)
    with pytest.raises(ValueError, match="val_mask observes no entry"):
        fit_early_stopped(labmf.factorise_gd, A, train, torch.zeros_like(test), 3, num_epochs=5, seed=0)


def test_fit_early_stopped_keeps_the_epoch_best_on_validation():
    A, M = _ratings()
    rest, test = holdout_split(M, 0.1, seed=0)
    train, val = holdout_split(rest, 0.2, seed=1)
    out = fit_early_stopped(labmf.factorise_gd, A, train, val, 3, num_epochs=200, every=10, lr=5e-3, seed=4)
    hist = out.history
    ref = labmf.factorise_gd(A, train, 3, lr=5e-3, num_epochs=200, seed=4)
    assert torch.equal(out.final.U, ref.U) and out.final.num_epochs == 200
    k = int(np.argmin(hist.test_rmse))
    assert out.best_epoch == hist.epochs[k]
    again = labmf.factorise_gd(A, train, 3, lr=5e-3, num_epochs=out.best_epoch, seed=4)
    assert torch.equal(out.best.U, again.U) and torch.equal(out.best.V, again.V)
    assert out.best.losses.shape == (out.best_epoch + 1,)
    assert labmf.rmse(A, out.best.reconstruction, val) == pytest.approx(hist.test_rmse[k])
    with pytest.raises(ValueError, match="disjoint"):
        fit_early_stopped(labmf.factorise_gd, A, rest, val, 3, num_epochs=5, seed=0)


def test_best_lr_trial_ties_below_the_floor_go_to_the_first_there():
    def trial(lr, losses, diverged=False):
        return LrTrial(lr, np.asarray(losses), None if diverged else object(), 2 if diverged else None)

    trials = [trial(1e-3, [9, 5, 3]), trial(1e-2, [9, 1e-7, 1e-14]), trial(3e-2, [9, 1e-10, 1e-13]),
              trial(1e-1, [9, np.inf], diverged=True)]
    assert best_lr_trial(trials).lr == 1e-2  # the lowest final loss
    assert best_lr_trial(trials, floor=1e-12).lr == 1e-2  # both reach the floor at epoch 2: the smaller lr
    assert best_lr_trial(trials, floor=1e-9).lr == 3e-2  # there at epoch 1, the other at epoch 2
    assert best_lr_trial(trials[:1] + trials[3:]).lr == 1e-3
    with pytest.raises(ValueError, match="diverged"):
        best_lr_trial(trials[3:])
    with pytest.raises(ValueError, match="floor"):
        best_lr_trial(trials, floor=-1.0)


# ------------------------------------------------------------------ top-n


def test_top_n_unrated_skips_rated_and_breaks_ties_by_row():
    P = torch.tensor([[5.0, 1.0], [4.0, 1.0], [4.0, 1.0], [3.0, 1.0], [4.5, 1.0]])
    M = torch.tensor([[1.0, 0], [0, 0], [0, 0], [0, 0], [1, 0]])
    assert top_n_unrated(P, M, 0, n=2) == [1, 2]
    assert top_n_unrated(P, M, 0, n=10) == [1, 2, 3]
    assert top_n_unrated(P, M, 1, n=3) == [0, 1, 2]
    with pytest.raises(ValueError, match="col"):
        top_n_unrated(P, M, 2)
    with pytest.raises(ValueError, match="n must"):
        top_n_unrated(P, M, 0, n=0)


# --------------------------------------------------------------- lr sweeps


def test_lr_sweep_records_divergence_and_picks_the_largest_stable():
    A, M = _ratings()
    trials = lr_sweep(labmf.factorise_gd, A, M, 3, [1e-4, 1e-3, 1.0], num_epochs=30, seed=0)
    assert [t.lr for t in trials] == [1e-4, 1e-3, 1.0]
    assert trials[0].stable and trials[1].stable
    assert trials[2].result is None and not trials[2].stable
    assert trials[2].diverged_at is not None and trials[2].diverged_at <= 30
    assert len(trials[2].losses) == trials[2].diverged_at
    assert trials[1].losses.shape == (31,)
    assert largest_stable_lr(trials) == 1e-3
    with pytest.raises(ValueError, match="no learning rate"):
        largest_stable_lr(trials[2:])


def test_still_improving():
    assert still_improving(np.linspace(100, 50, 201), window=100)
    assert not still_improving(np.r_[np.linspace(100, 50, 100), np.full(101, 50.0)], window=100)
    with pytest.raises(ValueError):
        still_improving([1.0])


# --------------------------------------------------------------- baselines
# The baselines are users x items recsys models; the lab layout is movies x users.


def _user_item(A, M):
    """Observed ``(users, items, ratings)`` of a movies x users matrix."""
    idx = M.bool().nonzero()
    items, users = idx[:, 0].numpy(), idx[:, 1].numpy()
    return users, items, A.double().numpy()[items, users]


def test_global_and_item_mean():
    A = torch.tensor([[4.0, 2.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 3.0]])
    users, items, r = _user_item(A, A > 0)
    g = GlobalMean().fit(users, items, r, n_users=3, n_items=3)
    assert np.allclose(g.predict([0, 1, 2], [0, 1, 2]), 3.5)
    im = ItemMean().fit(users, items, r, n_users=3, n_items=3)
    # Movie 0 has mean 3, movie 2 mean 4, movie 1 no rating: the global mean.
    assert np.allclose(im.predict([2, 1, 0], [0, 2, 1]), [3.0, 4.0, 3.5])
    shrunk = ItemMean(shrinkage=2).fit(users, items, r, n_users=3, n_items=3)
    assert shrunk.predict([0], [0])[0] == pytest.approx((6 + 2 * 3.5) / 4)


def test_bias_baseline_matches_surprise_baselineonly(tmp_path):
    surprise = pytest.importorskip("surprise")
    A, M = _ratings(20, 25, density=0.5, seed=5)
    users, items, r = _user_item(A, M)
    lines = "".join(f"u{u},i{i},{x}\n" for u, i, x in zip(users, items, r, strict=True))
    (tmp_path / "r.csv").write_text(lines)
    reader = surprise.Reader(line_format="user item rating", sep=",", rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_file(str(tmp_path / "r.csv"), reader).build_full_trainset()
    algo = surprise.BaselineOnly(
        bsl_options={"method": "als", "reg_i": 10, "reg_u": 15, "n_epochs": 10}, verbose=False
    )
    algo.fit(trainset)
    ours = BiasBaseline(reg_item=10, reg_user=15, num_epochs=10, clip=False).fit(users, items, r, 25, 20)
    known_u = [u for u in range(25) if f"u{u}" in trainset._raw2inner_id_users]
    known_i = [i for i in range(20) if f"i{i}" in trainset._raw2inner_id_items]
    for u in known_u:
        theirs = [algo.predict(f"u{u}", f"i{i}", clip=False).est for i in known_i]
        assert np.allclose(ours.predict([u] * len(known_i), known_i), theirs, rtol=0, atol=1e-9)


def test_bias_baseline_without_regularisation_fits_an_additive_matrix():
    movie = torch.tensor([0.5, -1.0, 0.0, 0.25])[:, None]
    user = torch.tensor([1.0, 0.0, -0.5])[None, :]
    A = 3.0 + movie + user
    M = torch.ones_like(A)
    M[0, 0] = 0
    users, items, r = _user_item(A, M)
    model = BiasBaseline(reg_item=0, reg_user=0, num_epochs=200, clip=False).fit(users, items, r, 3, 4)
    all_items, all_users = np.divmod(np.arange(12), 3)
    assert np.allclose(model.predict(all_users, all_items), A.double().numpy().ravel(), atol=1e-6)


def test_baseline_rmses_order_on_movielens():
    layout = labmf.data.load_lab_layout("movielens-small")
    train, test = holdout_split(layout.mask, 0.1, seed=0)
    errs = baseline_rmses(layout.ratings, train, test)
    assert list(errs) == ["global mean", "movie mean", "user + movie bias"]
    assert errs["global mean"] > errs["movie mean"] > errs["user + movie bias"] > 0.5


# ------------------------------------------------ notebook 04's stored figures

NB04 = Path(__file__).resolve().parents[1] / "notebooks" / "04_movie_recommendation.ipynb"


def _notebook04():
    """The parameters and the ``answers`` record of the stored notebook 04."""
    nb = json.loads(NB04.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params_cell = next(c for c in code if "parameters" in c.get("metadata", {}).get("tags", []))
    params = {}
    for node in ast.parse("".join(params_cell["source"])).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    records = [o["data"]["application/json"] for c in code for o in c.get("outputs", [])
               if "application/json" in o.get("data", {})]
    return params, (records[-1] if records else None)


def _observed_sse(A, U, V, M) -> float:
    # Written out independently of labmf.metrics on purpose.
    E = (A.double() - U.double() @ V.double().T) * M.double()
    return float((E * E).sum())


@pytest.mark.skipif(not NB04.exists(), reason="notebook 04 not present")
def test_notebook04_printed_q4_figures_match_a_recomputation():
    params, record = _notebook04()
    if params["data_source"] != "movielens-small":
        pytest.skip("the stored notebook was run on the course's private data")
    assert record, "notebook 04 has no stored answers record; execute it"
    layout = labmf.data.load_lab_layout(params["data_source"])
    A, M = layout.ratings, layout.mask
    row = layout.find_title(params["movie_title"])
    col = params["user_col"]
    rank, epochs, seed = params["rank"], params["num_epochs"], params["seed"]
    assert (record["movie_row"], record["user_col"], record["seed"]) == (row, col, seed)

    res = labmf.factorise_gd(A, M, rank, lr=params["lr"], num_epochs=epochs, seed=seed)
    recomputed = _observed_sse(A, res.U, res.V, M)
    assert record["observed_sse"] == pytest.approx(recomputed, abs=0.05 + 1e-6 * recomputed)
    # The library forms the residual in float32, this test in float64.
    assert res.loss == pytest.approx(recomputed, rel=1e-7)
    assert record["predicted"] == pytest.approx(float(res.U[row] @ res.V[col]), abs=5e-5 + 1e-5)
    assert record["user_rating"] is None and not layout.is_rated(row, col)
    spread = record["predicted_spread"]
    # The spread over starts is stored to 0.01 (predictions) and to the nearest 10 (SSEs).
    assert spread["n_seeds"] == params["n_seeds"]
    assert spread["min"] - 0.005 <= record["predicted"] <= spread["max"] + 0.005
    assert record["sse_spread"]["min"] - 5 <= record["observed_sse"] <= record["sse_spread"]["max"] + 5

    res2 = labmf.factorise_gd(A, M, rank, lr=record["check_lr"], num_epochs=epochs, seed=seed)
    recomputed2 = _observed_sse(A, res2.U, res2.V, M)
    assert record["check_sse"] == pytest.approx(recomputed2, abs=0.05 + 1e-6 * recomputed2)
    assert record["check_predicted"] == pytest.approx(float(res2.U[row] @ res2.V[col]), abs=5e-4 + 1e-5)  # 3 decimals
