"""Room impulse response analysis: Schroeder energy decay and RT60 estimation.

Used to check synthetic responses against the RT60 they were asked for, and
to describe measured or simulated responses before they go into a bank.
Two standard estimates (ISO 3382): T20 fits the decay from -5 to -25 dB, T30
from -5 to -35 dB; both are extrapolated to 60 dB of decay.
"""

from __future__ import annotations

import torch

from .functional import ENERGY_FLOOR

T20_RANGE_DB = (-5.0, -25.0)
T30_RANGE_DB = (-5.0, -35.0)


def schroeder_decay_db(ir: torch.Tensor) -> torch.Tensor:
    """Schroeder backward-integrated energy decay curve in dB.

    Args:
        ir: ``(..., ir_len)`` impulse responses.

    Returns:
        ``(..., ir_len)``: ``10 log10`` of the energy remaining after each
        sample, relative to the total (0 dB at index 0, falling to the floor).
    """
    energy = ir.double().square()
    remaining = torch.flip(torch.cumsum(torch.flip(energy, [-1]), -1), [-1])
    return 10.0 * torch.log10((remaining / remaining[..., :1]).clamp_min(ENERGY_FLOOR))


def estimate_rt60(
    ir: torch.Tensor,
    sample_rate: int,
    fit_range_db: tuple[float, float] = T20_RANGE_DB,
) -> torch.Tensor:
    """RT60 in seconds from a least-squares line through the decay curve, extrapolated to -60 dB.

    The default range -5..-25 dB is the standard T20 estimate: it skips the
    direct sound and stays above the noise/truncation floor. Pass
    ``T30_RANGE_DB`` for T30, which weighs the later, slower decay more.

    Args:
        ir: ``(..., ir_len)`` impulse responses.
        sample_rate: Hz.
        fit_range_db: (upper, lower) decay levels in dB bounding the fit.

    Returns:
        ``(...)`` float64 reverberation times in seconds.
    """
    decay = schroeder_decay_db(ir)
    upper, lower = fit_range_db
    weight = ((decay <= upper) & (decay >= lower)).double()
    t = torch.arange(ir.shape[-1], dtype=torch.float64, device=ir.device) / sample_rate
    # Weighted least squares, vectorised over the leading dimensions.
    count = weight.sum(-1, keepdim=True).clamp_min(2.0)
    t_mean = (weight * t).sum(-1, keepdim=True) / count
    decay_mean = (weight * decay).sum(-1, keepdim=True) / count
    covariance = (weight * (t - t_mean) * (decay - decay_mean)).sum(-1)
    variance = (weight * (t - t_mean).square()).sum(-1)
    slope_db_per_s = covariance / variance
    return -60.0 / slope_db_per_s
