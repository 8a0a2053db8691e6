"""Room impulse responses: synthetic ones (decay rate, energy, direct path), Schroeder RT60 estimation, and the
simulated rooms (the study's recipe verbatim, the calibrated shoebox)."""

import math

import numpy as np
import pytest
import torch

from detector.launder import AddRoomReverb, LaunderBanks, parse_condition, rooms
from detector.launder import functional as F
from detector.launder.rir import T30_RANGE_DB, estimate_rt60, schroeder_decay_db
from detector.launder.rooms import SHOEBOX_T20_TOLERANCE, ShoeBoxSpec, decay_table, shoebox_rirs, study_rirs

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


# --- The study's room (recipe verbatim) and the calibrated shoebox (pyroomacoustics) ---

STUDY_ROOM, STUDY_SOURCE, STUDY_MIC = [10.0, 7.5, 3.5], [2.5, 3.73, 1.76], [6.3, 4.87, 1.2]


def _study_recipe(rt60_s: float) -> np.ndarray:
    """The study's recipe written out independently: pyroomacoustics' defaults, nominal RT60, fixed geometry."""
    import pyroomacoustics as pra

    absorption, max_order = pra.inverse_sabine(rt60_s, STUDY_ROOM)
    room = pra.ShoeBox(STUDY_ROOM, fs=SR, materials=pra.Material(absorption), max_order=max_order)
    room.add_source(STUDY_SOURCE)
    room.add_microphone(STUDY_MIC)
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


@pytest.mark.parametrize("rt60, t20", [(0.6, 0.68), (0.9, 1.08)])
def test_study_room_is_the_recipe_deterministic_with_its_direct_path_and_measured_decay_recorded(tmp_path, rt60,
                                                                                                  t20):
    (ours,), (report,) = study_rirs(rt60, SR, cache_dir=tmp_path / "a")
    (again,), _ = study_rirs(rt60, SR, cache_dir=tmp_path / "b")        # simulated afresh
    (cached,), (cached_report,) = study_rirs(rt60, SR, cache_dir=tmp_path / "a")   # read back from disk
    assert np.array_equal(ours, again) and np.array_equal(ours, cached) and cached_report == report
    reference = _study_recipe(rt60)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)
    # Direct path: the fractional-delay filter's 40 samples (81 taps) + 4.006 m / 343 m/s at 16 kHz.
    distance = math.dist(STUDY_SOURCE, STUDY_MIC)
    assert abs(int(np.argmax(np.abs(ours))) - (40 + distance / 343.0 * SR)) <= 1.0
    # The decay is measured and recorded, not forced to the name: the recipe's room is longer than named.
    measured = torch.from_numpy(ours)
    assert report["measured_t20_s"] == pytest.approx(estimate_rt60(measured, SR).item(), abs=1e-9)
    assert report["measured_t30_s"] == pytest.approx(estimate_rt60(measured, SR, T30_RANGE_DB).item(), abs=1e-9)
    assert report["measured_t20_s"] == pytest.approx(t20, abs=0.01)
    assert report["measured_t30_s"] > report["measured_t20_s"]
    assert report["rt60_s"] == rt60 and report["model"] == "study"
    assert report["pyroomacoustics"]["frac_delay_length"] == 81


def test_study_bank_holds_one_response_per_rt60_with_its_report(tmp_path):
    banks = LaunderBanks(cache_dir=tmp_path)
    attack = parse_condition("reverb:rt60=0.3|0.6", SR, banks)
    assert isinstance(attack, AddRoomReverb) and attack.bank.rt60_s == (0.3, 0.6)
    assert [r["measured_t20_s"] for r in attack.bank.reports] == pytest.approx([0.30, 0.68], abs=0.01)
    assert len(list(tmp_path.glob("study-*.npz"))) == 2
    # Explicit model=study names the same room.
    explicit = parse_condition("reverb:rt60=0.6:model=study", SR, banks)
    assert torch.equal(explicit.bank.irs, banks.study_bank([0.6], SR).irs)


@pytest.mark.parametrize("rt60", [0.3, 0.9])
def test_shoebox_model_is_calibrated_to_its_name_within_tolerance(tmp_path, rt60):
    rirs, reports = shoebox_rirs(rt60, SR, ShoeBoxSpec(variants=2), tmp_path)
    for rir, report in zip(rirs, reports):
        t20 = estimate_rt60(torch.from_numpy(rir), SR).item()
        assert report["measured_t20_s"] == pytest.approx(t20, abs=1e-9)
        assert abs(t20 - rt60) <= SHOEBOX_T20_TOLERANCE * rt60
        assert abs(report["delay_samples"] - report["expected_delay_samples"]) <= 2
    assert abs(reports[0]["measured_t20_s"] - rt60) <= 0.02 * rt60   # the exact geometry is calibrated on
    assert reports[1]["source_m"] != reports[0]["source_m"]           # the others are jittered


def test_a_damaged_cached_room_is_regenerated(tmp_path):
    (first,), _ = study_rirs(0.3, SR, cache_dir=tmp_path)
    (path,) = tmp_path.glob("study-*.npz")
    path.write_bytes(b"truncated")
    (again,), _ = study_rirs(0.3, SR, cache_dir=tmp_path)
    assert np.array_equal(first, again) and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="rt60 must be > 0 s"):
        study_rirs(0.0, SR, cache_dir=tmp_path)


def test_room_validation_rejects_a_misplaced_direct_path_and_an_uncalibrated_shoebox(tmp_path, monkeypatch):
    # Forgetting the fractional-delay filter's offset puts the expected direct path 40 samples early.
    monkeypatch.setattr(rooms, "filter_offset_samples", lambda: 0)
    with pytest.raises(RuntimeError, match=r"study RIR rt60=0.3: direct path at sample 227, expected 186.9"):
        study_rirs(0.3, SR, cache_dir=tmp_path)
    monkeypatch.undo()
    # The recipe verbatim (no calibration) measures 1.08 s for 0.9 s: outside the shoebox model's tolerance.
    monkeypatch.setattr(rooms, "_calibrated_input", lambda spec, rt60_s, sample_rate: rt60_s)
    with pytest.raises(RuntimeError, match=r"variant 0: measured T20 1.08\d s is more than 10% from the requested"):
        shoebox_rirs(0.9, SR, ShoeBoxSpec(variants=1), tmp_path)
    assert not list(tmp_path.glob("*.npz"))   # nothing invalid is cached


def test_decay_table_reports_both_models_measured_decay(tmp_path):
    table = decay_table((0.3,), SR, tmp_path).splitlines()
    assert table[0] == "| nominal RT60 (s) | study T20 | study T30 | shoebox T20 | shoebox T30 |"
    (study,), shoebox = study_rirs(0.3, SR, cache_dir=tmp_path)[1], shoebox_rirs(0.3, SR, cache_dir=tmp_path)[1]
    cells = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert cells[:3] == ["0.3", f"{study['measured_t20_s']:.2f}", f"{study['measured_t30_s']:.2f}"]
    t20 = [r["measured_t20_s"] for r in shoebox]   # shoebox: mean (range) over its variants
    assert cells[3] == f"{np.mean(t20):.2f} ({min(t20):.2f}-{max(t20):.2f})"
