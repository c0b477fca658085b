import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError
from micon.evaluation import report_content
from micon.evaluation.html_report import figure_item
from micon.evaluation.report_content import ReportConfig, ReportInputs, build_report

RUNS = ("known_truth", "micon", "untrained")
LEVELS = ("NR", "NSS")


def _inputs() -> ReportInputs:
    rng = np.random.default_rng(0)
    comparison = pd.DataFrame(
        [
            {
                "method": run,
                "chain": chain,
                "NR_top1": v,
                "NSS_top1": v / 2,
                "NSS_top1_ci_low": v / 3,
                "NSS_top1_ci_high": v,
                "source_knn_accuracy": 1 - v,
                "n_seeds": 1,
            }
            for run, v in zip(RUNS, (0.9, 0.5, 0.2), strict=True)
            for chain in ("raw", "default")
        ]
    )
    differences = pd.DataFrame(
        {
            "method": "micon",
            "peer": ["untrained"],
            "chain": "default",
            "metric": "NSS_top1",
            "difference": [0.15],
            "ci_low": [0.05],
            "ci_high": [0.25],
            "n_seeds": 1,
            "n_compounds": 4,
            "interval": "compounds",
        }
    )
    compounds = [f"JCP{i}" for i in range(3)] + [schema.DMSO_JCP2022]
    wells = pd.DataFrame(
        {
            schema.SOURCE: ["s1", "s2"] * 4,
            schema.JCP2022: compounds * 2,
            schema.MOA: ["a", "b", "a", "DMSO"] * 2,
        }
    )
    coordinates = pd.concat(
        [
            wells.assign(stage=stage, projection="PCA", x=rng.normal(size=8), y=rng.normal(size=8))
            for stage in ("before", "after")
        ],
        ignore_index=True,
    )
    crop_index = pd.DataFrame({schema.CROP_ID: range(8), schema.JCP2022: compounds * 2})
    return ReportInputs(
        comparison=comparison,
        differences=differences,
        diagnostics=pd.DataFrame({"run": list(RUNS), "effective_rank": [3.0, 2.5, 1.2]}),
        quarantine=pd.DataFrame({"stage": ["standardize"], "reason": ["invalid_smiles"], "n_items": [1]}),
        retrieval_metrics={
            run: {"default": {level: {"top1": 0.5, "map": 0.4} for level in LEVELS}} for run in RUNS
        },
        histories={
            "micon": pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.0, 1.0], "lr": [1e-4, 1e-3, 5e-4]})
        },
        topk={
            run: pd.DataFrame({"scenario": ["NR", "NR"], "k": [1, 2], "accuracy": [0.5, 0.6]}) for run in RUNS
        },
        compound_maps={
            run: pd.DataFrame({"scenario": ["NR"] * 3, "mean_average_precision": [0.2, 0.4, 0.6]})
            for run in RUNS
        },
        normalization_logs={
            run: pd.DataFrame(
                {
                    "position": [0],
                    "step": ["pca"],
                    "n_features_in": [8],
                    "n_features_out": [4],
                    "changed": [True],
                }
            )
            for run in RUNS
        },
        coordinates={"micon": coordinates},
        crops=rng.integers(0, 4000, size=(8, 2, 6, 6), dtype=np.uint16),
        channels=("DNA", "RNA"),
        crop_index=crop_index,
        run={
            "run_id": "2026-01-02T03.04.05.000Z",
            "commit": "abc123",
            "dirty": False,
            "command": "kedro run",
        },
        parameters={"retrieval": {"scenarios": {"NR": [], "NSS": ["Metadata_Source"]}}},
    )


CONFIG = ReportConfig(
    headline_metrics=("NR_top1", "NSS_top1"), montage_crops_per_compound=2, montage_max_compounds=3, seed=0
)


def test_build_report_has_every_section_with_captions_best_marks_and_glossary(monkeypatch):
    # figures drawn at a tiny resolution: the test reads the page, not the pixels (and stays fast)
    monkeypatch.setattr(
        report_content, "figure_item", lambda figure, **kw: figure_item(figure, **kw | {"dpi": 10})
    )
    page = build_report(_inputs(), CONFIG, chain="default", references=["known_truth"], floors=["untrained"])
    for heading in (
        "Headline comparison",
        "MICON against each peer",
        "Retrieval at every level",
        "Training curves",
        "Embedding maps",
        "Example crops per compound",
        "Diagnostics",
        "Normalisation steps",
        "Quarantined items",
        "Every metric, every chain",
        "Glossary",
    ):
        assert f">{heading}</h2>" in page, heading
    assert "{{" not in page and "{%" not in page
    assert "2026-01-02T03.04.05.000Z" in page and "abc123" in page
    headline = page.split('id="headline"')[1].split("</section>")[0]
    assert "known truth (latent state)" in headline and "untrained encoder" in headline
    assert headline.count('class="best') == 2  # MICON is the only ranked method: best in both columns
    assert "[0.167, 0.500]" in headline  # MICON's NSS interval under its estimate
    # a caption for every table and every figure
    assert page.count("<table>") == page.count("<caption>") and page.count("<figure>") == page.count(
        "<figcaption>"
    )
    assert page.count("<figure>") == 6  # retrieval, top-k, mAP, training, one map, montage
    assert "NSS (not same source)" in page and "top-1" in page and "8 → 4" in page


def test_report_config_refuses_an_empty_headline_and_a_zero_montage():
    with pytest.raises(InvalidConfigError, match="headline_metrics"):
        ReportConfig(headline_metrics=(), montage_crops_per_compound=1, montage_max_compounds=1, seed=0)
    with pytest.raises(InvalidConfigError, match="montage_max_compounds"):
        ReportConfig(
            headline_metrics=("NR_top1",), montage_crops_per_compound=1, montage_max_compounds=0, seed=0
        )
