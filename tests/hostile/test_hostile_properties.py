"""Property tests: random bytes as audio, random manifest and protocol lines.

Audio is either decoded to a valid clip (mono float32 in [-1, 1] at 16 kHz, finite, non-empty)
or refused with an AudioError naming the file; text is parsed or refused with a ValueError
naming ``file:line``. Never another exception, never garbage.
"""
import io
import re

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.data.audio import AudioError, decode
from detector.data.corpora.common import read_protocol
from detector.data.manifest import read_manifest

# derandomize: the same examples every run, so a failure reproduces and CI is stable; no example
# database is written into the working tree.
SETTINGS = dict(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True, database=None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hypothesis")


def _valid(format_name: str, subtype: str, rate: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    wave = 0.5 * np.sin(np.linspace(0, 200, 3000, dtype=np.float32))
    soundfile.write(buffer, np.repeat(wave[:, None], channels, axis=1), rate, format=format_name, subtype=subtype)
    return buffer.getvalue()


SEEDS = [_valid("WAV", "PCM_16", 16000, 1), _valid("WAV", "FLOAT", 8000, 2), _valid("WAV", "PCM_24", 44100, 1),
         _valid("FLAC", "PCM_16", 16000, 1), _valid("FLAC", "PCM_24", 48000, 3)]


@st.composite
def mutated_audio(draw) -> bytes:
    """A valid WAV/FLAC with random bytes overwritten (header fields included), cut or extended."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, min(len(data) - 1, draw(st.sampled_from([64, 512, len(data) - 1])))))
        patch = draw(st.binary(min_size=1, max_size=8))
        data[at:at + len(patch)] = patch
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=64))


audio_bytes = st.one_of(st.binary(max_size=4096), mutated_audio(),
                        st.builds(lambda magic, rest: magic + rest,
                                  st.sampled_from([b"RIFF", b"fLaC", b"OggS", b"FORM", b"ID3", b"\xff\xfb"]),
                                  st.binary(max_size=2048)))


@settings(**SETTINGS)
@given(data=audio_bytes, suffix=st.sampled_from([".wav", ".flac"]))
def test_random_bytes_decode_to_a_valid_clip_or_a_named_audio_error(folder, data, suffix):
    path = folder / f"random clip{suffix}"
    path.write_bytes(data)
    try:
        wave = decode(path, 16000)
    except AudioError as error:
        assert str(error).startswith(f"{path}: "), str(error)
        return
    assert wave.dtype == np.float32 and wave.ndim == 1 and wave.size > 0
    assert np.isfinite(wave).all() and np.abs(wave).max() <= 1.0 and np.abs(wave).max() > 0


HEADER = "path,label,speaker,system,split\n"
FIELD = st.one_of(st.sampled_from(["a.wav", "b.flac", "../x.wav", "/abs/c.wav", "bonafide", "spoof", "Bona-Fide",
                                   "train", "val", "test", "dev", "-", "", "A01", '"', '""', "x y", "ü",
                                   "a\x00b", "..", "./a.wav"]),
                  st.text(max_size=12))
LINE = st.one_of(st.lists(FIELD, min_size=0, max_size=7).map(",".join), st.text(max_size=40))


@settings(**SETTINGS)
@given(lines=st.lists(LINE, max_size=6), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(),
       header=st.sampled_from([HEADER, "path,label,speaker,system,split,condition\n"]))
def test_random_manifest_lines_parse_or_name_file_and_line(folder, lines, newline, bom, header):
    path = folder / "m.csv"
    path.write_text(("\ufeff" if bom else "") + header.replace("\n", newline) + newline.join(lines) + newline,
                    encoding="utf-8", newline="")
    try:
        manifest = read_manifest(path)
    except ValueError as error:
        message = str(error)
        assert re.match(rf"{re.escape(str(path))}:\d+: ", message) or \
            message == f"{path}: manifest has no rows", message
        return
    for row in manifest.rows:
        assert row.label in ("bonafide", "spoof") and row.split in ("train", "val", "test", "")
        assert row.path and not row.path.startswith("../") and "\x00" not in row.path
        assert row.target in (0, 1) and row.line >= 2


PROTOCOL_FIELD = st.one_of(st.sampled_from(["LA_0079", "LA_T_1138215", "-", "A01", "bonafide", "spoof"]),
                           st.text(min_size=1, max_size=10))
PROTOCOL_LINE = st.one_of(st.lists(PROTOCOL_FIELD, max_size=7).map(" ".join), st.text(max_size=40))


@settings(**SETTINGS)
@given(lines=st.lists(PROTOCOL_LINE, max_size=6), newline=st.sampled_from(["\n", "\r\n"]))
def test_random_protocol_lines_parse_or_name_file_and_line(folder, lines, newline):
    path = folder / "protocol.txt"
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    try:
        parsed = read_protocol(path, (4, 5))
    except ValueError as error:
        message = str(error)
        assert re.match(rf"{re.escape(str(path))}:\d+: ", message) or \
            message == f"{path}: protocol file has no lines", message
        return
    assert all(len(fields) in (4, 5) and number >= 1 for number, fields in parsed)
