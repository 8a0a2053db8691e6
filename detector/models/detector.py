"""The detector: a front-end (log constant-Q by default, see :mod:`detector.features`) + ResNet-18, mapping a
raw waveform to two logits.

Class 1 is bona fide, class 0 spoof; the score is ``logit[1] - logit[0]`` (the log
posterior ratio under equal priors), so higher means more bona fide, as ASVspoof scores do.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from detector.config import IMAGE_FRONTENDS, IMAGENET, FeatureConfig, ModelConfig
from detector.features import build_frontend
from detector.features.augment import ImageAugment
from detector.features.masking import SpecMask
from detector.utils.errors import UserError
from detector.utils.runtime import float32_region


class Float32Head(torch.nn.Sequential):
    """The classification head (dropout + linear), computed in float32 even under autocast.

    Under bf16 autocast the logits would leave a bf16 linear layer: an 8-bit mantissa
    quantises the scores (at a score of 10 the step is 0.06) and creates artificial ties that
    move the EER. The head is 1,026 weights, so float32 costs nothing. Subclassing
    ``Sequential`` keeps the state-dict keys (``fc.0``, ``fc.1``) of earlier checkpoints.
    """

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        with float32_region(features.device):
            return super().forward(features.float())


def resnet18_backbone(dropout: float, in_channels: int = 1) -> torchvision.models.ResNet:
    """ResNet-18 with an ``in_channels`` stem (1 for spectrograms, 3 for the seed's RGB images) and
    a float32 dropout + linear head to 2 classes."""
    net = torchvision.models.resnet18(weights=None)
    net.conv1 = torch.nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.fc = Float32Head(torch.nn.Dropout(dropout), torch.nn.Linear(512, 2))
    return net


def download_imagenet_weights() -> dict[str, torch.Tensor]:
    """torchvision's ``ResNet18_Weights.IMAGENET1K_V1`` state dict, downloaded once into torch's hub
    cache (``$TORCH_HOME``, default ``~/.cache/torch``); offline, a :class:`UserError` that says what to pass."""
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False, map_location="cpu", weights_only=True)   # no pickled code
    except (OSError, RuntimeError) as error:   # no network (URLError is an OSError), or a damaged download
        raise UserError(f"--pretrained {IMAGENET}: could not download torchvision's resnet18 ImageNet weights "
                        f"({weights.url}): {error}. Offline, pass a local state-dict file instead: "
                        f"--pretrained resnet18.pth, saved on a connected machine with torch.save("
                        f"torchvision.models.resnet18(weights='IMAGENET1K_V1').state_dict(), 'resnet18.pth')"
                        ) from None


def load_imagenet_weights(net: torchvision.models.ResNet, path: str | Path) -> None:
    """Initialise ``net`` from a local torchvision ``resnet18`` ImageNet state-dict file, or from
    torchvision's download when ``path`` is ``imagenet`` (:func:`download_imagenet_weights`).

    A 1-channel stem gets the RGB stem folded by summing over colour channels, which is exactly
    what feeding the spectrogram replicated three times would compute, at a third of the stem's
    cost; a 3-channel stem (RGB image front-ends) takes it as it is. The ImageNet classifier is
    dropped (ours has 2 classes).
    """
    if str(path) == IMAGENET:
        state = download_imagenet_weights()
    else:
        path = Path(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: pretrained weights file not found") from None
        except Exception as error:   # torch raises several types for a file that is not a state dict
            raise ValueError(f"{path}: not a loadable torchvision state dict ({error})") from None
    if not isinstance(state, dict) or "conv1.weight" not in state or state["conv1.weight"].shape[1] != 3:
        raise ValueError(f"{path}: expected a torchvision resnet18 state dict with an RGB conv1.weight")
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    if net.conv1.in_channels == 1:
        state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("fc.")]:
        raise ValueError(f"{path}: does not match resnet18 (missing {missing}, unexpected {unexpected})")


class Detector(torch.nn.Module):
    """Waveform ``(batch, 1, time)`` float32 at ``sample_rate`` Hz -> logits ``(batch, 2)``.

    With ``features.augment_flip`` or ``features.augment_rotate_deg`` (image front-ends only),
    :attr:`augment` flips and rotates the front-end's image before its normalisation; with
    ``features.augment_mask``, :attr:`mask` masks a band of time and of frequency of the
    front-end's output. Both act in training mode only, drawing from the host generator that
    :meth:`forward` then needs (:attr:`augments`).
    """

    def __init__(self, sample_rate: int = 16000, features: FeatureConfig | None = None,
                 model: ModelConfig | None = None):
        super().__init__()
        model, features = model or ModelConfig(), features or FeatureConfig()
        self.frontend = build_frontend(features, sample_rate)
        self.augment = None
        if features.augment_flip or features.augment_rotate_deg:
            if features.frontend not in IMAGE_FRONTENDS:
                raise ValueError(f"--augment-flip and --augment-rotate-deg act on an image front-end's picture "
                                 f"(seed-image, seed-thresholded); --frontend {features.frontend} has none")
            self.augment = ImageAugment(features.augment_flip, features.augment_rotate_deg)
        self.mask = SpecMask(features.augment_mask) if features.augment_mask else None
        self.backbone = resnet18_backbone(model.dropout, self.frontend.channels)
        if model.pretrained:
            load_imagenet_weights(self.backbone, model.pretrained)
        self.channels_last = model.channels_last
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)

    def forward(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``wave`` ``(batch, 1, time)`` -> logits ``(batch, 2)``; ``generator``: the CPU generator of the
        training step, needed (and used) only to augment in training mode."""
        augmenting = self.training and self.augments
        if augmenting and generator is None:
            raise ValueError("Detector: training with augmentation (image or masking) draws its parameters from "
                             "the step's host generator: call model(wave, generator)")
        if augmenting and self.augment is not None:
            spectrogram = self.frontend.normalise(self.augment(self.frontend.image(wave), generator))
        else:
            spectrogram = self.frontend(wave)
        if augmenting and self.mask is not None:
            spectrogram = self.mask(spectrogram, generator)
        if self.channels_last:
            spectrogram = spectrogram.contiguous(memory_format=torch.channels_last)
        return self.backbone(spectrogram)

    @property
    def augments(self) -> bool:
        """Whether training-mode forward passes draw augmentation parameters (and need the generator)."""
        return self.augment is not None or self.mask is not None

    def set_backbone_frozen(self, frozen: bool) -> None:
        """Freeze (or unfreeze) everything but the classification head."""
        for name, parameter in self.backbone.named_parameters():
            parameter.requires_grad_(not frozen or name.startswith("fc."))


def scores_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Bona fide score ``(batch,)`` float32: logit difference, higher = more bona fide."""
    return logits[:, 1] - logits[:, 0]
