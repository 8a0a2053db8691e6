"""Detector model: shapes, score convention, local ImageNet initialisation, freezing."""
import pytest
import torch
import torchvision

from detector.config import ModelConfig
from detector.models.detector import Detector, load_imagenet_weights, resnet18_backbone, scores_from_logits


def test_waveform_to_two_logits_and_scores():
    model = Detector().eval()
    logits = model(torch.zeros(2, 1, 16000).uniform_(-0.5, 0.5))
    assert logits.shape == (2, 2)
    torch.testing.assert_close(scores_from_logits(logits), logits[:, 1] - logits[:, 0])


def test_imagenet_stem_folding_equals_replicating_the_spectrogram(tmp_path):
    imagenet = torchvision.models.resnet18(weights=None).eval()   # stands in for a local weights file
    torch.save(imagenet.state_dict(), tmp_path / "resnet18.pth")
    ours = resnet18_backbone(dropout=0.0).eval()
    load_imagenet_weights(ours, tmp_path / "resnet18.pth")
    spectrogram = torch.randn(2, 1, 64, 96)
    imagenet.fc = torch.nn.Identity()
    ours.fc = torch.nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(ours(spectrogram), imagenet(spectrogram.expand(-1, 3, -1, -1)),
                                   atol=1e-4, rtol=1e-4)


def test_bad_pretrained_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth: pretrained weights file not found"):
        Detector(model=ModelConfig(pretrained=str(tmp_path / "nope.pth")))
    torch.save({"conv1.weight": torch.zeros(64, 1, 7, 7)}, tmp_path / "gray.pth")
    with pytest.raises(ValueError, match="gray.pth: expected a torchvision resnet18"):
        Detector(model=ModelConfig(pretrained=str(tmp_path / "gray.pth")))
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(ValueError, match="junk.pth: not a loadable"):
        Detector(model=ModelConfig(pretrained=str(tmp_path / "junk.pth")))


def test_freezing_leaves_only_the_head_trainable():
    model = Detector()
    model.set_backbone_frozen(True)
    trainable = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert trainable == {"fc.1.weight", "fc.1.bias"}
    model.set_backbone_frozen(False)
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_scores_are_float32_without_artificial_ties_under_bf16_autocast():
    """The head runs in float32 under autocast: bf16 logits would quantise the scores into ties."""
    model = Detector().eval()
    wave = 0.1 * torch.randn(64, 1, 8000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact = scores_from_logits(model(wave))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = scores_from_logits(model(wave))
    assert mixed.dtype == torch.float32
    assert mixed.unique().numel() == exact.unique().numel() == 64
    # What the bf16 head used to give: the same logits rounded to bf16 collapse into ties.
    assert (exact.bfloat16().float().unique().numel()) < 64
    # The bf16 backbone still perturbs each score (measured here: at most ~0.5 % of its size).
    torch.testing.assert_close(mixed, exact, rtol=2e-2, atol=2e-2)
