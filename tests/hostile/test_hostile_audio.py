"""Hostile audio files: each is refused with an AudioError naming the file and the problem, or
decodes to a valid clip; through ``decode``, the waveform cache (fail / counted skip) and the CLI."""
import json
import re
import struct

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

import detector.data.cache as cache_module
from detector.cli.main import main
from detector.data import BadRowsError, decode, load_or_build_cache, read_manifest
from detector.data.audio import AudioError, ingest_filter, iter_decode, pcm_header
from detector.data.cache import dequantise, quantise
from tests.hostile.files import RATE, manifest_text, tone, wav_header, write_hostile_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, write_hostile_corpus(folder)


BAD = ["zero_length", "header_only", "truncated_flac", "truncated_wav", "text_as_wav", "png_as_flac", "nan_samples",
       "inf_samples", "all_zero", "one_sample", "too_loud_float", "folder_named_wav", "fifo_named_wav", "odd_rate",
       "impossible_header", "html_as_mp3", "near_silent", "dc_only", "missing"]
GOOD = ["eight_channels", "rate_8k", "rate_96k", "pcm_24", "float_32", "non_ascii", "spaces", "full_scale_48k",
        "streamed_wav", "sox_streamed_wav", "gsm_wav"]


@pytest.mark.parametrize("name", BAD)
def test_hostile_file_is_refused_naming_the_file_and_the_problem(corpus, name):
    folder, cases = corpus
    path = folder / cases[name].path
    with pytest.raises(AudioError) as error:
        decode(path)
    assert str(error.value).startswith(f"{path}: ")
    assert re.search(cases[name].error, str(error.value)), str(error.value)


@pytest.mark.parametrize("name", GOOD)
def test_unusual_but_valid_file_decodes_to_mono_float32_in_range(corpus, name):
    folder, cases = corpus
    wave = decode(folder / cases[name].path)
    assert wave.dtype == np.float32 and wave.ndim == 1 and wave.flags.c_contiguous
    assert wave.shape == (cases[name].length,)
    assert np.isfinite(wave).all() and np.abs(wave).max() <= 1.0
    assert 0.45 < np.abs(wave).max()   # the tone survived: not silence, not garbage


def test_eight_channels_are_averaged(tmp_path):
    channels = np.zeros((RATE, 8), np.float32)
    channels[:, 3] = tone(1.0, RATE)
    soundfile.write(tmp_path / "c.wav", channels, RATE, subtype="FLOAT")
    np.testing.assert_allclose(decode(tmp_path / "c.wav"), tone(1.0, RATE) / 8, atol=1e-7)


@pytest.mark.parametrize("rate, subtype", [(96000, "PCM_24"), (8000, "PCM_16"), (44100, "FLOAT")])
def test_resampled_tone_keeps_its_pitch(tmp_path, rate, subtype):
    soundfile.write(tmp_path / "t.wav", tone(1.0, rate, 1000.0), rate, subtype=subtype)
    spectrum = np.abs(np.fft.rfft(decode(tmp_path / "t.wav")))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=2)   # 16000 samples at 16 kHz: 1 Hz bins


def test_block_decoding_equals_resampling_the_whole_clip(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.3 * rng.standard_normal((100_003, 2))).clip(-1, 1).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", stereo, 44100, subtype="FLOAT")
    whole = torchaudio.functional.resample(torch.from_numpy(stereo.mean(axis=1)), 44100, RATE,
                                           **ingest_filter()).numpy().clip(-1, 1)
    blocks = list(iter_decode(tmp_path / "s.wav", RATE, block_samples=6000))   # 441-sample aligned blocks
    assert len(blocks) > 10
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)
    np.testing.assert_allclose(decode(tmp_path / "s.wav"), whole, atol=1e-6)


def test_nan_is_located_even_in_a_later_block(tmp_path):
    wave = tone(3.0, RATE)
    wave[40000] = np.nan
    soundfile.write(tmp_path / "n.wav", wave, RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"n\.wav: contains NaN or infinite samples \(first at 2\.500 s\)"):
        list(iter_decode(tmp_path / "n.wav", RATE, block_samples=4096))


def _hostile_manifest(corpus, names):
    folder, cases = corpus
    path = folder / f"m_{len(names)}.csv"
    path.write_text(manifest_text(cases, names), encoding="utf-8")
    return read_manifest(path)


def test_cache_fails_listing_every_bad_clip_with_its_line(corpus, tmp_path):
    manifest = _hostile_manifest(corpus, GOOD + BAD)
    with pytest.raises(BadRowsError) as error:
        load_or_build_cache(manifest, RATE, tmp_path / "cache")
    problems = error.value.problems
    assert [p["line"] for p in problems] == list(range(2 + len(GOOD), 2 + len(GOOD) + len(BAD)))
    folder, cases = corpus
    for problem, name in zip(problems, BAD):
        assert problem["path"] == cases[name].path
        assert re.search(cases[name].error, problem["error"])
    assert not list((tmp_path / "cache").glob("*/index.json")), "a failed build leaves no cache"
    assert not list((tmp_path / "cache").glob(".*")), "nor its staging folder"


@pytest.mark.parametrize("workers", [1, 2])
def test_cache_skips_and_counts_bad_clips_and_keeps_the_good_ones(corpus, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(cache_module, "PARALLEL_MIN_FILES", 1)
    manifest = _hostile_manifest(corpus, BAD + GOOD)
    cache = load_or_build_cache(manifest, RATE, tmp_path / "cache", on_error="skip", workers=workers)
    folder, cases = corpus
    assert len(cache.skipped) == len(BAD)
    assert [s["path"] for s in cache.skipped] == [cases[name].path for name in BAD]
    assert json.loads((cache.folder / "skipped.json").read_text()) == cache.skipped
    assert list(cache.valid_rows) == list(range(len(BAD), len(BAD) + len(GOOD)))
    for row, name in enumerate(GOOD, start=len(BAD)):
        np.testing.assert_array_equal(cache.waveform(row), dequantise(quantise(decode(folder / cases[name].path))))


def test_a_bad_long_clip_streamed_to_disk_leaves_no_spill_and_no_torn_samples(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "SPILL_SAMPLES", 5000)   # every clip here counts as long
    good, bad = tone(2.0, RATE), tone(3.0, RATE)
    bad[40000] = np.inf   # found after ~2.5 s, when earlier blocks are already on disk
    soundfile.write(tmp_path / "good.wav", good, RATE, subtype="FLOAT")
    soundfile.write(tmp_path / "bad.wav", bad, RATE, subtype="FLOAT")
    soundfile.write(tmp_path / "after.wav", -good, RATE, subtype="FLOAT")
    (tmp_path / "m.csv").write_text("path,label,speaker,system,split\ngood.wav,bonafide,a,-,train\n"
                                    "bad.wav,spoof,a,A1,train\nafter.wav,spoof,a,A1,train\n")
    monkeypatch.setattr("detector.data.audio.BLOCK_SAMPLES", 4096)
    cache = load_or_build_cache(read_manifest(tmp_path / "m.csv"), RATE, tmp_path / "cache", on_error="skip")
    assert [s["line"] for s in cache.skipped] == [3]
    np.testing.assert_array_equal(cache.waveform(0), dequantise(quantise(good)))
    np.testing.assert_array_equal(cache.waveform(2), dequantise(quantise(-good)))
    assert cache.samples.shape == (2 * good.size,)
    assert sorted(p.name for p in cache.folder.iterdir()) == ["index.json", "samples.i16", "skipped.json"]


def test_cli_reports_bad_clips_or_skips_them_with_a_count(corpus, tmp_path, capsys):
    folder, cases = corpus
    (folder / "cli.csv").write_text(manifest_text(cases, GOOD[:3] + ["nan_samples", "png_as_flac"]),
                                    encoding="utf-8")
    command = ["launder", "--manifest", str(folder / "cli.csv"), "--conditions", "clean",
               "--cache-dir", str(tmp_path / "cache")]
    assert main(command + ["--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    err = err[err.index("detector launder: error: "):]   # after the progress bar
    assert "2 bad clip(s)" in err and "line 5: " in err and "nan.wav: contains NaN" in err
    assert "line 6: " in err and "picture.flac: cannot decode" in err and "--on-error skip" in err
    assert main(command + ["--out", str(tmp_path / "b"), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 bad clip(s) of 5" in out and "wrote 3 files" in out


def test_wav_header_walk_skips_other_chunks_and_odd_padding(tmp_path):
    samples = (tone(0.5, RATE) * 32767).astype("<i2").tobytes()
    header = bytearray(wav_header(len(samples) // 2, RATE))
    listing = b"LIST" + struct.pack("<I", 5) + b"INFO!" + b"\x00"   # odd size, padded to even
    wav = bytes(header[:36]) + listing + bytes(header[36:]) + samples
    path = tmp_path / "with_list.wav"
    path.write_bytes(wav)
    assert pcm_header(path).frames == len(samples) // 2 == len(decode(path))
    path.write_bytes(wav[: -len(samples) // 2])
    with pytest.raises(AudioError, match="truncated: the WAV header declares 8000 frames, the file holds 4000"):
        decode(path)
    assert pcm_header(tmp_path / "missing.wav") is None
