"""MLlib ALS beside :class:`labrec.spark.SparkBiasedMF`, and the evaluation both go through.

:class:`SparkALS` wraps ``pyspark.ml.recommendation.ALS`` with the same interface (ids of any
type, numbered on Spark; ``predict`` on DataFrames); :func:`kfold` gives every model the same
seeded folds, :func:`rmse` the same metric and :func:`cross_validate` runs them side by side.
"""

from __future__ import annotations

import math
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from labmf.validation import check_scalar

from .spark import _id_map, read_ratings

__all__ = ["SparkALS", "kfold", "rmse", "cross_validate"]


class SparkALS:
    """MLlib's ALS (``pyspark.ml.recommendation.ALS``) with :class:`SparkBiasedMF`'s interface:
    ids of any type numbered on Spark, a user or item unseen in training predicted by the
    mean training rating, predictions clipped to the training range when ``clip``.

    Parameters
    ----------
    rank : int, default 10
    reg : float, default 0.1
        ALS's ``regParam`` (scaled by each user's and item's rating count, as MLlib does).
    max_iter : int, default 10
    seed : int, default 0
    clip : bool, default True
    user, item, rating : str
    """

    def __init__(self, rank=10, *, reg=0.1, max_iter=10, seed=0, clip=True, user="user", item="item",
                 rating="rating"):
        self.rank, self.reg, self.max_iter, self.seed, self.clip = rank, reg, max_iter, seed, clip
        self.user, self.item, self.rating = user, item, rating

    def fit(self, data) -> SparkALS:
        from pyspark.ml.recommendation import ALS

        start = time.perf_counter()
        rank = check_scalar(self.rank, "rank", int, min_val=1)
        max_iter = check_scalar(self.max_iter, "max_iter", int, min_val=1)
        reg = check_scalar(self.reg, "reg", float, min_val=0.0)
        df = read_ratings(data, user=self.user, item=self.item, rating=self.rating)
        self._maps = [_id_map(df, c, 1).select(F.col("id").alias(c), F.col("index").cast("int").alias(k)).persist()
                      for c, k in ((self.user, "_u"), (self.item, "_i"))]
        cells = df.join(self._maps[0], self.user).join(self._maps[1], self.item)
        als = ALS(rank=rank, maxIter=max_iter, regParam=reg, userCol="_u", itemCol="_i", ratingCol=self.rating,
                  seed=int(self.seed), coldStartStrategy="nan")
        self.model_ = als.fit(cells.select("_u", "_i", F.col(self.rating).cast("float")))
        mu, lo, hi = df.agg(F.avg(F.col(self.rating).cast("double")), F.min(self.rating), F.max(self.rating)).first()
        self.global_mean_, self.rating_range_ = float(mu), (float(lo), float(hi))
        self.fit_time_ = time.perf_counter() - start
        return self

    def predict(self, data) -> DataFrame:
        """``data`` with a float64 ``prediction`` column (see the class docstring)."""
        if not hasattr(self, "model_"):
            raise AttributeError("this SparkALS is not fitted yet: call fit first")
        df = read_ratings(data, user=self.user, item=self.item, rating=None)
        keyed = (df.join(self._maps[0], self.user, "left").join(self._maps[1], self.item, "left")
                 .fillna(-1, ["_u", "_i"]))
        out = self.model_.transform(keyed)
        est = F.coalesce(F.nanvl(F.col("prediction").cast("double"), F.lit(None)), F.lit(self.global_mean_))
        if self.clip:
            est = F.least(F.greatest(est, F.lit(self.rating_range_[0])), F.lit(self.rating_range_[1]))
        return out.withColumn("prediction", est).drop("_u", "_i")


def kfold(data, k: int = 5, seed: int = 0, *, user: str = "user", item: str = "item") -> DataFrame:
    """``data`` with a ``fold`` column in ``range(k)``: a seeded hash of the (user, item) pair,
    so every model and every run sees the same folds."""
    k = check_scalar(k, "k", int, min_val=2)
    df = read_ratings(data, user=user, item=item, rating=None)
    return df.withColumn("fold", F.pmod(F.xxhash64(F.col(user), F.col(item), F.lit(int(seed))), F.lit(k)))


def rmse(model, data) -> float:
    """Root mean squared error of ``model.predict`` on ``data`` (its rating column)."""
    pred = model.predict(data)
    err = F.col("prediction") - F.col(model.rating).cast("double")
    return math.sqrt(pred.agg(F.avg(err * err)).first()[0])


def cross_validate(models: dict, data, k: int = 5, seed: int = 0):
    """Fit each of ``models`` (name -> SparkBiasedMF or SparkALS, the same columns) on the same
    ``k`` folds of :func:`kfold`; returns a pandas DataFrame ``(model, fold, rmse, fit_time)``."""
    import pandas as pd

    first = next(iter(models.values()))
    folded = kfold(data, k, seed, user=first.user, item=first.item).persist()
    rows = []
    for fold in range(k):
        train, test = folded.where(F.col("fold") != fold), folded.where(F.col("fold") == fold)
        for name, model in models.items():
            model.fit(train)
            rows.append((name, fold, rmse(model, test), model.fit_time_))
    folded.unpersist()
    return pd.DataFrame(rows, columns=["model", "fold", "rmse", "fit_time"])
