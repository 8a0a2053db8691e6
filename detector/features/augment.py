"""Training-time augmentation of an image front-end's picture: random horizontal flip and rotation.

The seed research code trains on its spectrogram images with a random left-right flip and a
small random rotation. Here they act on the front-end's image inside the model (before ImageNet
normalisation), batched on the device. As with laundering (:mod:`detector.launder.attacks`),
every per-example parameter is drawn on the host from the training step's CPU generator, so a
step's augmentation follows from ``(seed, epoch, step, rank)``, a resumed run repeats it, and
the device is never read.
"""
from __future__ import annotations

import math

import torch

from detector.launder.attacks import check_host_generator
from detector.utils.runtime import float32_region, upload


class ImageAugment(torch.nn.Module):
    """A random flip, then a random rotation, of each image of a batch.

    Per example: ``flip`` (bool) with probability ``flip_p``, and ``angle_deg`` uniform in
    ``[-max_angle_deg, max_angle_deg]`` degrees, counter-clockwise positive (as torchvision's
    ``rotate``), about the image's centre. Pixels that the rotation brings in from outside the
    picture are 0 (black), as torchvision's ``RandomRotation`` fills them.
    """

    def __init__(self, flip_p: float, max_angle_deg: float):
        super().__init__()
        if not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"--augment-flip {flip_p}: must be a probability in [0, 1]")
        if not 0.0 <= max_angle_deg <= 180.0:
            raise ValueError(f"--augment-rotate-deg {max_angle_deg}: must be in [0, 180] degrees")
        self.flip_p = flip_p
        self.max_angle_deg = max_angle_deg

    def sample(self, batch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``{"flip": (batch,) bool, "angle_deg": (batch,) float32}`` on the CPU, from the CPU ``generator``."""
        check_host_generator(generator, "image augmentation")
        flip = torch.rand(batch, generator=generator) < self.flip_p
        angle_deg = (2.0 * torch.rand(batch, generator=generator) - 1.0) * self.max_angle_deg
        return {"flip": flip, "angle_deg": angle_deg}

    def apply(self, image: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(batch, channels, height, width)`` float32 -> the same shape, flipped then rotated per ``params``.

        The sampling matrices are built on the host from the host parameters and copied to the
        device without blocking (a blocking copy would wait for the device queue). Computed in
        float32 even under autocast: the image is the front-end's float32 output.
        """
        theta = sampling_matrices(params["flip"], params["angle_deg"], image.shape[-1] / image.shape[-2])
        with float32_region(image.device):
            grid = torch.nn.functional.affine_grid(upload(theta, image.device), list(image.shape),
                                                   align_corners=False)
            return torch.nn.functional.grid_sample(image.float(), grid, mode="bilinear", padding_mode="zeros",
                                                   align_corners=False)

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``apply(image, sample(batch, generator))``."""
        return self.apply(image, self.sample(image.shape[0], generator))

    def extra_repr(self) -> str:
        return f"flip_p={self.flip_p}, max_angle_deg={self.max_angle_deg}"


def sampling_matrices(flip: torch.Tensor, angle_deg: torch.Tensor, aspect: float = 1.0) -> torch.Tensor:
    """``(batch, 2, 3)`` float32 ``affine_grid`` matrices: output pixel -> input pixel, in normalised coordinates.

    ``flip`` ``(batch,)`` bool, ``angle_deg`` ``(batch,)`` degrees (counter-clockwise on the
    screen, whose y axis points down), ``aspect`` width / height. The output is the flipped
    image rotated, so an output point ``p`` reads the input at ``F R^-1 p``. ``affine_grid``'s
    coordinates run -1..1 along each axis whatever its length, so the rotation is made in pixel
    units (x scaled by ``aspect``) to stay a rotation on a non-square image.
    """
    radians = angle_deg.float() * (math.pi / 180.0)
    cos, sin = torch.cos(radians), torch.sin(radians)
    sign = torch.where(flip, -1.0, 1.0)
    zero = torch.zeros_like(cos)
    # R^-1 on the screen (y down) is [[cos, -sin], [sin, cos]]; the x row is divided by aspect and the
    # x column multiplied by it to work in pixel units; F negates the x row.
    return torch.stack([torch.stack([sign * cos, -sign * sin / aspect, zero], dim=-1),
                        torch.stack([sin * aspect, cos, zero], dim=-1)], dim=-2)
