"""Training-time time and frequency masking of a front-end's output (SpecAugment without warping).

One time mask and one frequency mask per example, applied with probability ``p`` (WeDefense's
and WeSpeaker's configuration: ``num_t_mask 1, num_f_mask 1, max_t 10, max_f 8, prob 0.6``).
As with laundering, every per-example parameter is drawn on the host from the training step's
CPU generator and uploaded with :func:`~detector.utils.runtime.upload`, so a step's masks follow
from ``(seed, epoch, step, rank)`` and the device is never read. It acts on every 2-D
front-end's output: rows are frequency (mel, constant-Q or linear bands, or image rows), columns
are time (frames, or image columns). Masked cells are set to 0, the mean of a standardised
spectrogram and the mean colour of an ImageNet-normalised image.
"""
from __future__ import annotations

import torch

from detector.launder.attacks import check_host_generator
from detector.utils.runtime import upload

MAX_FRAMES = 10     # the time mask's width is uniform in 0..MAX_FRAMES columns
MAX_BINS = 8        # the frequency mask's width is uniform in 0..MAX_BINS rows


class SpecMask(torch.nn.Module):
    """Per example, with probability ``p``: zero a band of up to ``MAX_BINS`` rows and a span of up
    to ``MAX_FRAMES`` columns of a ``(batch, channels, rows, columns)`` float front-end output
    (every channel alike)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"--augment-mask {p}: must be a probability in [0, 1]")
        self.p = p

    def sample(self, batch: int, rows: int, columns: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``{"apply": (batch,) bool, "row_start", "row_width", "column_start", "column_width": (batch,) int64}``
        on the CPU, from the CPU ``generator``; widths never exceed the axis."""
        check_host_generator(generator, "masking")
        apply = torch.rand(batch, generator=generator) < self.p
        params = {"apply": apply}
        for axis, size, most in (("row", rows, MAX_BINS), ("column", columns, MAX_FRAMES)):
            width = torch.randint(0, min(most, size) + 1, (batch,), generator=generator)
            start = (torch.rand(batch, generator=generator) * (size - width + 1)).long()
            params[f"{axis}_start"], params[f"{axis}_width"] = start, width
        return params

    def apply(self, spectrogram: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``spectrogram`` with the sampled bands set to 0 where ``apply``; same shape and dtype."""
        device, (rows, columns) = spectrogram.device, spectrogram.shape[-2:]
        on_device = {key: upload(value, device)[:, None] for key, value in params.items()}

        def inside(axis: str, size: int) -> torch.Tensor:
            index = torch.arange(size, device=device)[None]
            start = on_device[f"{axis}_start"]
            return (index >= start) & (index < start + on_device[f"{axis}_width"])

        bands = inside("row", rows)[:, :, None] | inside("column", columns)[:, None, :]   # (batch, rows, columns)
        return spectrogram.masked_fill((bands & on_device["apply"][:, :, None])[:, None], 0.0)

    def forward(self, spectrogram: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        batch, _, rows, columns = spectrogram.shape
        return self.apply(spectrogram, self.sample(batch, rows, columns, generator))
