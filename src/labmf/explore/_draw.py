"""The explorers' pictures (:mod:`labmf.explore`): the live loss curve, the matrices, the static figures."""

from __future__ import annotations

import io

import numpy as np

LOG_FLOOR = 1e-12  # a log axis cannot show 0; an exact fit is drawn at this floor
LEGEND_PT = 8  # legend text in points (the live figure is drawn at 100 dpi: 11 px)


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})  # the fastest zlib level: redraws are live
    return buf.getvalue()


def fit_title(s, label: str) -> str:
    return f"{label}, rank {s.rank}" + ("" if s.method == "svd" else f", lr {s.lr:g}, seed {s.seed}")


def reference_label(rank: int, optimum: float, hidden, digits: int = 4) -> str:
    """The full-matrix SVD's SSE: the optimum when every entry is fitted, else a reference (a fit that
    leaves entries out is scored on fewer of them, and can go below it)."""
    return (f"rank-{rank} SVD of the full matrix {optimum:.{digits}g} (a reference, not a bound)" if hidden
            else f"rank-{rank} SVD optimum {optimum:.{digits}g}")


def rated(layout, row: int, col: int) -> str:
    return (f"rated it {float(layout.ratings[row, col]):.1f} stars" if layout.is_rated(row, col)
            else "has not rated it")


def _log_limits(ax, values) -> None:
    """A log y axis spanning at least a decade around ``values``, so it always has a labelled tick."""
    ax.set_ylim(float(np.min(values)) / 10**0.6, float(np.max(values)) * 10**0.6)


def heatmap(ax, values: np.ndarray, hidden, title: str, vmin: float, vmax: float) -> None:
    from matplotlib.patches import Rectangle

    ax.imshow(values, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set(xticks=range(values.shape[1]), yticks=range(values.shape[0]))
    ax.set_title(title, fontsize=9)
    if values.size <= 100:  # annotate small matrices; a big one would be unreadable
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if v > (vmin + vmax) / 2 else "white")
    for r, c in hidden:  # hidden entries outlined in red, inside the cell's edge: clear of its digits
        ax.add_patch(Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, fill=False, edgecolor="red", lw=1.5))


class LossPlot:
    """The live loss-curve figure, its artists updated in place (a fresh figure per change would be drawn from
    scratch; the matrices go to HTML, :func:`matrix_html`, for the same reason; ``make bench`` times it)."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, NullLocator

        self.fig = Figure(figsize=(6.4, 3.4), dpi=100)  # 640 x 340 px
        self.fig.subplots_adjust(left=0.13, right=0.97, bottom=0.15, top=0.9)
        self.ax = self.fig.add_subplot()
        (self.line,) = self.ax.plot([], [], lw=1.6)
        self.fit_level = self.ax.axhline(1.0, color="C0", lw=2)
        self.opt = self.ax.axhline(1.0, color="k", ls="--", lw=1)
        self.ax.set(yscale="log", ylabel="training SSE")
        # Plain "1e-02" tick labels: the default mathtext ones ($10^{-2}$) cost more to parse
        # than everything else in a redraw.
        self.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0e}"))
        self.ax.yaxis.set_minor_locator(NullLocator())  # a log axis draws ~30 minor ticks otherwise
        self.ax.tick_params(labelsize=9)
        self.ax.grid(alpha=0.3)

    def draw(self, losses, optimum: float, *, title: str, label: str, opt_label: str) -> bytes:
        """PNG of ``losses`` (shape (num_epochs + 1,), or None) against the line ``optimum``; a closed-form
        fit (one loss) has no epochs: its SSE is a level beside the reference, never a curve."""
        y = np.maximum(np.asarray([] if losses is None else losses, dtype=np.float64), LOG_FLOOR)
        closed = len(y) == 1
        self.line.set_data(*(([], []) if closed else (np.arange(len(y)), y)))
        self.fit_level.set_visible(closed)
        self.fit_level.set_ydata([y[0]] * 2 if closed else [1.0] * 2)
        (self.fit_level if closed else self.line).set_label(label)
        (self.line if closed else self.fit_level).set_label("_hidden")
        ref = max(optimum, LOG_FLOOR)
        self.opt.set_ydata([ref] * 2)
        self.opt.set_label(opt_label)
        self.ax.set_xlabel("closed form: no epochs" if closed else "epoch", fontsize=9)
        self.ax.tick_params(axis="x", bottom=not closed, labelbottom=not closed)
        self.ax.set_xlim(0, max(len(y) - 1, 1))
        _log_limits(self.ax, np.append(y, ref) if len(y) else [ref])
        self.ax.set_title(title, fontsize=11)
        self.ax.legend(fontsize=LEGEND_PT, frameon=True, framealpha=0.85, loc="upper right")
        return png(self.fig)


def matrix_html(frames: dict, hidden, vmin: float, vmax: float) -> str:
    """Matrices as coloured HTML tables side by side (``frames``: caption -> array (m, n)), hidden entries outlined."""
    import pandas as pd

    tables = []
    for k, (caption, values) in enumerate(frames.items()):
        df = pd.DataFrame(np.asarray(values, dtype=np.float64))
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        for r, c in hidden:  # an inset ring drawn under the text, with room around the digits
            css.iloc[r, c] = "box-shadow: inset 0 0 0 3px red; padding: 6px 10px"
        sty = (df.style.set_uuid(f"labmf{k}").background_gradient(cmap="viridis", vmin=vmin, vmax=vmax, axis=None)
               .format("{:.3f}").apply(lambda _, css=css: css, axis=None).set_caption(caption))
        tables.append(sty.to_html())
    return "<div style='display:flex; gap:2em'>" + "".join(tables) + "</div>"


def lab_figure(fig, A: np.ndarray, s, label: str, res, optimum: float) -> None:
    """Loss curve vs the full-matrix SVD, target and reconstruction heatmaps (hidden entries outlined)."""
    ax_loss, ax_a, ax_p = fig.subplots(1, 3, width_ratios=[1.6, 1, 1])
    ref = reference_label(s.rank, optimum, s.hidden)
    if res is not None and s.method != "svd":
        ax_loss.plot(np.maximum(res.losses.numpy(), LOG_FLOOR), lw=1.4, label=f"{label} (observed entries)")
        ax_loss.set_xlabel("epoch")
    elif res is not None:
        ax_loss.axhline(max(res.loss, LOG_FLOOR), color="C0", lw=2, label="truncated SVD" +
                        (" (hidden set to 0)" if s.hidden else ""))
        ax_loss.set_xticks([])
        ax_loss.set_xlabel("closed form: no epochs")
    ax_loss.axhline(max(optimum, LOG_FLOOR), color="k", ls="--", lw=1, label=ref)
    ax_loss.set(yscale="log", ylabel="training SSE")
    if res is not None and s.method == "svd":
        _log_limits(ax_loss, [max(res.loss, LOG_FLOOR), max(optimum, LOG_FLOOR)])
    ax_loss.set_title(fit_title(s, label), fontsize=9)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=7, frameon=False)
    lo, hi = float(A.min()), float(A.max())
    heatmap(ax_a, A, s.hidden, "target A (hidden outlined)" if s.hidden else "target A", lo, hi)
    if res is None:
        return _no_fit(ax_p)
    heatmap(ax_p, res.reconstruction.double().numpy(), s.hidden, f"reconstruction, SSE {res.loss:.4g}", lo, hi)


def _no_fit(ax) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, "no fit", ha="center", va="center")


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
                 f"({rated(layout, row, col)})\nthe user's top {len(top)} unrated movies (rank-{res.rank} fit)",
                 fontsize=9)
    ax.grid(axis="x", alpha=0.3)
