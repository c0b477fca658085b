import math

import pytest
import torch
from torch_geometric.data import Batch

from micon import schema
from micon.errors import InvalidConfigError, UnknownNameError
from micon.models import LogitScale, cwcl_loss, image_soft_targets
from micon.models.micon import MiconModel, build_model, merge_params
from micon.training import objectives
from micon.training.data import BATCH_FIELDS
from micon.training.methods import build_model_config, list_methods
from micon.training.module import MiconModule, _warmup_cosine
from tests.parameters import parameter
from tests.training.conftest import (
    module_settings,
    objective_of,
    tiny_datamodule,
    tiny_model_config_of,
    tiny_model_params,
)

TRAINED_METHODS = list_methods("trained")


@pytest.fixture()
def tiny_batch(tiny_crops, tiny_crop_index):
    """A batch of every field, which each method's loss reads its own fields from."""
    datamodule = tiny_datamodule(
        tiny_crops, tiny_crop_index, batch_rows=8, seed=0, steps_per_epoch=1, fields=BATCH_FIELDS
    )
    datamodule.setup("fit")
    return next(iter(datamodule.train_dataloader()))


def _model(method: str) -> MiconModel:
    return build_model(tiny_model_config_of(method))


def _module(model: MiconModel, method: str = "micon", objective=None, **settings) -> MiconModule:
    objective = objective if objective is not None else objective_of(method)
    return MiconModule(model, method=method, objective=objective, **module_settings(**settings))


@pytest.mark.slow
def test_micon_module_tiny_batch_overfits(tiny_batch, tiny_model_config):
    torch.manual_seed(0)
    objective = objective_of("micon", paclr_temperature=0.2, cf_temperature=0.2)
    module = _module(build_model(tiny_model_config), objective=objective, lr=3e-3)
    optimizer = torch.optim.AdamW(module.parameters(), lr=3e-3)
    losses = []
    for _ in range(50):
        loss = module.compute_losses(tiny_batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # SupCon L_out >= mean over anchors of log|P(i)| (Jensen), for PaCLR and for each view's L_cf.
    labels = tiny_batch["compound_labels"].tolist()
    paclr_labels = labels * 2 + [-1] * (2 * len(labels))
    floor = _supcon_floor(paclr_labels) + _supcon_floor(labels * 2)
    assert losses[-1] - floor < 0.25 * (losses[0] - floor)


def _supcon_floor(labels: list[int]) -> float:
    n_pos = [labels.count(y) - 1 for y in labels]
    return sum(math.log(n) for n in n_pos if n > 0) / sum(n > 0 for n in n_pos)


def test_micon_module_losses_finite_and_total_combines_parts(tiny_batch, tiny_model_config):
    objective = objective_of("micon", paclr_weight=2.0, cf_weight=0.5)
    losses = _module(build_model(tiny_model_config), objective=objective).compute_losses(tiny_batch)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss"].item() == pytest.approx(
        2.0 * losses["paclr"].item() + 0.5 * losses["cf"].item(), rel=1e-6
    )


def test_micon_module_separate_temperatures_reach_their_losses(tiny_batch, tiny_model_config):
    torch.manual_seed(0)
    model = build_model(tiny_model_config)
    base = _module(model).compute_losses(tiny_batch)
    hot_cf = _module(model, objective=objective_of("micon", cf_temperature=1.0)).compute_losses(tiny_batch)
    assert hot_cf["paclr"].item() == pytest.approx(base["paclr"].item(), rel=1e-6)
    assert hot_cf["cf"].item() != pytest.approx(base["cf"].item(), rel=1e-3)


def test_micon_module_counterfactual_loss_does_not_reach_encoder_backbone(tiny_batch, tiny_model_config):
    model = build_model(tiny_model_config)
    _module(model).compute_losses(tiny_batch)["cf"].backward()
    assert all(p.grad is None for p in model.image_encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.molecule_encoder.parameters())


def test_micon_module_without_stop_gradient_counterfactual_reaches_encoder(tiny_batch, tiny_model_config):
    model = build_model(tiny_model_config)
    objective = objective_of("micon", detach_control=False, detach_treated=False)
    _module(model, objective=objective).compute_losses(tiny_batch)["cf"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.image_encoder.parameters())


def test_micon_module_zero_cf_weight_gives_paclr_only(tiny_batch, tiny_model_config):
    model = build_model(tiny_model_config)
    losses = _module(model, objective=objective_of("micon", cf_weight=0.0)).compute_losses(tiny_batch)
    assert losses["cf"].item() == 0.0
    losses["loss"].backward()
    assert all(p.grad is None for p in model.generator.parameters())


@pytest.mark.parametrize("method", TRAINED_METHODS)
def test_every_method_loss_is_finite_and_trains_the_image_encoder(tiny_batch, tiny_model_config, method):
    torch.manual_seed(0)
    model = _model(method)
    module = _module(model, method)
    losses = module.compute_losses(tiny_batch, augment=True)
    assert set(losses) == {"loss", *module.loss_parts}
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.image_encoder.parameters())


@pytest.mark.parametrize("method", ["clip", "cellclip"])
def test_alignment_methods_train_the_molecule_encoder(tiny_batch, tiny_model_config, method):
    model = _model(method)
    _module(model, method).compute_losses(tiny_batch)["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.molecule_encoder.parameters())


def _cwcl_weights(monkeypatch, module: MiconModule, batch) -> torch.Tensor:
    """Return the weights CellCLIP's loss hands its CWCL image -> molecule term for ``batch``."""
    seen: list[torch.Tensor] = []

    def spy(query, keys, weights, *, temperature):
        seen.append(weights.detach().clone())
        return cwcl_loss(query, keys, weights, temperature=temperature)

    monkeypatch.setattr(objectives, "cwcl_loss", spy)
    module.compute_losses(batch)
    return seen[0]  # the first call is CWCL image -> molecule; the second CLIP molecule -> image


def test_cellclip_soft_targets_are_frozen_image_features_not_fingerprints(monkeypatch, tiny_batch):
    torch.manual_seed(0)
    module = _module(_model("cellclip"), "cellclip")
    weights = _cwcl_weights(monkeypatch, module, tiny_batch)
    rows = tiny_batch["molecule_index"].repeat(2)
    crops = torch.cat([tiny_batch["treated_1"], tiny_batch["treated_2"]])
    assert torch.allclose(weights, image_soft_targets(module.model.frozen_features(crops), rows))
    # identical fingerprints (similarity 1 everywhere) and other molecules (SMILES changed): same weights
    g = tiny_batch["molecule_similarity"].shape[0]
    same_prints = dict(tiny_batch, molecule_similarity=torch.ones(g, g))
    assert torch.equal(_cwcl_weights(monkeypatch, module, same_prints), weights)
    order = torch.arange(g).flip(0)
    other_smiles = dict(
        tiny_batch, molecules=Batch.from_data_list(tiny_batch["molecules"].index_select(order))
    )
    assert torch.equal(_cwcl_weights(monkeypatch, module, other_smiles), weights)
    # ... but compounds of identical fingerprints with different images get different weights
    other = rows[:, None] != rows[None, :]
    assert other.any() and (weights[other] < 1.0).all() and weights[other].unique().numel() > 1
    # and other images change them
    swapped = dict(tiny_batch, treated_1=tiny_batch["treated_1"].flip(1))
    assert not torch.allclose(_cwcl_weights(monkeypatch, module, swapped), weights)


def test_cellclip_tanimoto_soft_targets_remain_an_option(monkeypatch, tiny_batch):
    objective = objective_of("cellclip", soft_targets="tanimoto")
    module = _module(_model("cellclip"), "cellclip", objective=objective)
    rows = tiny_batch["molecule_index"].repeat(2)
    expected = tiny_batch["molecule_similarity"][rows][:, rows]
    assert torch.equal(_cwcl_weights(monkeypatch, module, tiny_batch), expected)


def test_cellclip_soft_targets_per_sample_differ_within_a_compound(monkeypatch, tiny_batch):
    objective = objective_of("cellclip", soft_target_groups="sample")
    module = _module(_model("cellclip"), "cellclip", objective=objective)
    weights = _cwcl_weights(monkeypatch, module, tiny_batch)
    rows = tiny_batch["molecule_index"].repeat(2)
    mates = (rows[:, None] == rows[None, :]) & ~torch.eye(rows.numel(), dtype=torch.bool)
    assert torch.allclose(weights.diagonal(), torch.ones(rows.numel()))
    assert (weights[mates] < 1.0).any()


@pytest.mark.parametrize(
    ("method", "overrides"), [("clip", {}), ("clip", {"loss": "cloob"}), ("cellclip", {})], ids=str
)
def test_learned_temperature_starts_at_the_configured_one_and_moves(tiny_batch, method, overrides):
    torch.manual_seed(0)
    objective = objective_of(method, **overrides)
    module = _module(_model(method), method, objective=objective, lr=1e-2)
    scale = module.model.logit_scale
    assert objective.learn_temperature and scale.temperature == pytest.approx(objective.temperature)
    optimizer = module.configure_optimizers()["optimizer"]
    assert any(scale.log_scale is p for group in optimizer.param_groups for p in group["params"])
    assert [g["weight_decay"] for g in optimizer.param_groups if g["params"][0] is scale.log_scale] == [0.0]
    for _ in range(3):
        loss = module.compute_losses(tiny_batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert scale.temperature != pytest.approx(objective.temperature, rel=1e-4)


@pytest.mark.parametrize("method", ["clip", "cellclip"])
def test_fixed_temperature_stays_fixed(tiny_batch, method):
    objective = objective_of(method, learn_temperature=False, temperature=0.2)
    module = _module(_model(method), method, objective=objective)
    optimizer = module.configure_optimizers()["optimizer"]
    scale = module.model.logit_scale
    assert not scale.log_scale.requires_grad
    assert all(p is not scale.log_scale for group in optimizer.param_groups for p in group["params"])
    loss = module.compute_losses(tiny_batch)["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert scale.temperature == pytest.approx(0.2)


def test_logit_scale_is_clamped_at_100():
    scale = LogitScale()
    scale.reset(0.001, learnable=True)
    assert scale().item() == pytest.approx(100.0)
    with torch.no_grad():
        scale.log_scale.fill_(10.0)
    assert scale().item() == pytest.approx(100.0)
    scale.clamp_()
    assert scale.log_scale.item() == pytest.approx(math.log(100.0))


def _method_model(method: str, **image) -> MiconModel:
    """Return a tiny model of ``method`` with the method's conf/base model overrides (and ``image``)."""
    overrides = merge_params(parameter(f"modeling.methods.{method}.model", env="base"), {"image": image})
    params = merge_params(tiny_model_params(), overrides)
    return build_model(build_model_config(method, params, channels=schema.CHANNELS))


def _inputs_of(module: torch.nn.Module, calls: list) -> None:
    module.register_forward_pre_hook(lambda _, args: calls.append(args[0].detach().clone()))


@pytest.mark.parametrize(("l2_normalize", "unit"), [(None, True), (False, False)], ids=["base", "raw"])
def test_micon_head_and_generator_see_unit_norm_encoder_outputs_by_default(tiny_batch, l2_normalize, unit):
    torch.manual_seed(0)
    model = _method_model("micon", **({} if l2_normalize is None else {"l2_normalize": l2_normalize}))
    head, generator = [], []
    _inputs_of(model.projection_head, head)
    _inputs_of(model.generator, generator)
    _module(model, "micon").compute_losses(tiny_batch)
    b = tiny_batch["compound_labels"].numel()
    assert head[0].shape[0] == 4 * b and generator[0].shape[0] == 2 * b
    for seen in (head[0], generator[0], model.embed(tiny_batch["treated_1"]).detach()):
        norms = seen.norm(dim=1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5) == unit


@pytest.mark.parametrize("method", ["paclr", "micon_per_channel"])
def test_paclr_and_per_channel_micon_head_sees_unit_norm_encoder_outputs(tiny_batch, method):
    model = _method_model(method, **({"embedding_dim": 10} if method == "micon_per_channel" else {}))
    head = []
    _inputs_of(model.projection_head, head)
    _module(model, method).compute_losses(tiny_batch)
    assert torch.allclose(head[0].norm(dim=1), torch.ones(head[0].shape[0]), atol=1e-5)


@pytest.mark.parametrize(
    ("crops", "changed", "kept"), [("all", "crops", "treated_1"), ("treated", "treated_1", "crops")]
)
def test_simclr_trains_on_the_crops_its_objective_names(tiny_batch, crops, changed, kept):
    module = _module(_model("simclr"), "simclr", objective=objective_of("simclr", crops=crops))

    def loss(batch) -> float:
        return module.compute_losses(batch, augment=True, generator=torch.Generator().manual_seed(0))[
            "loss"
        ].item()

    base = loss(tiny_batch)
    assert loss(dict(tiny_batch, **{kept: tiny_batch[kept].flip(-1) * 2})) == pytest.approx(base, rel=1e-6)
    assert loss(dict(tiny_batch, **{changed: tiny_batch[changed].flip(1)})) != pytest.approx(base, rel=1e-6)


def test_simclr_without_augmentation_raises(tiny_batch, tiny_model_config):
    module = _module(_model("simclr"), "simclr")
    with pytest.raises(InvalidConfigError, match="augment"):
        module.compute_losses(tiny_batch, augment=False)


def test_simclr_augmentation_overrides_replace_shared_fields(tiny_batch):
    torch.manual_seed(0)
    objective = objective_of("simclr", augmentation={"intensity_jitter": 0.3})
    module = _module(_model("simclr"), "simclr", objective=objective, rot90=False)
    plain = _module(module.model, "simclr", objective=objective_of("simclr", augmentation={}), rot90=False)
    assert module.augmentation.rot90 is False and plain.augmentation.intensity_jitter == 0.0

    def losses(m: MiconModule) -> float:
        return m.compute_losses(tiny_batch, augment=True, generator=torch.Generator().manual_seed(0))["loss"]

    assert losses(module).item() != pytest.approx(losses(plain).item(), rel=1e-6)


def test_micon_module_predict_step_returns_model_embeddings(tiny_batch, tiny_model_config):
    module = _module(build_model(tiny_model_config)).eval()
    out = module.predict_step(tiny_batch["treated_1"], 0)
    assert out.shape == (8, tiny_model_config.image.embedding_dim)
    assert torch.equal(out, module.model.image_encoder(tiny_batch["treated_1"]))


def test_micon_module_hparams_hold_objective_not_model(tiny_model_config):
    module = _module(build_model(tiny_model_config), objective=objective_of("micon", cf_weight=0.3))
    assert module.hparams.method == "micon"
    assert module.hparams.objective["cf_weight"] == 0.3
    assert "model" not in module.hparams


def test_micon_module_objective_of_other_method_raises(tiny_model_config):
    with pytest.raises(InvalidConfigError, match="ClipObjectiveConfig"):
        _module(build_model(tiny_model_config), objective=objective_of("clip"))


def test_micon_module_model_parts_of_other_method_raise(tiny_model_config):
    with pytest.raises(InvalidConfigError, match="'paclr' needs a model with parts"):
        _module(build_model(tiny_model_config), "paclr")


def test_micon_module_unknown_method_raises(tiny_model_config):
    with pytest.raises(UnknownNameError, match="dino"):
        _module(build_model(tiny_model_config), "dino", objective=objective_of("micon"))


def test_warmup_cosine_ramps_then_decays_to_zero():
    factors = [_warmup_cosine(s, warmup=4, total=10) for s in range(11)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0
    assert all(a >= b for a, b in zip(factors[4:], factors[5:], strict=False))
    assert factors[10] == pytest.approx(0.0)


@pytest.mark.parametrize("kwargs", [{"lr": -1.0}, {"max_steps": 0}, {"warmup_steps": -1}])
def test_micon_module_bad_settings_raise(tiny_model_config, kwargs):
    with pytest.raises(InvalidConfigError):
        _module(build_model(tiny_model_config), **kwargs)
