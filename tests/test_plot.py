"""labmf.plot: labels true to the fit, one colour per curve, closed-form results drawn, nothing clipped."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen before pyplot is imported
import pytest  # noqa: E402 - (same reason)

import labmf  # noqa: E402 - (same reason)
from labmf.plot import loss_label, plot_loss_curves  # noqa: E402 - (same reason)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fits():
    A = labmf.lab_matrix()
    return {
        "full": labmf.factorise_sgd(A, rank=2, num_epochs=20, seed=0),
        "masked": labmf.factorise_sgd(A, labmf.lab_mask(), rank=2, num_epochs=20, seed=0),
        "svd": labmf.factorise_svd(A, rank=2),
        "adam": labmf.factorise_autograd(A, rank=2, num_epochs=5, seed=0),
    }


def test_the_y_label_says_observed_entries_only_for_a_masked_fit(fits):
    assert plot_loss_curves(fits["masked"]).get_ylabel() == "training SSE (observed entries)"
    assert plot_loss_curves({"a": fits["full"], "b": fits["svd"]}).get_ylabel() == "training SSE (all entries)"
    assert loss_label([fits["adam"]]) == "training SSE (all entries)"  # every fit records whether it was masked
    assert loss_label([fits["full"], fits["masked"]]) == "training SSE (observed entries)"
    assert plot_loss_curves(fits["masked"], ylabel="my label").get_ylabel() == "my label"


def test_a_single_value_result_is_a_horizontal_line(fits):
    ax = plot_loss_curves({"SGD": fits["full"], "truncated SVD": fits["svd"]})
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "truncated SVD")
    assert list(line.get_ydata()) == [fits["svd"].loss] * 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SGD", "truncated SVD"]


def test_each_curve_has_its_own_colour_and_many_curves_get_a_colour_bar(fits):
    few = plot_loss_curves({f"seed {k}": fits["full"] for k in range(3)}, reference={"optimum": 0.1})
    colours = [ln.get_color() for ln in few.get_lines()[:3]]
    assert len(set(colours)) == 3
    many = plot_loss_curves({k: fits["full"] for k in range(12)}, reference={"optimum": 0.1},
                            colorbar_label="seed")
    rgba = {tuple(ln.get_color()) for ln in many.get_lines()[:12]}
    assert len(rgba) == 12
    bar_axes = [a for a in many.figure.axes if a is not many]
    assert len(bar_axes) == 1 and bar_axes[0].get_ylabel() == "seed"
    assert [t.get_text() for t in many.get_legend().get_texts()] == ["optimum"]


def test_reference_lines_are_distinct_and_a_zero_on_a_log_axis_is_named(fits):
    ax = plot_loss_curves(fits["full"], reference={"rank-2 optimum": 0.12, "rank-1 optimum": 0.6, "rank-3": 0.0})
    refs = ax.get_lines()[1:]
    assert len({(ln.get_color(), str(ln.get_linestyle())) for ln in refs}) == 3
    assert "rank-3 = 0 (off the log axis)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_text_sizes_follow_fontsize_and_labels_are_not_clipped(fits, tmp_path):
    ax = plot_loss_curves(fits["full"], title="t", fontsize=10)
    assert ax.xaxis.label.get_fontsize() == 10 and ax.get_legend().get_texts()[0].get_fontsize() == 10
    assert all(t.get_fontsize() == 10 for t in ax.get_yticklabels())
    fig = ax.figure
    assert fig.get_layout_engine() is not None  # constrained layout: saving does not clip labels
    fig.savefig(tmp_path / "f.png")
    fig.canvas.draw()
    box = fig.bbox
    for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
        extent = text.get_window_extent()
        assert extent.x0 >= box.x0 - 0.5 and extent.x1 <= box.x1 + 0.5, text.get_text()
        assert extent.y0 >= box.y0 - 0.5 and extent.y1 <= box.y1 + 0.5, text.get_text()


def test_bad_fontsize_is_refused_naming_the_parameter(fits):
    with pytest.raises(ValueError, match=r"fontsize must be in \(0, inf\), got 0.0"):
        plot_loss_curves(fits["full"], fontsize=0)
    with pytest.raises(TypeError, match="fontsize must be a real number"):
        plot_loss_curves(fits["full"], fontsize="big")


