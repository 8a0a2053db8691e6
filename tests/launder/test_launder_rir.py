"""Synthetic room impulse responses: decay rate, energy, direct path; Schroeder RT60 estimation."""

import math

import pytest
import torch

from detector.launder import functional as F
from detector.launder.rir import estimate_rt60, schroeder_decay_db

SR = 16000


@pytest.mark.parametrize("drr_db", [-10.0, 0.0])
def test_synthetic_rir_measured_rt60_within_20_percent(drr_db):
    rt60 = torch.tensor([0.2, 0.3, 0.6, 0.9, 1.5])
    ir = F.synthetic_rir(rt60, SR, math.ceil(1.5 * SR), torch.Generator().manual_seed(0), drr_db)
    measured = estimate_rt60(ir.view(5, -1), SR).float()
    assert ((measured - rt60).abs() / rt60).max() < 0.2, measured


def test_estimate_rt60_recovers_an_exact_exponential_decay():
    t = torch.arange(SR) / SR
    ir = torch.exp(-F.DECAY_60DB * t / 0.5) * torch.where(torch.arange(SR) % 2 == 0, 1.0, -1.0)
    assert abs(estimate_rt60(ir, SR).item() - 0.5) < 0.01
    decay = schroeder_decay_db(ir)
    assert decay[0].item() == 0.0 and decay.diff().max() <= 0


def test_synthetic_rir_has_unit_energy_direct_path_first_and_requested_drr():
    rt60 = torch.tensor([0.3, 0.9])
    drr = torch.tensor([-10.0, 5.0])
    ir = F.synthetic_rir(rt60, SR, SR, torch.Generator().manual_seed(1), drr)
    assert ir.shape == (2, 1, SR)
    torch.testing.assert_close(ir.square().sum(-1), torch.ones(2, 1))
    direct = ir[..., 0].square()
    tail = ir[..., 1:].square().sum(-1)
    torch.testing.assert_close(10 * torch.log10(direct / tail).view(-1), drr, atol=1e-3, rtol=0)
    # The direct path is the largest tap, so the reverberant signal stays aligned with the dry one.
    assert (ir.abs().argmax(-1) == 0).all()


def test_synthetic_rir_is_reproducible_and_seed_dependent():
    rt60 = torch.tensor([0.5])
    a = F.synthetic_rir(rt60, SR, 4000, torch.Generator().manual_seed(7))
    b = F.synthetic_rir(rt60, SR, 4000, torch.Generator().manual_seed(7))
    c = F.synthetic_rir(rt60, SR, 4000, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
