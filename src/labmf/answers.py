"""The figures that answer the lab's questions 1.1-4.1, computed in one place.

:func:`compute_answers` runs every question's computation with explicit seeds and
returns an :class:`Answers` record; the terminal command (``python -m labmf
answers``), the one-page answer sheet and the report's pitfalls section all read
that record, so the numbers they show cannot disagree.

Example
-------
>>> from labmf.answers import compute_answers, format_answers
>>> ans = compute_answers(seed=0, include_q4=False)
>>> print(f"{ans.q2.sse:.4f}")
0.1219
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .data import lab_mask, lab_matrix
from .factorise import factorise_sgd, truncated_svd
from .metrics import sse

__all__ = [
    "Answers",
    "CompletionCurve",
    "Q1Answer",
    "Q2Answer",
    "Q3Answer",
    "Q4Answer",
    "HiddenEntry",
    "COURSE_Q4_PREDICTIONS",
    "compute_answers",
    "format_answers",
    "versions",
]

#: Seeds over which the seed dependence of Q1 and Q3 is measured.
SPREAD_SEEDS = range(20)

#: Q4's predicted rating on the course's own Netflix tensor, as submitted by students
#: (quoted, not computed: that file is not reachable). Our MovieLens stand-in has other
#: users, movies and rating scale, so our Q4 figures cannot be compared with these.
COURSE_Q4_PREDICTIONS = (("the seed report", 3.1573), ("another student", 3.4866))

#: A run counts as converged when its loss fell by less than this fraction over the
#: last :data:`CONVERGENCE_WINDOW` epochs (the criterion of notebook 04).
CONVERGENCE_RTOL = 0.01
CONVERGENCE_WINDOW = 100


def versions() -> dict[str, str]:
    """Versions of the software the figures were computed with."""
    from . import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "labmf": __version__,
    }


@dataclass(frozen=True, eq=False)
class Q1Answer:
    """Q1.2: per-entry SGD (``factorise_sgd``) of the lab matrix.

    Attributes
    ----------
    A : Tensor, shape (3, 3)
    U, V : Tensor, shape (3, 2)
    reconstruction : Tensor, shape (3, 3)
        ``U @ V.T``.
    sse : float
        ``||A - U V^T||_F^2`` (a sum, not a mean).
    losses : Tensor, shape (num_epochs + 1,)
        Training SSE per epoch.
    rank, lr, num_epochs, seed
        The run's settings.
    seed_sse : tuple of float
        Final SSE for each seed of :data:`SPREAD_SEEDS`.
    """

    A: torch.Tensor
    U: torch.Tensor
    V: torch.Tensor
    reconstruction: torch.Tensor
    sse: float
    losses: torch.Tensor
    rank: int
    lr: float
    num_epochs: int
    seed: int
    seed_sse: tuple[float, ...]

    @property
    def seed_sse_median(self) -> float:
        """Median of :attr:`seed_sse` (a few slow starts stretch the range)."""
        return float(np.median(self.seed_sse))

    @property
    def mse(self) -> float:
        """Mean over the 9 entries: what the seed report wrongly called its "MSE"."""
        return self.sse / self.A.numel()


@dataclass(frozen=True, eq=False)
class Q2Answer:
    """Q2: truncated SVD of the lab matrix (``torch.linalg.svd``).

    Attributes
    ----------
    singular_values : Tensor, shape (3,)
    reconstruction : Tensor, shape (3, 3)
        Rank-``rank`` truncation.
    sse : float
        Its squared error, equal to ``discarded_sq``.
    discarded_sq : float
        Sum of squares of the discarded singular values (Eckart-Young-Mirsky).
    sgd_gap : float
        Q1's SSE minus this SSE (>= 0 up to rounding: the SVD is optimal).
    sgd_max_diff : float
        Largest absolute difference between Q1's reconstruction and this one.
    """

    singular_values: torch.Tensor
    reconstruction: torch.Tensor
    sse: float
    discarded_sq: float
    rank: int
    sgd_gap: float
    sgd_max_diff: float


@dataclass(frozen=True, eq=False)
class HiddenEntry:
    """One entry hidden by Q3's mask: its truth, its prediction, its seed spread.

    Attributes
    ----------
    row, col : int
    true : float
        ``A[row, col]``, never seen by the fit.
    predicted : float
        Completed value with the answer's seed.
    per_seed : tuple of float
        Completed value for each seed of :data:`SPREAD_SEEDS`.
    """

    row: int
    col: int
    true: float
    predicted: float
    per_seed: tuple[float, ...]

    @property
    def error(self) -> float:
        """``predicted - true``."""
        return self.predicted - self.true

    @property
    def spread(self) -> tuple[float, float]:
        """(min, max) of the completed value over the seeds."""
        return min(self.per_seed), max(self.per_seed)

    @property
    def seed_mean(self) -> float:
        return float(np.mean(self.per_seed))

    @property
    def seed_std(self) -> float:
        return float(np.std(self.per_seed))


@dataclass(frozen=True, eq=False)
class CompletionCurve:
    """The exact rank-2 completions of a 3 x 3 matrix with two hidden entries.

    A 3 x 3 matrix ``X`` that equals ``A`` on the observed entries has rank <= 2
    exactly when ``det X = 0``. The determinant is affine in each entry, so with
    ``x = X[x_entry]`` and ``y = X[y_entry]`` it reads
    ``det X = n(y) - x d(y)`` with ``n``, ``d`` affine in ``y``, and the completions
    form the curve ``x(y) = (num0 + num1 y) / (den0 + den1 y)``.

    Attributes
    ----------
    x_entry, y_entry : (int, int)
        Positions of the two hidden entries.
    num0, num1, den0, den1 : float
        Coefficients of ``x(y)`` (scaled so that ``den0 >= 0``).
    x_true, y_true : float
        The hidden entries' true values (``A`` itself is not on the curve when it
        has full rank).
    x_at_true_y : float
        The ``x`` of the exact rank-2 completion with ``y`` at its true value.
    y_for_true_x : float
        The ``y`` an exact rank-2 completion needs for ``x`` to be its true value.
    """

    x_entry: tuple[int, int]
    y_entry: tuple[int, int]
    x_true: float
    y_true: float
    num0: float
    num1: float
    den0: float
    den1: float
    x_at_true_y: float
    y_for_true_x: float

    def x(self, y: float) -> float:
        """``x(y)``: the rank-2 completion's ``x`` for a given ``y``."""
        return (self.num0 + self.num1 * y) / (self.den0 + self.den1 * y)


@dataclass(frozen=True, eq=False)
class Q3Answer:
    """Q3: masked per-entry SGD (matrix completion) of the lab matrix.

    Attributes
    ----------
    A : Tensor, shape (3, 3)
        The true matrix (two of its entries are hidden from the fit).
    mask : Tensor, shape (3, 3)
        1 = observed.
    completed : Tensor, shape (3, 3)
        ``U @ V.T`` with the answer's seed.
    observed_sse : float
        SSE over the 7 observed entries (what the fit minimises).
    heldout_sse : float
        SSE over the 2 hidden entries (what the fit never saw).
    all_sse : float
        SSE over all 9 entries: the mixed figure the seed report gave.
    hidden : tuple of HiddenEntry
    seed_observed_sse : tuple of float
        Observed SSE for each seed of :data:`SPREAD_SEEDS`.
    losses : Tensor, shape (num_epochs + 1,)
        Observed SSE per epoch of the answer's run.
    converged : bool
        Whether the observed SSE fell by less than :data:`CONVERGENCE_RTOL` over the
        last :data:`CONVERGENCE_WINDOW` epochs.
    recent_drop : float
        Relative fall of the observed SSE over those epochs (0.5 = halved).
    worst_observed : (int, int)
        The observed entry the fit misses most.
    curve : CompletionCurve or None
        The exact rank-2 completions (``None`` unless A is 3 x 3 with two hidden
        entries and the rank is 2).
    """

    A: torch.Tensor
    mask: torch.Tensor
    completed: torch.Tensor
    observed_sse: float
    heldout_sse: float
    all_sse: float
    hidden: tuple[HiddenEntry, ...]
    seed_observed_sse: tuple[float, ...]
    rank: int
    lr: float
    num_epochs: int
    seed: int
    losses: torch.Tensor
    converged: bool
    recent_drop: float
    worst_observed: tuple[int, int]
    curve: CompletionCurve | None

    @property
    def worst_observed_error(self) -> float:
        """``completed - A`` at :attr:`worst_observed`."""
        r, c = self.worst_observed
        return float(self.completed[r, c]) - float(self.A[r, c])


@dataclass(frozen=True, eq=False)
class Q4Answer:
    """Q4: full-batch masked GD on the MovieLens stand-in for the course's ratings.

    Attributes
    ----------
    dataset : str
        Description of the ratings matrix used.
    shape : (int, int)
        (movies, users).
    n_observed : int
        Number of ratings (mask == 1).
    title : str
        The movie asked about.
    movie_row, user_col : int
        Its row and the user's column.
    predicted : float
        Predicted rating ``U[movie_row] . V[user_col]``.
    user_rating : float or None
        The user's actual rating, ``None`` when unrated (not "0").
    observed_sse : float
        SSE over the observed ratings only (what the question asks).
    all_sse : float
        SSE over every entry, unrated zeros included (the seed report's mistake).
    rank, lr, num_epochs, seed
        The run's settings (those of notebook 04: the course's).
    losses : Tensor, shape (num_epochs + 1,)
    converged : bool
        Whether the loss had levelled off (< 1 % drop over the last 100 epochs).
    chosen_lr : float
        The course's ``lr`` if converged, else the largest stable rate of notebook
        04's probe.
    chosen_predicted, chosen_observed_sse : float
        The two answers again with ``chosen_lr``.
    """

    dataset: str
    shape: tuple[int, int]
    n_observed: int
    title: str
    movie_row: int
    user_col: int
    predicted: float
    user_rating: float | None
    observed_sse: float
    all_sse: float
    rank: int
    lr: float
    num_epochs: int
    seed: int
    losses: torch.Tensor
    converged: bool
    chosen_lr: float
    chosen_predicted: float
    chosen_observed_sse: float


@dataclass(frozen=True, eq=False)
class Answers:
    """Everything the answer sheet shows.

    ``q4`` is ``None`` when the MovieLens layout could not be built; ``q4_note``
    then says why.
    """

    seed: int
    q1: Q1Answer
    q2: Q2Answer
    q3: Q3Answer
    q4: Q4Answer | None
    q4_note: str = ""
    spread_seeds: tuple[int, ...] = ()
    versions: dict = field(default_factory=dict)


# --------------------------------------------------------------------- compute


def _q1(A: torch.Tensor, seed: int, seeds: Sequence[int]) -> Q1Answer:
    res = factorise_sgd(A, None, 2, seed=seed)
    R = res.reconstruction
    seed_sse = tuple(factorise_sgd(A, None, 2, seed=s).loss for s in seeds)
    return Q1Answer(
        A=A, U=res.U, V=res.V, reconstruction=R, sse=sse(A, R), losses=res.losses,
        rank=res.rank, lr=float(res.lr), num_epochs=res.num_epochs, seed=seed,
        seed_sse=seed_sse,
    )


def _q2(A: torch.Tensor, q1: Q1Answer) -> Q2Answer:
    res = truncated_svd(A, rank=2)
    S = res.singular_values
    R = res.reconstruction
    err = sse(A, R)
    return Q2Answer(
        singular_values=S, reconstruction=R, sse=err,
        discarded_sq=float((S[res.rank:].double() ** 2).sum()), rank=res.rank,
        sgd_gap=q1.sse - err,
        sgd_max_diff=float((q1.reconstruction.double() - R.double()).abs().max()),
    )


def _det_affine(X: torch.Tensor, entry: tuple[int, int]) -> tuple[float, float]:
    """``(d0, d1)`` with ``det X = d0 + d1 * X[entry]`` (a determinant is affine in one entry)."""
    X = X.detach().to(torch.float64).clone()
    X[entry] = 0.0
    d0 = float(torch.linalg.det(X))
    X[entry] = 1.0
    return d0, float(torch.linalg.det(X)) - d0


def _completion_curve(A: torch.Tensor, hidden: Sequence[HiddenEntry]) -> CompletionCurve:
    (xe, ye) = ((h.row, h.col) for h in hidden)
    # det X = d0(y) + d1(y) x, each affine in y: read them off at y = 0 and y = 1.
    X = A.detach().to(torch.float64).clone()
    X[ye] = 0.0
    a0, b0 = _det_affine(X, xe)
    X[ye] = 1.0
    a1, b1 = _det_affine(X, xe)
    num0, num1, den0, den1 = -a0, -(a1 - a0), b0, b1 - b0
    if den0 < 0:
        num0, num1, den0, den1 = -num0, -num1, -den0, -den1
    # The two headline values straight from the true matrix: the other hidden
    # entry at its true value, the determinant solved for this one.
    d0, d1 = _det_affine(A, xe)
    e0, e1 = _det_affine(A, ye)
    return CompletionCurve(
        x_entry=xe, y_entry=ye, x_true=float(A[xe]), y_true=float(A[ye]), num0=num0, num1=num1, den0=den0, den1=den1,
        x_at_true_y=-d0 / d1, y_for_true_x=-e0 / e1,
    )


def _q3(A: torch.Tensor, M: torch.Tensor, seed: int, seeds: Sequence[int]) -> Q3Answer:
    from .evaluate import still_improving

    res = factorise_sgd(A, M, 2, seed=seed)
    R = res.reconstruction
    hidden_mask = 1 - M
    runs = [factorise_sgd(A, M, 2, seed=s).reconstruction for s in seeds]
    hidden = tuple(
        HiddenEntry(
            row=r, col=c, true=float(A[r, c]), predicted=float(R[r, c]),
            per_seed=tuple(float(Rs[r, c]) for Rs in runs),
        )
        for r, c in (tuple(int(i) for i in rc) for rc in hidden_mask.nonzero())
    )
    losses = res.losses
    window = min(CONVERGENCE_WINDOW, losses.numel() - 1)
    before, after = float(losses[-1 - window]), float(losses[-1])
    err = ((R.double() - A.double()) * M).abs()
    worst = tuple(int(i) for i in np.unravel_index(int(err.argmax()), tuple(err.shape)))
    fits_curve = tuple(A.shape) == (3, 3) and len(hidden) == 2 and res.rank == 2
    return Q3Answer(
        A=A, mask=M, completed=R, observed_sse=sse(A, R, M),
        heldout_sse=sse(A, R, hidden_mask), all_sse=sse(A, R), hidden=hidden,
        seed_observed_sse=tuple(sse(A, Rs, M) for Rs in runs),
        rank=res.rank, lr=float(res.lr), num_epochs=res.num_epochs, seed=seed,
        losses=losses,
        converged=not still_improving(losses, window=CONVERGENCE_WINDOW, rtol=CONVERGENCE_RTOL),
        recent_drop=(before - after) / before if before > 0 else 0.0,
        worst_observed=worst,
        curve=_completion_curve(A, hidden) if fits_curve else None,
    )


#: Q4's settings, those of notebook 04's ``parameters`` cell (a test checks they agree):
#: the course's rank, epochs and learning rate, and the learning-rate probe the notebook
#: runs when that rate has not converged on MovieLens.
Q4_SETTINGS = {
    "data_source": "movielens-small",
    "rank": 5,
    "num_epochs": 1000,
    "lr": 1e-5,
    "seed": 0,
    "user_col": 4,
    "movie_title": "A Beautiful Mind",
    "lr_grid": [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3],
    "probe_epochs": 200,
}


def _q4(seed: int) -> tuple[Q4Answer | None, str]:
    from .data import load_lab_layout
    from .evaluate import largest_stable_lr, lr_sweep, still_improving
    from .factorise import factorise_gd

    cfg = Q4_SETTINGS
    try:
        layout = load_lab_layout(cfg["data_source"])
    except (OSError, ValueError) as exc:
        return None, f"the embedded MovieLens data could not be loaded: {exc}"
    R, M = layout.ratings, layout.mask
    row, col, rank, epochs = layout.find_title(cfg["movie_title"]), cfg["user_col"], cfg["rank"], cfg["num_epochs"]
    res = factorise_gd(R, M, rank, lr=cfg["lr"], num_epochs=epochs, seed=seed)
    pred = res.reconstruction
    rated = layout.is_rated(row, col)

    # As notebook 04: when the course's rate has not converged, rerun with the largest
    # rate that a short probe from the same start finds stable.
    converged = not still_improving(res.losses, window=CONVERGENCE_WINDOW, rtol=CONVERGENCE_RTOL)
    chosen_lr, chosen = float(res.lr), res
    if not converged:
        trials = lr_sweep(factorise_gd, R, M, rank, cfg["lr_grid"],
                          num_epochs=cfg["probe_epochs"], seed=seed)
        chosen_lr = largest_stable_lr(trials)
        if chosen_lr != res.lr:
            chosen = factorise_gd(R, M, rank, lr=chosen_lr, num_epochs=epochs, seed=seed)
    return Q4Answer(
        dataset=layout.name, shape=tuple(layout.shape), n_observed=layout.nnz,
        title=layout.titles[row], movie_row=row, user_col=col,
        predicted=res.predict(row, col),
        user_rating=float(R[row, col]) if rated else None,
        observed_sse=sse(R, pred, M), all_sse=sse(R, pred), rank=res.rank, lr=float(res.lr),
        num_epochs=res.num_epochs, seed=seed, losses=res.losses, converged=converged,
        chosen_lr=chosen_lr, chosen_predicted=chosen.predict(row, col),
        chosen_observed_sse=sse(R, chosen.reconstruction, M),
    ), ""


def compute_answers(seed: int = 0, *, spread_seeds: Sequence[int] = SPREAD_SEEDS,
                    include_q4: bool = True) -> Answers:
    """Compute the answers to questions 1.1-4.1.

    Parameters
    ----------
    seed : int
        Seed of every reported run (the notebooks use 0).
    spread_seeds : sequence of int
        Seeds over which the seed dependence of Q1 and Q3 is measured (non-empty).
    include_q4 : bool
        Fit the MovieLens matrix for Q4 (the slow part: about a minute on one core).

    Returns
    -------
    Answers
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    seeds = tuple(int(s) for s in spread_seeds)
    if not seeds:
        raise ValueError(f"spread_seeds must hold at least one seed, got {spread_seeds!r}")
    seed = int(seed)
    A, M = lab_matrix(), lab_mask()
    q1 = _q1(A, seed, seeds)
    q2 = _q2(A, q1)
    q3 = _q3(A, M, seed, seeds)
    if include_q4:
        q4, note = _q4(seed)
    else:
        q4, note = None, "Q4 skipped (include_q4=False)"
    return Answers(seed=seed, q1=q1, q2=q2, q3=q3, q4=q4, q4_note=note,
                   spread_seeds=seeds, versions=versions())


# ---------------------------------------------------------------------- format


def _matrix(T: torch.Tensor, indent: str = "      ") -> str:
    rows = [" ".join(f"{float(x):8.4f}" for x in row) for row in T]
    return "\n".join(f"{indent}[{r} ]" for r in rows)


def _affine(c0: float, c1: float) -> str:
    """``"(c0 - |c1| y)"`` with the sign spelled out."""
    return f"({c0:.4f} {'-' if c1 < 0 else '+'} {abs(c1):.4f} y)"


def _q3_convergence(q3: Q3Answer) -> str:
    if q3.converged:
        return f"converged after {q3.num_epochs} epochs"
    return (f"still converging: down {q3.recent_drop:.0%} over the last "
            f"{min(CONVERGENCE_WINDOW, q3.num_epochs)} of {q3.num_epochs} epochs")


def format_answers(ans: Answers) -> str:
    """The answers as plain ASCII text, one block per question."""
    q1, q2, q3, q4 = ans.q1, ans.q2, ans.q3, ans.q4
    s_lo, s_hi = min(ans.spread_seeds), max(ans.spread_seeds)
    sv = ", ".join(f"{float(s):.4f}" for s in q2.singular_values)
    out = [
        f"labmf {ans.versions.get('labmf', '?')} - answers to COMP6258 Lab 1 "
        f"(seed {ans.seed}; spreads over seeds {s_lo}-{s_hi})",
        "",
        f"Q1.2  per-entry SGD, rank {q1.rank}, lr {q1.lr:g}, {q1.num_epochs} epochs, seed {q1.seed}",
        "  U =", _matrix(q1.U),
        "  V =", _matrix(q1.V),
        "  U V^T =", _matrix(q1.reconstruction),
        f"  SSE ||A - U V^T||_F^2 = {q1.sse:.4f}   (mean over 9 entries {q1.mse:.4f})",
        f"  SSE over seeds: {min(q1.seed_sse):.4f} to {max(q1.seed_sse):.4f} "
        f"(median {q1.seed_sse_median:.4f})",
        "",
        f"Q2    truncated SVD (torch.linalg.svd), rank {q2.rank}",
        f"  singular values = {sv}",
        "  reconstruction =", _matrix(q2.reconstruction),
        f"  SSE = {q2.sse:.4f} = sigma_3^2 = {q2.discarded_sq:.4f}"
        f"   (SGD - SVD = {q2.sgd_gap:.2e}; reconstructions differ by <= {q2.sgd_max_diff:.4f})",
        "",
        f"Q3    masked per-entry SGD, rank {q3.rank}, lr {q3.lr:g}, {q3.num_epochs} epochs, "
        f"seed {q3.seed}; hidden: " + ", ".join(f"({h.row},{h.col})" for h in q3.hidden),
        "  completed U V^T =", _matrix(q3.completed),
        f"  SSE over the 7 observed entries = {q3.observed_sse:.4f}   ({_q3_convergence(q3)})",
        f"  SSE over the 2 hidden entries   = {q3.heldout_sse:.4f}",
    ]
    for h in q3.hidden:
        lo, hi = h.spread
        out.append(
            f"  A[{h.row},{h.col}]: true {h.true:.4f}, completed {h.predicted:.4f} "
            f"(error {h.error:+.4f}); over seeds {lo:.4f} to {hi:.4f} "
            f"(mean {h.seed_mean:.4f}, sd {h.seed_std:.4f})"
        )
    if q3.curve is not None:
        cv, (xr, xc), (yr, yc) = q3.curve, q3.curve.x_entry, q3.curve.y_entry
        out += [
            f"  why: A has rank 3 (sigma_3 = {float(q2.singular_values[-1]):.4f}), so no rank-2 "
            f"fit recovers it. An exact rank-2",
            f"  completion X (X = A where observed) has det X = 0, which is affine in x = X[{xr},{xc}]:",
            f"    x(y) = {_affine(cv.num0, cv.num1)} / {_affine(cv.den0, cv.den1)},  y = X[{yr},{yc}]",
            f"  at the true y = {cv.y_true:.4f}: x = {cv.x_at_true_y:.4f} "
            f"(true {cv.x_true:.4f} would need y = {cv.y_for_true_x:.2f});",
            "  the random start only chooses y, i.e. where on this curve the fit ends",
        ]
    out.append("")
    if q4 is None:
        out.append(f"Q4    not computed: {ans.q4_note}")
    else:
        rated = "unrated" if q4.user_rating is None else f"rated {q4.user_rating:.1f}"
        out += [
            f"Q4    full-batch masked GD, rank {q4.rank}, lr {q4.lr:g}, {q4.num_epochs} epochs, "
            f"seed {q4.seed}",
            f"  data: {q4.dataset}, {q4.shape[0]} x {q4.shape[1]}, {q4.n_observed} ratings",
            f"  predicted rating of {q4.title!r} (row {q4.movie_row}) for the user in column "
            f"{q4.user_col}: {q4.predicted:.4f}   (the user: {rated})",
            f"  SSE over the observed ratings = {q4.observed_sse:.4f}",
            f"  (SSE over every entry, unrated zeros included = {q4.all_sse:.1f}: not the answer)",
        ]
        if not q4.converged:
            out.append(
                f"  sensitivity check (not the answer): lr {q4.lr:g} has not converged after "
                f"{q4.num_epochs} epochs; with the largest stable lr of the probe, {q4.chosen_lr:g}: "
                f"prediction {q4.chosen_predicted:.4f}, observed SSE {q4.chosen_observed_sse:.4f}"
            )
        course = "; ".join(f"{who} {val:.4f}" for who, val in COURSE_Q4_PREDICTIONS)
        out.append(
            f"  course's Netflix tensor (quoted): {course}; not comparable with ours "
            f"(other users, movies and rating scale)"
        )
    v = ans.versions
    out += ["", "versions: " + ", ".join(f"{k} {v[k]}" for k in v)]
    return "\n".join(out)
