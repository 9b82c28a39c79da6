"""Held-out splits, training with a held-out curve, learning-rate sweeps, baselines."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import labmf
from labmf.baselines import BASELINES, BiasBaseline, GlobalMean, MovieMean, baseline_rmses
from labmf.evaluate import (
    fit_with_heldout,
    holdout_split,
    kfold_indices,
    largest_stable_lr,
    lr_sweep,
    still_improving,
    top_n_unrated,
)


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
    for frac in (0, 1, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="frac"):
            holdout_split(M, frac, seed=0)
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


# ------------------------------------------------------------ kfold_indices


def test_kfold_partitions_and_is_seeded():
    folds = kfold_indices(23, 5, seed=0)
    assert len(folds) == 5
    tests = np.concatenate([t for _, t in folds])
    assert np.array_equal(np.sort(tests), np.arange(23))
    sizes = [t.size for _, t in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert train.size + test.size == 23
        assert train.dtype == np.int64
    again = kfold_indices(23, 5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = kfold_indices(23, 5, seed=1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_kfold_errors():
    with pytest.raises(ValueError, match="k must"):
        kfold_indices(10, 1, seed=0)
    with pytest.raises(ValueError, match="k must"):
        kfold_indices(3, 4, seed=0)
    with pytest.raises(ValueError, match="n must"):
        kfold_indices(1, 2, seed=0)


# --------------------------------------------------------- fit_with_heldout


def test_fit_with_heldout_reproduces_the_uninterrupted_run():
    A, M = _ratings()
    train, test = holdout_split(M, 0.1, seed=0)
    res, hist = fit_with_heldout(labmf.factorise_gd, A, train, test, 3,
                                 num_epochs=25, every=10, lr=1e-3, seed=4)
    ref = labmf.factorise_gd(A, train, 3, lr=1e-3, num_epochs=25, seed=4)
    assert torch.equal(res.U, ref.U) and torch.equal(res.V, ref.V)
    assert res.losses.shape == (26,)
    assert torch.allclose(res.losses, ref.losses, rtol=1e-9, atol=0)
    assert hist.epochs.tolist() == [0, 10, 20, 25]
    assert hist.test_rmse[-1] == pytest.approx(labmf.rmse(A, ref.reconstruction, test))
    start = labmf.factorise_gd(A, train, 3, num_epochs=0, seed=4)
    assert hist.test_rmse[0] == pytest.approx(labmf.rmse(A, start.reconstruction, test))
    with pytest.raises(ValueError, match="every"):
        fit_with_heldout(labmf.factorise_gd, A, train, test, 3, num_epochs=5, every=0, seed=0)
    with pytest.raises(ValueError, match="test_mask"):
        fit_with_heldout(labmf.factorise_gd, A, train, torch.zeros_like(test), 3, num_epochs=5, seed=0)


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


def test_global_and_movie_mean():
    A = torch.tensor([[4.0, 2.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 3.0]])
    M = (A > 0).float()
    g = GlobalMean().fit(A, M)
    assert torch.allclose(g.predict(), torch.full((3, 3), 3.5))
    mm = MovieMean().fit(A, M)
    P = mm.predict()
    assert P[0, 2] == pytest.approx(3.0) and P[2, 1] == pytest.approx(4.0)
    assert P[1, 0] == pytest.approx(3.5)  # no rating: the global mean
    shrunk = MovieMean(shrinkage=2).fit(A, M).predict()
    assert shrunk[0, 0] == pytest.approx((6 + 2 * 3.5) / 4)


def test_fit_on_triplets_equals_fit_on_mask():
    A, M = _ratings()
    idx = M.bool().nonzero()
    r, c = idx[:, 0].numpy(), idx[:, 1].numpy()
    for cls in BASELINES.values():
        a = cls().fit(A, M).predict(torch.float64)
        b = cls().fit_triplets(r, c, A.numpy()[r, c], A.shape).predict(torch.float64)
        assert torch.allclose(a, b)
        assert np.allclose(cls().fit(A, M).predict_at(r, c), a.numpy()[r, c])


def test_bias_baseline_matches_surprise_baselineonly(tmp_path):
    surprise = pytest.importorskip("surprise")
    A, M = _ratings(20, 25, density=0.5, seed=5)
    idx = M.bool().nonzero().tolist()
    lines = "".join(f"u{c},i{r},{float(A[r, c])}\n" for r, c in idx)
    (tmp_path / "r.csv").write_text(lines)
    reader = surprise.Reader(line_format="user item rating", sep=",", rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_file(str(tmp_path / "r.csv"), reader).build_full_trainset()
    algo = surprise.BaselineOnly(
        bsl_options={"method": "als", "reg_i": 10, "reg_u": 15, "n_epochs": 10}, verbose=False
    )
    algo.fit(trainset)
    ours = BiasBaseline(reg_movie=10, reg_user=15, n_iter=10).fit(A, M).predict(torch.float64)
    for r in range(A.shape[0]):
        for c in range(A.shape[1]):
            theirs = algo.predict(f"u{c}", f"i{r}", clip=False).est
            if (f"u{c}" in trainset._raw2inner_id_users) and (f"i{r}" in trainset._raw2inner_id_items):
                assert float(ours[r, c]) == pytest.approx(theirs, abs=1e-9)


def test_bias_baseline_without_regularisation_fits_an_additive_matrix():
    rows = torch.tensor([0.5, -1.0, 0.0, 0.25])[:, None]
    cols = torch.tensor([1.0, 0.0, -0.5])[None, :]
    A = 3.0 + rows + cols
    M = torch.ones_like(A)
    M[0, 0] = 0
    P = BiasBaseline(reg_movie=0, reg_user=0, n_iter=200).fit(A, M).predict(torch.float64)
    assert torch.allclose(P, A.double(), atol=1e-6)


def test_baseline_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        GlobalMean().predict()
    with pytest.raises(ValueError, match="reg_movie"):
        BiasBaseline(reg_movie=-1)
    with pytest.raises(ValueError, match="n_iter"):
        BiasBaseline(n_iter=0)
    with pytest.raises(ValueError, match="shrinkage"):
        MovieMean(shrinkage=-1)
    with pytest.raises(ValueError, match="no training rating"):
        GlobalMean().fit(torch.ones(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="shape"):
        GlobalMean().fit(torch.ones(2, 2), torch.ones(3, 2))


def test_baseline_rmses_order_on_movielens():
    layout = labmf.data.load_lab_layout("movielens-small")
    train, test = holdout_split(layout.mask, 0.1, seed=0)
    errs = baseline_rmses(layout.ratings, train, test)
    assert list(errs) == ["global mean", "movie mean", "user + movie bias"]
    assert errs["global mean"] > errs["movie mean"] > errs["user + movie bias"] > 0.5


# ------------------------------------------------ notebook 04's stored figures

NB04 = Path(__file__).resolve().parents[1] / "notebooks" / "04_movie_recommendation.ipynb"


def _notebook04():
    nb = json.loads(NB04.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params_cell = next(c for c in code if "parameters" in c.get("metadata", {}).get("tags", []))
    params = {}
    for node in ast.parse("".join(params_cell["source"])).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    text = "".join(
        "".join(o["text"]) for c in code for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
    return params, text


def _observed_sse(A, U, V, M) -> float:
    # Written out independently of labmf.metrics on purpose.
    E = (A.double() - U.double() @ V.double().T) * M.double()
    return float((E * E).sum())


@pytest.mark.skipif(not NB04.exists(), reason="notebook 04 not present")
def test_notebook04_printed_q4_figures_match_a_recomputation():
    params, text = _notebook04()
    if params["data_source"] != "movielens-small":
        pytest.skip("the stored notebook was run on the course's private data")
    layout = labmf.data.load_lab_layout(params["data_source"])
    A, M = layout.ratings, layout.mask
    row = layout.find_title(params["movie_title"])
    col = params["user_col"]
    rank, epochs, seed = params["rank"], params["num_epochs"], params["seed"]

    pred = re.search(r"\(a\) predicted rating of column \d+ for .*: (-?[\d.]+)", text)
    sse = re.search(r"\(b\) SSE over the [\d,]+ observed entries: ([\d.]+)", text)
    assert pred and sse, "notebook 04 has no stored Q4 output; execute it"
    res = labmf.factorise_gd(A, M, rank, lr=params["lr"], num_epochs=epochs, seed=seed)
    recomputed = _observed_sse(A, res.U, res.V, M)
    assert float(sse.group(1)) == pytest.approx(recomputed, abs=0.05 + 1e-6 * recomputed)
    # The library forms the residual in float32, this test in float64.
    assert res.loss == pytest.approx(recomputed, rel=1e-7)
    assert float(pred.group(1)) == pytest.approx(float(res.U[row] @ res.V[col]), abs=5e-5 + 1e-5)
    assert not layout.is_rated(row, col)
    assert "has NOT rated it" in text

    chosen = re.search(r"sensitivity check \(lr ([\d.e+-]+)\): prediction (-?[\d.]+), observed-entry SSE ([\d.]+)", text)
    assert chosen
    lr = float(chosen.group(1))
    res2 = labmf.factorise_gd(A, M, rank, lr=lr, num_epochs=epochs, seed=seed)
    recomputed2 = _observed_sse(A, res2.U, res2.V, M)
    assert float(chosen.group(3)) == pytest.approx(recomputed2, abs=0.05 + 1e-6 * recomputed2)
    assert float(chosen.group(2)) == pytest.approx(float(res2.U[row] @ res2.V[col]), abs=5e-5 + 1e-5)
