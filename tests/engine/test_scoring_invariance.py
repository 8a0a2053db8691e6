"""Laundered evaluation inputs depend only on (seed, condition, clip id): not on batching, the
split's other clips, the windowing, or whether they are exported by ``detector launder``."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

import detector.engine.scoring
from detector.config import DataConfig
from detector.data import load_corpus, write_manifest
from detector.engine.scoring import ScoringSplit, WindowSettings
from detector.launder.export import export
from detector.models.detector import Detector
from detector.utils.keys import slug
from detector.utils.runtime import Precision
from tests.conftest import synthetic_clip

SR = 16000
CONDITIONS = ("noise:white:snr=10", "resample:8000", "lowpass:4000", "reverb:rt60=0.3..0.9:model=synthetic")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Clips of several lengths, shorter and longer than a window; all in the test split."""
    root = tmp_path_factory.mktemp("invariance")
    rng = np.random.default_rng(5)
    rows = []
    for i, seconds in enumerate((0.3, 0.5, 0.75, 1.1, 1.6, 0.4, 0.9, 2.2)):
        label = "bonafide" if i % 2 else "spoof"
        path = root / f"clip{i}.wav"
        soundfile.write(path, synthetic_clip(rng, label, seconds, SR), SR, subtype="FLOAT")
        rows.append({"path": path.name, "label": label, "speaker": f"s{i % 3}",
                     "system": "-" if label == "bonafide" else "tts", "split": "test"})
    write_manifest(rows, root / "full.csv")
    # The same clips, with half of them moved out of the test split: another split composition.
    write_manifest([dict(r, split="train" if i % 2 else "test") for i, r in enumerate(rows)], root / "half.csv")
    return root


def _split(corpus, manifest: str, batch_size: int, hop_s: float = 0.0) -> ScoringSplit:
    data = DataConfig(manifest=str(corpus / manifest), cache_dir=str(corpus / "cache"), crop_s=0.5, num_workers=0)
    return ScoringSplit(data, "test", WindowSettings(hop_s=hop_s), batch_size, torch.device("cpu"))


def _windows_by_key(split: ScoringSplit, condition: str, seed: int) -> dict[tuple[str, int], torch.Tensor]:
    """Every laundered window, keyed by (clip id, start sample)."""
    attack = detector.launder.parse_condition(condition, SR, banks=split.banks)
    windows = torch.cat([w for w, _ in split.laundered_windows(attack, seed)])
    assert windows.shape[0] == len(split.dataset)
    return {(split.clips[c].utt, int(s)): w
            for c, s, w in zip(split.dataset.clip_of_window, split.dataset.starts, windows)}


@pytest.mark.parametrize("condition", CONDITIONS)
def test_laundered_windows_do_not_depend_on_batching_split_or_windowing(corpus, condition):
    reference = _windows_by_key(_split(corpus, "full.csv", batch_size=16), condition, seed=3)
    for other in (_split(corpus, "full.csv", batch_size=3),              # batch size
                  _split(corpus, "half.csv", batch_size=5),              # split composition
                  _split(corpus, "full.csv", batch_size=4, hop_s=0.1)):  # windows per clip
        windows = _windows_by_key(other, condition, seed=3)
        shared = set(windows) & set(reference)
        assert len(shared) >= 4
        for key in shared:
            assert torch.equal(windows[key], reference[key]), key
    if condition.startswith(("noise", "reverb")):   # random conditions: the seed does matter
        assert not all(torch.equal(w, reference[k]) for k, w in _windows_by_key(
            _split(corpus, "full.csv", batch_size=16), condition, seed=4).items())


def test_scores_do_not_depend_on_the_batch_size(corpus):
    model = Detector().eval()
    precision = Precision.resolve("off", torch.device("cpu"))
    small = _split(corpus, "full.csv", batch_size=3).score([model], CONDITIONS[0], precision, seed=1)
    large = _split(corpus, "full.csv", batch_size=32).score([model], CONDITIONS[0], precision, seed=1)
    np.testing.assert_allclose(small, large, rtol=0, atol=1e-5)


def test_launder_exports_exactly_the_audio_that_evaluation_scores(corpus, tmp_path, monkeypatch):
    split = _split(corpus, "full.csv", batch_size=4)
    scored = {}
    real = detector.engine.scoring.launder_clip

    def recording(attack, wave, seed, clip_id):
        scored[(attack.name, clip_id)] = out = real(attack, wave, seed, clip_id)
        return out

    monkeypatch.setattr(detector.engine.scoring, "launder_clip", recording)
    model = Detector().eval()
    precision = Precision.resolve("off", torch.device("cpu"))
    for condition in CONDITIONS:
        split.score([model], condition, precision, seed=9)
    manifest, cache = load_corpus(split_data := DataConfig(manifest=str(corpus / "full.csv"),
                                                           cache_dir=str(corpus / "cache")))
    assert split_data.sample_rate == SR
    export(manifest, cache, list(CONDITIONS), tmp_path / "out", seed=9, banks=split.banks, progress=False)
    assert len(scored) == len(CONDITIONS) * len(split.clips)
    for (name, utt), audio in scored.items():
        written, rate = soundfile.read(tmp_path / "out" / slug(name) / f"{utt}.wav", dtype="float32")
        assert rate == SR and np.array_equal(written, audio.numpy()), (name, utt)


def test_a_condition_is_fingerprinted_by_the_audio_it_launders_with(corpus):
    from detector.launder import LaunderBanks

    split = _split(corpus, "full.csv", batch_size=4)
    babble = "noise:babble:snr=10"
    first = split.describe(babble)
    assert first == split.describe(babble) and first["babble_source"] == split.banks.babble_source
    assert split.describe("noise:white:snr=10")["fingerprint"] != first["fingerprint"]
    rng = np.random.default_rng(0)
    split.banks = LaunderBanks(utterances=[0.1 * rng.standard_normal(SR).astype(np.float32) for _ in range(8)])
    assert split.describe(babble)["fingerprint"] != first["fingerprint"]   # same name, other talkers
    rooms = split.describe("reverb:rt60=0.3")["rooms"]
    assert len(rooms) == 1 and rooms[0]["model"] == "study" and 0.2 < rooms[0]["measured_t20_s"] < 0.4


def test_laundering_parameters_do_not_depend_on_the_device():
    """Parameters are drawn on the host, so an attack on another device draws the same ones.

    The meta device stands in for a GPU here: moving an attack there must not change a single
    drawn value of any catalogue condition or of the default training chain.
    """
    from detector.config import TrainConfig
    from detector.launder import CATALOGUE_ALL, LaunderBanks, LaunderChain, parse_condition

    banks = LaunderBanks()
    attacks = [parse_condition(c, SR, banks=banks) for c in CATALOGUE_ALL]
    attacks.append(LaunderChain.from_spec(TrainConfig().launder, SR, banks=banks))
    for attack in attacks:
        if getattr(attack, "host_side", False):
            continue
        on_cpu = attack.sample(6, torch.Generator().manual_seed(11))
        on_meta = attack.to("meta").sample(6, torch.Generator().manual_seed(11))
        assert on_cpu.keys() == on_meta.keys(), attack.name
        for key, value in on_cpu.items():
            assert on_meta[key].device.type == "cpu" and torch.equal(on_meta[key], value), (attack.name, key)
