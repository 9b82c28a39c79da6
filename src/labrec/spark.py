"""Biased MF on Apache Spark, trained by DSGD with the blocked schedule's compiled kernel.

:class:`SparkBiasedMF` trains :class:`~labrec.BiasedMF`'s model (same hyperparameters, same
update) from a Spark DataFrame of ``(user, item, rating)`` by DSGD (Gemulla, Nijkamp, Haas and
Sismanis, KDD 2011). Users and items are numbered on Spark by decreasing rating count and dealt
into ``p`` bins in snake order (the local schedule's :func:`~labrec._sgd.deal_bins`); the ratings
form a p x p grid of blocks, cached one RDD a stratum. Partition ``a`` keeps user bin ``a``'s
factor block and block ``(a, (a + s) mod p)`` of stratum ``s``'s RDD; in sub-epoch ``s`` item block
``(a + s) mod p`` is shuffled to it, and the p partitions sweep their blocks in parallel with
:func:`labrec._kernels.sgd_blocks`, the compiled kernel of ``schedule="blocked"``. Factor blocks
(biases included) move as RDD records: only the p blocks' squared errors reach the driver. With the same
grid, seed and stratum order the factors equal the local blocked schedule's bit for bit
(:func:`labrec._sgd.run_blocked_on_grid`, ``tests/test_spark.py``).

MLlib's ALS and the evaluation both share (folds, RMSE) are in :mod:`labrec.spark_als`. Importing
either imports pyspark; ``import labrec`` does not.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from labmf.validation import check_scalar

from . import _kernels, _sgd
from ._base import FittedIds, check_bool
from .model import BiasedMF, check_params
from .table import IdMap

__all__ = ["session", "read_ratings", "initial_block", "SparkBiasedMF"]

_MASTER = re.compile(r"(local(\[(\*|[1-9]\d*)(,\s*[1-9]\d*)?\])?|local-cluster\[\d+,\s*\d+,\s*\d+\]"
                     r"|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|yarn|k8s://\S+)")


def session(master: str = "local[2]", *, app_name: str = "labrec", config: dict | None = None) -> SparkSession:
    """A SparkSession on ``master`` (checked first: a wrong URL raises ValueError naming it), with
    the UI off; ``config`` adds Spark settings. Returns the active session if there is one."""
    if not isinstance(master, str) or not _MASTER.fullmatch(master):
        raise ValueError(f"master must be a Spark master URL (local[N], local[*], spark://host:port, yarn, "
                         f"k8s://https://host:port), got {master!r}")
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", **(config or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def read_ratings(data, *, user: str = "user", item: str = "item", rating: str | None = "rating") -> DataFrame:
    """``data`` (a DataFrame, or a Parquet path read by the active session) checked as ratings:
    the columns exist (ValueError naming the parameter and column), ``rating`` is numeric, no id or
    rating is null or NaN, there is at least one row, and each (user, item) pair is rated once."""
    if isinstance(data, str):
        data = SparkSession.builder.getOrCreate().read.parquet(data)
    if not isinstance(data, DataFrame):
        raise TypeError(f"ratings must be a Spark DataFrame or a Parquet path, got {type(data).__name__}")
    cols = {"user": user, "item": item} | ({} if rating is None else {"rating": rating})
    for param, col in cols.items():
        if col not in data.columns:
            raise ValueError(f"ratings have no column {col!r} ({param}={col!r}); columns: {data.columns}")
    if rating is not None and not isinstance(data.schema[rating].dataType, T.NumericType):
        raise TypeError(f"rating column {rating!r} must be numeric, got {data.schema[rating].dataType.simpleString()}")
    bad = [F.sum((F.col(user).isNull()).cast("long")), F.sum((F.col(item).isNull()).cast("long"))]
    if rating is not None:
        r = F.col(rating).cast("double")
        bad.append(F.sum((r.isNull() | F.isnan(r) | (F.abs(r) == float("inf"))).cast("long")))
    n, *nulls = data.agg(F.count(F.lit(1)), *bad).first()
    if n == 0:
        raise ValueError("ratings have 0 rows")
    for (param, col), k in zip(cols.items(), nulls, strict=True):
        if k:
            raise ValueError(f"{param} column {col!r} has {k} null or non-finite values")
    if rating is not None:
        dup = data.groupBy(user, item).count().where("count > 1").first()
        if dup is not None:
            raise ValueError(f"({user}, {item}) pair ({dup[0]!r}, {dup[1]!r}) is rated {dup[2]} times; "
                             "each pair at most once")
    return data


def _identity(key: int) -> int:
    return key


def _snake(pos, p: int):
    """The bin of position ``pos`` dealt in snake order (0..p-1, p-1..0, ...), as deal_bins does."""
    return F.when(F.floor(pos / p) % 2 == 0, pos % p).otherwise(p - 1 - pos % p)


def _id_map(df: DataFrame, col: str, p: int) -> DataFrame:
    """``(id, count, index, bin, row)``: ids numbered by decreasing count (ties by id) with
    zipWithIndex, so that deal_bins deals position k to bin snake(k), row k // p."""
    counts = df.groupBy(col).count().orderBy(F.desc("count"), F.asc(col))
    schema = T.StructType([T.StructField("id", df.schema[col].dataType), T.StructField("count", T.LongType()),
                           T.StructField("index", T.LongType())])
    indexed = counts.rdd.zipWithIndex().map(lambda t: (t[0][0], t[0][1], t[1]))
    out = df.sparkSession.createDataFrame(indexed, schema)
    return out.withColumn("bin", _snake(F.col("index"), p)).withColumn("row", F.floor(F.col("index") / p))


def _keys(id_map: DataFrame, col: str, side: str) -> DataFrame:  # (id, bin, row) as (col, _ub, _ur) for side "u"
    return id_map.select(F.col("id").alias(col), F.col("bin").alias(f"_{side}b"), F.col("row").alias(f"_{side}r"))


def _rows_in_bin(n: int, p: int, b: int) -> int:
    """Positions k < n with snake(k) == b: one a full round, the last partial round at the front
    (an even round) or at the back (an odd one)."""
    rounds, left = divmod(n, p)
    return rounds + int(b < left if rounds % 2 == 0 else b >= p - left)


def initial_block(seed: int, side: int, b: int, n: int, rank: int, init_std: float) -> tuple:
    """Bin ``b``'s starting ``(bias, factors)`` (float32, shapes (n,), (n, rank)) for ``side``
    0 (users) or 1 (items): ``N(0, init_std^2)`` drawn in float64 from ``(seed, side, b)`` on the
    executor that holds it, so no factor is drawn on the driver."""
    rng = np.random.default_rng([seed, side, b])
    return np.zeros(n, np.float32), rng.normal(0.0, init_std, size=(n, rank)).astype(np.float32)


def _to_blocks(batches):
    """Arrow batches of (bin, item bin, user row, item row, rating) -> rows (bin, payload)."""
    import pyarrow as pa

    for batch in batches:
        cols = [batch.column(k).to_numpy(zero_copy_only=False) for k in range(5)]
        for a in np.unique(cols[0]):
            sel = cols[0] == a
            payload = b"".join(np.ascontiguousarray(c[sel], dt).tobytes()
                               for c, dt in zip(cols[1:], (np.int32, np.int32, np.int32, np.float32), strict=True))
            yield pa.RecordBatch.from_pydict({"bin": [int(a)], "payload": [payload]})


def _assemble(records):
    """One partition's chunks -> a record ``(a, ("r", b, (user row, item row, rating)))`` a block,
    ordered by (user, item), as the local schedule orders a block whose input is."""
    records = list(records)
    if not records:
        return
    ib, ur, ir, r = np.concatenate([np.frombuffer(x, np.int32).reshape(4, -1) for _, x in records], axis=1)
    r = r.view(np.float32)
    order = np.lexsort((ir, ur, ib))
    ib, ur, ir, r = ib[order], ur[order], ir[order], r[order]
    cuts = np.flatnonzero(np.diff(ib)) + 1
    for g, u, i, rr in zip(np.split(ib, cuts), np.split(ur, cuts), np.split(ir, cuts), np.split(r, cuts), strict=True):
        yield records[0][0], ("r", int(g[0]), (u, i, rr))


def _stratum_sweep(s: int, p: int, mu: np.float32, steps: tuple):
    """The task of stratum ``s`` on partition ``a``: sweep block ``(a, (a + s) mod p)`` with the
    blocked schedule's kernel; emit the new user block, item block and the block's squared error."""
    lr, shrink, lr_bias, reg_bias = steps

    def sweep(records):
        start, empty = time.perf_counter(), np.empty(0, np.int32)
        block = (empty, empty, np.empty(0, np.float32))  # an empty block has no record
        for key, rec in records:
            if rec[0] == "r":
                block = rec[2]
            elif rec[0] == "u":
                a, bu, P = key, rec[1], rec[2]
            else:
                bi, Q = rec[2], rec[3]
        b, (u, i, r) = (a + s) % p, block
        sse = np.zeros(1)
        _kernels.sgd_blocks(u, i, r, np.array([0, u.size], np.int64), np.zeros(1, np.int64), mu, bu, bi, P, Q,
                            lr, shrink, lr_bias, reg_bias, sse)
        yield a, ("u", bu, P)
        yield b, ("i", b, bi, Q)
        yield a, ("s", a * p + b, float(sse[0]), time.perf_counter() - start)

    return sweep


def _dsgd(ratings: list, hp: dict, p: int, sizes: tuple, mu: float, base: int, strata, nnz: int, extremes=(0.0,)):
    """The DSGD epochs: ``(users, items, train_rmse, cached, task_s)``: the final factor blocks as
    RDDs of ``(bin, (bias, factors))``, the RDD to unpersist once they are saved, the tasks' times.
    One Spark job a sub-epoch; only the blocks' errors and times are collected."""
    sc, rank, std = ratings[0].context, hp["rank"], hp["init_std"]
    keys = sc.parallelize([(k, None) for k in range(p)], p)
    users = keys.partitionBy(p, _identity).map(
        lambda kv: (kv[0], ("u", *initial_block(base, 0, kv[0], _rows_in_bin(sizes[0], p, kv[0]), rank, std))),
        preservesPartitioning=True)
    items = keys.map(lambda kv: (kv[0], ("i", kv[0], *initial_block(base, 1, kv[0], _rows_in_bin(sizes[1], p, kv[0]),
                                                                     rank, std))))
    lr, lr_bias, done, task_s = hp["lr"], hp["lr_bias"], None, np.zeros(2)
    train_rmse = np.empty(hp["num_epochs"])
    for epoch in range(hp["num_epochs"]):
        steps = _sgd.kernel_steps((lr, hp["reg"], lr_bias, hp["reg_bias"]))
        block_sse = np.zeros(p * p)
        for s in strata[epoch]:
            moved = items.map(lambda kv, s=int(s): ((kv[1][1] - s) % p, kv[1])).partitionBy(p, _identity)
            step = _stratum_sweep(int(s), p, np.float32(mu), steps)
            new = ratings[s].union(users).union(moved).mapPartitions(step, preservesPartitioning=True)
            new.persist(StorageLevel.MEMORY_AND_DISK)
            if s == strata[epoch][-1] and sc.getCheckpointDir():
                new.checkpoint()  # the lineage is cut once an epoch when a checkpoint directory is set
            done_tasks = new.filter(lambda kv: kv[1][0] == "s").map(lambda kv: kv[1][1:]).collect()
            for b, sse, _ in done_tasks:
                block_sse[b] = sse
            task_s += (sum(t[2] for t in done_tasks), max(t[2] for t in done_tasks))
            if done is not None:
                done.unpersist()
            done = new
            users = new.filter(lambda kv: kv[1][0] == "u")
            items = new.filter(lambda kv: kv[1][0] == "i")
        # The same fixed-order sum over the per-block errors as the local schedule's.
        sse = float(block_sse.sum())
        _sgd._check_epoch(sse, epoch, lr, lr_bias, hp, np.asarray(extremes))  # names huge ratings
        train_rmse[epoch] = math.sqrt(sse / nnz)
        lr *= hp["lr_decay"]
        lr_bias *= hp["lr_decay"]
    return (users.map(lambda kv: (kv[0], kv[1][1:])), items.map(lambda kv: (kv[1][1], kv[1][2:])), train_rmse,
            done, task_s)


def _factor_frame(blocks, id_map: DataFrame) -> DataFrame:
    """``(id, count, index, bias, factors)`` from an RDD of ``(bin, (bias, factors))`` blocks."""
    schema = T.StructType([T.StructField("bin", T.LongType()), T.StructField("row", T.LongType()),
                           T.StructField("bias", T.FloatType()),
                           T.StructField("factors", T.ArrayType(T.FloatType(), False))])
    rows = blocks.flatMap(lambda kv: ((kv[0], k, float(kv[1][0][k]), kv[1][1][k].tolist())
                                      for k in range(kv[1][0].size)))
    frame = id_map.sparkSession.createDataFrame(rows, schema)
    return id_map.join(frame, ["bin", "row"]).select("id", "count", "index", "bias", "factors")


class SparkBiasedMF:
    """:class:`~labrec.BiasedMF` trained on Spark by DSGD; the same parameters with the same meaning.

    Parameters
    ----------
    rank, reg, lr, num_epochs, reg_bias, lr_bias, lr_decay, init_std, clip, seed
        As :class:`~labrec.BiasedMF` (checked by its :func:`~labrec.model.check_params`). The
        seed drives the starting factors (drawn per bin on the executors) and each epoch's
        stratum order.
    n_blocks : int or None, default None
        Grid size p (p x p blocks, p parallel tasks a sub-epoch); None: the session's default
        parallelism. At most the number of users and of items.
    user, item, rating : str
        Column names of the ratings DataFrame (ids of any orderable type, numeric ratings).

    Attributes
    ----------
    user_factors_, item_factors_ : pyspark.sql.DataFrame
        ``(id, count, index, bias, factors)``: index in order of decreasing count, float32 values.
    global_mean_ : float
    train_rmse_ : ndarray, shape (num_epochs,)
    rating_range_ : (float, float)
    n_blocks_, n_users_, n_items_ : int
    strata_ : ndarray, shape (num_epochs, n_blocks_)
        Each epoch's stratum order (stratum s: blocks (a, (a + s) mod p)).
    init_seed_ : int
        Seed of the starting factor blocks (:func:`initial_block`).
    fit_time_, sweep_time_ : float
        Wall time of :meth:`fit` and of its epochs alone (the sub-epochs' Spark jobs), in seconds.
    task_time_ : ndarray, shape (2,)
        The sweep tasks' seconds: summed over all tasks, and over each sub-epoch's slowest one.
    """

    _PARAMS = ("rank", "reg", "lr", "num_epochs", "reg_bias", "lr_bias", "lr_decay", "init_std", "clip", "seed")

    def __init__(self, rank=50, *, reg=0.05, lr=0.02, num_epochs=20, reg_bias=0.005, lr_bias=0.005, lr_decay=1.0,
                 init_std=0.01, clip=True, seed=None, n_blocks=None, user="user", item="item", rating="rating"):
        self.rank, self.reg, self.lr, self.num_epochs = rank, reg, lr, num_epochs
        self.reg_bias, self.lr_bias, self.lr_decay, self.init_std = reg_bias, lr_bias, lr_decay, init_std
        self.clip, self.seed, self.n_blocks = clip, seed, n_blocks
        self.user, self.item, self.rating = user, item, rating

    def fit(self, data) -> SparkBiasedMF:
        """Train on ``data``, a ratings DataFrame or a Parquet path (checked by :func:`read_ratings`)."""
        start = time.perf_counter()
        hp = check_params(**{k: getattr(self, k) for k in self._PARAMS}, schedule="blocked")
        df = read_ratings(data, user=self.user, item=self.item, rating=self.rating)
        stats = df.agg(F.count(F.lit(1)), F.avg(F.col(self.rating).cast("double")), F.min(self.rating),
                       F.max(self.rating), F.countDistinct(self.user), F.countDistinct(self.item)).first()
        nnz, mu, lo, hi, n_users, n_items = stats
        p = self.n_blocks if self.n_blocks is not None else df.sparkSession.sparkContext.defaultParallelism
        p = check_scalar(p, "n_blocks", int, min_val=1, max_val=min(n_users, n_items))
        users, items = (_id_map(df, c, p).persist() for c in (self.user, self.item))
        cells = df.join(_keys(users, self.user, "u"), self.user).join(_keys(items, self.item, "i"), self.item)
        cells = cells.select("_ub", "_ib", "_ur", "_ir", F.col(self.rating).cast("float"))
        blocks = (cells.mapInArrow(_to_blocks, "bin long, payload binary").rdd
                  .map(tuple).partitionBy(p, _identity).mapPartitions(_assemble, preservesPartitioning=True).persist())
        # One cached RDD a stratum (partition a: block (a, (a + s) mod p)): a task reads its block only.
        ratings = [blocks.filter(lambda kv, s=s: (kv[1][1] - kv[0]) % p == s).persist(StorageLevel.MEMORY_AND_DISK)
                   for s in range(p)]
        root = np.random.default_rng(hp["seed"])
        self.init_seed_ = int(root.integers(0, 2**63))
        self.strata_ = np.stack([root.permutation(p) for _ in range(hp["num_epochs"])])
        for stratum in ratings:
            stratum.count()  # the blocks are laid out (and cached) before the sweeps are timed
        blocks.unpersist()
        sweeps = time.perf_counter()
        u_blocks, i_blocks, self.train_rmse_, last, self.task_time_ = _dsgd(
            ratings, hp, p, (n_users, n_items), mu, self.init_seed_, self.strata_, nnz, (lo, hi))
        self.sweep_time_ = time.perf_counter() - sweeps
        self.user_factors_ = _factor_frame(u_blocks, users).persist()
        self.item_factors_ = _factor_frame(i_blocks, items).persist()
        self.user_factors_.count() + self.item_factors_.count()
        for cached in (*ratings, last, users, items):
            cached.unpersist()
        self.global_mean_, self.rating_range_, self.clip_ = float(mu), (float(lo), float(hi)), hp["clip"]
        self.n_blocks_, self.n_users_, self.n_items_, self._train = p, n_users, n_items, df
        self.fit_time_ = time.perf_counter() - start
        return self

    def _sides(self):
        if not hasattr(self, "user_factors_"):
            raise AttributeError("this SparkBiasedMF is not fitted yet: call fit first")
        u = self.user_factors_.select(F.col("id").alias(self.user), F.col("bias").alias("_bu"),
                                      F.col("factors").alias("_p"))
        i = self.item_factors_.select(F.col("id").alias(self.item), F.col("bias").alias("_bi"),
                                      F.col("factors").alias("_q"))
        return u, i

    def _score(self):
        """``mu + b_u + b_i + p_u . q_i`` in float64; an unknown user or item adds nothing (bias 0)."""
        dot = F.aggregate(F.zip_with("_p", "_q", lambda x, y: x * y), F.lit(0.0).cast("double"), lambda a, x: a + x)
        return (F.lit(self.global_mean_) + F.coalesce("_bu", F.lit(0.0)) + F.coalesce("_bi", F.lit(0.0))
                + F.coalesce(dot, F.lit(0.0)))

    def predict(self, data) -> DataFrame:
        """``data`` (DataFrame or Parquet path with the user and item columns) with a float64
        ``prediction`` column, clipped to the training range when ``clip``."""
        u, i = self._sides()
        df = read_ratings(data, user=self.user, item=self.item, rating=None)
        est = self._score()
        if self.clip_:
            est = F.least(F.greatest(est, F.lit(self.rating_range_[0])), F.lit(self.rating_range_[1]))
        out = df.join(u, self.user, "left").join(i, self.item, "left").withColumn("prediction", est)
        return out.drop("_bu", "_p", "_bi", "_q")

    def recommend(self, n: int = 10, users=None, *, exclude_seen: bool = True) -> DataFrame:
        """The ``n`` best items of each user (of ``users``, a DataFrame with the user column; None:
        all) as ``(user, item, score, rank)``, ties to the smaller item id; scores not clipped;
        ``exclude_seen`` leaves out the training ratings (not kept by :meth:`load`)."""
        n = check_scalar(n, "n", int, min_val=1)
        u, i = self._sides()
        if users is not None:
            u = u.join(read_ratings(users, user=self.user, item=self.user, rating=None).select(self.user).distinct(),
                       self.user)
        scored = u.crossJoin(i).withColumn("score", self._score())
        if check_bool(exclude_seen, "exclude_seen"):
            if getattr(self, "_train", None) is None:
                raise ValueError("exclude_seen=True needs the training ratings, which a loaded model does not keep")
            scored = scored.join(self._train.select(self.user, self.item), [self.user, self.item], "left_anti")
        order = Window.partitionBy(self.user).orderBy(F.desc("score"), F.asc(self.item))
        ranked = scored.withColumn("rank", F.row_number().over(order))
        return ranked.where(F.col("rank") <= n).select(self.user, self.item, "score", "rank")

    def to_local(self) -> BiasedMF:
        """The fitted model as a local :class:`~labrec.BiasedMF` with ids (``ids_``): collects
        the factors and the training (user, item) pairs (for ``recommend``'s seen items)."""
        sides = []
        for frame in self._sides():
            rows = frame.collect()
            ids = IdMap(np.array([r[0] for r in rows]), "user" if not sides else "item")
            pos = ids.index(np.array([r[0] for r in rows]))
            bias, factors = np.empty(len(rows), np.float32), np.empty((len(rows), self.rank), np.float32)
            bias[pos], factors[pos] = [r[1] for r in rows], [r[2] for r in rows]
            sides.append((ids, bias, factors))
        (users, bu, P), (items, bi, Q) = sides
        model = BiasedMF(**{k: getattr(self, k) for k in self._PARAMS}, schedule="blocked")
        pairs = self._train.select(self.user, self.item).toPandas()
        pu, pi = users.index(np.array(pairs.iloc[:, 0].tolist())), items.index(np.array(pairs.iloc[:, 1].tolist()))
        seen = pi[np.lexsort((pi, pu))]
        counts = (np.bincount(pu, minlength=len(users)), np.bincount(pi, minlength=len(items)))
        model._store((self.global_mean_, bu, bi, P, Q), counts, seen, self.rating_range_, self.train_rmse_, None)
        model.clip_, model.schedule_, model.ids_ = self.clip_, "blocked", FittedIds(users, items, {})
        model.fit_time_ = self.fit_time_
        return model

    def replay_grid(self) -> _sgd.Grid:
        """This fit's grid for the local blocked schedule (:func:`labrec._sgd.run_blocked_on_grid`):
        the starting factors of every user and item in index order, drawn on the driver."""
        starts = []
        for side, n in enumerate((self.n_users_, self.n_items_)):
            p, pos = self.n_blocks_, np.arange(n)
            bins = np.where((pos // p) % 2 == 0, pos % p, p - 1 - pos % p)
            full = np.empty((n, self.rank), np.float32)
            for b in range(p):
                full[bins == b] = initial_block(self.init_seed_, side, b, int((bins == b).sum()), self.rank,
                                                self.init_std)[1]
            starts.append(full)
        zeros = (np.zeros(self.n_users_, np.float32), np.zeros(self.n_items_, np.float32))
        return _sgd.Grid(self.n_blocks_, (self.global_mean_, *zeros, *starts), self.strata_)

    def save(self, path: str) -> None:
        """Write the factors as Parquet: ``path/users`` and ``path/items``, ``(id, count, index,
        bias, factors)`` each (read them back with ``spark.read.parquet``)."""
        self._sides()
        self.user_factors_.write.mode("overwrite").parquet(f"{path}/users")
        self.item_factors_.write.mode("overwrite").parquet(f"{path}/items")
