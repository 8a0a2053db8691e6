"""Per-example parameter distributions: what a condition value such as ``0..20`` or ``8000|11025`` means.

Each distribution draws one float32 value per example on the host, from a CPU
``torch.Generator`` (see :mod:`.attacks` for why parameters live on the host).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _format(value: float) -> str:
    return f"{value:g}"


class Uniform(torch.nn.Module):
    """Uniform on ``[low, high]``; ``low == high`` is a fixed value."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        if not low <= high:
            raise ValueError(f"Uniform: need low <= high, got {low}..{high}")
        self.low = float(low)
        self.high = float(high)

    @property
    def max(self) -> float:
        """Largest value that can be drawn (a Python float, known without touching the device)."""
        return self.high

    @property
    def spec(self) -> str:
        """The value as written in a condition string: ``"lo..hi"`` or ``"v"``."""
        if self.low == self.high:
            return _format(self.low)
        return f"{_format(self.low)}..{_format(self.high)}"

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``(batch,)`` float32 draws on the host."""
        unit = torch.rand(batch, generator=generator)
        return self.low + (self.high - self.low) * unit

    def extra_repr(self) -> str:
        return self.spec


class Choice(torch.nn.Module):
    """One of ``options``, each equally likely."""

    def __init__(self, options: Sequence[float]) -> None:
        super().__init__()
        if len(options) == 0:
            raise ValueError("Choice: need at least one option")
        self.options = tuple(float(v) for v in options)
        # A plain CPU tensor, not a buffer: it must stay on the host when the attack moves to a device.
        self.values = torch.tensor(self.options, dtype=torch.float32)

    @property
    def max(self) -> float:
        """Largest value that can be drawn (a Python float, known without touching the device)."""
        return max(self.options)

    @property
    def spec(self) -> str:
        """The value as written in a condition string: ``"a|b|c"``."""
        return "|".join(_format(v) for v in self.options)

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``(batch,)`` float32 draws on the host."""
        return self.values[torch.randint(len(self.options), (batch,), generator=generator)]

    def extra_repr(self) -> str:
        return self.spec
