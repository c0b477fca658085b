import numpy as np
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidFeaturesError, InvalidInputError
from micon.evaluation import project_profiles
from tests.parameters import parameter

PROJECTION = parameter("reporting.projection")


@pytest.mark.slow
def test_project_profiles_returns_pca_and_umap_per_stage_seeded(make_profiles):
    before = make_profiles(dim=5, seed=0)
    after = make_profiles(dim=3, seed=1)
    coordinates = project_profiles({"before": before, "after": after}, seed=0, umap_neighbors=5)
    assert list(coordinates.columns[:2]) == ["stage", "projection"]
    assert list(coordinates.columns[-2:]) == ["x", "y"]
    assert len(coordinates) == 2 * 2 * len(before)
    assert np.isfinite(coordinates[["x", "y"]].to_numpy()).all()
    pca = coordinates.loc[(coordinates["stage"] == "before") & (coordinates["projection"] == "PCA")]
    features = before[schema.feature_columns(before.columns)].to_numpy()
    centred = features - features.mean(axis=0)
    first_axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    assert abs(np.corrcoef(pca["x"], centred @ first_axis)[0, 1]) == pytest.approx(1.0)
    again = project_profiles({"before": before, "after": after}, seed=0, umap_neighbors=5)
    np.testing.assert_array_equal(coordinates[["x", "y"]].to_numpy(), again[["x", "y"]].to_numpy())


def test_project_profiles_too_few_wells_raises(make_profiles):
    with pytest.raises(InvalidInputError, match="2 wells"):
        project_profiles({"after": make_profiles().iloc[:2]}, **PROJECTION)


def test_project_profiles_small_neighbourhood_refused(make_profiles):
    with pytest.raises(InvalidConfigError, match="umap_neighbors"):
        project_profiles({"after": make_profiles()}, **{**PROJECTION, "umap_neighbors": 1})


def test_project_profiles_nan_feature_raises(make_profiles):
    profiles = make_profiles()
    profiles.loc[1, "emb_0000"] = np.nan
    with pytest.raises(InvalidFeaturesError, match="emb_0000"):
        project_profiles({"after": profiles}, **PROJECTION)


def test_project_profiles_nothing_to_project_raises():
    with pytest.raises(InvalidInputError, match="no profiles"):
        project_profiles({}, **PROJECTION)


def test_project_profiles_pca_only_draws_no_umap_and_unknown_projection_refused():
    import numpy as np
    import pandas as pd
    import pytest

    from micon.errors import InvalidConfigError
    from micon.evaluation.projection import project_profiles

    rng = np.random.default_rng(0)
    wells = pd.DataFrame(rng.normal(size=(6, 4)), columns=[f"emb_{i:04d}" for i in range(4)])
    coordinates = project_profiles({"before": wells}, seed=0, umap_neighbors=5, projections=["PCA"])
    assert set(coordinates["projection"]) == {"PCA"} and len(coordinates) == 6
    with pytest.raises(InvalidConfigError, match="tSNE"):
        project_profiles({"before": wells}, seed=0, umap_neighbors=5, projections=["tSNE"])
