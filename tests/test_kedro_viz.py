"""What kedro-viz shows: every dataset in its layer, every node tagged by stage, every parameter found.

Cheap: the pipelines are built and each environment's configuration is loaded, nothing runs.
"""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

import pytest
from kedro.framework.project import pipelines, settings
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog

from micon.pipelines.stages import STAGES, stage_of
from tests.kedro_project import PROJECT_ROOT

ENVIRONMENTS = ("base", "test", "benchmark", "jump", "bbbc021")
# The layer of each data folder (Kedro's layered data convention, data/<NN>_<layer>/).
FOLDER_LAYERS = {
    "01_raw": "raw",
    "02_intermediate": "intermediate",
    "03_primary": "primary",
    "04_feature": "feature",
    "05_model_input": "model_input",
    "06_models": "models",
    "07_model_output": "model_output",
    "08_reporting": "reporting",
}
_FOLDER = re.compile(r"/(0\d_[a-z_]+)/")
# Quarantine tables (02_intermediate/quarantine/) have a layer of their own: every stage writes one, so
# in "intermediate" they would put intermediate both before and after model_input (kedro-viz then drops
# the layers for a cycle).
_QUARANTINE = "/02_intermediate/quarantine/"


@pytest.fixture(scope="module")
def configs() -> dict[str, tuple[DataCatalog, dict[str, Any]]]:
    """Each environment's catalog and parameters, loaded as a Kedro session loads them."""
    bootstrap_project(PROJECT_ROOT)
    loaded = {}
    for env in ENVIRONMENTS:
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=str(PROJECT_ROOT / settings.CONF_SOURCE), env=env, **settings.CONFIG_LOADER_ARGS
        )
        loaded[env] = (DataCatalog.from_config(loader["catalog"]), loader["parameters"])
    return loaded


def _memory_layer(name: str, catalog: DataCatalog) -> str:
    """The layer of a dataset without a file: raw for a source input, else the layer its producer reads."""
    producers = [n for p in pipelines.values() for n in p.nodes if name in n.outputs]
    if not producers:
        return "raw"
    read = {
        ((getattr(catalog.get(i), "metadata", None) or {}).get("kedro-viz") or {}).get("layer")
        for n in producers
        for i in n.inputs
        if not i.startswith("params:") and i in catalog
    }
    assert len(read) == 1, (name, read)
    return read.pop()


def _registered_datasets() -> list[str]:
    names = set().union(*(p.datasets() for p in pipelines.values()))
    return sorted(n for n in names if not n.startswith("params:") and n != "parameters")


def test_every_dataset_of_every_environment_has_its_folders_layer(configs):
    for env, (catalog, _) in configs.items():
        wrong = {}
        for name in _registered_datasets():
            if name not in catalog:  # another environment's source input (e.g. jump_gallery in base)
                continue
            dataset = catalog.get(name)
            layer = ((getattr(dataset, "metadata", None) or {}).get("kedro-viz") or {}).get("layer")
            described = dataset._describe()
            folder = _FOLDER.search(str(described.get("filepath", described.get("path", ""))))
            # a source input read in place (shared data, a bucket) is raw; a node's output held in memory
            # (a run's evaluation bundle) lies in the layer of the outputs it gathers
            expected = FOLDER_LAYERS[folder.group(1)] if folder else _memory_layer(name, catalog)
            if _QUARANTINE in str(described.get("filepath", "")):
                expected = "quarantine"
            if layer != expected:
                wrong[name] = (layer, expected)
        assert wrong == {}, env


def test_every_parameter_a_registered_pipeline_reads_resolves_in_every_environment(configs):
    """kedro-viz shows every registered pipeline in every environment: a missing one is a warning there."""
    names = sorted({n for p in pipelines.values() for n in p.inputs() if n.startswith("params:")})
    assert names
    for env, (_, params) in configs.items():
        missing = []
        for name in names:
            section: Any = params
            for key in name.removeprefix("params:").split("."):
                if not isinstance(section, dict) or key not in section:
                    missing.append(name)
                    break
                section = section[key]
        assert missing == [], env


def test_every_node_is_tagged_with_its_stage():
    untagged = sorted({n.name for p in pipelines.values() for n in p.nodes if stage_of(n.name) is None})
    assert untagged == [], "add these nodes to micon.pipelines.stages"
    stages = set(STAGES.values())
    for name, pipeline in pipelines.items():
        for node in pipeline.nodes:
            assert stage_of(node.name) in node.tags and len(node.tags & stages) == 1, (name, node.name)
    assert {"modeling", "training"} <= pipelines["__default__"].only_nodes_with_tags("training").nodes[0].tags


def test_layers_follow_the_flow_of_every_pipeline_so_kedro_viz_draws_them(configs):
    """kedro-viz orders layers by the nodes between them and drops them all when two depend on each other."""
    for env, (catalog, _) in configs.items():

        def layer(name: str, catalog: DataCatalog = catalog) -> str | None:
            if name.startswith("params:") or name == "parameters" or name not in catalog:
                return None
            return ((getattr(catalog.get(name), "metadata", None) or {}).get("kedro-viz") or {}).get("layer")

        graph: dict[str, set[str]] = {}
        for pipeline in pipelines.values():
            for node in pipeline.nodes:
                inputs = {layer(n) for n in node.inputs} - {None}
                for output in {layer(n) for n in node.outputs} - {None}:
                    graph.setdefault(output, set()).update(inputs - {output})
        try:
            tuple(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            pytest.fail(f"{env}: layers in a cycle {exc.args[1]}")
