"""The explorers' parts (:mod:`labmf.explore`): the fit queue, the drawing, the ipywidgets.

Kept apart so that :mod:`labmf.explore` reads as its public API; nothing here is public.
"""

from __future__ import annotations

import base64
import io
import threading
import warnings
from collections import OrderedDict

import numpy as np

from ..convergence import ConvergenceWarning, DivergenceError, still_falling

LOG_FLOOR = 1e-12  # a log axis cannot show 0; an exact fit is drawn at this floor


class Superseded(Exception):
    """Raised inside a fit's callback when a newer request has replaced it."""


class Fits:
    """Runs fits one at a time, newest request wins, results (and errors) cached by key."""

    def __init__(self, threaded: bool, size: int = 64):
        self.threaded, self.size = threaded, size
        self.generation = 0
        self.cache: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def request(self, key, run, done, progress=None, *, wait: bool = False):
        """Call ``done(result or exception)`` for ``run(callback)``, unless superseded first.

        On the worker thread when ``threaded`` (and not ``wait``), else before returning.
        """
        with self.lock:
            self.generation += 1
            gen = self.generation
            cached = self.cache.get(key)
        if cached is not None:
            return done(cached)

        def callback(epoch, loss):
            if self.generation != gen:
                raise Superseded
            if progress is not None:
                progress(epoch)

        def work():
            try:
                with warnings.catch_warnings():
                    # The explorer reports convergence itself; a warning from a worker thread would
                    # land in whichever cell output happens to be current.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    out = run(callback)
            except Superseded:
                return None
            except (DivergenceError, ValueError, TypeError) as exc:
                out = exc
            with self.lock:
                if self.generation != gen:
                    return None
                self.cache[key] = out
                while len(self.cache) > self.size:
                    self.cache.popitem(last=False)
            return done(out)

        if self.threaded and not wait:
            threading.Thread(target=work, daemon=True).start()
            return None
        return work()


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None  # no shell (None) has no kernel


class View:
    """What both explorers share: a fit queue, a progress bar, a static and a live display."""

    def __init__(self, threaded):
        self._fits = Fits(in_kernel() if threaded is None else bool(threaded))
        self._draw_lock = threading.Lock()
        self.controls: dict = {}
        self._widget = None

    def _progress_bar(self, num_epochs: int):
        bar = self.controls.get("progress")
        if bar is None:
            return None
        bar.max, bar.value, bar.description = max(num_epochs, 1), 0, "fitting"
        step = max(1, num_epochs // 50)  # ~50 front-end messages per fit, not one per epoch

        def progress(epoch):
            if epoch % step == 0:
                bar.value = epoch
        return progress

    def _done_bar(self):
        bar = self.controls.get("progress")
        if bar is not None:
            bar.value, bar.description = bar.max, "done"

    @property
    def widget(self):
        """The live ipywidgets box (built on first use; the update that follows, a cache hit, fills it)."""
        if self._widget is None:
            self._widget, self.controls = self._controls()
            self.update(wait=True)
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The live widget for front ends with the widget manager; a static rendering of the
        # current fit for everything else (nbconvert, nbval, the report, a plain terminal).
        bundle = dict(self._static())
        try:
            bundle.update(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        except ImportError:  # no ipywidgets: the static rendering alone
            pass
        bundle["text/plain"] = self.summary
        return bundle

    def _static(self) -> dict:
        return {"image/png": base64.b64encode(png(self.figure())).decode("ascii")}


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})  # the fastest zlib level: redraws are live
    return buf.getvalue()


def heatmap(ax, values: np.ndarray, hidden, title: str, vmin: float, vmax: float) -> None:
    from matplotlib.patches import Rectangle

    ax.imshow(values, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set(xticks=range(values.shape[1]), yticks=range(values.shape[0]))
    ax.set_title(title, fontsize=9)
    if values.size <= 100:  # annotate small matrices; a big one would be unreadable
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if v > (vmin + vmax) / 2 else "white")
    for r, c in hidden:  # hidden entries outlined in red
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))


def fit_title(s, label: str) -> str:
    return f"{label}, rank {s.rank}" + ("" if s.method == "svd" else f", lr {s.lr:g}, seed {s.seed}")


def lab_summary(s, label: str, out, optimum: float, n_observed: int) -> str:
    """One line: the settings, the final SSE against the SVD optimum, or why there is no fit."""
    what = (f"{label}, rank {s.rank}" if s.method == "svd"
            else f"{label}, rank {s.rank}, lr {s.lr:g}, {s.num_epochs} epochs, seed {s.seed}")
    if isinstance(out, Exception):
        return f"{what}: no fit ({type(out).__name__}: {out})"
    # four significant figures: the float32 SSE's later digits depend on the CPU's rounding
    line = f"{what}: SSE {out.loss:.4g} over {n_observed} observed entries; rank-{s.rank} SVD optimum {optimum:.4g}"
    if s.method != "svd" and still_falling(out.losses):
        line += " (loss still falling: more epochs or a larger lr)"
    return line


def recommendation_summary(layout, s, row: int, col: int, out) -> str:
    """One line: the prediction for (row, col), whether the user rated the movie, the fit."""
    fit_text = f"full-batch GD, rank {s.rank}, lr {s.lr:g}, {s.num_epochs} epochs, seed {s.seed}"
    if isinstance(out, Exception):
        return f"{fit_text}: no fit ({type(out).__name__}: {out})"
    return (f"{layout.titles[row]!r} for user column {col} (user id {layout.user_ids[col]}): predicted "
            f"{out.predict(row, col):.2f} stars; user column {col} {_rated(layout, row, col)} ({fit_text}; SSE "
            f"{out.loss:.1f} on {layout.nnz} ratings)")


def _rated(layout, row: int, col: int) -> str:
    return (f"rated it {float(layout.ratings[row, col]):.1f} stars" if layout.is_rated(row, col)
            else "has not rated it")


class LossPlot:
    """The live loss-curve figure: one figure whose artists are updated in place (a fresh
    figure per change would be redrawn from scratch; the matrices go to HTML tables,
    :func:`matrix_html`, for the same reason; ``make bench`` times a redraw)."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, NullLocator

        self.fig = Figure(figsize=(5.6, 3.0), dpi=80)
        self.fig.subplots_adjust(left=0.16, right=0.97, bottom=0.16, top=0.9)
        self.ax = self.fig.add_subplot()
        (self.line,) = self.ax.plot([], [], lw=1.4)
        self.opt = self.ax.axhline(1.0, color="k", ls="--", lw=1)
        self.ax.set(yscale="log", xlabel="epoch", ylabel="training SSE")
        # Plain "1e-02" tick labels: the default mathtext ones ($10^{-2}$) cost more to parse
        # than everything else in a redraw.
        self.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0e}"))
        self.ax.yaxis.set_minor_locator(NullLocator())  # a log axis draws ~30 minor ticks otherwise
        self.ax.grid(alpha=0.3)

    def draw(self, losses, optimum: float, *, title: str, label: str, opt_label: str) -> bytes:
        """PNG of ``losses`` (shape (num_epochs + 1,), or None) against the line ``optimum``."""
        y = np.maximum(np.asarray([] if losses is None else losses, dtype=np.float64), LOG_FLOOR)
        x = np.arange(len(y))
        if len(y) == 1:  # a closed-form fit has one loss: draw it flat
            x, y = np.array([0, 1]), np.repeat(y, 2)
        self.line.set_data(x, y)
        self.line.set_label(label)
        self.opt.set_ydata([max(optimum, LOG_FLOOR)] * 2)
        self.opt.set_label(opt_label)
        self.ax.relim()
        self.ax.autoscale_view()
        self.ax.set_title(title, fontsize=10)
        self.ax.legend(fontsize=7, frameon=False, loc="upper right")
        return png(self.fig)


def matrix_html(frames: dict, hidden, vmin: float, vmax: float) -> str:
    """Matrices as coloured HTML tables side by side (``frames``: caption -> array (m, n)), hidden entries outlined."""
    import pandas as pd

    tables = []
    for k, (caption, values) in enumerate(frames.items()):
        df = pd.DataFrame(np.asarray(values, dtype=np.float64))
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        for r, c in hidden:
            css.iloc[r, c] = "outline: 3px solid red; outline-offset: -3px"
        sty = (df.style.set_uuid(f"labmf{k}").background_gradient(cmap="viridis", vmin=vmin, vmax=vmax, axis=None)
               .format("{:.3f}").apply(lambda _, css=css: css, axis=None).set_caption(caption))
        tables.append(sty.to_html())
    return "<div style='display:flex; gap:2em'>" + "".join(tables) + "</div>"


def lab_figure(fig, A: np.ndarray, s, label: str, res, optimum: float) -> None:
    """Loss curve vs the SVD optimum, target and reconstruction heatmaps (hidden entries outlined)."""
    ax_loss, ax_a, ax_p = fig.subplots(1, 3, width_ratios=[1.6, 1, 1])
    if res is not None and s.method != "svd":
        ax_loss.plot(np.maximum(res.losses.numpy(), LOG_FLOOR), lw=1.4, label=f"{label} (observed entries)")
    elif res is not None:
        ax_loss.axhline(max(res.loss, LOG_FLOOR), color="C0", lw=1.4, label="truncated SVD" +
                        (" (hidden set to 0)" if s.hidden else ""))
    ax_loss.axhline(max(optimum, LOG_FLOOR), color="k", ls="--", lw=1, label=f"rank-{s.rank} SVD optimum {optimum:.4g}")
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="training SSE")
    ax_loss.set_title(fit_title(s, label), fontsize=9)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=7, frameon=False)
    lo, hi = float(A.min()), float(A.max())
    heatmap(ax_a, A, s.hidden, "target A (hidden outlined)" if s.hidden else "target A", lo, hi)
    if res is None:
        _no_fit(ax_p)
    else:
        heatmap(ax_p, res.reconstruction.double().numpy(), s.hidden, f"reconstruction, SSE {res.loss:.4g}",
                 lo, hi)


def _no_fit(ax) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, "no fit", ha="center", va="center")


def _common(widgets, s, *, rank_max: int, lr_range: tuple[int, int], epochs_max: int, epochs_step: int) -> dict:
    """rank, lr (log scale), num_epochs and seed controls; sliders act on release (debounced)."""
    return {
        "rank": widgets.IntSlider(value=s.rank, min=1, max=rank_max, description="rank", continuous_update=False),
        "lr": widgets.FloatLogSlider(value=s.lr, base=10, min=lr_range[0], max=lr_range[1], step=0.25,
                                     readout_format=".1e", description="lr", continuous_update=False),
        "num_epochs": widgets.IntSlider(value=s.num_epochs, min=0, max=epochs_max, step=epochs_step,
                                        description="epochs", continuous_update=False),
        "seed": widgets.BoundedIntText(value=s.seed, min=0, max=2**31 - 1, description="seed",
                                       layout=widgets.Layout(width="150px")),
        "progress": widgets.IntProgress(value=0, min=0, max=1, description="done"),
        "status": widgets.HTML(),
    }


def _on_change(ex, controls: dict, names, read) -> None:
    """Call ``ex.update(**read())`` whenever one of ``controls[names]`` changes; errors go to the status line."""
    def changed(_change):
        try:
            ex.update(**read())
        except (ValueError, TypeError) as exc:
            controls["status"].value = f"<b style='color:#b00'>{type(exc).__name__}: {exc}</b>"

    for name in names:
        for w in controls[name] if isinstance(controls[name], list) else [controls[name]]:
            w.observe(changed, names="value")


def lab_controls(ex, methods: dict):
    """The 3 x 3 explorer's widgets: ``(box, controls)``; ``ex`` is a :class:`labmf.explore.Explorer`."""
    import ipywidgets as widgets

    s, (m, n) = ex.settings, ex.A.shape
    c = _common(widgets, s, rank_max=min(m, n), lr_range=(-4, 0), epochs_max=5000, epochs_step=50)
    c["method"] = widgets.ToggleButtons(options=[(label, key) for key, (label, _) in methods.items()],
                                        value=s.method, description="method")
    c["hidden"] = [widgets.Checkbox(value=(r, col) in s.hidden, description=f"({r}, {col})", indent=False,
                                    layout=widgets.Layout(width="70px"))
                   for r in range(m) for col in range(n)] if m * n <= 36 else []
    c |= {"figure": widgets.Image(format="png"), "matrices": widgets.HTML(), "table": widgets.HTML()}

    def read():
        hidden = tuple((i // n, i % n) for i, box in enumerate(c["hidden"]) if box.value)
        return {"method": c["method"].value, "rank": c["rank"].value, "lr": c["lr"].value,
                "num_epochs": c["num_epochs"].value, "seed": c["seed"].value,
                "hidden": hidden if c["hidden"] else ex.settings.hidden}

    _on_change(ex, c, ["method", "rank", "lr", "num_epochs", "seed", "hidden"], read)
    grid = widgets.GridBox(c["hidden"], layout=widgets.Layout(grid_template_columns=f"repeat({n}, 75px)"))
    hide = [widgets.VBox([widgets.HTML("<b>hidden entries</b>"), grid])] if c["hidden"] else []
    left = widgets.VBox([c["method"], c["rank"], c["lr"], c["num_epochs"], c["seed"], c["progress"]])
    box = widgets.VBox([widgets.HBox([left, *hide]), c["status"], widgets.HBox([c["figure"], c["matrices"]]),
                        c["table"]])
    box.add_class("labmf-explorer")
    return box, c


def recommendation_controls(ex):
    """Question 4's widgets: ``(box, controls)``; ``ex`` is a :class:`labmf.explore.RecommendationExplorer`."""
    import ipywidgets as widgets

    s, (m, n) = ex.settings, ex.layout.shape
    c = _common(widgets, s, rank_max=min(50, m, n), lr_range=(-6, -3), epochs_max=3000, epochs_step=100)
    c["movie"] = widgets.Combobox(value=ex.layout.titles[ex.row], options=list(ex.titles), ensure_option=True,
                                  placeholder="type a title", description="movie", continuous_update=False,
                                  layout=widgets.Layout(width="420px"))
    c["user_col"] = widgets.BoundedIntText(value=ex.user_col, min=0, max=n - 1, description="user column",
                                           style={"description_width": "initial"},
                                           layout=widgets.Layout(width="180px"))
    c["table"] = widgets.HTML()

    def read():
        title = c["movie"].value
        return {"movie": title if title in ex.titles else ex.row, "user_col": c["user_col"].value,
                "rank": c["rank"].value, "lr": c["lr"].value, "num_epochs": c["num_epochs"].value,
                "seed": c["seed"].value}

    _on_change(ex, c, ["movie", "user_col", "rank", "lr", "num_epochs", "seed"], read)
    fit_box = widgets.VBox([c["rank"], c["lr"], c["num_epochs"], c["seed"], c["progress"]])
    box = widgets.VBox([widgets.HBox([widgets.VBox([c["movie"], c["user_col"]]), fit_box]), c["status"],
                        c["table"]])
    box.add_class("labmf-recommendations")
    return box, c


def recommendation_figure(fig, top, layout, row: int, col: int, res) -> None:
    """Bars of the top-``n`` frame (title, predicted rating), the prediction for ``(row, col)`` in the title."""
    ax = fig.add_subplot()
    if res is None:
        return _no_fit(ax)
    ax.barh(np.arange(len(top))[::-1], top["predicted rating"].to_numpy(), color="C0")
    ax.set_yticks(np.arange(len(top))[::-1], [t if len(t) <= 45 else t[:44] + "\u2026" for t in top["title"]],
                  fontsize=8)
    ax.set_xlabel("predicted rating (stars)")
    ax.set_title(f"{layout.titles[row]}, user column {col}: predicted {res.predict(row, col):.2f} stars "
                 f"({_rated(layout, row, col)})\nthe user's top {len(top)} unrated movies (rank-{res.rank} fit)",
                 fontsize=9)
    ax.grid(axis="x", alpha=0.3)
