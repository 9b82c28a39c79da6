"""The two explorers (:func:`explore`, :func:`explore_recommendations`) and the fits behind them."""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

import torch

from ..data import LabLayout, UnknownIdError, lab_matrix, load_lab_layout
from ..evaluate import top_n_unrated
from ..factorise import factorise_adam, factorise_gd, factorise_sgd, factorise_svd
from ..validation import check_index, check_lr, check_num_epochs, check_rank, check_seed
from . import _draw as draw
from . import _parts as parts

#: method key -> (label, default lr); the fits themselves are in :func:`fit`.
METHODS = {"sgd": ("per-entry SGD", 0.01), "gd": ("full-batch GD", 0.01), "adam": ("Adam (full batch)", 0.05),
           "svd": ("truncated SVD", None)}


@dataclass(frozen=True)
class Settings:
    """One point of the explorer's control space (hashable: the fit cache's key)."""

    method: str = "sgd"
    rank: int = 2
    lr: float = 0.01
    num_epochs: int = 1000
    seed: int = 0
    hidden: tuple = ()  # ((row, col), ...) entries left out of the fit


def fit(A: torch.Tensor, s: Settings, callback=None):
    """Fit ``A`` (m, n) with the settings ``s``, its ``hidden`` entries left out; a FactorisationResult.
    Truncated SVD cannot leave entries out: it factorises ``A`` with them set to 0 (as a zero-filled
    ratings matrix does), and its loss is over the observed ones."""
    M = torch.ones_like(A)
    for r, c in s.hidden:
        M[r, c] = 0
    if s.method == "svd":
        res = factorise_svd(A * M, None, s.rank)
        sse = float((((A - res.reconstruction) * M).double() ** 2).sum())
        return replace(res, losses=torch.tensor([sse], dtype=torch.float64))
    fn = {"sgd": factorise_sgd, "gd": factorise_gd, "adam": factorise_adam}[s.method]  # checked by Settings' users
    extra = {"sparse": True} if s.method == "gd" else {}  # GD: the same update, compiled (sparse path)
    return fn(A, M if s.hidden else None, s.rank, lr=s.lr, num_epochs=s.num_epochs, seed=s.seed, callback=callback,
              **extra)


def _check_settings(s: Settings, A: torch.Tensor) -> Settings:
    """``s`` with every field checked and converted (scikit-learn-style errors naming the field)."""
    if s.method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {s.method!r}")
    m, n = A.shape
    hidden = tuple(sorted({(int(r), int(c)) for r, c in s.hidden}))
    bad = [(r, c) for r, c in hidden if not (0 <= r < m and 0 <= c < n)]
    if bad:
        raise ValueError(f"hidden entries must lie in the {m} x {n} matrix, got {bad}")
    return Settings(s.method, check_rank(s.rank, A), check_lr(s.lr), check_num_epochs(s.num_epochs),
                    check_seed(s.seed), hidden)


class Explorer(parts.View):
    """Live explorer of one small matrix (:func:`explore`): ``A`` (m, n); ``settings``, ``result`` (None
    when the fit failed) and ``summary`` (one line: settings, SSE, the full-matrix SVD, or why there is no fit)
    of the fit on display; ``png``, its loss curve (:meth:`figure`: the whole static figure); ``controls``,
    the ipywidgets by name once built (one per setting, ``hidden`` a row-major list of checkboxes,
    ``progress``, ``status``, ``figure``, ``matrices``, ``table``)."""

    def __init__(self, A: torch.Tensor, settings: Settings, *, threaded=None):
        super().__init__(threaded)
        self.A = A
        self.settings = _check_settings(settings, A)
        self._optimum: dict[int, float] = {}
        self._plot = draw.LossPlot()
        self.result, self.summary, self.png = None, "", b""
        self.update(wait=True)  # the first fit is on display at once

    def optimum(self, rank: int) -> float:
        """SSE of the best rank-``rank`` approximation of all of ``A`` (sum of discarded sigma^2)."""
        if rank not in self._optimum:
            self._optimum[rank] = factorise_svd(self.A, None, rank).loss
        return self._optimum[rank]

    def update(self, *, wait: bool = False, **changes) -> None:
        """Change settings (``method``, ``rank``, ``lr``, ``num_epochs``, ``seed``, ``hidden``) and refit; the
        fit is drawn when done (on a worker thread in a kernel; ``wait=True``: before returning)."""
        s = _check_settings(replace(self.settings, **changes), self.A)
        self.settings = s
        progress = self._progress_bar(0 if s.method == "svd" else s.num_epochs)
        # Every method is compiled: <= 10^6 entry-epochs are over at once, and a callback would slow them.
        short = s.num_epochs * self.A.numel() <= 10**6
        parts.set_inert(self.controls, s.method)
        self._fits.request(s, lambda cb: fit(self.A, s, None if short else cb), lambda out: self._show(s, out),
                           progress, wait=wait, started=lambda: self._stale(draw.fit_title(s, METHODS[s.method][0])))

    def _controls(self):
        return parts.lab_controls(self, METHODS)

    def hidden_frame(self):
        """The hidden entries' values: a DataFrame indexed by ``(row, col)``."""
        import pandas as pd

        s, res = self.settings, self.result
        rows = [{"entry": f"({r}, {c})", "target": float(self.A[r, c]),
                 "reconstruction": None if res is None else float(res.reconstruction[r, c])} for r, c in s.hidden]
        df = pd.DataFrame(rows, columns=["entry", "target", "reconstruction"]).set_index("entry")
        df["error"] = df["reconstruction"] - df["target"]
        return df

    def _show(self, s: Settings, out) -> None:
        with self._draw_lock:
            self.result = None if isinstance(out, Exception) else out
            optimum = self.optimum(s.rank)
            label = METHODS[s.method][0]
            self.summary = parts.lab_summary(s, label, out, optimum, int(self.A.numel()) - len(s.hidden))
            self.png = self._plot.draw(
                None if self.result is None else self.result.losses.numpy(), optimum, title=draw.fit_title(s, label),
                label=label + (f" (hidden set to 0), SSE {out.loss:.4g}" if s.method == "svd" and s.hidden and
                               self.result is not None else " (observed entries)" if s.hidden else ""),
                opt_label=draw.reference_label(s.rank, optimum, s.hidden))
            if "figure" in self.controls:
                self.controls["figure"].value = self.png
                self.controls["status"].value = f"<b>{html.escape(self.summary)}</b>"
                self.controls["matrices"].value = self._matrices_html()
                self.controls["table"].value = (self.hidden_frame().to_html(float_format="{:.4f}".format, na_rep="-")
                                                if s.hidden else "")
                self._done_bar()

    def _matrices_html(self) -> str:
        A = self.A.double().numpy()
        if A.size > 400:
            return ""
        frames = {"target A": A}
        if self.result is not None:
            frames["reconstruction U V\u1d40"] = self.result.reconstruction.double().numpy()
        return draw.matrix_html(frames, self.settings.hidden, float(A.min()), float(A.max()))

    def figure(self):
        """A static matplotlib figure of the fit on display: loss curve, target and reconstruction."""
        from matplotlib.figure import Figure

        s = self.settings
        fig = Figure(figsize=(10, 3.1), dpi=90, layout="constrained")
        draw.lab_figure(fig, self.A.double().numpy(), s, METHODS[s.method][0], self.result, self.optimum(s.rank))
        return fig


def explore(A=None, mask=None, *, method: str = "sgd", rank: int = 2, lr: float | None = None,
            num_epochs: int = 1000, seed: int = 0, threaded: bool | None = None) -> Explorer:
    """Explore the factorisations of a small matrix with live controls; an :class:`Explorer` (it displays as
    the controls, the figure and the hidden entries' table; ``update(...)`` changes settings from code).

    ``A`` (m, n), dense, default the lab's 3 x 3; ``mask`` (0/1, (m, n)): entries to start hidden (0), e.g.
    :func:`labmf.lab_mask` for Question 3; ``method``: ``"sgd"`` (per-entry), ``"gd"`` (full batch),
    ``"adam"`` (compiled, :func:`labmf.factorise.factorise_adam`), ``"svd"``; ``rank``, ``lr`` (None: the
    method's default, :data:`METHODS`), ``num_epochs``, ``seed``: the first fit; ``threaded``: fit on a
    worker thread (progress, superseding), by default when running in a kernel.
    """
    A = lab_matrix() if A is None else torch.as_tensor(A)
    if A.ndim != 2 or A.layout != torch.strided or not torch.isfinite(A).all():
        raise ValueError(f"A must be a dense, finite 2-D tensor, got shape {tuple(A.shape)}")
    hidden = ()
    if mask is not None:
        M = torch.as_tensor(mask)
        if tuple(M.shape) != tuple(A.shape):
            raise ValueError(f"mask must have A's shape {tuple(A.shape)}, got {tuple(M.shape)}")
        hidden = tuple(tuple(int(i) for i in rc) for rc in (M == 0).nonzero().tolist())
    lr = (METHODS.get(method, (None, None))[1] or 0.01) if lr is None else lr
    return Explorer(A, Settings(method, rank, lr, num_epochs, seed, hidden), threaded=threaded)


class RecommendationExplorer(parts.View):
    """Live view of Question 4's recommendations (:func:`explore_recommendations`): ``layout``, the **movies x
    users** ratings (0 = unrated); ``titles``, title -> (first) row; ``row`` and ``user_col`` on display;
    ``settings`` (full-batch GD on the observed ratings), ``result`` and ``summary`` as on :class:`Explorer`."""

    def __init__(self, layout: LabLayout, settings: Settings, row: int, user_col: int, *, threaded=None):
        super().__init__(threaded)
        self.layout = layout
        self.titles = {title: i for i, title in reversed(list(enumerate(layout.titles)))}  # first row of a title
        self.settings, self.row, self.user_col = settings, row, user_col
        self.result, self.summary = None, ""
        self.update(wait=True)

    def update(self, *, movie=None, user_col: int | None = None, wait: bool = False, **changes) -> None:
        """Show another ``movie`` (title or row) or ``user_col``, or refit with new ``rank``, ``lr``,
        ``num_epochs``, ``seed`` (fits are cached: going back to earlier settings costs nothing)."""
        m, n = self.layout.shape
        row = self.row if movie is None else _movie_row(self.layout, movie)
        col = self.user_col if user_col is None else check_index(user_col, "user_col", n)
        s = _check_settings(replace(self.settings, method="gd", hidden=(), **changes), self.layout.ratings)
        self.settings, self.row, self.user_col = s, row, col
        A, M = self.layout.ratings, self.layout.mask

        def run(callback):
            # The sparse path: cost in proportion to the ratings, not to the 1000 x 671 cells.
            return factorise_gd(A, M, s.rank, lr=s.lr, num_epochs=s.num_epochs, seed=s.seed, sparse=True,
                                callback=callback)

        self._fits.request(s, run, lambda out: self._show(s, out), self._progress_bar(s.num_epochs), wait=wait,
                           started=lambda: self._stale(f"rank {s.rank}, lr {s.lr:g}, {s.num_epochs} epochs"))

    def _controls(self):
        return parts.recommendation_controls(self)

    def top_frame(self, n: int = 10):
        """The user's top ``n`` unrated movies: a DataFrame (rank 1.., title, predicted rating)."""
        import pandas as pd

        if self.result is None:
            return pd.DataFrame(columns=["title", "predicted rating"])
        P = self.result.reconstruction
        rows = top_n_unrated(P, self.layout.mask, self.user_col, n)
        df = pd.DataFrame({"title": [self.layout.titles[r] for r in rows],
                           "predicted rating": [round(float(P[r, self.user_col]), 3) for r in rows]})
        df.index = pd.RangeIndex(1, len(rows) + 1, name="rank")
        return df

    def _show(self, s: Settings, out) -> None:
        with self._draw_lock:  # shows the latest movie and user, whichever request's fit arrives
            self.result = None if isinstance(out, Exception) else out
            self.summary = parts.recommendation_summary(self.layout, s, self.row, self.user_col, out)
            if "table" in self.controls:
                self.controls["status"].value = f"<b>{html.escape(self.summary)}</b>"
                self.controls["table"].value = self._table_html()
                self._done_bar()
        box = self.controls.get("movie")
        if box is not None and box.value != self.layout.titles[self.row]:
            # The title matched, spelled out (outside the lock: the box's observer shows it again, from the cache).
            box.value = self.layout.titles[self.row]

    def _table_html(self) -> str:
        caption = f"top 10 unrated movies for user column {self.user_col}"
        return f"<p>{html.escape(caption)}</p>" + self.top_frame().to_html(float_format="{:.3f}".format)

    def figure(self):
        """A static matplotlib figure: the prediction in the title, the top 10 as bars."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3.8), dpi=90, layout="constrained")
        draw.recommendation_figure(fig, self.top_frame(), self.layout, self.row, self.user_col, self.result)
        return fig


def explore_recommendations(layout: LabLayout | str = "movielens-small", *, movie: str | int = "A Beautiful Mind",
                            user_col: int = 4, rank: int = 5, lr: float = 1e-4, num_epochs: int = 1000,
                            seed: int = 0, threaded: bool | None = None) -> RecommendationExplorer:
    """Explore Question 4's recommendations (a :class:`RecommendationExplorer`): a movie by title, a user
    column, their top 10.

    ``layout``: the **movies x users** :class:`LabLayout`, or a source name for :func:`labmf.load_lab_layout`;
    ``movie``: a title (matched as :meth:`LabLayout.find_title` does) or a row; ``user_col``: the user shown
    first; ``rank``, ``lr``, ``num_epochs``, ``seed``: the first fit (full-batch GD, sparse path); the default
    ``lr=1e-4``, ten times the course's, gets much further in 1000 epochs (SSE 41,010) but still falls slowly
    (5000 epochs: 30,689); ``threaded``: as in :func:`explore`.
    """
    if isinstance(layout, str):
        layout = load_lab_layout(layout)
    if not isinstance(layout, LabLayout):
        raise TypeError(f"layout must be a LabLayout or a source name, got {type(layout).__name__}")
    user_col = check_index(user_col, "user_col", layout.shape[1])
    return RecommendationExplorer(layout, Settings("gd", rank, lr, num_epochs, seed), _movie_row(layout, movie),
                                  user_col, threaded=threaded)


def _movie_row(layout: LabLayout, movie) -> int:
    """The row of ``movie``: a title (as :meth:`LabLayout.find_title` matches it) or a row number."""
    if not isinstance(movie, str):
        return check_index(movie, "movie", layout.shape[0])
    try:
        return layout.find_title(movie)
    except UnknownIdError:
        close = "; ".join(title for _, title in layout.search_titles(movie, 5)) if movie.strip() else ""
        raise UnknownIdError(f"no such title: {movie!r}" + (f"; did you mean {close}?" if close else "")) from None
