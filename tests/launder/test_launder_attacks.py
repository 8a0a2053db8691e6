"""The Attack contract, checked for every family: shape, range, batch consistency, reproducibility, params."""

import math

import pytest
import torch

from detector.launder import (
    AddNoise,
    AddReverb,
    Attack,
    Choice,
    NoiseBank,
    Uniform,
    parse_condition,
)
from detector.launder import functional as F

SR = 16000
CONDITIONS = [
    "clean",
    "noise:white|pink|brown:snr=-5..20",
    "reverb:rt60=0.2..0.9",
    "reverb:rt60=0.3|0.9:drr=-20..0:model=synthetic",
    "reverb:rt60=0.3|0.6",
    "resample:8000|11025|22050|44100",
    "resample:rate=8000",
    "noise:volvo|street:snr=0..0.5",
    "lowpass:7000",
    "lowpass:4000|7000",
    "gain:-12..6",
    "clip:0.2..0.8",
    "mulaw",
    "telephone",
    "codecsim:step=3..12:cutoff=4000..7500",
    "colored",
    "polarity:p=0.5",
    "shift",
]
# Conditions with nothing random to draw: another seed gives the same output.
DETERMINISTIC = {"clean", "resample:rate=8000", "lowpass:7000", "mulaw", "telephone"}


def _wave(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """Seeded speech-like test batch: modulated tones plus a little noise, peak 0.9."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    f0 = 100 + 200 * torch.rand(batch, 1, 1, generator=g)
    tones = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 8))
    wave = tones * (0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t)) + 0.05 * torch.randn(batch, 1, length, generator=g)
    return (0.9 * wave / wave.abs().amax(-1, keepdim=True)).float()


def _row(params: dict, i: int) -> dict:
    return {key: value[i : i + 1] for key, value in params.items()}


@pytest.fixture(scope="module", params=CONDITIONS)
def attack(request) -> Attack:
    return parse_condition(request.param, SR)


def test_output_keeps_shape_dtype_and_full_scale_range(attack):
    wave = _wave(3, 5000)
    out = attack(wave, torch.Generator().manual_seed(0))
    assert out.shape == wave.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0


def test_batch_gives_same_result_as_each_example_alone(attack):
    wave = _wave(4, 6000)
    params = attack.sample(4, torch.Generator().manual_seed(1))
    batched = attack.apply(wave, params)
    for i in range(4):
        alone = attack.apply(wave[i : i + 1], _row(params, i))
        torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=0)


def test_same_seed_is_bit_identical_and_other_seed_differs(attack):
    wave = _wave(4, 4000)
    first = attack(wave, torch.Generator().manual_seed(5))
    again = attack(wave, torch.Generator().manual_seed(5))
    other = attack(wave, torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    if attack.name not in DETERMINISTIC:
        assert not torch.equal(first, other)


def test_fixed_params_reproduce_across_fresh_instances(attack):
    # The ablation use case: sample once, pass the same params to a rebuilt attack.
    wave = _wave(2, 4000)
    params = attack.sample(2, torch.Generator().manual_seed(9))
    rebuilt = parse_condition(attack.name, SR)
    assert torch.equal(attack.apply(wave, params), rebuilt.apply(wave, params))


def test_sampled_params_have_batch_leading_axis(attack):
    params = attack.sample(7, torch.Generator().manual_seed(0))
    assert set(params) == set(attack.param_keys)
    assert all(value.shape[0] == 7 for value in params.values())


def test_silence_in_gives_finite_output(attack):
    out = attack(torch.zeros(2, 1, 3000), torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(2, 3000), r"expected shape \(batch, 1, time\)"),
        (torch.zeros(2, 1, 3000, dtype=torch.float64), "expected dtype torch.float32"),
    ],
)
def test_bad_waveform_is_rejected_naming_the_condition(attack, bad, message):
    with pytest.raises(ValueError, match=message) as info:
        attack(bad, torch.Generator().manual_seed(0))
    assert attack.name in str(info.value)


def test_apply_rejects_params_of_another_batch_size_or_missing_keys():
    attack = parse_condition("noise:white:snr=10")
    params = attack.sample(3, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="leading size 3, but the waveform batch has 2"):
        attack.apply(_wave(2, 1000), params)
    with pytest.raises(ValueError, match=r"params lack \['snr_db'\]"):
        attack.apply(_wave(3, 1000), {k: v for k, v in params.items() if k != "snr_db"})


def test_add_noise_realises_sampled_snr():
    attack = AddNoise(NoiseBank.coloured(["white", "pink", "brown"]), Uniform(0.0, 30.0))
    wave = 0.1 * _wave(6, 8000)  # quiet enough that peak limiting never engages
    params = attack.sample(6, torch.Generator().manual_seed(3))
    out = attack.apply(wave, params)
    realised = 10 * torch.log10(wave.square().mean(-1) / (out - wave).square().mean(-1)).view(-1)
    assert (realised - params["snr_db"]).abs().max() < 0.1
    assert attack.name == "noise:white|pink|brown:snr=0..30"


def test_noise_bank_crop_wraps_around_each_entry():
    bank = NoiseBank(["a", "b"], [torch.arange(5.0), 10 + torch.arange(3.0)])
    crop = bank.crop(torch.tensor([0, 1]), torch.tensor([3, 2]), 6)
    assert crop.tolist() == [[[3, 4, 0, 1, 2, 3]], [[12, 10, 11, 12, 10, 11]]]
    offsets = bank.sample_offsets(torch.tensor([0, 1] * 500), torch.Generator().manual_seed(0))
    assert set(offsets[0::2].tolist()) == set(range(5)) and set(offsets[1::2].tolist()) == set(range(3))


def test_reverb_is_convolution_with_the_sampled_response():
    attack = AddReverb(Choice([0.4]), sample_rate=SR)
    wave = 0.2 * _wave(2, 4000)
    params = attack.sample(2, torch.Generator().manual_seed(4))
    assert all(value.shape == (2,) and value.device.type == "cpu" for value in params.values())
    ir = attack.impulse_responses(params)
    assert ir.shape == (2, 1, math.ceil(0.4 * SR))
    # The fine structure is the bank's noise from each drawn offset, shaped by the decay.
    noise = attack.fine_structure.crop(torch.zeros(2, dtype=torch.long), params["ir_offset"], ir.shape[-1])
    torch.testing.assert_close(ir, F.exponential_decay_rir(noise, params["rt60_s"], SR, params["drr_db"]))
    assert not torch.equal(ir[0], ir[1])
    torch.testing.assert_close(attack.apply(wave, params), F.fft_convolve(wave, ir))


def test_parameter_draws_stay_within_their_ranges():
    g = torch.Generator().manual_seed(0)
    uniform = Uniform(-5.0, 20.0).sample(2000, g)
    assert uniform.min() >= -5 and uniform.max() <= 20 and uniform.max() - uniform.min() > 24
    choice = Choice([8000, 11025]).sample(2000, g)
    assert set(choice.tolist()) == {8000.0, 11025.0}
    assert Uniform(3.0, 3.0).sample(4, g).tolist() == [3.0] * 4


def test_to_device_moves_banks_and_candidate_buffers():
    # "meta" stands in for a GPU: every tensor the attack owns must follow .to().
    for text in CONDITIONS + ["noise:white:snr=0"]:
        attack = parse_condition(text, SR).to("meta")
        tensors = list(attack.buffers()) + list(attack.parameters())
        assert all(t.device.type == "meta" for t in tensors), text
    assert any(True for _ in parse_condition("noise:pink:snr=0").buffers())
