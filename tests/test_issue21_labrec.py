"""Issue 21, items 4-7, 12 and 13: what a user of labrec meets (the issue's cases verbatim)."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

from labmf.convergence import DivergenceError
from labrec import (
    BiasBaseline,
    BiasedMF,
    Ensemble,
    GlobalMean,
    ItemMean,
    load_model,
    load_movielens,
    load_ratings,
    synthetic_ratings,
)
from labrec.model import top_n

# ------------------------------------------------ 4. one parser, one strictness


def test_distinct_spellings_of_one_number_are_refused_not_merged():
    rows = [(u, "i", 3.0) for u in ("007", "7", "1e3", "1000", "1.0", "1")]
    with pytest.raises(ValueError, match=r"row 1: user id '7' is the number 7, written '007' on row 0"):
        load_ratings(rows)
    # One spelling each: three distinct users, as before.
    R = load_ratings([(u, "i" + u, 3.0) for u in ("7", "1000", "1")])
    assert R.n_users == 3 and R.user.dtype == np.int64


def test_a_rating_with_an_underscore_is_not_a_number():
    with pytest.raises(ValueError, match=r"row 0: rating '1_0' is missing or not a finite number"):
        load_ratings([("u", "i", "1_0")])


def test_a_control_character_in_an_id_is_refused_not_dropped(tmp_path):
    with pytest.raises(ValueError, match=r"row 0: user id 'a\\x00' holds a control character"):
        load_ratings([("a\x00", "i", 1.0)])
    path = tmp_path / "nul.csv"
    path.write_text("user,item,rating\n1,2,3\na\x00,1,2\n")
    with pytest.raises(ValueError, match=r"line 3 of nul.csv"):
        load_ratings(path)


def _ml100k(tmp_path, u_data: bytes):
    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.data", u_data)
        zf.writestr("ml-100k/u.item", b"1|Toy Story (1995)|\n")
    return path


@pytest.mark.parametrize("u_data, message", [
    (b"196\t242\t3\t881250949\n1\t2\t3\n", r"line 2 of u.data: 3 fields, expected 4"),
    (b"1.7\t242\t3\t881250949\n", r"line 1 of u.data: user id '1.7' is not a whole number"),
    (b"", r"u.data holds no ratings"),
    (b"1\t242\t1_0\t881250949\n", r"line 1 of u.data: rating '1_0'"),
    (b"7\t242\t3\t881250949\n007\t243\t3\t881250949\n", r"line 2 of u.data: user id '007' is the number 7"),
])
def test_movielens_zip_is_as_strict_as_load_ratings(tmp_path, u_data, message):
    with pytest.raises(ValueError, match=message):
        load_movielens("100k", path=_ml100k(tmp_path, u_data))


def test_movielens_zip_reads_valid_lines_as_before(tmp_path):
    R = load_movielens("100k", path=_ml100k(tmp_path, b"196\t242\t3\t881250949\n186\t1\t4.5\t891717742\n"))
    assert R.user.tolist() == [196, 186] and R.item.tolist() == [242, 1]
    assert R.rating.tolist() == [3.0, 4.5] and R.timestamp.tolist() == [881250949, 891717742]


# ------------------------------------------------ 5. worse than the mean; NaN scores


def test_a_fit_worse_than_the_global_mean_warns_with_the_numbers():
    S = synthetic_ratings(5000, 100, 100, seed=0)
    with pytest.warns(UserWarning, match=r"training RMSE \d\.\d{4} is above the global mean's \d\.\d{4}.*lr_bias=0.5"):
        BiasedMF(lr_bias=0.5, seed=0).fit(S.user, S.item, S.rating, S.n_users, S.n_items)


def test_a_good_fit_does_not_warn(recwarn):
    S = synthetic_ratings(5000, 100, 100, seed=0)
    BiasedMF(seed=0).fit(S.user, S.item, S.rating, S.n_users, S.n_items)
    assert not [w for w in recwarn if "global mean" in str(w.message)]


def test_top_n_refuses_nan_scores():
    with pytest.raises(ValueError, match=r"scores holds 1 NaN\(s\), the first for item 1"):
        top_n(np.array([3.0, np.nan, 4.0]), 2)


# ------------------------------------------------ 6. bounds on n_jobs and num_epochs


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_jobs=10**12), r"n_jobs must be at most \d+, got 1000000000000 \(this machine has \d+ cores"),
    (dict(num_epochs=2**70), r"num_epochs must be at most 1,000,000, got 1180591620717411303424"),
    (dict(num_epochs=10**12), r"num_epochs must be at most 1,000,000, got 1000000000000"),
])
def test_absurd_sizes_are_refused_before_any_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BiasedMF(**kwargs).fit([0, 1], [0, 1], [3.0, 4.0])


def test_baseline_epochs_are_bounded_too():
    with pytest.raises(ValueError, match=r"num_epochs must be at most 1,000,000"):
        BiasBaseline(num_epochs=10**12).fit([0, 1], [0, 1], [3.0, 4.0])


# ------------------------------------------------ 7. errors that say where and why


def test_a_huge_field_names_file_and_line(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("user,item,rating\n1,2,3\n" + "x" * 10**6 + ",1,2\n")
    with pytest.raises(ValueError, match=r"line 3 of big.csv: field larger than field limit"):
        load_ratings(path)


def test_ids_beyond_int64_name_the_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,3\n1e30,1,2\n")
    with pytest.raises(ValueError, match=r"line 3 of r.csv: user id '1e30' is outside the 64-bit integer range"):
        load_ratings(path)


def test_a_nan_id_in_a_dataframe_is_blamed_on_its_own_row():
    df = pd.DataFrame({"user": [1.0, np.nan], "item": [1, 2], "rating": [4.0, 3.0]})
    with pytest.raises(ValueError, match=r"^row 1: user id nan is missing"):
        load_ratings(df)


def test_a_bytes_path_is_a_path_not_rows(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,3\n")
    assert len(load_ratings(bytes(path))) == 1
    with pytest.raises(FileNotFoundError, match="ratings file .*nothere.csv not found"):
        load_ratings(bytes(tmp_path / "nothere.csv"))


@pytest.mark.parametrize("kwargs, data, cause", [
    (dict(lr=5.0), None, r"likely cause: lr=5 is large"),
    (dict(init_std=10.0, num_epochs=3), None, r"likely cause: init_std=10 at rank 50"),
    (dict(lr_bias=3.0), None, r"likely cause: lr_bias=3 is large"),
    (dict(), [(1, 1, 1e6), (1, 2, -1e6), (2, 1, 5e5), (2, 2, 1.0)], r"likely cause: ratings as large as 1e\+06"),
])
def test_divergence_names_the_likely_cause(kwargs, data, cause):
    R = load_ratings(data) if data else load_movielens("small")
    with pytest.raises(DivergenceError, match=r"BiasedMF diverged: .* at epoch \d+ .*" + cause):
        BiasedMF(seed=0, **kwargs).fit(R)


@pytest.mark.parametrize("kwargs, exc, shown", [
    (dict(seed=2.0), TypeError, "seed must be an integer, got 2.0"),
    (dict(lr="abc"), TypeError, "lr must be a real number, got 'abc'"),
])
def test_parameter_checks_name_the_parameter(kwargs, exc, shown):
    with pytest.raises(exc, match=shown):
        BiasedMF(**kwargs).fit([0, 1], [0, 1], [3.0, 4.0])


# ------------------------------------------------ 12. save and load


@pytest.fixture(scope="module")
def small():
    return load_movielens("small")


MODELS = [lambda: BiasedMF(seed=0, num_epochs=2), lambda: BiasedMF(seed=0, num_epochs=2, n_jobs=2),
          GlobalMean, lambda: ItemMean(shrinkage=2.0), BiasBaseline,
          lambda: Ensemble([BiasedMF(seed=s, num_epochs=2) for s in range(2)])]


@pytest.mark.parametrize("make", MODELS)
def test_save_load_round_trip_keeps_predictions_ids_and_titles(small, tmp_path, make):
    model = make().fit(small)
    path = model.save(tmp_path / "model.labrec")
    assert path == tmp_path / "model.labrec"
    back = type(model).load(path)
    assert type(back) is type(model) and repr(back) == repr(model)
    pairs = small.user[:500], small.item[:500]
    assert np.array_equal(back.predict(*pairs), model.predict(*pairs))
    assert back.ids_.titles == model.ids_.titles and np.array_equal(back.ids_.items.ids, model.ids_.items.ids)
    if hasattr(model, "recommend"):
        assert back.recommend(17, n=5).equals(model.recommend(17, n=5))
    assert type(load_model(path)) is type(model)
    with np.load(path, allow_pickle=False) as z:  # plain npz + JSON: no pickle needed
        assert json.loads(str(z["header"][()]))["class"] == type(model).__name__


def test_a_model_fitted_on_arrays_round_trips(tmp_path):
    model = BiasedMF(seed=0, num_epochs=2).fit([0, 1, 1], [0, 0, 1], [3.0, 4.0, 5.0])
    back = BiasedMF.load(model.save(tmp_path / "m.npz"))
    assert back.ids_ is None and np.array_equal(back.predict([0, 1], [1, 1]), model.predict([0, 1], [1, 1]))


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(dst, "wb") as fh:
        np.savez(fh, **arrays)
    return dst


def test_load_refuses_tampered_other_version_other_class_and_pickle(small, tmp_path):
    path = GlobalMean().fit(small).save(tmp_path / "gm.labrec")

    def bump_bias(a):
        a["item_bias_"] = a["item_bias_"] + 0.5

    def bump_version(a):
        a["header"] = np.array(json.dumps({**json.loads(str(a["header"][()])), "version": 2}))

    with pytest.raises(ValueError, match=r"t.npz fails its sha256 check .* altered or damaged after saving"):
        GlobalMean.load(_rewrite(path, tmp_path / "t.npz", bump_bias))
    with pytest.raises(ValueError, match=r"v.npz is labrec model format version 2, but this labrec reads version 1"):
        GlobalMean.load(_rewrite(path, tmp_path / "v.npz", bump_version))
    with pytest.raises(TypeError, match=r"gm.labrec holds a GlobalMean, not a BiasedMF"):
        BiasedMF.load(path)
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(GlobalMean()))
    with pytest.raises(ValueError, match=r"p.pkl is not a labrec model file"):
        GlobalMean.load(tmp_path / "p.pkl")


def test_save_refuses_an_unfitted_model(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted yet"):
        BiasedMF().save(tmp_path / "m.npz")


# ------------------------------------------------ 13. small gaps


def test_titles_from_a_csv_path_or_a_dataframe(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n2,Heat (1995),Action\n")
    rows = [(10, 1, 4.0), (11, 2, 3.0)]
    R = load_ratings(rows, item="movieId", titles=tmp_path / "movies.csv")
    assert R.titles == {1: "Toy Story (1995)", 2: "Heat (1995)"}
    frame = pd.DataFrame({"movieId": [1], "title": ["Toy Story (1995)"]})
    assert load_ratings(rows, item="movieId", titles=frame).titles == {1: "Toy Story (1995)"}
    with pytest.raises(ValueError, match=r"titles: column 'movieId' not found in the titles DataFrame"):
        load_ratings(rows, item="movieId", titles=pd.DataFrame({"id": [1], "title": ["x"]}))


def test_surprise_model_takes_a_ratings_table(small):
    pytest.importorskip("surprise")
    from labrec import SurpriseModel

    part = load_ratings(small.to_frame().head(2000))
    model = SurpriseModel("BaselineOnly").fit(part)
    assert isinstance(model.predict(int(part.user[0]), int(part.item[0])), float)


def test_numpy_scalar_parameters_survive_a_round_trip(tmp_path):
    model = BiasedMF(rank=np.int64(2), reg=np.float32(0.05), seed=np.random.default_rng(0), num_epochs=2)
    back = BiasedMF.load(model.fit([0, 1, 1], [0, 0, 1], [3.0, 4.0, 5.0]).save(tmp_path / "m.npz"))
    assert back.rank == 2 and isinstance(back.rank, int) and back.seed is None  # a Generator is saved as None
