"""Phase 2 catalogue: study conditions, filters' scipy parity, banks, real codecs, export and render."""


import numpy as np
import pytest
import scipy.signal
import soundfile
import torch

from detector.cli.main import main
from detector.launder import (
    CATALOGUE_ALL,
    STUDY_CONDITIONS,
    AddRoomReverb,
    HostCodec,
    LaunderBanks,
    LaunderChain,
    codec_round_trip,
    derived_cache,
    expand_conditions,
    parse_condition,
)
from detector.launder import functional as F
from detector.launder.rooms import SHOEBOX_T20_TOLERANCE, ShoeBoxSpec, expected_delay_samples, shoebox_rirs
from tests.launder.corpus import small_corpus

SR = 16000


def _speechlike(batch: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    f0 = rng.uniform(100, 250, (batch, 1))
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 10)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    wave = wave + 0.03 * rng.standard_normal((batch, length))
    return (0.5 * wave / np.abs(wave).max(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return small_corpus(tmp_path_factory.mktemp("launder-corpus"))


def test_all_is_the_studys_29_conditions_plus_clean_and_each_parses(corpus):
    assert len(STUDY_CONDITIONS) == 29 and CATALOGUE_ALL == ("clean", *STUDY_CONDITIONS)
    assert "noise:babble:snr=0..0.5" in STUDY_CONDITIONS and "mp3:320k" in STUDY_CONDITIONS
    assert expand_conditions("all") == list(CATALOGUE_ALL)
    assert expand_conditions("clean, lowpass:7000,clean") == ["clean", "lowpass:7000"]
    banks = LaunderBanks.from_corpus(*corpus)
    for name in STUDY_CONDITIONS:
        attack = parse_condition(name, SR, banks)
        assert attack.name == name
        if name.startswith("reverb"):   # the study's room, one response per RT60
            assert isinstance(attack, AddRoomReverb) and len(attack.allowed) == 1
            assert attack.bank.reports[attack.allowed[0]]["model"] == "study"


@pytest.mark.parametrize("cutoff", [7000.0, 3000.0])
def test_lowpass_matches_scipy_sosfilt_within_1e_4(cutoff):
    wave = _speechlike(3, 8000)
    wave += 0.2 * np.random.default_rng(1).standard_normal(wave.shape).astype(np.float32)
    wave *= 0.5 / np.abs(wave).max()   # headroom: the Attack contract peak-limits outputs above 1
    ours = parse_condition(f"lowpass:{cutoff:g}", SR)(torch.from_numpy(wave)[:, None], torch.Generator())
    reference = scipy.signal.sosfilt(scipy.signal.butter(5, cutoff, fs=SR, output="sos"), wave.astype(np.float64))
    np.testing.assert_allclose(ours[:, 0].numpy(), reference, atol=1e-4, rtol=0)


def test_a_lowpass_range_draws_grid_cutoffs_and_each_example_matches_scipy():
    wave = _speechlike(16, 4000)
    wave += 0.2 * np.random.default_rng(2).standard_normal(wave.shape).astype(np.float32)
    wave *= 0.5 / np.abs(wave).max()
    attack = parse_condition("lowpass:3000..6000", SR)
    assert attack.name == "lowpass:3000..6000"
    assert attack.candidates.tolist() == [3000.0 + 25.0 * k for k in range(121)]
    generator = torch.Generator().manual_seed(4)
    drawn = attack.sample(16, generator)["cutoff_hz"]
    assert len(set(drawn.tolist())) > 8 and drawn.min() >= 3000 and drawn.max() <= 6000
    ours = attack(torch.from_numpy(wave)[:, None], torch.Generator().manual_seed(4))[:, 0].numpy()
    for row, cutoff in enumerate(drawn.tolist()):
        reference = scipy.signal.sosfilt(scipy.signal.butter(5, cutoff, fs=SR, output="sos"),
                                         wave[row].astype(np.float64))
        np.testing.assert_allclose(ours[row], reference, atol=1e-4, rtol=0)


def test_resample_round_trip_is_close_to_scipy_resample_poly():
    wave = _speechlike(2, 16000)
    ours = F.resample_round_trip(torch.from_numpy(wave)[:, None], SR, 8000)[:, 0].numpy()
    reference = scipy.signal.resample_poly(scipy.signal.resample_poly(wave, 1, 2, axis=1), 2, 1, axis=1)
    inner = slice(500, -500)   # both are windowed sinc; edges differ by their padding
    error = np.sqrt(np.mean((ours[:, inner] - reference[:, inner]) ** 2)) / np.sqrt(np.mean(wave ** 2))
    assert error < 0.02


def test_shoebox_rirs_have_the_requested_rt60_and_direct_path_delay(tmp_path):
    spec = ShoeBoxSpec(variants=2)
    rirs, reports = shoebox_rirs(0.6, SR, spec, tmp_path)
    for report in reports:   # validated inside too; checked again from the stored reports
        assert abs(report["measured_t20_s"] - 0.6) <= SHOEBOX_T20_TOLERANCE * 0.6
        assert abs(report["delay_samples"] - report["expected_delay_samples"]) <= 2
    assert reports[0]["expected_delay_samples"] == pytest.approx(expected_delay_samples(spec.source_m, spec.mic_m, SR))
    again, _ = shoebox_rirs(0.6, SR, spec, tmp_path)   # from the disk cache
    assert all(np.array_equal(a, b) for a, b in zip(rirs, again)) and len(list(tmp_path.glob("*.npz"))) == 1


def test_shoebox_reverb_draws_only_its_rt60s_variants(tmp_path):
    banks = LaunderBanks(cache_dir=tmp_path, shoebox=ShoeBoxSpec(variants=2))
    attack = parse_condition("reverb:rt60=0.3:model=shoebox", SR, banks)
    assert isinstance(attack, AddRoomReverb)
    index = attack.sample(200, torch.Generator().manual_seed(0))["rir_index"]
    assert set(index.tolist()) == set(banks.shoebox_bank([0.3], SR).entries([0.3]))
    with pytest.raises(ValueError, match="discrete rooms"):
        parse_condition("reverb:rt60=0.3..0.6:model=shoebox", SR, banks)


@pytest.mark.parametrize("kind", ["babble", "cafe", "street", "volvo", "white"])
def test_bank_noises_mix_at_the_requested_snr_within_0_1_db(corpus, kind):
    attack = parse_condition(f"noise:{kind}:snr=10..10.5", SR, LaunderBanks.from_corpus(*corpus))
    wave = torch.from_numpy(0.1 * _speechlike(4, 8000))[:, None]
    params = attack.sample(4, torch.Generator().manual_seed(0))
    out = attack.apply(wave, params)
    realised = 10 * torch.log10(wave.square().mean(-1) / (out - wave).square().mean(-1)).view(-1)
    assert ((params["snr_db"] >= 10) & (params["snr_db"] <= 10.5)).all()
    assert (realised - params["snr_db"]).abs().max() < 0.1


def test_babble_from_too_few_given_utterances_says_what_to_do():
    with pytest.raises(ValueError, match=r"at least 6 bona fide utterances, got 3; leave utterances unset for the "
                                         r"packaged prompts, or .*--noise-dir babble=PATH"):
        parse_condition("noise:babble:snr=10", SR, LaunderBanks(utterances=[np.ones(100, np.float32)] * 3))


def test_noise_and_rir_folders_load_and_bad_ones_are_named(tmp_path):
    good = tmp_path / "street"
    good.mkdir()
    soundfile.write(good / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 8000)
    rirs = tmp_path / "rirs"
    rirs.mkdir()
    rir = np.zeros(4000)
    rir[100], rir[101:] = 1.0, 0.1 * np.exp(-np.arange(3899) / 800.0)
    soundfile.write(rirs / "room.wav", rir, SR, subtype="FLOAT")
    banks = LaunderBanks(noise_dirs={"street": good}, rir_dir=rirs)
    assert len(banks.noise("street", SR)) == 16000   # resampled 8 -> 16 kHz
    reverb = parse_condition("reverb:model=measured", SR, banks)
    assert reverb.bank.irs.shape == (1, 4000)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=f"RIR folder {empty}: empty"):
        parse_condition("reverb:model=measured", SR, LaunderBanks(rir_dir=empty))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.wav").write_text("not audio")
    with pytest.raises(ValueError, match=r"broken/x.wav: cannot read as audio"):
        parse_condition("noise:volvo:snr=0", SR, LaunderBanks(noise_dirs={"volvo": broken}))
    with pytest.raises(ValueError, match="expected TYPE=PATH with TYPE one of"):
        LaunderBanks.parse_noise_dirs(["rain=/x"])


@pytest.mark.parametrize("text, message", [
    ("mp3:400k", r"bitrate=400 is outside the valid range 8..320 kbit/s"),
    ("mp3:fast", r"bitrate='fast' is not a number"),
    ("lowpass:9000", r"cutoff 9000.0 Hz must lie in \(0, 8000\) Hz"),
    ("lowpass:4000..8000", r"cutoff 8000.0 Hz must lie in \(0, 8000\) Hz"),
    ("reverb:rt60=-1", r"outside the valid range 0.01..5 s"),
    ("clip:0", r"outside the valid range 0.01..1"),
    ("mp3:128k|64k", r"takes one fixed value"),
])
def test_bad_new_conditions_name_the_valid_range(text, message):
    with pytest.raises(ValueError, match=message):
        parse_condition(text, SR)


def test_bad_sample_rate_is_rejected():
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        parse_condition("clean", 0)


@pytest.mark.parametrize("bitrate, low, high", [(16, 14, 19), (64, 60, 70), (128, 120, 140), (320, 300, 340)])
def test_mp3_round_trip_reaches_its_bitrate_and_stays_aligned(bitrate, low, high):
    wave = _speechlike(1, 3 * SR)[0]
    out, kbps = codec_round_trip(wave, SR, "mp3", bitrate)
    assert out.shape == wave.shape and low <= kbps <= high
    lags = scipy.signal.correlation_lags(len(out), len(wave))
    assert lags[np.argmax(scipy.signal.correlate(out, wave))] == 0
    assert 10 * np.log10(np.mean(wave ** 2) / np.mean((out - wave) ** 2)) > 10


def test_host_codec_is_flagged_and_refused_by_the_device_chain():
    attack = parse_condition("mp3:64k", SR)
    assert isinstance(attack, HostCodec) and attack.host_side
    with pytest.raises(ValueError, match="run on the host"):
        LaunderChain.from_spec("p=1; mp3:64k")
    wave = torch.from_numpy(_speechlike(2, 8000))[:, None]
    out = attack(wave, torch.Generator())   # the convenience path (syncs) codes each example alone
    np.testing.assert_allclose(out[1, 0].numpy(), attack.process(wave[1, 0].numpy()), atol=1e-6)


def test_derived_cache_codes_each_clip_once_and_keeps_row_numbers(corpus):
    manifest, cache = corpus
    attack = parse_condition("mp3:32k", SR)
    derived = derived_cache(cache, attack, rows=[0, 3])
    assert derived.offsets[1] == -1 and len(derived.waveform(3)) == len(cache.waveform(3))
    int16_step = 2.0 ** -15   # the derived cache stores int16 like the waveform cache: rounding is half a step
    np.testing.assert_allclose(derived.waveform(0), attack.process(np.asarray(cache.waveform(0))), atol=int16_step / 2)
    more = derived_cache(cache, attack, rows=[0, 3, 5])
    assert more.offsets[5] >= 0 and np.array_equal(more.waveform(3), derived.waveform(3))
    for row in (0, 3, 5):   # clips are coded on parallel threads; each must still be its own clip's coding
        np.testing.assert_allclose(more.waveform(row), attack.process(np.asarray(cache.waveform(row))),
                                   atol=int16_step / 2)


def test_launder_and_render_commands_write_files_protocol_and_a_usable_manifest(corpus, tmp_path):
    manifest, cache = corpus
    out = tmp_path / "laundered"
    code = main(["launder", "--manifest", str(manifest.path), "--cache-dir", str(cache.folder.parent),
                 "--conditions", "clean,noise:white:snr=10..10.5,mp3:64k", "--split", "test", "--out", str(out)])
    assert code == 0
    protocol = (out / "protocol.csv").read_text().splitlines()
    assert protocol[0] == "path,source,utt,label,speaker,system,split,condition,family,parameter"
    assert len(protocol) == 1 + 3 * len(manifest.split("test"))
    assert any(",noise:white:snr=10..10.5,noise,white:snr=10..10.5" in line for line in protocol)
    from detector.data import read_manifest
    laundered = read_manifest(out / "manifest.csv")
    first = laundered.audio_path(laundered.rows[0])
    data, rate = soundfile.read(first)
    assert rate == SR and len(data) == len(cache.waveform(manifest.split("test")[0]))
    pngs = tmp_path / "png"
    assert main(["render", "--manifest", str(manifest.path), "--cache-dir", str(cache.folder.parent),
                 "--conditions", "noise:white:snr=0..0.5,lowpass:7000", "--n", "2", "--out", str(pngs)]) == 0
    assert len(list(pngs.glob("*.png"))) == 2
    assert main(["launder", "--manifest", str(manifest.path), "--cache-dir", str(cache.folder.parent),
                 "--conditions", "chorus", "--out", str(out)]) == 2
