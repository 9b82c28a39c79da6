"""labrec.spark on a local[2] SparkSession (one per test session, on 127.0.0.1, no network).

Skipped with a reason outside CI when Java or pyspark is missing; under CI=true that fails.
About 80 s on the shared 2-core test machine (the JVM's start, then Spark's fixed cost of ~0.5-1 s a job:
DSGD runs one job a sub-epoch, so the fits here are a few epochs on 2-3 blocks).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import numpy as np
import pytest

from labrec import _sgd, synthetic_ratings
from labrec.model import check_params


def _missing() -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java) on PATH: install openjdk-17-jre-headless"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install -e '.[spark]'"
    return None


@pytest.fixture(scope="session")
def spark():
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from labrec.spark import session

    s = session("local[2]", app_name="labrec-tests", config={
        "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC", "spark.jars.ivy": "/nonexistent-no-downloads"})
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def data():
    """Small Netflix-shaped ratings: string user ids, integer item ids, rows in random order."""
    s = synthetic_ratings(4000, 300, 120, rank=3, seed=2, test_fraction=0.2)
    order = np.random.default_rng(0).permutation(s.user.size)
    train = [(f"u{u}", int(i) * 7, float(r)) for u, i, r in zip(s.user[order], s.item[order], s.rating[order],
                                                                  strict=True)]
    test = [(f"u{u}", int(i) * 7, float(r)) for u, i, r in zip(s.test_user, s.test_item, s.test_rating, strict=True)]
    return train, test


@pytest.fixture(scope="session")
def frames(spark, data):
    schema = "user string, item long, rating double"
    return spark.createDataFrame(data[0], schema), spark.createDataFrame(data[1], schema)


@pytest.fixture(scope="session")
def fitted(frames):
    from labrec.spark import SparkBiasedMF

    return SparkBiasedMF(8, num_epochs=2, seed=5, n_blocks=3, lr_decay=0.9).fit(frames[0])


def test_dsgd_equals_the_local_blocked_schedule_bit_for_bit(fitted, data):
    users = fitted.user_factors_.toPandas().sort_values("index")
    items = fitted.item_factors_.toPandas().sort_values("index")
    u_of, i_of = dict(zip(users.id, users["index"], strict=True)), dict(zip(items.id, items["index"], strict=True))
    u = np.array([u_of[x[0]] for x in data[0]], np.int32)
    i = np.array([i_of[x[1]] for x in data[0]], np.int32)
    r = np.array([x[2] for x in data[0]], np.float32)
    order = np.lexsort((i, u))  # each block swept by (user, item), as DSGD sweeps it
    hp = check_params(rank=8, num_epochs=2, seed=5, lr_decay=0.9, schedule="blocked")
    (mu, bu, bi, P, Q), train_rmse = _sgd.run_blocked_on_grid(u[order], i[order], r[order], hp, fitted.replay_grid())
    assert mu == fitted.global_mean_
    assert np.array_equal(bu, users.bias.to_numpy(np.float32))
    assert np.array_equal(bi, items.bias.to_numpy(np.float32))
    assert np.array_equal(P, np.stack(users.factors.to_numpy()).astype(np.float32))
    assert np.array_equal(Q, np.stack(items.factors.to_numpy()).astype(np.float32))
    assert np.array_equal(train_rmse, fitted.train_rmse_)
    assert fitted.train_rmse_[-1] < fitted.train_rmse_[0]


def test_predict_recommend_and_to_local_agree(fitted, frames, data):
    local = fitted.to_local()
    test = frames[0].limit(200)
    pred = fitted.predict(test).toPandas()
    expected = local.predict(np.array(pred.user.tolist()), np.array(pred.item.tolist()))
    np.testing.assert_allclose(pred.prediction.to_numpy(), expected, rtol=0, atol=1e-9)
    top = fitted.recommend(5, users=frames[0].where("user = 'u0'")).toPandas()
    assert top.item.tolist() == local.recommend("u0", n=5).item.tolist()
    assert top["rank"].tolist() == [1, 2, 3, 4, 5]


def test_unknown_ids_fall_back_to_the_mean_and_parquet_round_trip(fitted, spark, tmp_path):
    df = spark.createDataFrame([("nobody", 10**9)], "user string, item long")
    assert fitted.predict(df).first().prediction == pytest.approx(fitted.global_mean_)
    fitted.predict(df).write.parquet(str(tmp_path / "pred"))
    fitted.save(str(tmp_path / "model"))
    assert spark.read.parquet(str(tmp_path / "model/users")).count() == fitted.n_users_


def test_fit_from_parquet(frames, tmp_path):
    from labrec.spark import SparkBiasedMF

    frames[0].write.parquet(str(tmp_path / "ratings"))
    model = SparkBiasedMF(4, num_epochs=1, seed=0, n_blocks=2).fit(str(tmp_path / "ratings"))
    assert model.n_users_ == frames[0].select("user").distinct().count()


def test_als_beside_dsgd_on_the_same_folds(frames):
    from labrec.spark import SparkBiasedMF
    from labrec.spark_als import SparkALS, cross_validate

    models = {"dsgd": SparkBiasedMF(8, num_epochs=2, seed=0, n_blocks=2), "als": SparkALS(4, max_iter=3)}
    res = cross_validate(models, frames[0], k=2, seed=1)
    assert sorted(res.model.unique()) == ["als", "dsgd"] and len(res) == 4
    assert (res.rmse < 1.5).all()


@pytest.mark.parametrize("change, error, match", [
    (lambda df: df.withColumnRenamed("item", "movie"), ValueError, r"no column 'item' \(item='item'\)"),
    (lambda df: df.withColumn("rating", df.rating.cast("string")), TypeError, "rating column 'rating' must be numeric"),
    (lambda df: df.union(df.limit(1)), ValueError, r"pair .* is rated 2 times"),
    (lambda df: df.limit(0), ValueError, "0 rows"),
    (lambda df: df.withColumn("rating", df.rating * float("nan")), ValueError, "rating column 'rating' has"),
])
def test_bad_input_is_named(frames, change, error, match):
    from labrec.spark import SparkBiasedMF

    with pytest.raises(error, match=match):
        SparkBiasedMF(4, num_epochs=1, n_blocks=2).fit(change(frames[0]))


def test_bad_parameters_are_named(frames):
    from labrec.spark import SparkBiasedMF

    with pytest.raises(ValueError, match="lr"):
        SparkBiasedMF(lr=-1.0).fit(frames[0])
    with pytest.raises(ValueError, match="n_blocks"):
        SparkBiasedMF(n_blocks=10**6).fit(frames[0])


def test_a_wrong_master_url_is_named(spark):
    from labrec.spark import session

    with pytest.raises(ValueError, match="master must be a Spark master URL.*'localhost:7077'"):
        session("localhost:7077")
