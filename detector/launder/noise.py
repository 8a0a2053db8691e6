"""Device-resident noise banks: every noise an attack can add, loaded or generated once.

A bank concatenates its entries (one per noise type) into a single buffer, so
cropping a segment for every example of a batch is one gather, with no file
I/O and no Python loop over examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import functional as F

# Spectral exponent of each built-in coloured noise: power ~ 1 / f**exponent.
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}

# Built-in noises are this many samples long (~33 s at 16 kHz). Random crop
# offsets give 2**19 distinct segments per colour, ample variety for training.
DEFAULT_BANK_LENGTH = 2**19


class NoiseBank(torch.nn.Module):
    """Named noise signals in one buffer; :meth:`crop` gathers a segment per example.

    Crops wrap around the end of an entry. That is seamless for the built-in
    coloured noises (they are periodic by construction) and leaves one splice
    per wrap for recordings.

    Args:
        names: one name per entry, e.g. ``("white", "pink")``.
        signals: one 1-D float tensor per entry (any length >= 1, any level).
    """

    samples: torch.Tensor
    starts: torch.Tensor
    lengths: torch.Tensor

    def __init__(self, names: Sequence[str], signals: Sequence[torch.Tensor]) -> None:
        super().__init__()
        if len(names) == 0 or len(names) != len(signals):
            raise ValueError(f"NoiseBank: need one signal per name, got {len(names)} names and {len(signals)} signals")
        for name, signal in zip(names, signals):
            if signal.dim() != 1 or signal.numel() == 0:
                raise ValueError(f"NoiseBank: entry {name!r} must be a non-empty 1-D tensor, "
                                 f"got shape {tuple(signal.shape)}")
        self.names = tuple(names)
        lengths = torch.tensor([s.numel() for s in signals], dtype=torch.long)
        starts = torch.cumsum(lengths, 0) - lengths
        # Not persistent: banks are rebuilt from the condition string, so they
        # need not bloat a saved state dict.
        self.register_buffer("samples", torch.cat([s.float() for s in signals]), persistent=False)
        self.register_buffer("starts", starts, persistent=False)
        self.register_buffer("lengths", lengths, persistent=False)
        # The host's copy, for drawing offsets without reading the device.
        self.host_lengths = lengths.clone()

    @classmethod
    def coloured(
        cls,
        colours: Sequence[str],
        sample_rate: int = 16000,
        length: int = DEFAULT_BANK_LENGTH,
        seed: int = 0,
    ) -> NoiseBank:
        """Bank of generated coloured noises (names from ``NOISE_COLOURS``).

        Generation uses its own CPU generator seeded with ``seed``, so the bank
        is identical in every run, like a recording would be; the per-example
        randomness comes from the crop offsets drawn at sampling time.
        """
        unknown = [c for c in colours if c not in NOISE_COLOURS]
        if unknown:
            raise ValueError(f"NoiseBank.coloured: unknown colour(s) {unknown}; valid: {', '.join(NOISE_COLOURS)}")
        generator = torch.Generator().manual_seed(seed)
        signals = [
            F.coloured_noise(1, length, NOISE_COLOURS[c], generator, sample_rate).reshape(-1) for c in colours
        ]
        return cls(colours, signals)

    def __len__(self) -> int:
        return len(self.names)

    def sample_offsets(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Uniform random start position within entry ``index[i]`` for every example.

        Args:
            index: ``(batch,)`` long entry indices.

            generator: a CPU generator.

        Returns:
            ``(batch,)`` long offsets on the host.
        """
        # A wide integer draw reduced modulo each entry's length: exact for any
        # recording length, unlike scaling a float32 uniform (24-bit mantissa).
        wide = torch.randint(0, 2**62, index.shape, generator=generator)
        return wide % self.host_lengths[index]

    def crop(self, index: torch.Tensor, offset: torch.Tensor, length: int) -> torch.Tensor:
        """Gather ``length`` samples of entry ``index[i]`` from ``offset[i]`` on, wrapping around.

        Args:
            index: ``(batch,)`` long entry indices.
            offset: ``(batch,)`` long start positions (taken modulo the entry length).
            length: samples per crop.

        Returns:
            ``(batch, 1, length)`` float32 noise.
        """
        entry_length = self.lengths[index].unsqueeze(1)
        steps = torch.arange(length, device=self.samples.device)
        positions = self.starts[index].unsqueeze(1) + (offset.unsqueeze(1) + steps) % entry_length
        return self.samples[positions].unsqueeze(1)

    def extra_repr(self) -> str:
        return f"names={self.names}, total_samples={self.samples.numel()}"
