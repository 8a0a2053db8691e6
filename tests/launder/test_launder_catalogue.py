"""Parsing condition strings: what each form builds, and the errors for bad ones."""

import pytest
import torch

from detector.launder import AddNoise, AddReverb, AddRoomReverb, Identity, ResampleRoundTrip, parse_condition


def test_each_family_builds_its_attack_named_by_the_text():
    cases = {
        "clean": Identity,
        "noise:white|pink:snr=0..20": AddNoise,
        " reverb:rt60=0.3 ": AddRoomReverb,
        "reverb:rt60=0.3:model=synthetic": AddReverb,
        "reverb:rt60=0.2..0.9": AddReverb,
        "resample:8000": ResampleRoundTrip,
    }
    for text, kind in cases.items():
        attack = parse_condition(text)
        assert isinstance(attack, kind) and attack.name == text.strip()


def test_short_and_keyword_forms_are_equivalent():
    assert parse_condition("resample:8000|11025").rates == parse_condition("resample:rate=8000|11025").rates == (8000, 11025)
    assert (parse_condition("reverb:0.3:model=synthetic").rt60_s.spec
            == parse_condition("reverb:rt60=0.3:model=synthetic").rt60_s.spec == "0.3")
    assert parse_condition("noise:snr=5:pink").bank.names == ("pink",)


def test_values_become_ranges_alternatives_or_fixed_draws():
    g = torch.Generator().manual_seed(0)
    noise = parse_condition("noise:white|brown:snr=10..10.5")
    params = noise.sample(500, g)
    assert params["snr_db"].min() >= 10 and params["snr_db"].max() <= 10.5
    assert set(params["noise_index"].tolist()) == {0, 1} and noise.bank.names == ("white", "brown")
    reverb = parse_condition("reverb:rt60=0.3|0.9:drr=-3:model=synthetic", sample_rate=8000)
    params = reverb.sample(500, g)
    assert sorted(set(params["rt60_s"].tolist())) == pytest.approx([0.3, 0.9])
    assert set(params["drr_db"].tolist()) == {-3.0}
    assert reverb.ir_length == round(0.9 * 8000) and reverb.sample_rate == 8000
    assert set(parse_condition("reverb:0.5:model=synthetic").sample(10, g)["drr_db"].tolist()) == {-10.0}  # the default


@pytest.mark.parametrize(
    "text, message",
    [
        ("chorus:depth=2", r"unknown family 'chorus'; valid families:\n  clean.*\n  noise.*\n  reverb.*\n  resample"),
        ("reverb:rt60=-0.3", r"rt60=-0.3 is outside the valid range 0.01..5 s"),
        ("noise:white:snr=abc", r"snr='abc' is not a number; snr takes a number .* in -50..100 dB"),
        ("noise:white:snr=nan", r"snr='nan' is not a number"),
        ("resample:0", r"rate=0 is outside the valid range 1000..384000 Hz"),
        ("resample:8000.5", r"rate=8000.5 must be an integer"),
        ("resample:rate=8000..16000", r"rate takes fixed values or alternatives 'a\|b', not a range"),
        ("noise:white", r"missing snr \(-50..100 dB\), e.g. 'noise:babble:snr=10..10.5'"),
        ("noise:red:snr=0", r"unknown type \['red'\]; valid: white\|pink\|brown"),
        ("reverb:rt60=0.3:size=2", r"unknown key 'size' for reverb; valid keys: rt60, model, drr"),
        ("reverb:rt60=0.9..0.3", r"empty range rt60=0.9..0.3"),
        ("reverb:0.3:0.6", r"unexpected argument '0.6'"),
        ("noise:white:snr=1:snr=2", r"snr given twice"),
        ("noise:white:snr=", r"snr has no value"),
        ("clean:3", r"unexpected argument '3'; clean takes: nothing"),
    ],
)
def test_bad_condition_raises_value_error_saying_what_and_how(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_condition(text)
    assert repr(text.strip()) in str(info.value)  # the message quotes the offending condition
