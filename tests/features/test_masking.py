"""Time and frequency masking (--augment-mask): the bands drawn are the bands zeroed, seeded on the
host, training mode only, on every front-end."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.cli.main import build_parser
from detector.config import FRONTENDS, FeatureConfig
from detector.features.masking import MAX_BINS, MAX_FRAMES, SpecMask
from detector.models.detector import Detector


def _expected(spectrogram: np.ndarray, params: dict) -> np.ndarray:
    """The masking by its definition, one example at a time in NumPy."""
    out = spectrogram.copy()
    for k in range(out.shape[0]):
        if params["apply"][k]:
            rows = slice(int(params["row_start"][k]), int(params["row_start"][k] + params["row_width"][k]))
            columns = slice(int(params["column_start"][k]), int(params["column_start"][k] + params["column_width"][k]))
            out[k, :, rows, :] = 0.0
            out[k, :, :, columns] = 0.0
    return out


@pytest.mark.parametrize("shape", [(64, 1, 96, 201), (64, 3, 224, 224), (64, 1, 6, 5)])
def test_the_sampled_bands_are_the_ones_zeroed(shape):
    spectrogram = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) + 5.0   # no zeros by chance
    mask = SpecMask(0.6)
    params = mask.sample(shape[0], shape[2], shape[3], torch.Generator().manual_seed(2))
    out = mask.apply(spectrogram, params)
    expected = _expected(spectrogram.numpy(), {key: value.numpy() for key, value in params.items()})
    np.testing.assert_array_equal(out.numpy(), expected)
    assert (params["row_width"] <= min(MAX_BINS, shape[2])).all() and (params["column_width"] <= MAX_FRAMES).all()
    assert (params["row_start"] + params["row_width"] <= shape[2]).all()
    assert (params["column_start"] + params["column_width"] <= shape[3]).all()


def test_probability_and_seeding():
    mask = SpecMask(0.6)
    applied = mask.sample(20000, 80, 401, torch.Generator().manual_seed(3))["apply"].float().mean().item()
    assert abs(applied - 0.6) < 0.02
    spectrogram = torch.randn(8, 1, 80, 100)
    same = [SpecMask(1.0)(spectrogram, torch.Generator().manual_seed(4)) for _ in range(2)]
    assert torch.equal(*same) and not torch.equal(same[0], spectrogram)
    assert not torch.equal(same[0], SpecMask(1.0)(spectrogram, torch.Generator().manual_seed(5)))
    assert torch.equal(SpecMask(0.0)(spectrogram, torch.Generator().manual_seed(4)), spectrogram)
    with pytest.raises(ValueError, match="--augment-mask"):
        SpecMask(1.5)


def test_masking_reads_nothing_from_the_device():
    out = SpecMask(1.0)(torch.empty(4, 1, 80, 100, device="meta"), torch.Generator().manual_seed(0))
    assert out.device.type == "meta" and out.shape == (4, 1, 80, 100)


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_the_detector_masks_in_training_only_on_every_frontend(frontend):
    torch.manual_seed(0)
    model = Detector(16000, FeatureConfig(frontend=frontend, augment_mask=1.0))
    seen = []
    model.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    wave = 0.1 * torch.randn(3, 1, 16000, generator=torch.Generator().manual_seed(1))
    model.eval()
    model(wave)
    model.train()
    with pytest.raises(ValueError, match="generator"):
        model(wave)
    model(wave, torch.Generator().manual_seed(7))
    clean, masked = seen
    zeroed = (masked == 0) & (clean != 0)
    assert zeroed.any(), "training mode masked something"
    assert torch.equal(masked[~zeroed], clean[~zeroed]), "and changed nothing else"


def test_the_flag_reaches_the_config(monkeypatch, tmp_path):
    from detector.cli.commands.train import run as run_train_command

    class Finished:      # what the command prints after training
        best_eer, best_loss, best_epoch = 0.0, 0.0, 1

    seen = []
    monkeypatch.setattr("detector.engine.train.train",
                        lambda config, out, resume, **_: seen.append(config) or Finished())
    run_train_command(build_parser().parse_args(["train", "--out", str(tmp_path), "--augment-mask", "0.6"]))
    assert seen[0].features.augment_mask == 0.6
