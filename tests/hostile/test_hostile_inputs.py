"""Inputs that libsndfile would misread, each refused with a message naming the file and the reason:
headers with impossible fields (decoded at the wrong length otherwise), files that are not audio
(named for what they look like, with no decoder chatter on the terminal), near-silent and constant
clips (refused with the measured level), and the ingest resampler's stop band."""
import os
import re
import threading

import numpy as np
import pytest
import soundfile

from detector.data.audio import SILENCE_DBFS, AudioError, decode, iter_decode
from tests.hostile.files import (
    AIFF_LIES,
    PCM16_TONE,
    RATE,
    WAV_LIES,
    aiff_bytes,
    level_clip,
    not_audio,
    riff_header,
    tone,
    w64_rf64_lie,
)


def refused(path, pattern: str) -> str:
    """Decode ``path``, expecting an AudioError that starts with the path and matches ``pattern``."""
    with pytest.raises(AudioError) as error:
        decode(path)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message
    return message


@pytest.mark.parametrize("name", list(WAV_LIES))
def test_impossible_wav_header_field_is_named(tmp_path, name):
    fields, pattern = WAV_LIES[name]
    path = tmp_path / f"{name}.wav"
    path.write_bytes(riff_header(len(PCM16_TONE), **fields) + PCM16_TONE)
    refused(path, rf"impossible WAV header: {pattern}")


def test_a_wrong_sample_width_is_what_libsndfile_would_decode_at_twice_the_length(tmp_path):
    path = tmp_path / "w.wav"
    path.write_bytes(riff_header(len(PCM16_TONE), bits=8) + PCM16_TONE)
    assert soundfile.info(str(path)).frames == 2 * RATE   # the trap the header check closes
    refused(path, "impossible WAV header")


@pytest.mark.parametrize("name", list(AIFF_LIES))
def test_impossible_aiff_header_field_is_named(tmp_path, name):
    fields, pattern = AIFF_LIES[name]
    path = tmp_path / f"{name}.aiff"
    path.write_bytes(aiff_bytes(**fields))
    refused(path, rf"impossible AIFF header: .*{pattern}" if "AIFF" not in pattern else pattern)


@pytest.mark.parametrize("format_name", ["W64", "RF64"])
def test_impossible_w64_and_rf64_headers_are_named(tmp_path, format_name):
    path = tmp_path / f"lie.{format_name.lower()}"
    path.write_bytes(w64_rf64_lie(format_name))
    # libsndfile writes RF64 as WAVE_FORMAT_EXTENSIBLE, whose valid-bits field then exceeds the claimed width
    refused(path, rf"impossible {format_name} header: (block alignment 2 bytes, but 1 channel\(s\) of 8-bit samples"
                  r"|valid bits per sample 16 exceed the 8-bit sample container)")


@pytest.mark.parametrize("bits, subtype", [(8, "PCM_U8"), (16, "PCM_16"), (24, "PCM_24"), (32, "PCM_32")])
@pytest.mark.parametrize("format_name", ["WAV", "WAVEX", "RF64", "W64", "AIFF"])
def test_valid_pcm_headers_pass_the_header_checks(tmp_path, format_name, bits, subtype):
    if format_name == "AIFF" and subtype == "PCM_U8":
        subtype = "PCM_S8"   # AIFF's 8-bit PCM is signed
    path = tmp_path / f"ok.{format_name.lower()}"
    soundfile.write(path, tone(0.5, RATE, channels=2), RATE, format=format_name, subtype=subtype)
    assert decode(path).shape == (RATE // 2,)


SUFFIXES = [".mp3", ".wav", ".flac", ".ogg", ".m4a"]


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("kind", list(not_audio()))
def test_non_audio_is_named_for_what_it_looks_like_without_decoder_chatter(tmp_path, capfd, kind, suffix):
    data, guess = not_audio()[kind]
    path = tmp_path / f"{kind}{suffix}"
    path.write_bytes(data)
    message = refused(path, r"cannot decode as audio: not an audio file, or a format libsndfile does not read "
                            rf"\(.*{re.escape(guess)}")
    assert "pipe" not in message and "regular file" not in message
    assert capfd.readouterr().err == ""


def test_mp3_decoder_chatters_on_fd_2_unless_decode_keeps_it_quiet(tmp_path, capfd):
    path = tmp_path / "zeros.mp3"
    path.write_bytes(bytes(4096))
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.SoundFile(str(path))
    assert "Illegal Audio-MPEG-Header" in capfd.readouterr().err   # what the user would otherwise see
    with pytest.raises(AudioError):
        decode(path)
    os.write(2, b"still here\n")   # fd 2 is restored afterwards
    assert capfd.readouterr().err == "still here\n"


def test_concurrent_decodes_share_the_quiet_stderr_and_restore_it(tmp_path, capfd):
    paths = []
    for i, (data, _) in enumerate(not_audio().values()):
        paths.append(tmp_path / f"{i}.mp3")
        paths[-1].write_bytes(data)
    soundfile.write(tmp_path / "good.wav", tone(0.5, RATE), RATE)
    errors = []

    def work():
        for path in paths * 3 + [tmp_path / "good.wav"]:
            try:
                decode(path)
            except AudioError as error:
                errors.append(str(error))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 4 * 3 * len(paths)
    os.write(2, b"restored\n")
    assert capfd.readouterr().err == "restored\n"


@pytest.mark.parametrize("level_dbfs", [-600.0, -300.0, -150.0, -100.0, -90.5])
def test_near_silent_clip_is_refused_with_its_measured_level(tmp_path, level_dbfs):
    path = tmp_path / "quiet.wav"
    soundfile.write(path, level_clip(level_dbfs), RATE, subtype="FLOAT")
    refused(path, rf"silent clip: RMS level {level_dbfs:.1f} dBFS is below the {SILENCE_DBFS:g} dBFS floor")


def test_sixteen_bit_dither_alone_is_silent(tmp_path):
    lsb = np.random.default_rng(3).integers(-1, 2, RATE).astype("<i2")   # -1, 0, +1 steps: about -92 dBFS
    soundfile.write(tmp_path / "dither.wav", lsb, RATE, subtype="PCM_16")
    message = refused(tmp_path / "dither.wav", r"silent clip: RMS level -\d+\.\d dBFS")
    measured = float(re.search(r"RMS level (-\d+\.\d) dBFS", message).group(1))
    assert measured == pytest.approx(20 * np.log10(np.sqrt(np.mean((lsb / 32768.0) ** 2))), abs=0.05)


@pytest.mark.parametrize("level_dbfs", [-89.5, -80.0, -40.0])
def test_quiet_but_audible_clip_decodes(tmp_path, level_dbfs):
    soundfile.write(tmp_path / "q.wav", level_clip(level_dbfs), RATE, subtype="FLOAT")
    wave = decode(tmp_path / "q.wav")
    assert 20 * np.log10(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) == pytest.approx(level_dbfs, abs=0.01)


@pytest.mark.parametrize("value", [0.5, -0.25, 1e-3, 1.0, -1.0])
def test_constant_clip_is_refused_naming_its_value(tmp_path, value):
    path = tmp_path / "dc.wav"
    soundfile.write(path, np.full(RATE, value, np.float32), RATE, subtype="FLOAT")
    refused(path, rf"no varying content: the clip is a constant {re.escape(f'{value:+.4g}')} \(DC only\); its RMS "
                  rf"about that mean is -inf dBFS, below the {SILENCE_DBFS:g} dBFS floor")


@pytest.mark.parametrize("lsb", [100, -3, 32767])
def test_constant_16_bit_clip_is_refused(tmp_path, lsb):
    soundfile.write(tmp_path / "dc16.wav", np.full(RATE, lsb, "<i2"), RATE, subtype="PCM_16")
    refused(tmp_path / "dc16.wav", rf"no varying content: the clip is a constant {re.escape(f'{lsb / 32768:+.4g}')}")


def test_dc_with_inaudible_ripple_is_refused_with_the_ripple_level(tmp_path):
    soundfile.write(tmp_path / "r.wav", 0.5 + level_clip(-110.0), RATE, subtype="DOUBLE")
    message = refused(tmp_path / "r.wav", r"no varying content: the clip is a constant \+0\.5 \(DC only\)")
    assert float(re.search(r"about that mean is (-\d+\.\d) dBFS", message).group(1)) == pytest.approx(-110, abs=0.1)


def test_dc_with_audible_content_decodes(tmp_path):
    soundfile.write(tmp_path / "ok.wav", 0.5 + level_clip(-60.0), RATE, subtype="FLOAT")
    assert decode(tmp_path / "ok.wav").shape == (RATE,)


def test_opposite_channels_cancel_to_silence(tmp_path):
    wave = tone(1.0, RATE)
    soundfile.write(tmp_path / "c.wav", np.stack([wave, -wave], axis=1), RATE, subtype="FLOAT")
    refused(tmp_path / "c.wav", r"every sample is zero \(silent clip\)")


@pytest.mark.parametrize("block_samples", [1000, 4096, 1 << 16])
def test_streamed_level_is_over_the_whole_clip_not_per_block(tmp_path, block_samples):
    steps = np.repeat([0.5, -0.5, 0.25], RATE)   # constant within each block: varying over the clip
    soundfile.write(tmp_path / "steps.wav", steps, RATE, subtype="FLOAT")
    assert sum(b.size for b in iter_decode(tmp_path / "steps.wav", RATE, block_samples=block_samples)) == steps.size
    ripple = 0.3 + level_clip(-95.0, 3.0)   # a DC offset with a -95 dBFS ripple, spread over many blocks
    soundfile.write(tmp_path / "ripple.wav", ripple, RATE, subtype="DOUBLE")
    with pytest.raises(AudioError, match=r"about that mean is -95\.0 dBFS"):
        list(iter_decode(tmp_path / "ripple.wav", RATE, block_samples=block_samples))


def _tone_gain_db(tmp_path, frequency: float, source_rate: int = 44100) -> float:
    """Level of a tone from a ``source_rate`` file after ingest to 16 kHz, relative to its level in the file."""
    source = tone(2.0, source_rate, frequency)
    soundfile.write(tmp_path / "t.wav", source, source_rate, subtype="FLOAT")
    out = decode(tmp_path / "t.wav")[RATE // 4:-RATE // 4]   # away from the edges' zero padding
    return 20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2)) / np.sqrt(np.mean(source ** 2.0)))


@pytest.mark.parametrize("frequency", [8400.0, 9000.0, 12000.0])
def test_ingest_resampling_stops_tones_above_the_new_nyquist(tmp_path, frequency):
    # torchaudio's default filter passes 8.4 kHz at -9.8 dB (aliased to 7.6 kHz): a class cue on mixed-rate corpora
    assert _tone_gain_db(tmp_path, frequency) <= -50.0


@pytest.mark.parametrize("frequency", [300.0, 3000.0, 6000.0])
def test_ingest_resampling_passes_the_speech_band(tmp_path, frequency):
    assert abs(_tone_gain_db(tmp_path, frequency)) <= 0.1
