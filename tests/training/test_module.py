import math

import pytest
import torch

from micon.errors import InvalidConfigError
from micon.models.micon import build_model
from micon.training.data import MiconDataModule
from micon.training.module import MiconModule, _warmup_cosine


@pytest.fixture()
def tiny_batch(tiny_crops, tiny_crop_index):
    datamodule = MiconDataModule(tiny_crops, tiny_crop_index, batch_rows=8, seed=0, steps_per_epoch=1)
    datamodule.setup("fit")
    return next(iter(datamodule.train_dataloader()))


@pytest.mark.slow
def test_micon_module_tiny_batch_overfits(tiny_batch, tiny_model_config):
    torch.manual_seed(0)
    module = MiconModule(build_model(tiny_model_config), temperature=0.2, lr=3e-3)
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
    module = MiconModule(build_model(tiny_model_config), cf_weight=0.5)
    losses = module.compute_losses(tiny_batch)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss"].item() == pytest.approx(
        losses["paclr"].item() + 0.5 * losses["cf"].item(), rel=1e-6
    )


def test_micon_module_counterfactual_loss_does_not_reach_encoder_backbone(tiny_batch, tiny_model_config):
    model = build_model(tiny_model_config)
    module = MiconModule(model)
    module.compute_losses(tiny_batch)["cf"].backward()
    assert all(p.grad is None for p in model.image_encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.molecule_encoder.parameters())


def test_micon_module_without_generator_gives_paclr_only(tiny_batch, tiny_model_config):
    model = build_model(tiny_model_config)
    losses = MiconModule(model, use_generator=False).compute_losses(tiny_batch)
    assert losses["cf"].item() == 0.0
    losses["loss"].backward()
    assert all(p.grad is None for p in model.generator.parameters())


def test_micon_module_predict_step_returns_encoder_embeddings(tiny_batch, tiny_model_config):
    module = MiconModule(build_model(tiny_model_config)).eval()
    out = module.predict_step(tiny_batch["treated_1"], 0)
    assert out.shape == (8, tiny_model_config.image.embedding_dim)
    assert torch.equal(out, module.model.image_encoder(tiny_batch["treated_1"]))


def test_micon_module_hparams_exclude_model(tiny_model_config):
    module = MiconModule(build_model(tiny_model_config), temperature=0.1)
    assert module.hparams.temperature == 0.1
    assert "model" not in module.hparams


def test_warmup_cosine_ramps_then_decays_to_zero():
    factors = [_warmup_cosine(s, warmup=4, total=10) for s in range(11)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0
    assert all(a >= b for a, b in zip(factors[4:], factors[5:], strict=False))
    assert factors[10] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "kwargs", [{"temperature": 0.0}, {"lr": -1.0}, {"max_steps": 0}, {"warmup_steps": -1}]
)
def test_micon_module_bad_settings_raise(tiny_model_config, kwargs):
    with pytest.raises(InvalidConfigError):
        MiconModule(build_model(tiny_model_config), **kwargs)
