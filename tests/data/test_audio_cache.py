"""Decoding to mono 16 kHz float32, and the waveform cache: int16 round trip, version-2 caches, reuse,
rebuild, bad rows."""
import json

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from detector.data import BadRowsError, load_or_build_cache, read_manifest, write_manifest
from detector.data.audio import AudioError, decode, ingest_filter
from detector.data.cache import INT16_SCALE, dequantise, open_cache, quantise


def test_decode_mixes_down_and_resamples(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.3 * rng.standard_normal((22050, 2))).clip(-1, 1).astype(np.float32)
    soundfile.write(tmp_path / "s.flac", stereo, 22050, subtype="PCM_24")
    wave = decode(tmp_path / "s.flac", 16000)
    stored = soundfile.read(tmp_path / "s.flac", dtype="float32")[0].mean(axis=1)
    expected = torchaudio.functional.resample(torch.from_numpy(stored), 22050, 16000, **ingest_filter()).numpy()
    assert wave.dtype == np.float32 and wave.shape == (16000,)
    np.testing.assert_allclose(wave, expected.clip(-1, 1), atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "cannot decode"),
    (lambda p: p.write_text("this is not audio"), "cannot decode"),
    (lambda p: soundfile.write(p, np.zeros((0, 1), np.float32), 16000), "0 samples"),
    (lambda p: soundfile.write(p, np.full(8000, 0.1, np.float32), 16000, subtype="FLOAT") or
     _poison(p), "NaN or infinite"),
    (lambda p: soundfile.write(p, np.zeros(8000, np.float32), 16000), "silent"),
    (lambda p: soundfile.write(p, np.full(800, 0.1, np.float32), 16000), "shorter than the minimum"),
    (lambda p: soundfile.write(p, np.full(8000, 1.5, np.float32), 16000, subtype="FLOAT"), "exceed"),
])
def test_bad_clips_raise_with_file_name(tmp_path, make, message):
    path = tmp_path / "bad clip.wav"
    make(path)
    with pytest.raises(AudioError, match=f"bad clip.wav: .*{message}"):
        decode(path)


def _poison(path):
    data, rate = soundfile.read(path, dtype="float32")
    data[100] = np.nan
    soundfile.write(path, data, rate, subtype="FLOAT")


def _manifest(tmp_path, corpus):
    from detector.data.corpora import folder_corpus
    write_manifest(folder_corpus(corpus, tmp_path / "m.csv", (0.5, 0.25, 0.25)), tmp_path / "m.csv")
    return read_manifest(tmp_path / "m.csv")


def test_cache_round_trip_equals_decoding(tmp_path, folder_corpus, cache_dir):
    manifest = _manifest(tmp_path, folder_corpus)   # 16-bit PCM at 16 kHz: stored without loss
    cache = load_or_build_cache(manifest, 16000, cache_dir)
    for i, row in enumerate(manifest.rows):
        np.testing.assert_array_equal(cache.waveform(i), decode(manifest.audio_path(row)))
        assert cache.waveform(i).dtype == np.float32 and cache.stored(i).dtype == np.int16
    assert isinstance(cache.samples, np.memmap) and cache.samples.dtype == np.int16
    index = json.loads((cache.folder / "index.json").read_text())
    assert index["dtype"] == "int16" and index["version"] >= 3
    assert (cache.folder / "samples.i16").stat().st_size == 2 * index["total_samples"]


def test_16_bit_sources_round_trip_bit_exactly_to_what_soundfile_reads(tmp_path, cache_dir):
    pcm = np.random.default_rng(1).integers(-32768, 32768, 8000).astype(np.int16)
    pcm[:3] = [-32768, 32767, 0]   # both extremes: x*32768 must neither clip nor overflow them
    soundfile.write(tmp_path / "a.wav", pcm, 16000, subtype="PCM_16")
    (tmp_path / "m.csv").write_text("path,label,speaker,system,split\na.wav,bonafide,s,-,train\n")
    cache = load_or_build_cache(read_manifest(tmp_path / "m.csv"), 16000, cache_dir)
    expected = soundfile.read(tmp_path / "a.wav", dtype="float32")[0]
    np.testing.assert_array_equal(cache.waveform(0), expected)
    np.testing.assert_array_equal(cache.stored(0), pcm)


def test_quantisation_rounds_to_the_nearest_step_and_clips_full_scale():
    x = np.array([0.0, 1.0, -1.0, 0.5 / INT16_SCALE, 1.5 / INT16_SCALE, -0.25, 0.99999], dtype=np.float32)
    np.testing.assert_array_equal(quantise(x), [0, 32767, -32768, 0, 2, -8192, 32767])   # half to even
    wave = np.random.default_rng(0).uniform(-1, 1, 100_000).astype(np.float32)
    error = np.abs(dequantise(quantise(wave)) - wave)
    assert error.max() <= 1 / INT16_SCALE   # the worst case: just below +1.0, clipped to 32767
    assert error[wave < 1 - 1 / INT16_SCALE].max() <= 0.5 / INT16_SCALE   # elsewhere: half a step
    assert dequantise(quantise(x)).dtype == np.float32 and abs(dequantise(quantise(x))[1] - 1.0) == 1 / INT16_SCALE


def test_a_version_2_float32_cache_still_opens(tmp_path):
    """Written here in the version-2 layout (samples.f32, no dtype in the index), as old runs left it."""
    waves = [np.linspace(-0.3, 0.3, 5000, dtype=np.float32), np.full(3000, 0.123456, np.float32)]
    folder = tmp_path / "v2"
    folder.mkdir()
    np.concatenate(waves).tofile(folder / "samples.f32")
    (folder / "index.json").write_text(json.dumps({"version": 2, "sample_rate": 16000, "total_samples": 8000,
                                                   "offsets": [0, -1, 5000], "lengths": [5000, 0, 3000],
                                                   "skipped": []}))
    cache = open_cache(folder)
    assert cache.samples.dtype == np.float32 and list(cache.valid_rows) == [0, 2]
    np.testing.assert_array_equal(cache.waveform(2), waves[1])   # float32 kept as it was: no quantisation
    np.testing.assert_array_equal(cache.stored(0), waves[0])


def test_cache_is_reused_then_rebuilt_when_inputs_change(tmp_path, folder_corpus, cache_dir, monkeypatch):
    manifest = _manifest(tmp_path, folder_corpus)
    first = load_or_build_cache(manifest, 16000, cache_dir)
    import detector.data.cache as cache_module
    monkeypatch.setattr(cache_module, "_decode_one", lambda job: pytest.fail("decoded again"))
    assert load_or_build_cache(manifest, 16000, cache_dir).folder == first.folder
    monkeypatch.undo()
    assert load_or_build_cache(manifest, 8000, cache_dir).folder != first.folder
    replaced = (0.2 * np.sin(np.arange(16000) / 7)).astype(np.float32)
    soundfile.write(manifest.audio_path(manifest.rows[0]), replaced, 16000)
    rebuilt = load_or_build_cache(manifest, 16000, cache_dir)
    assert rebuilt.folder != first.folder
    np.testing.assert_allclose(rebuilt.waveform(0), replaced, atol=1e-4)


def test_damaged_cache_is_rebuilt(tmp_path, folder_corpus, cache_dir):
    manifest = _manifest(tmp_path, folder_corpus)
    cache = load_or_build_cache(manifest, 16000, cache_dir)
    with open(cache.folder / "samples.i16", "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(ValueError, match="index expects"):
        open_cache(cache.folder)
    again = load_or_build_cache(manifest, 16000, cache_dir)
    np.testing.assert_array_equal(again.waveform(3), decode(manifest.audio_path(manifest.rows[3])))


def test_bad_rows_fail_with_a_list_or_are_skipped_and_reported(tmp_path, folder_corpus, cache_dir):
    manifest = _manifest(tmp_path, folder_corpus)
    manifest.audio_path(manifest.rows[1]).write_text("not audio")
    manifest.audio_path(manifest.rows[4]).unlink()
    with pytest.raises(BadRowsError, match="(?s)2 bad clip.*line 3: .*cannot decode.*line 6: .*file not found"
                                           ".*--on-error skip") as error:
        load_or_build_cache(manifest, 16000, cache_dir)
    assert [p["path"] for p in error.value.problems] == [manifest.rows[1].path, manifest.rows[4].path]
    assert not list(cache_dir.glob("*/index.json")), "a failed build must leave no cache"
    cache = load_or_build_cache(manifest, 16000, cache_dir, on_error="skip")
    assert [s["line"] for s in cache.skipped] == [3, 6]
    assert json.loads((cache.folder / "skipped.json").read_text())[0]["path"] == manifest.rows[1].path
    assert list(cache.valid_rows) == [i for i in range(len(manifest.rows)) if i not in (1, 4)]
    with pytest.raises(KeyError, match="skipped"):
        cache.waveform(1)


def test_parallel_decoding_matches_serial(tmp_path, cache_dir, monkeypatch):
    import detector.data.cache as cache_module
    from tests.conftest import write_folder_corpus
    manifest = _manifest(tmp_path, write_folder_corpus(tmp_path / "c", n_per_class=6, seconds=0.5))
    monkeypatch.setattr(cache_module, "PARALLEL_MIN_FILES", 1)
    parallel = load_or_build_cache(manifest, 16000, cache_dir / "p", workers=2)
    serial = load_or_build_cache(manifest, 16000, cache_dir / "s", workers=1)
    np.testing.assert_array_equal(np.asarray(parallel.samples), np.asarray(serial.samples))
    np.testing.assert_array_equal(parallel.offsets, serial.offsets)
