"""Training-time image augmentation: flips and rotates as asked, seeded from the host, training mode only."""
import pytest
import torch
import torchvision.transforms.functional as TF

from detector.config import FeatureConfig
from detector.features.augment import ImageAugment
from detector.models.detector import Detector


def _pattern() -> torch.Tensor:
    """``(1, 3, 32, 32)``: a bright bar right of centre, upper half; a dim block bottom-left (no symmetry)."""
    image = torch.zeros(1, 3, 32, 32)
    image[:, :, 12:15, 22:30] = 1.0
    image[:, 0, 24:30, 2:6] = 0.5
    return image


def _apply(flip: bool, angle_deg: float) -> torch.Tensor:
    return ImageAugment(0.5, 10.0).apply(_pattern(), {"flip": torch.tensor([flip]),
                                                      "angle_deg": torch.tensor([angle_deg])})


def test_no_flip_and_no_angle_is_the_identity_and_a_flip_mirrors_left_right():
    assert torch.equal(_apply(False, 0.0), _pattern())
    assert torch.equal(_apply(True, 0.0), _pattern().flip(-1))


@pytest.mark.parametrize("flip, angle_deg", [(False, 10.0), (False, -10.0), (True, 7.5)])
def test_flip_then_rotation_matches_torchvision(flip, angle_deg):
    image = TF.hflip(_pattern()) if flip else _pattern()
    expected = TF.rotate(image, angle_deg, interpolation=TF.InterpolationMode.BILINEAR)
    assert torch.allclose(_apply(flip, angle_deg), expected, atol=1e-5)


def test_a_positive_angle_turns_counter_clockwise():
    """The bar right of centre rises, its far end the most (y points down; clockwise would lower it)."""
    rotated = _apply(False, 10.0)[0, 1]
    rows = torch.arange(32, dtype=torch.float32)[:, None]

    def centre_row(column: int) -> float:
        weights = rotated[:, column : column + 1]
        return float((rows * weights).sum() / weights.sum())

    assert centre_row(28) < centre_row(23) < 13.0


def test_rotation_fills_the_corners_with_black():
    rotated = ImageAugment(0.0, 10.0).apply(torch.ones(1, 3, 32, 32), {"flip": torch.tensor([False]),
                                                                       "angle_deg": torch.tensor([10.0])})
    assert rotated[0, :, 0, 0].max() < 0.5 and rotated[0, :, 16, 16].min() == 1.0


def test_parameters_are_drawn_per_example_on_the_host_from_the_seed():
    augment = ImageAugment(0.5, 10.0)
    first = augment.sample(2000, torch.Generator().manual_seed(3))
    again = augment.sample(2000, torch.Generator().manual_seed(3))
    other = augment.sample(2000, torch.Generator().manual_seed(4))
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["angle_deg"], other["angle_deg"])
    assert first["flip"].dtype == torch.bool and 0.45 < first["flip"].float().mean() < 0.55
    angles = first["angle_deg"]
    assert angles.abs().max() <= 10.0 and angles.min() < -9.5 and angles.max() > 9.5
    with pytest.raises(ValueError, match="CPU torch.Generator"):
        augment.sample(2, None)


def test_the_same_generator_seed_gives_the_same_batch_and_examples_differ():
    images = _pattern().repeat(8, 1, 1, 1)
    augment = ImageAugment(0.5, 10.0)
    out = augment(images, torch.Generator().manual_seed(0))
    assert torch.equal(out, augment(images, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, augment(images, torch.Generator().manual_seed(1)))
    assert out.unique(dim=0).shape[0] > 1


def _augmenting_detector() -> Detector:
    torch.manual_seed(0)
    return Detector(16000, FeatureConfig(frontend="seed-image", augment_flip=0.5, augment_rotate_deg=10.0))


def test_the_detector_augments_in_training_only_and_needs_the_step_generator_then():
    model, wave = _augmenting_detector(), torch.randn(3, 1, 8000, generator=torch.Generator().manual_seed(2))
    frontend = model.frontend
    seen = []
    model.backbone.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach().clone()))
    model.eval()
    model(wave, torch.Generator().manual_seed(0))
    assert torch.equal(seen[-1], frontend(wave))           # evaluation: never augmented
    model.train()
    model(wave, torch.Generator().manual_seed(0))
    params = model.augment.sample(3, torch.Generator().manual_seed(0))
    assert torch.allclose(seen[-1], frontend.normalise(model.augment.apply(frontend.image(wave), params)), atol=1e-6)
    assert not torch.allclose(seen[-1], frontend(wave))
    with pytest.raises(ValueError, match=r"model\(wave, generator\)"):
        model(wave)


def test_augmentation_needs_an_image_front_end():
    with pytest.raises(ValueError, match="--frontend logmel has none"):
        Detector(16000, FeatureConfig(frontend="logmel", augment_flip=0.5))
