"""Parsing condition strings: what each form builds, and the errors for bad ones."""

import pytest
import torch

from detector.launder import (
    AddNoise,
    AddReverb,
    AddRoomReverb,
    Identity,
    LaunderBanks,
    ResampleRoundTrip,
    describe_families,
    parse_condition,
)
from detector.launder.rooms import ShoeBoxSpec


def test_each_family_builds_its_attack_named_by_the_text():
    cases = {
        "clean": Identity,
        "noise:white|pink:snr=0..20": AddNoise,
        " reverb:rt60=0.3 ": AddRoomReverb,
        "reverb:rt60=0.3:model=shoebox": AddRoomReverb,
        "reverb:rt60=0.3:model=synthetic": AddReverb,
        "reverb:rt60=0.2..0.9": AddReverb,
        "resample:8000": ResampleRoundTrip,
    }
    for text, kind in cases.items():
        attack = parse_condition(text)
        assert isinstance(attack, kind) and attack.name == text.strip()


def test_short_and_keyword_forms_are_equivalent():
    assert (parse_condition("resample:8000|11025").rates
            == parse_condition("resample:rate=8000|11025").rates == (8000, 11025))
    assert (parse_condition("reverb:0.3:model=synthetic").rt60_s.spec
            == parse_condition("reverb:rt60=0.3:model=synthetic").rt60_s.spec == "0.3")
    assert parse_condition("noise:snr=5:pink").bank.names == ("pink",)


def test_fixed_rt60s_name_the_studys_room_and_model_shoebox_the_calibrated_jittered_one(tmp_path):
    banks = LaunderBanks(cache_dir=tmp_path, shoebox=ShoeBoxSpec(variants=3))
    study = parse_condition("reverb:rt60=0.3", banks=banks)
    assert study.bank.rt60_s == (0.3,) and study.bank.reports[0]["model"] == "study"
    assert torch.equal(study.bank.irs, parse_condition("reverb:rt60=0.3:model=study", banks=banks).bank.irs)
    shoebox = parse_condition("reverb:rt60=0.3:model=shoebox", banks=banks)
    assert shoebox.bank.rt60_s == (0.3,) * 3 and {r["model"] for r in shoebox.bank.reports} == {"shoebox"}
    assert set(shoebox.sample(100, torch.Generator().manual_seed(0))["rir_index"].tolist()) == {0, 1, 2}
    assert isinstance(parse_condition("reverb:rt60=0.2..1.0", banks=banks), AddReverb)   # ranges: synthetic
    # Help says which model a name means.
    assert "auto: study for fixed RT60s, synthetic for a range" in describe_families()


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
        ("reverb:rt60=0.3..0.6:model=study", r"model=study simulates discrete rooms: give RT60 values '0.3\|0.6"),
        ("reverb:rt60=0.3:model=room", r"unknown model \['room'\]; valid: auto\|study\|shoebox\|synthetic\|measured"
                                       r", default auto \(auto: study for fixed RT60s"),
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


def test_a_new_family_is_one_registration_away():
    from detector.launder import Attack, Gain, register_family
    from detector.launder.registry import FAMILIES, NumberKey

    @register_family("testgain", example="testgain:3", keys={"db": NumberKey("dB", -10.0, 10.0)}, positional="db")
    def build(values, sample_rate, name, banks):
        return Gain(values["db"], sample_rate, name)

    try:
        attack = parse_condition("testgain:3")
        assert isinstance(attack, Gain) and attack.name == "testgain:3"
        assert "testgain (db: -10..10 dB), e.g. 'testgain:3'" in describe_families()
        with pytest.raises(ValueError, match="registered twice"):
            register_family("testgain", example="testgain:3")(build)
    finally:
        del FAMILIES["testgain"]
    # the base class's defaults: no parameters drawn, runs on the device
    assert Attack.host_side is False and parse_condition("clean").sample(4, torch.Generator()) == {}
