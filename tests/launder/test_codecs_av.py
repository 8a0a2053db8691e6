"""The ``codec`` family: real AAC, AMR-NB, G.722, GSM 06.10, G.711 and Opus round trips (PyAV and
libsndfile) on demo-corpus speech, the ``asvspoof5`` set, and an ablation over it."""
import json

import numpy as np
import pytest
import scipy.signal
import torch

from detector.cli.main import main
from detector.data.audio import decode
from detector.data.demo import DEMO_CORPUS
from detector.launder import derived_cache, expand_conditions, parse_condition
from detector.launder import functional as F
from detector.launder.codec import CODECS, MISSING_CODECS, HostCodec, codec_plan, fft_resample_host
from detector.launder.language import ASVSPOOF5_CONDITIONS, ASVSPOOF5_MISSING
from detector.launder.resample import leg_kernel
from tests.launder.corpus import small_corpus

SR = 16000
CLIPS = ("bonafide/allison/en_agent-incorrect.flac", "spoof/piper/en_US-joe-medium_en_confbridge-begin-glorious-c.flac")

# (condition, SNR floor in dB against the input band-limited to the codec's rate, kbit/s range of the
# packets). Measured on the two clips: AAC 32k 21-24 dB, AAC 24k at 8 kHz 18-20, AMR-NB 3-4 (a CELP
# coder matches the spectrum, not the waveform), G.722 33-39, GSM 06.10 14-16, G.711 ~38, Opus 16k
# 13-17, narrow-band Opus 8k 9-14, MP3 64k ~25.
CASES = (
    ("codec:aac:32k", 18, (28, 38)),
    ("codec:aac:rate=8000:24k", 12, (20, 30)),
    ("codec:amr:12.2k", 1.5, (12.2, 13.5)),
    ("codec:amr:4.75k", 1.5, (4.75, 5.6)),
    ("codec:g722", 30, (63, 65)),
    ("codec:gsm", 10, (13, 14.5)),
    ("codec:mulaw", 30, (63, 70)),
    ("codec:alaw", 30, (63, 70)),
    ("codec:opus:16k", 10, (13, 19)),
    ("codec:opus:8k:rate=8000", 6, (6, 10)),
    ("codec:mp3:64k", 15, (60, 72)),
)


def _speech(path: str) -> np.ndarray:
    return decode(DEMO_CORPUS / path, SR)


def _snr(reference: np.ndarray, out: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum((out - reference) ** 2)))


def _peak_lag(out: np.ndarray, wave: np.ndarray) -> int:
    lags = scipy.signal.correlation_lags(len(out), len(wave))
    return int(lags[np.argmax(scipy.signal.correlate(out, wave, method="fft"))])


@pytest.mark.parametrize("condition, floor_db, kbps_range", CASES)
def test_codec_round_trip_changes_the_clip_keeps_it_close_aligned_and_deterministic(condition, floor_db, kbps_range):
    attack = parse_condition(condition, SR)
    assert isinstance(attack, HostCodec) and attack.host_side
    name = condition.split(":")[1]
    for path in CLIPS:
        wave = _speech(path)
        out, kbps = attack.round_trip(wave)
        assert out.dtype == np.float32 and out.shape == wave.shape
        rate = SR if name == "mp3" else codec_plan(name, attack.setting, attack.rate, SR)[1]
        reference = fft_resample_host(fft_resample_host(wave, SR, rate), rate, SR)[: len(wave)] if rate < SR else wave
        assert floor_db < _snr(reference, out) < 60, "close to the input, but changed"
        # AMR-NB's peak wanders by +-1.5 samples at 8 kHz between clips (see detector.launder.codec).
        assert abs(_peak_lag(out, wave)) <= (4 if name == "amr" else 2), "the codec delay is cut: aligned"
        assert kbps_range[0] <= kbps <= kbps_range[1]
        again = parse_condition(condition, SR).process(wave)   # a fresh attack: no memo
        np.testing.assert_array_equal(again, attack.process(wave, key=path))


def test_the_host_resampler_is_the_projects_fft_resampler():
    wave = _speech(CLIPS[0])
    for source, target in ((16000, 8000), (8000, 16000), (48000, 16000), (16000, 44100)):
        x = wave if source == SR else fft_resample_host(wave, SR, source)
        ref = F.fft_resample(torch.from_numpy(x).view(1, 1, -1), torch.from_numpy(leg_kernel(source, target)).float(),
                             source, target).view(-1).numpy()
        np.testing.assert_allclose(fft_resample_host(x, source, target), ref, atol=1e-6)


def test_codec_grammar_positional_and_keyed_forms_agree_and_mp3_is_the_mp3_family():
    keyed = parse_condition("codec:codec=amr:bitrate=12.2k", SR)
    bare = parse_condition("codec:amr:12.2k", SR)
    assert (keyed.codec, keyed.setting, keyed.rate) == (bare.codec, bare.setting, bare.rate)
    assert (bare.codec, bare.setting, bare.rate) == ("codec:amr", 12.2, None)
    assert parse_condition("codec:opus:rate=8000:8k", SR).rate == 8000
    wave = _speech(CLIPS[1])
    np.testing.assert_array_equal(parse_condition("codec:mp3:128k", SR).process(wave),
                                  parse_condition("mp3:128k", SR).process(wave))


@pytest.mark.parametrize("codec", sorted(MISSING_CODECS))
def test_a_missing_codec_is_named_as_missing(codec):
    with pytest.raises(ValueError, match=rf"{codec} is missing: .*(no encoder|weights)"):
        parse_condition(f"codec:{codec}", SR)


@pytest.mark.parametrize("condition, message", [
    ("codec:aac", "needs a bitrate"),
    ("codec:amr:12k", "not one of its modes"),
    ("codec:g722:48k", "64 kbit/s only"),
    ("codec:aac:300k", "outside 8..128"),
    ("codec:opus:16k:rate=44100", "not one it encodes at"),
    ("codec:mp3:64k:rate=8000", "rate= is not taken"),
    ("codec:aac|amr:32k", "one name"),
    ("codec:aac:16k|32k", "one fixed value"),
    ("codec:flac", "unknown codec"),
])
def test_bad_codec_conditions_are_refused_with_the_reason(condition, message):
    with pytest.raises(ValueError, match=message):
        parse_condition(condition, SR)


def test_conditions_command_lists_the_codecs_and_the_asvspoof5_set(capsys):
    assert main(["conditions"]) == 0
    text = capsys.readouterr().out
    assert "codec:aac:32k" in text and all(name in text for name in (*CODECS, *MISSING_CODECS))
    assert "asvspoof5" in text and all(condition in text for condition in ASVSPOOF5_CONDITIONS)
    assert all(what.split(",")[0] in text for what, _ in ASVSPOOF5_MISSING)   # C02 AMR-WB, C03 Speex, C04 Encodec...
    assert expand_conditions("asvspoof5") == list(ASVSPOOF5_CONDITIONS)
    assert expand_conditions(["clean", "asvspoof5"]) == list(ASVSPOOF5_CONDITIONS)   # clean once
    for condition in ASVSPOOF5_CONDITIONS:
        assert parse_condition(condition, SR).name == condition


def test_derived_cache_holds_each_clip_coded_once(tmp_path):
    manifest, cache = small_corpus(tmp_path, n_per_class=3)
    attack = parse_condition("codec:amr:12.2k", SR)
    derived = derived_cache(cache, attack, rows=[0, 2, 4])
    assert derived.offsets[1] == -1 and derived.folder.name == "codec_amr_12.2k"
    for row in (0, 2, 4):   # coded on parallel threads; each row is its own clip's coding
        np.testing.assert_allclose(derived.waveform(row), attack.process(np.asarray(cache.waveform(row))),
                                   atol=2.0 ** -16)


@pytest.fixture(scope="module")
def demo_subset(tmp_path_factory):
    """4 test clips of the demo corpus (absolute paths) and an untrained model's checkpoint (0.5 s windows)."""
    from detector.config import Config
    from detector.data import read_manifest, write_manifest
    from detector.models.checkpoint import save_checkpoint
    from detector.models.detector import Detector

    root = tmp_path_factory.mktemp("demo_subset")
    demo = read_manifest(DEMO_CORPUS / "manifest.csv")
    rows = [{"path": str(demo.audio_path(r)), "label": r.label, "speaker": r.speaker, "system": r.system,
             "split": "test"}
            for label in ("bonafide", "spoof") for r in [r for r in demo.rows if r.label == label][::60][:2]]
    write_manifest(rows, root / "manifest.csv")
    config = Config()
    config.data.manifest, config.data.crop_s = str(root / "manifest.csv"), 0.5
    model = Detector(config.data.sample_rate, config.features, config.model)
    save_checkpoint(root / "model.pt", {"model": model.state_dict(), "config": config.to_dict()})
    return root


def test_ablate_runs_the_asvspoof5_set_on_demo_speech(demo_subset, tmp_path):
    root = demo_subset
    assert main(["ablate", "--checkpoint", str(root / "model.pt"), "--manifest", str(root / "manifest.csv"),
                 "--cache-dir", str(root / "cache"), "--out", str(tmp_path / "ab"), "--device", "cpu",
                 "--conditions", "asvspoof5"]) == 0
    cells = json.loads((tmp_path / "ab" / "ablation.json").read_text())
    assert [c["condition"] for c in cells] == list(ASVSPOOF5_CONDITIONS)
    assert all(0.0 <= c["eer"] <= 1.0 for c in cells)
    assert list((root / "cache").glob("*/derived/codec_amr_12.2k/index.json")), "coded once, beside the cache"
    assert "**codec average**" in (tmp_path / "ab" / "ablation.md").read_text()
