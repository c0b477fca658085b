import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from micon.errors import InvalidInputError, MissingColumnsError
from micon.evaluation import (
    plot_embedding_maps,
    plot_map_distributions,
    plot_retrieval_comparison,
    plot_topk_curves,
)

SCENARIOS = ("NR", "NSB", "NSS")


def _metrics(offset: float) -> dict[str, dict[str, float]]:
    return {
        s: {
            "top1": 0.1 * i + offset,
            "top5": 0.5,
            "map": 0.2 + offset,
            "fraction_retrieved": 0.3,
            "n_queries": 10,
        }
        for i, s in enumerate(SCENARIOS)
    }


def _topk(offset: float) -> pd.DataFrame:
    return pd.DataFrame(
        [(s, k, min(1.0, 0.1 * k + offset)) for s in SCENARIOS for k in range(1, 6)],
        columns=["scenario", "k", "accuracy"],
    )


def test_plot_retrieval_comparison_grouped_bars_per_method_and_scenario():
    figure = plot_retrieval_comparison({"micon": _metrics(0.1), "clip": _metrics(0.0)})
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    for ax in figure.axes:
        containers = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert len(containers) == 2
        assert all(len(c) == len(SCENARIOS) for c in containers)
        assert [t.get_text() for t in ax.get_xticklabels()] == list(SCENARIOS)
    top1_heights = [bar.get_height() for bar in figure.axes[0].containers[0]]
    assert top1_heights == pytest.approx([0.1, 0.2, 0.3])


def test_plot_retrieval_comparison_figure_renders(tmp_path):
    figure = plot_retrieval_comparison({"micon": _metrics(0.1)})
    figure.savefig(tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 0


def test_plot_retrieval_comparison_empty_raises():
    with pytest.raises(InvalidInputError, match="no method"):
        plot_retrieval_comparison({})


def test_plot_retrieval_comparison_missing_map_raises_naming_method():
    metrics = {"micon": {"NR": {"top1": 0.5}}}
    with pytest.raises(InvalidInputError, match=r"micon.*NR.*map"):
        plot_retrieval_comparison(metrics)


def test_plot_topk_curves_one_line_per_method_per_scenario():
    figure = plot_topk_curves({"micon": _topk(0.1), "clip": _topk(0.0), "simclr": _topk(0.05)})
    assert isinstance(figure, Figure)
    assert [ax.get_title() for ax in figure.axes] == list(SCENARIOS)
    assert all(len(ax.get_lines()) == 3 for ax in figure.axes)
    assert list(figure.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]


def test_plot_topk_curves_empty_raises():
    with pytest.raises(InvalidInputError, match="no top-k"):
        plot_topk_curves({})


def test_plot_topk_curves_table_without_rows_raises():
    with pytest.raises(InvalidInputError, match="no scenario"):
        plot_topk_curves({"micon": _topk(0.0).iloc[:0]})


def test_plot_topk_curves_missing_column_raises_naming_method():
    with pytest.raises(MissingColumnsError, match=r"micon.*accuracy"):
        plot_topk_curves({"micon": _topk(0.0).drop(columns=["accuracy"])})


def test_plot_training_history_one_line_per_loss():
    from micon.evaluation import plot_training_history

    history = pd.DataFrame(
        {"step": [0, 10, 20], "loss": [3.0, 2.0, 1.5], "paclr": [2.0, 1.5, 1.0], "cf": [1.0, 0.5, 0.5]}
    )
    fig = plot_training_history(history)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "paclr", "cf"]
    assert list(ax.get_lines()[0].get_ydata()) == [3.0, 2.0, 1.5]


def test_plot_training_history_draws_the_learning_rate_on_its_own_axes():
    from micon.evaluation import plot_training_history

    history = pd.DataFrame({"step": [0, 10, 20], "loss": [3.0, 2.0, 1.5], "lr": [1e-4, 1e-3, 5e-4]})
    losses, rate = plot_training_history(history, title="MICON").axes
    assert [line.get_label() for line in losses.get_lines()] == ["loss"]  # not the learning rate
    assert list(rate.get_lines()[0].get_ydata()) == [1e-4, 1e-3, 5e-4]
    assert rate.get_ylabel() == "learning rate"


def test_plot_training_history_without_losses_raises():
    from micon.evaluation import plot_training_history

    with pytest.raises(InvalidInputError, match="loss columns"):
        plot_training_history(pd.DataFrame({"step": [0, 1], "lr": [0.1, 0.1]}))


def _compound_map(offset: float) -> pd.DataFrame:
    rows = [(s, f"C{c}", min(1.0, 0.1 * c + offset), 0.01, True) for s in SCENARIOS for c in range(5)]
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "Metadata_JCP2022",
            "mean_average_precision",
            "corrected_p_value",
            "below_corrected_p",
        ],
    )


def test_plot_map_distributions_one_panel_per_scenario_one_box_per_method():
    figure = plot_map_distributions({"micon": _compound_map(0.2), "cellprofiler": _compound_map(0.0)})
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == list(SCENARIOS)
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["micon", "cellprofiler"]


def test_plot_map_distributions_empty_raises():
    with pytest.raises(InvalidInputError, match="no compound mAP"):
        plot_map_distributions({})


def test_plot_map_distributions_missing_column_names_method():
    with pytest.raises(MissingColumnsError, match="clip"):
        plot_map_distributions({"clip": _compound_map(0.0).drop(columns=["mean_average_precision"])})


def _coordinates() -> pd.DataFrame:
    rows = []
    for stage in ("before", "after"):
        for projection in ("PCA", "UMAP"):
            for i in range(6):
                rows.append(
                    {
                        "stage": stage,
                        "projection": projection,
                        "Metadata_Source": f"source_{i % 2}",
                        "Metadata_JCP2022": "JCP2022_033924" if i == 0 else f"C{i % 3}",
                        "x": float(i),
                        "y": float(-i),
                    }
                )
    return pd.DataFrame(rows)


def test_plot_embedding_maps_rows_per_stage_and_projection():
    figure = plot_embedding_maps(_coordinates(), title="micon")
    axes = figure.get_axes()
    assert len(axes) == 4 * 2
    assert axes[0].get_title().startswith("PCA, before correction: by compound")
    assert axes[1].get_title().startswith("PCA, before correction: by source")
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["source_0", "source_1"]


def test_plot_embedding_maps_empty_raises():
    with pytest.raises(InvalidInputError, match="no embedding coordinates"):
        plot_embedding_maps(_coordinates().iloc[:0])


def test_plot_embedding_maps_missing_column_raises():
    with pytest.raises(MissingColumnsError, match="Metadata_Source"):
        plot_embedding_maps(_coordinates().drop(columns=["Metadata_Source"]))
