"""The explorers' parts (:mod:`labmf.explore`): the fit queue, the summaries, the ipywidgets (not public)."""

from __future__ import annotations

import base64
import html
import threading
import warnings
from collections import OrderedDict

from ..convergence import ConvergenceWarning, DivergenceError, still_falling
from ._draw import png, rated, reference_label

STALE_CSS = "<style>.labmf-stale { opacity: 0.35; transition: opacity 0.15s; }</style>"  # a fit is running


class Superseded(Exception):
    """Raised inside a fit's callback when a newer request has replaced it."""


class Fits:
    """Runs fits one at a time, newest request wins, results (and errors) cached by key."""

    def __init__(self, threaded: bool, size: int = 64):
        self.threaded, self.size = threaded, size
        self.generation = 0
        self.cache: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def request(self, key, run, done, progress=None, *, wait: bool = False, started=None):
        """Call ``done(result or exception)`` for ``run(callback)`` unless superseded first: on the worker
        thread when ``threaded`` (and not ``wait``), else before returning; ``started()`` first, in the
        caller's thread, when the fit is not cached (the view marks itself stale)."""
        with self.lock:
            self.generation += 1
            gen = self.generation
            cached = self.cache.get(key)
        if cached is not None:
            return done(cached)
        if started is not None:
            started()

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
        for w in (self.controls[k] for k in ("figure", "matrices", "table") if k in self.controls):
            w.remove_class("labmf-stale")

    def _stale(self, what: str) -> None:
        """Mark the view out of date at once: status "fitting ...", the pictures dimmed (:data:`STALE_CSS`)."""
        if "status" in self.controls:
            self.controls["status"].value = f"<i>fitting \u2026 {html.escape(what)}</i>"
            for w in (self.controls[k] for k in ("figure", "matrices", "table") if k in self.controls):
                w.add_class("labmf-stale")

    def __repr__(self) -> str:  # a plain terminal; IPython front ends use the bundle below
        return f"<{type(self).__name__}: {self.summary}>"

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


def lab_summary(s, label: str, out, optimum: float, n_observed: int) -> str:
    """One line: the settings, the final SSE against the SVD optimum, or why there is no fit."""
    what = (f"{label}, rank {s.rank}" if s.method == "svd"
            else f"{label}, rank {s.rank}, lr {s.lr:g}, {s.num_epochs} epochs, seed {s.seed}")
    if isinstance(out, Exception):
        return f"{what}: no fit ({type(out).__name__}: {out})"
    falling = s.method != "svd" and still_falling(out.losses)
    ref = reference_label(s.rank, optimum, s.hidden)  # 4 figures: rounding-stable
    return (f"{what}: SSE {out.loss:.4g} over {n_observed} observed entries; {ref}"
            + (" (loss still falling: more epochs or a larger lr)" if falling else ""))


def recommendation_summary(layout, s, row: int, col: int, out) -> str:
    """One line: the prediction for (row, col), whether the user rated the movie, the fit."""
    fit_text = f"full-batch GD, rank {s.rank}, lr {s.lr:g}, {s.num_epochs} epochs, seed {s.seed}"
    if isinstance(out, Exception):
        return f"{fit_text}: no fit ({type(out).__name__}: {out})"
    return (f"{layout.titles[row]!r} for user column {col} (user id {layout.user_ids[col]}): predicted "
            f"{out.predict(row, col):.2f} stars; user column {col} {rated(layout, row, col)} ({fit_text}; SSE "
            f"{out.loss:.1f} on {layout.nnz} ratings)")


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
        except (KeyError, ValueError, TypeError) as exc:  # a KeyError: "no such title ...", said in full
            text = str(exc) if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            controls["status"].value = f"<b style='color:#b00'>{html.escape(text)}</b>"

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
    set_inert(c, s.method)

    def read():
        hidden = tuple((i // n, i % n) for i, box in enumerate(c["hidden"]) if box.value)
        return {**{k: c[k].value for k in ("method", "rank", "lr", "num_epochs", "seed")},
                "hidden": hidden if c["hidden"] else ex.settings.hidden}

    _on_change(ex, c, ["method", "rank", "lr", "num_epochs", "seed", "hidden"], read)
    grid = widgets.GridBox(c["hidden"], layout=widgets.Layout(grid_template_columns=f"repeat({n}, 75px)"))
    hide = [widgets.VBox([widgets.HTML("<b>hidden entries</b>"), grid])] if c["hidden"] else []
    left = widgets.VBox([c["method"], c["rank"], c["lr"], c["num_epochs"], c["seed"], c["progress"]])
    box = widgets.VBox([widgets.HTML(STALE_CSS), widgets.HBox([left, *hide]), c["status"],
                        widgets.HBox([c["figure"], c["matrices"]]), c["table"]])
    box.add_class("labmf-explorer")
    return box, c


def set_inert(controls: dict, method: str) -> None:
    """Disable the controls a closed-form method (truncated SVD) ignores: lr, epochs, seed."""
    for w in (controls[k] for k in ("lr", "num_epochs", "seed") if k in controls):
        w.disabled = method == "svd"


def recommendation_controls(ex):
    """Question 4's widgets: ``(box, controls)``; ``ex`` is a :class:`labmf.explore.RecommendationExplorer`."""
    import ipywidgets as widgets

    s, (m, n) = ex.settings, ex.layout.shape
    c = _common(widgets, s, rank_max=min(50, m, n), lr_range=(-6, -3), epochs_max=3000, epochs_step=100)
    # Any text reaches the kernel (ensure_option=False), matched as the title search does ("matrix, the").
    c["movie"] = widgets.Combobox(value=ex.layout.titles[ex.row], options=list(ex.titles), ensure_option=False,
                                  placeholder="type a title", description="movie", continuous_update=False,
                                  layout=widgets.Layout(width="420px"))
    c["user_col"] = widgets.BoundedIntText(value=ex.user_col, min=0, max=n - 1, description="user column",
                                           style={"description_width": "initial"},
                                           layout=widgets.Layout(width="180px"))
    c["table"] = widgets.HTML()

    def read():
        return {"movie": c["movie"].value if c["movie"].value.strip() else ex.row, "user_col": c["user_col"].value,
                **{k: c[k].value for k in ("rank", "lr", "num_epochs", "seed")}}

    _on_change(ex, c, ["movie", "user_col", "rank", "lr", "num_epochs", "seed"], read)
    fit_box = widgets.VBox([c["rank"], c["lr"], c["num_epochs"], c["seed"], c["progress"]])
    box = widgets.VBox([widgets.HTML(STALE_CSS), widgets.HBox([widgets.VBox([c["movie"], c["user_col"]]), fit_box]),
                        c["status"], c["table"]])
    box.add_class("labmf-recommendations")
    return box, c
