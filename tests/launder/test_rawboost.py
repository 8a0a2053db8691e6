"""RawBoost families: parity with a NumPy/scipy reference of the paper's equations, SNR and impulse-share
properties, seeded draws, no host reads (meta device), and the help that lists them."""

import numpy as np
import pytest
import scipy.signal
import torch

from detector.cli.main import main
from detector.launder import FAMILIES, LaunderChain, parse_condition
from detector.launder.language import conditions_text
from detector.launder.rawboost import ISD_BANK_LENGTH, RawBoost, bandstop_taps
from tests.engine.host_copies import HostCopyGuard

SR = 16000


def _speechlike(batch: int, length: int, seed: int = 0, peak: float = 0.5) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    f0 = rng.uniform(100, 250, (batch, 1))
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 10)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    wave = wave + 0.03 * rng.standard_normal((batch, length))
    return torch.from_numpy(peak * wave / np.abs(wave).max(axis=1, keepdims=True)).float().unsqueeze(1)


# ---- The reference: per example, float64, NumPy/scipy, from the paper's equations and the code's conventions ----

def _peak_limited(y):
    return y / max(1.0, np.abs(y).max())


def _notch_fir(fc, bw, taps, bands, fs=SR):
    """A cascade of `bands` firwin band-stop filters (band edges kept inside (0, Nyquist))."""
    b = np.ones(1)
    for k in range(bands):
        f1, f2 = fc[k] - bw[k] / 2, fc[k] + bw[k] / 2
        f1 = 1e-3 if f1 <= 0 else f1
        f2 = fs / 2 - 1e-3 if f2 >= fs / 2 else f2
        b = np.convolve(scipy.signal.firwin(int(taps[k]), [f1, f2], window="hamming", fs=fs), b)
    return b


def _fir(x, b):
    """y[n] = sum_i b[i] x[n + (M + 1) / 2 - i], zeros outside the clip (the code's filterFIR alignment)."""
    shift = (len(b) + 1) // 2
    full = np.concatenate([np.convolve(x, b), np.zeros(len(b) + 1)])
    return full[shift: shift + len(x)]


def _lnl(x, fc, bw, taps, bands, gain_db):
    """y = sum_j b_j * x^j, each b_j scaled to 10^(g_j/20) over its peak |H| on freqz's grid; mean removed."""
    y = np.zeros_like(x)
    for j in range(fc.shape[0]):
        b = _notch_fir(fc[j], bw[j], taps[j], bands)
        _, response = scipy.signal.freqz(b, 1, fs=SR)
        y += _fir(x ** (j + 1), 10 ** (gain_db[j] / 20) * b / np.abs(response).max())
    return _peak_limited(y - y.mean())


def _isd(x, percent, gain, ranks, f_r):
    """floor(L beta / 100) uniformly placed samples (the lowest ranks) become x + g_sd x f_r."""
    chosen = np.argsort(ranks, kind="stable")[: int(len(x) * (percent / 100))]
    y = x.copy()
    y[chosen] = x[chosen] + gain * x[chosen] * f_r[chosen]
    return _peak_limited(y)


def _ssi(x, white, fc, bw, taps, bands, snr_db):
    """x + coloured noise (white through a notch cascade) scaled to ||x|| / ||n|| = 10^(SNR/20)."""
    noise = _fir(white, _notch_fir(fc, bw, taps, bands))
    return x + noise / np.linalg.norm(noise) * np.linalg.norm(x) / 10 ** (snr_db / 20)


def _crop(bank, entry, offset, length):
    start, size = int(bank.host_lengths[:entry].sum()), int(bank.host_lengths[entry])
    return bank.samples.numpy().astype(np.float64)[start + (offset + np.arange(length)) % size]


def _reference_one(attack: RawBoost, x: np.ndarray, q: dict) -> np.ndarray:
    """One example with its parameters ``q`` (float64), the stages chained as the code chains them."""
    def lnl(x):
        return _lnl(x, q["lnl_fc"], q["lnl_bw"], q["lnl_taps"], int(q["bands"]), q["lnl_gain_db"])

    def isd(x):
        offset = int(q["isd_offset"])
        return _isd(x, q["isd_percent"], q["isd_gain"], _crop(attack.isd_bank, 0, offset, len(x)),
                    _crop(attack.isd_bank, 1, offset, len(x)))

    def ssi(x):
        white = _crop(attack.white, 0, int(q["ssi_offset"]), len(x))
        return _ssi(x, white, q["ssi_fc"], q["ssi_bw"], q["ssi_taps"], int(q["bands"]), q["ssi_snr_db"])

    if attack.algorithm == 8:
        return _peak_limited(_peak_limited(lnl(x) + isd(x)))
    stages = {1: [lnl], 2: [isd], 3: [ssi], 4: [lnl, isd, ssi], 5: [lnl, isd], 6: [lnl, ssi], 7: [isd, ssi]}
    for stage in stages[attack.algorithm]:
        x = stage(x)
    return _peak_limited(x)


def _reference(attack: RawBoost, wave: torch.Tensor, params) -> np.ndarray:
    p = {key: value.numpy().astype(np.float64) for key, value in params.items()}
    return np.stack([_reference_one(attack, x, {key: value[i] for key, value in p.items()})
                     for i, x in enumerate(wave[:, 0].double().numpy())])[:, None]


@pytest.mark.parametrize("condition", ["rawboost:1", "rawboost:2", "rawboost:3", "rawboost:4", "rawboost:8",
                                       "rawboost:1:bands=2|5:coeffs=1..31:nf=3:gain=-5..5",
                                       "rawboost:6:fc=0..8000:bw=100..4000:snr=0..5",
                                       "rawboost:7:p=50:gsd=1..3"])
def test_matches_a_numpy_reference_of_the_equations_with_the_same_draws(condition):
    attack = parse_condition(condition, SR)
    wave = _speechlike(4, 6000, seed=1)
    params = attack.sample(4, torch.Generator().manual_seed(7))
    out = attack.apply(wave, params)
    reference = _reference(attack, wave, params)
    assert out.shape == wave.shape and out.dtype == torch.float32
    assert np.abs(out.double().numpy() - reference).max() < 1e-5
    assert not np.allclose(reference, wave.numpy(), atol=1e-3)   # it did something


def test_band_stop_design_is_scipys_firwin():
    fc = torch.tensor([20.0, 1000.0, 4000.0, 7990.0, 500.0])
    bw = torch.tensor([300.0, 100.0, 1000.0, 600.0, 250.0])
    taps = torch.tensor([11.0, 99.0, 51.0, 31.0, 1.0])
    design = bandstop_taps(fc, bw, taps, 101, SR).double().numpy()
    for k in range(5):
        reference = _notch_fir(fc[k:k + 1].double().numpy(), bw[k:k + 1].double().numpy(), [int(taps[k])], 1)
        half = (101 - int(taps[k])) // 2
        np.testing.assert_allclose(design[k, half: 101 - half], reference, atol=2e-7)
        assert not design[k, :half].any() and not design[k, 101 - half:].any()


def test_ssi_noise_sits_at_the_drawn_snr_within_the_range():
    quiet = _speechlike(64, 4000, seed=2, peak=0.1)   # no peak scaling: the added noise is the output minus the input
    for condition, (low, high) in {"rawboost:3": (10, 40), "rawboost:3:snr=20..30": (20, 30)}.items():
        attack = parse_condition(condition, SR)
        for seed in range(5):
            params = attack.sample(64, torch.Generator().manual_seed(seed))
            out = attack.apply(quiet, params)
            snr = 10 * torch.log10(quiet.square().sum(-1) / (out - quiet).square().sum(-1)).flatten()
            torch.testing.assert_close(snr, params["ssi_snr_db"], atol=1e-3, rtol=0)
            assert snr.min() >= low - 1e-3 and snr.max() <= high + 1e-3
            assert snr.max() - snr.min() > (high - low) / 3   # spread over the range


def test_isd_changes_at_most_p_percent_of_the_samples():
    length = 4000
    quiet = _speechlike(64, length, seed=3, peak=0.3)   # |x (1 + 2 f_r)| <= 0.9: no peak scaling
    assert (quiet != 0).all()
    for condition, p in {"rawboost:2": 10, "rawboost:2:p=5": 5, "rawboost:2:p=0": 0}.items():
        attack = parse_condition(condition, SR)
        for seed in range(5):
            params = attack.sample(64, torch.Generator().manual_seed(seed))
            assert params["isd_percent"].min() >= 0 and params["isd_percent"].max() <= p
            changed = (attack.apply(quiet, params) != quiet).sum(-1).flatten()
            assert changed.max() <= length * p // 100
            expected = torch.floor(length * params["isd_percent"] / 100)
            # f_r is 0 on a set of measure zero only: every chosen sample changes.
            assert (changed == expected).float().mean() > 0.95 and (changed <= expected).all()


def test_parameters_come_from_the_generator_and_apply_is_deterministic():
    wave = _speechlike(3, 4000, seed=4)
    for algorithm in range(1, 9):
        attack = parse_condition(f"rawboost:{algorithm}", SR)
        first = attack(wave, torch.Generator().manual_seed(11))
        again = attack(wave, torch.Generator().manual_seed(11))
        other = attack(wave, torch.Generator().manual_seed(12))
        assert torch.equal(first, again) and not torch.allclose(first, other)
        params = attack.sample(3, torch.Generator().manual_seed(5))
        assert set(params) == set(attack.param_keys)
        assert all(value.device.type == "cpu" and value.shape[0] == 3 for value in params.values())
        assert torch.equal(attack.apply(wave, params), attack.apply(wave, params))
        assert first.abs().max() <= 1


def test_overrides_reach_the_draws():
    g = torch.Generator().manual_seed(0)
    one = parse_condition("rawboost:1:bands=3:fc=100..200:bw=50:coeffs=20:gain=-3:bias=6:nf=2", SR)
    params = one.sample(50, g)
    assert params["lnl_fc"].shape == (50, 2, 3) and (params["bands"] == 3).all()
    assert params["lnl_fc"].min() >= 100 and params["lnl_fc"].max() <= 200 and (params["lnl_bw"] == 50).all()
    assert (params["lnl_taps"] == 21).all()   # int(20) is even: one more, as the code does
    assert (params["lnl_gain_db"][:, 0] == -3).all() and torch.allclose(params["lnl_gain_db"][:, 1], torch.tensor(-9.0))
    default = parse_condition("rawboost:1", SR).sample(500, g)
    taps = default["lnl_taps"]
    assert taps.min() >= 11 and taps.max() <= 101 and (taps % 2 == 1).all()
    assert (default["lnl_gain_db"][:, 0] == 0).all()
    nonlinear = default["lnl_gain_db"][:, 1:]
    assert nonlinear.min() >= -20 and nonlinear.max() <= -5 and nonlinear.max() - nonlinear.min() > 14
    assert parse_condition("rawboost:2:gsd=1..3", SR).sample(100, g)["isd_gain"].min() >= 1


@pytest.mark.parametrize("text, message", [
    ("rawboost", r"missing algo"),
    ("rawboost:9", r"algo=9 is outside the valid range 1..8"),
    ("rawboost:1|2", r"algo takes one fixed value here"),
    ("rawboost:2:p=1..5", r"p takes fixed values or alternatives"),
    ("rawboost:1:fc=20..9000", r"fc must lie in 0..8000 Hz"),
    ("rawboost:1:nf=2|3", r"nf takes one fixed value here"),
])
def test_bad_rawboost_conditions_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_condition(text, SR)


@pytest.mark.parametrize("algorithm", range(1, 9))
def test_runs_on_the_meta_device_so_it_never_reads_the_device_from_the_host(algorithm):
    # Reading a device value on the host fails on "meta"; the guard records any blocking host-to-device copy.
    attack = parse_condition(f"rawboost:{algorithm}:bands=3|5", SR).to("meta")
    assert all(t.device.type == "meta" for t in attack.buffers())
    params = attack.sample(4, torch.Generator().manual_seed(0))
    with HostCopyGuard() as guard:
        out = attack.apply(torch.zeros(4, 1, 16000, device="meta"), params)
    assert out.shape == (4, 1, 16000) and out.device.type == "meta" and guard.copies == []


def test_a_chain_routes_rawboost_rows_with_their_own_parameters():
    chain = LaunderChain.from_spec("p=1; rawboost:1; rawboost:3:snr=20..30", SR)
    wave = _speechlike(6, 4000, seed=5)
    params = chain.sample(6, torch.Generator().manual_seed(2))
    out = chain.apply(wave, params)
    for index in range(2):
        rows = torch.nonzero(params["choice"] == index).flatten()
        own = {key[2:]: value[rows] for key, value in params.items() if key.startswith(f"{index}.")}
        torch.testing.assert_close(out[rows], chain.conditions[index].apply(wave[rows], own))


def test_clips_longer_than_the_isd_bank_still_change_at_most_p_percent():
    length = ISD_BANK_LENGTH + 5000
    attack = parse_condition("rawboost:2:p=1", SR)
    wave = 0.2 * torch.ones(1, 1, length)
    params = attack.sample(1, torch.Generator().manual_seed(3))
    params["isd_percent"] = torch.tensor([1.0])
    changed = int((attack.apply(wave, params) != wave).sum())
    assert changed == length // 100


def test_detector_conditions_lists_the_rawboost_family(capsys):
    assert "rawboost" in FAMILIES
    assert "  rawboost " in conditions_text(width=100) and "rawboost:4" in conditions_text(width=100)
    assert main(["conditions"]) in (0, None)
    printed = capsys.readouterr().out
    assert "rawboost" in printed and "impulsive" in printed
