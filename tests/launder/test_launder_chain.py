"""LaunderChain: spec parsing, per-example selection, probabilities, reproducibility."""

import math

import pytest
import torch

from detector.launder import LaunderChain, parse_condition

SR = 16000
SPEC = "p=0.8; noise:white|pink:snr=0..20; reverb:rt60=0.2..1.0:w=2; resample:8000|11025"


def _wave(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    wave = torch.sin(2 * math.pi * 220 * t * (1 + torch.rand(batch, 1, 1, generator=g)))
    return (0.5 * wave + 0.05 * torch.randn(batch, 1, length, generator=g)).float()


@pytest.mark.parametrize("spec", ["", "  ", "none", "off", "OFF"])
def test_identity_specs_return_input_unchanged(spec):
    chain = LaunderChain.from_spec(spec)
    wave = _wave(3, 1000)
    assert len(chain.conditions) == 0
    assert torch.equal(chain(wave, torch.Generator().manual_seed(0)), wave)


def test_spec_parses_probability_conditions_and_weights():
    chain = LaunderChain.from_spec(SPEC)
    assert chain.p == 0.8 and chain.name == SPEC
    assert [c.name for c in chain.conditions] == [
        "noise:white|pink:snr=0..20",
        "reverb:rt60=0.2..1.0",
        "resample:8000|11025",
    ]
    torch.testing.assert_close(chain.cumulative, torch.tensor([0.25, 0.75, 1.0]))
    assert LaunderChain.from_spec("clean; resample:8000;").p == 1.0  # default p, trailing ';' tolerated


def test_each_example_gets_its_chosen_condition_or_stays_clean():
    chain = LaunderChain.from_spec(SPEC)
    wave = _wave(16, 4000)
    params = chain.sample(16, torch.Generator().manual_seed(2))
    out = chain.apply(wave, params)
    for i in range(16):
        if not params["apply"][i]:
            assert torch.equal(out[i], wave[i])
            continue
        k = int(params["choice"][i])
        own = {key.split(".", 1)[1]: v[i : i + 1] for key, v in params.items() if key.startswith(f"{k}.")}
        torch.testing.assert_close(out[i : i + 1], chain.conditions[k].apply(wave[i : i + 1], own), atol=1e-5, rtol=0)
    assert params["apply"].any() and not params["apply"].all()


def test_apply_probability_and_condition_weights_are_respected():
    chain = LaunderChain.from_spec("p=0.3; clean:w=3; resample:8000")
    params = chain.sample(20000, torch.Generator().manual_seed(0))
    assert abs(params["apply"].float().mean().item() - 0.3) < 0.015
    assert abs((params["choice"] == 0).float().mean().item() - 0.75) < 0.015
    never = LaunderChain.from_spec("p=0; noise:white:snr=0")
    wave = _wave(4, 1000)
    assert torch.equal(never(wave, torch.Generator().manual_seed(0)), wave)


def test_same_seed_is_bit_identical_other_seed_differs():
    chain = LaunderChain.from_spec(SPEC)
    wave = _wave(8, 4000)
    first = chain(wave, torch.Generator().manual_seed(11))
    assert torch.equal(first, chain(wave, torch.Generator().manual_seed(11)))
    assert not torch.equal(first, chain(wave, torch.Generator().manual_seed(12)))
    assert torch.equal(first, LaunderChain.from_spec(SPEC)(wave, torch.Generator().manual_seed(11)))


def test_chain_batch_equals_each_example_alone():
    chain = LaunderChain.from_spec(SPEC)
    wave = _wave(6, 3000)
    params = chain.sample(6, torch.Generator().manual_seed(4))
    batched = chain.apply(wave, params)
    for i in range(6):
        alone = chain.apply(wave[i : i + 1], {key: value[i : i + 1] for key, value in params.items()})
        torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=0)


def test_chain_keeps_shape_dtype_and_range():
    wave = _wave(5, 2500)
    wave[0] = 0.99 * torch.sign(wave[0])  # a square wave at full scale: reverb/noise would push it over 1
    out = LaunderChain.from_spec("noise:white:snr=0; reverb:rt60=0.5")(wave, torch.Generator().manual_seed(0))
    assert out.shape == wave.shape and out.dtype == torch.float32 and out.abs().max() <= 1.0


@pytest.mark.parametrize(
    "spec, message",
    [
        ("p=1.5; clean", r"p='1.5' must be a number in \[0, 1\]"),
        ("p=0.5; p=0.6; clean", "p given twice"),
        ("p=0.5", "no conditions; write 'none' for the identity chain"),
        ("clean:w=0", "w=0 .* drop the condition instead"),
        ("clean:w=heavy", r"w='heavy' must be a number > 0"),
        ("clean; noise:white:snr=abc", r"snr='abc' is not a number"),
        ("clean; echo", "unknown family 'echo'"),
    ],
)
def test_bad_spec_raises_value_error(spec, message):
    with pytest.raises(ValueError, match=message):
        LaunderChain.from_spec(spec)


def test_chain_rejects_conditions_at_another_sample_rate():
    with pytest.raises(ValueError, match="not at the chain's 16000 Hz"):
        LaunderChain([parse_condition("resample:4000", sample_rate=8000)], sample_rate=16000)


def _dense_reference(chain: LaunderChain, wave: torch.Tensor, params: dict) -> torch.Tensor:
    """The former GPU form: every condition on the whole batch, each example's output selected with where."""
    out = wave
    for index, condition in enumerate(chain.conditions):
        own = {key.split(".", 1)[1]: value for key, value in params.items() if key.startswith(f"{index}.")}
        chosen = (params["apply"] & (params["choice"] == index)).view(-1, 1, 1)
        out = torch.where(chosen, condition.apply(wave, own), out)
    return out


def test_grouped_form_equals_the_dense_form():
    """Each condition runs only on its own rows; the result must equal running it on the whole batch."""
    chain = LaunderChain.from_spec(
        "p=0.9; noise:white|pink:snr=0..20; reverb:rt60=0.2..1.0; resample:8000|11025; lowpass:4000|7000; "
        "codecsim:step=3..12:cutoff=4000..8000", 16000)
    wave = 0.3 * torch.randn(24, 1, 8000, generator=torch.Generator().manual_seed(3))
    params = chain.sample(24, torch.Generator().manual_seed(4))
    assert len(set(params["choice"][params["apply"]].tolist())) == 5   # every condition is exercised
    assert not params["apply"].all()                                   # and some rows stay clean
    torch.testing.assert_close(chain.apply(wave, params), _dense_reference(chain, wave, params), atol=1e-5, rtol=0)


def test_parameters_are_drawn_on_the_host():
    chain = LaunderChain.from_spec(SPEC)
    params = chain.sample(8, torch.Generator().manual_seed(0))
    assert all(value.device.type == "cpu" for value in params.values())
    with pytest.raises(ValueError, match="pass a CPU torch.Generator"):
        chain(_wave(2, 1000), 0)   # (no other device here to make a generator on; the check is the same)
