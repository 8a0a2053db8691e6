"""--train-codecs: real codecs coded once into derived caches, one drawn per training example and epoch.

Covers the build (once, reused, resumable), the seeded draw (frequency p, fixed by seed and epoch, the
crop start unchanged), the crop read from the variant, the device path, the flag's errors, a short
``detector train`` on demo-corpus speech, and bitwise resume.
"""
import threading

import numpy as np
import pytest
import torch

import detector.launder.codec as codec_module
from detector.cli.main import main
from detector.data import CropDataset, DeviceCropLoader, make_loader, read_manifest, upload_samples
from detector.data.cache import open_cache
from detector.data.demo import demo_manifest
from detector.data.loader import to_device
from detector.data.manifest import write_relocated_manifest
from detector.engine.train import TrainingInterrupted, train
from detector.launder import LaunderChain
from detector.launder.chain import parse_codec_variants
from detector.launder.codec import HostCodec, codec_variants, variant_bytes_per_hour
from detector.models.checkpoint import load_checkpoint
from detector.utils.errors import UserError
from tests.conftest import prepared_folder_corpus
from tests.engine.test_interrupts import _signal_in
from tests.engine.test_reliability import _config
from tests.launder.corpus import small_corpus

CPU = torch.device("cpu")
CODECS = "codec:mulaw; codec:gsm"   # the fastest real codecs: the build takes a fraction of a second


@pytest.fixture
def corpus(tmp_path):
    manifest, cache = small_corpus(tmp_path, n_per_class=6)
    return manifest, cache, manifest.split("train")


@pytest.fixture
def coded_calls(monkeypatch):
    """Count the clips coded (HostCodec.round_trip runs on a thread per core)."""
    calls, lock, real = [], threading.Lock(), HostCodec.round_trip

    def counted(self, wave):
        with lock:
            calls.append(self.name)
        return real(self, wave)

    monkeypatch.setattr(HostCodec, "round_trip", counted)
    return calls


def test_variants_are_coded_once_for_the_training_rows_then_reused(corpus, coded_calls):
    manifest, cache, train_rows = corpus
    attacks = parse_codec_variants(CODECS)
    variants = codec_variants(cache, attacks, train_rows)
    assert sorted(coded_calls) == sorted(["codec:mulaw"] * len(train_rows) + ["codec:gsm"] * len(train_rows))
    others = sorted(set(range(len(manifest.rows))) - set(train_rows))
    for variant in variants:
        assert variant.folder.parent == cache.folder / "derived"
        assert (variant.offsets[train_rows] >= 0).all() and (variant.offsets[others] == -1).all()
        np.testing.assert_array_equal(variant.lengths[train_rows], cache.lengths[train_rows])
        assert variant.samples.dtype == np.int16   # 2 bytes a sample at the cache's rate
    assert variant_bytes_per_hour(16000) == 115_200_000
    coded_calls.clear()
    again = codec_variants(cache, parse_codec_variants(CODECS), train_rows)
    assert coded_calls == [], "a second run codes nothing"
    assert [v.folder for v in again] == [v.folder for v in variants]


def test_an_interrupted_build_keeps_what_it_coded_and_codes_only_the_rest(corpus, coded_calls, monkeypatch):
    manifest, cache, train_rows = corpus
    attack = parse_codec_variants("codec:mulaw")[0]
    counted = HostCodec.round_trip

    def stops_after_three(self, wave):
        if len(coded_calls) >= 3:
            raise KeyboardInterrupt
        return counted(self, wave)

    monkeypatch.setattr(HostCodec, "round_trip", stops_after_three)
    with pytest.raises(KeyboardInterrupt):
        codec_variants(cache, [attack], train_rows)
    monkeypatch.setattr(HostCodec, "round_trip", counted)
    partial = codec_module.derived_cache(cache, attack, rows=[])   # opens what is there, codes nothing
    kept = int((partial.offsets >= 0).sum())
    assert 0 < kept < len(train_rows)
    coded_calls.clear()
    resumed = codec_variants(cache, [attack], train_rows)[0]
    assert len(coded_calls) == len(train_rows) - kept
    whole = codec_module.derived_cache(cache, HostCodec("codec:mulaw", None, name="whole"), rows=train_rows)
    for row in train_rows:
        np.testing.assert_array_equal(resumed.stored(row), whole.stored(row))


def _plan(dataset, epoch):
    dataset.set_epoch(epoch)
    return dataset.crop_plan(np.arange(len(dataset)))


def test_the_draw_has_frequency_p_equal_odds_and_follows_seed_and_epoch(corpus):
    manifest, cache, train_rows = corpus
    # The draw does not read the variants' samples: the clean cache stands in for three of them.
    dataset = CropDataset(cache, manifest, train_rows, 4000, random_crop=True, seed=3, variants=[cache] * 3,
                          variant_p=0.3)
    sources = np.concatenate([_plan(dataset, epoch)[1] for epoch in range(400)])   # 2,400 draws
    assert abs(np.mean(sources > 0) - 0.3) < 0.04   # 4.3 standard deviations
    assert np.allclose(np.bincount(sources[sources > 0])[1:] / np.sum(sources > 0), 1 / 3, atol=0.05)
    first, again = _plan(dataset, 7), _plan(dataset, 7)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(np.concatenate([_plan(dataset, e)[1] for e in (7, 8, 9)]),
                              np.concatenate([_plan(dataset, e)[1] for e in (8, 9, 10)]))
    other_seed = CropDataset(cache, manifest, train_rows, 4000, random_crop=True, seed=4, variants=[cache] * 3,
                             variant_p=0.3)
    assert not np.array_equal(np.concatenate([_plan(other_seed, e)[1] for e in range(5)]),
                              np.concatenate([_plan(dataset, e)[1] for e in range(5)]))
    clean = CropDataset(cache, manifest, train_rows, 4000, random_crop=True, seed=3)
    np.testing.assert_array_equal(_plan(clean, 7)[0], first[0])   # the crop start is the one without codecs
    assert not _plan(clean, 7)[1].any()


def test_a_crop_from_a_variant_is_that_derived_cache_at_the_same_position_on_both_loaders(corpus):
    manifest, cache, train_rows = corpus
    variants = codec_variants(cache, parse_codec_variants(CODECS), train_rows)
    dataset = CropDataset(cache, manifest, train_rows, 4000, random_crop=True, seed=1, variants=variants,
                          variant_p=0.5)
    seen = set()
    for epoch in range(3):
        starts, sources = _plan(dataset, epoch)
        seen |= set(sources.tolist())
        for k, (start, source) in enumerate(zip(starts, sources)):
            expected = dataset.sources[source].stored(dataset.rows[k])[start:start + 4000]
            assert torch.equal(dataset[k][0][0], torch.from_numpy(np.array(expected)))
            if source:
                assert not np.array_equal(expected, cache.stored(dataset.rows[k])[start:start + 4000])
    assert seen == {0, 1, 2}
    loader = [to_device(b, CPU) for b in make_loader(dataset, 2, True, CPU, 0, seed=1)]
    device = list(DeviceCropLoader(dataset, 2, upload_samples(dataset.sources, CPU), seed=1))
    assert len(loader) == len(device) > 1
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(loader, device))


def test_the_device_memory_check_counts_the_variants(corpus, monkeypatch):
    manifest, cache, train_rows = corpus
    variants = codec_variants(cache, parse_codec_variants("codec:mulaw"), train_rows)
    total = cache.samples.nbytes + variants[0].samples.nbytes
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (cache.samples.nbytes, 80 * 2**30))
    with pytest.raises(UserError, match=rf"with its 1 codec variant\(s\) \(--train-codecs\) needs .*\({total} bytes\)"):
        upload_samples([cache, *variants], torch.device("cuda:0"))


@pytest.mark.parametrize("spec, message", [
    ("noise:white:snr=10", r"'noise:white:snr=10' is not a real codec run on the host; .* put it in --launder"),
    ("codec:aac:32k; codex:aac", r"'codex:aac' is not a valid condition: .*unknown family 'codex'"),
    ("codec:speex:8k", r"'codec:speex:8k' is not a valid condition: .*speex is missing"),
    ("mp3:64k; mp3:64k", r"'mp3:64k' is given twice"),
])
def test_a_condition_that_is_not_a_host_codec_or_is_unknown_is_named(spec, message):
    with pytest.raises(ValueError, match=f"--train-codecs: {message}"):
        parse_codec_variants(spec)


def test_no_codecs_and_misuse_of_variants(corpus):
    manifest, cache, train_rows = corpus
    assert parse_codec_variants("") == parse_codec_variants(" off ") == []
    with pytest.raises(ValueError, match="need random_crop=True"):
        CropDataset(cache, manifest, train_rows, 4000, random_crop=False, variants=[cache], variant_p=0.5)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], got 1.5"):
        CropDataset(cache, manifest, train_rows, 4000, random_crop=True, variants=[cache], variant_p=1.5)


@pytest.mark.parametrize("codecs, p, message", [("codec:gsm", 1.5, r"--codec-p 1.5: must be a probability"),
                                                ("reverb:rt60=0.5", 0.5, "not a real codec")])
def test_train_refuses_a_bad_codec_setting_before_reading_the_corpus(tmp_path, codecs, p, message):
    config = _config(tmp_path / "absent.csv", tmp_path)
    config.train.train_codecs, config.train.codec_p = codecs, p
    with pytest.raises(ValueError, match=message):
        train(config, tmp_path / "run")


def test_train_with_codecs_on_demo_speech_end_to_end(tmp_path, capsys):
    """A few steps on 24 clips of the demo corpus; the variants cover the training rows only."""
    demo = read_manifest(demo_manifest())
    rows = [row for split in ("train", "val") for label in ("bonafide", "spoof")
            for row in [r for r in demo.rows if r.split == split and r.label == label][:6]]
    write_relocated_manifest(demo, rows, tmp_path / "manifest.csv")
    out = tmp_path / "run"
    assert main(["train", "--manifest", str(tmp_path / "manifest.csv"), "--out", str(out), "--cache-dir",
                 str(tmp_path / "cache"), "--crop-s", "1.0", "--batch-size", "4", "--epochs", "1",
                 "--max-steps-per-epoch", "1", "--device", "cpu", "--amp", "off", "--frontend", "logmel",
                 "--train-codecs", "codec:amr:12.2k; mp3:64k", "--codec-p", "0.6"]) == 0
    saved = load_checkpoint(out / "last.pt")["config"]["train"]
    assert (saved["train_codecs"], saved["codec_p"]) == ("codec:amr:12.2k; mp3:64k", 0.6)
    manifest = read_manifest(tmp_path / "manifest.csv")
    folders = sorted((tmp_path / "cache").glob("*/derived/*"))
    assert len(folders) == 2
    for variant in map(open_cache, folders):
        assert (variant.offsets[manifest.split("train")] >= 0).all()
        assert (variant.offsets[manifest.split("val")] == -1).all(), "validation stays clean"


def test_resume_with_train_codecs_is_bitwise(tmp_path, monkeypatch):
    manifest = prepared_folder_corpus(tmp_path, "60/20/20", n_per_class=16)

    def config():
        settings = _config(manifest, tmp_path, epochs=2, steps=2)
        settings.train.train_codecs, settings.train.codec_p = CODECS, 0.5
        settings.features.frontend = "logmel"   # faster than the default on the CPU; resume does not depend on it
        return settings

    train(config(), tmp_path / "straight")
    _signal_in(monkeypatch, LaunderChain, "forward", 3)   # epoch 2, step 1
    with pytest.raises(TrainingInterrupted, match="rerun with --resume"):
        train(config(), tmp_path / "run")
    monkeypatch.undo()
    state = train(config(), tmp_path / "run", resume=True)
    assert [row["epoch"] for row in state.history] == [1, 2]
    straight, resumed = (load_checkpoint(tmp_path / name / "last.pt")["model"] for name in ("straight", "run"))
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)
