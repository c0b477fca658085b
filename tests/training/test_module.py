import math

import pytest
import torch

from micon.errors import InvalidConfigError, UnknownNameError
from micon.models.micon import MiconModel, build_model
from micon.training.data import BATCH_FIELDS
from micon.training.methods import list_methods
from micon.training.module import MiconModule, _warmup_cosine
from tests.training.conftest import module_settings, objective_of, tiny_datamodule, tiny_model_config_of

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


def test_cellclip_cwcl_weights_come_from_molecule_similarity(tiny_batch, tiny_model_config):
    torch.manual_seed(0)
    module = _module(_model("cellclip"), "cellclip")
    tanimoto = module.compute_losses(tiny_batch)
    identity = dict(tiny_batch, molecule_similarity=torch.eye(tiny_batch["molecule_similarity"].shape[0]))
    hard = module.compute_losses(identity)
    assert hard["clip"].item() == pytest.approx(tanimoto["clip"].item(), rel=1e-6)
    # near initialisation all projections are alike, so the weights move the loss only a little
    assert hard["cwcl"].item() != pytest.approx(tanimoto["cwcl"].item(), rel=1e-6)


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
