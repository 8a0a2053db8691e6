"""A corpus of hostile audio files, written by the tests (never shipped).

``write_hostile_corpus(folder)`` returns ``{name: Case}``: each case is a file under ``folder``
and either the decoded length it must give at 16 kHz (a usable clip) or a regex its
:class:`AudioError` must match after the file's name (a clip that must be refused).
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

RATE = 16000


@dataclass
class Case:
    path: str                   # relative to the corpus folder
    error: str | None = None    # regex the AudioError must match; None: the clip must decode
    length: int = 0             # samples at 16 kHz when it decodes


def tone(seconds: float, rate: int, frequency: float = 440.0, level: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return wave if channels == 1 else np.repeat(wave[:, None], channels, axis=1)


def wav_header(frames: int, rate: int, channels: int = 1, bits: int = 16, float_format: bool = False) -> bytes:
    """A canonical 44-byte WAV header for ``frames`` frames (its data may be missing or sparse)."""
    block = channels * bits // 8
    data = frames * block
    fmt = struct.pack("<HHIIHH", 3 if float_format else 1, channels, rate, rate * block, block, bits)
    return b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + \
        b"data" + struct.pack("<I", data)


def _streamed_wav_header(rate: int, unknown: int) -> bytes:
    """A WAV header as a streaming writer leaves it, sizes set to its "unknown" value."""
    header = bytearray(wav_header(0, rate))
    header[4:8] = header[40:44] = struct.pack("<I", unknown)
    return bytes(header)


def png_bytes() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def resampled_length(frames: int, rate: int) -> int:
    return -(-frames * RATE // rate)


def write_hostile_corpus(folder: Path) -> dict[str, Case]:
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Case] = {}

    def put(name: str, relative: str, write, error: str | None = None, length: int = 0) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        cases[name] = Case(relative, error, length)

    # --- files that must be refused, each with its own reason
    put("zero_length", "zero.wav", lambda p: p.write_bytes(b""), r"cannot decode as audio")
    put("header_only", "header_only.wav", lambda p: p.write_bytes(wav_header(0, RATE)), r"0 samples")
    flac = folder / "_whole.flac"
    soundfile.write(flac, tone(2.0, RATE), RATE, format="FLAC")
    put("truncated_flac", "truncated.flac", lambda p: p.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2]),
        r"(truncated|cannot decode)")
    flac.unlink()
    whole = folder / "_whole.wav"
    soundfile.write(whole, tone(2.0, RATE), RATE, subtype="PCM_16")
    # libsndfile reads a cut WAV as a shorter clip without complaint: the header gives it away
    put("truncated_wav", "truncated.wav", lambda p: p.write_bytes(whole.read_bytes()[: 44 + 2 * int(1.2 * RATE)]),
        r"truncated: the WAV header declares 32000 frames, the file holds 19200")
    whole.unlink()
    put("text_as_wav", "readme.wav", lambda p: p.write_text("this is a text file, not audio\n" * 20),
        r"cannot decode as audio.*(not an audio file|format)")
    put("png_as_flac", "picture.flac", lambda p: p.write_bytes(png_bytes()), r"cannot decode as audio")
    nan = tone(1.0, RATE)
    nan[4000] = np.nan
    put("nan_samples", "nan.wav", lambda p: soundfile.write(p, nan, RATE, subtype="FLOAT"), r"NaN or infinite")
    inf = tone(1.0, RATE)
    inf[9000] = -np.inf
    put("inf_samples", "inf.wav", lambda p: soundfile.write(p, inf, RATE, subtype="DOUBLE"), r"NaN or infinite")
    put("all_zero", "zeros.wav", lambda p: soundfile.write(p, np.zeros(RATE, np.float32), RATE), r"silent")
    put("one_sample", "one_sample.wav", lambda p: soundfile.write(p, np.full(1, 0.5, np.float32), RATE),
        r"shorter than the minimum")
    put("too_loud_float", "loud.wav", lambda p: soundfile.write(p, 3 * tone(1.0, RATE), RATE, subtype="FLOAT"),
        r"exceed \[-1, 1\]")
    put("folder_named_wav", "folder.wav", lambda p: p.mkdir(), r"is a folder")
    put("fifo_named_wav", "pipe.wav", lambda p: os.mkfifo(p), r"not a regular file")
    put("odd_rate", "odd_rate.wav", lambda p: soundfile.write(p, tone(0.5, 44101), 44101), r"no small ratio")
    cases["missing"] = Case("missing.wav", r"file not found")

    # --- files that must decode: mono float32 at 16 kHz, in [-1, 1], the right length
    put("eight_channels", "eight_channels.wav",
        lambda p: soundfile.write(p, tone(1.0, RATE, channels=8), RATE), length=RATE)
    put("rate_8k", "rate_8k.wav", lambda p: soundfile.write(p, tone(1.5, 8000), 8000), length=24000)
    put("rate_96k", "rate_96k.flac", lambda p: soundfile.write(p, tone(1.0, 96000, 1000.0), 96000,
                                                              subtype="PCM_24"), length=RATE)
    put("pcm_24", "pcm_24.wav", lambda p: soundfile.write(p, tone(1.0, 22050), 22050, subtype="PCM_24"),
        length=RATE)
    put("float_32", "float_32.wav", lambda p: soundfile.write(p, tone(1.0, RATE), RATE, subtype="FLOAT"),
        length=RATE)
    put("non_ascii", "dönüşüm/音声 クリップ.flac", lambda p: soundfile.write(p, tone(0.5, RATE), RATE), length=8000)
    put("spaces", "with spaces/a clip (1).wav", lambda p: soundfile.write(p, tone(0.5, RATE), RATE), length=8000)
    put("streamed_wav", "streamed.wav", lambda p: p.write_bytes(_streamed_wav_header(RATE, 0xFFFFFFFF) + (
        tone(1.0, RATE) * 32767).astype("<i2").tobytes()), length=RATE)
    put("sox_streamed_wav", "sox_streamed.wav", lambda p: p.write_bytes(_streamed_wav_header(RATE, 0x7FFFF000) + (
        tone(1.0, RATE) * 32767).astype("<i2").tobytes()), length=RATE)
    # GSM 06.10 in WAV: compressed, so its header's data size says nothing about frames; GSM pads to
    # whole 320-sample blocks (8,000 -> 8,320 frames at 8 kHz: 16,640 at 16 kHz)
    put("gsm_wav", "gsm.wav", lambda p: soundfile.write(p, tone(1.0, 8000), 8000, subtype="GSM610"), length=16640)
    put("full_scale_48k", "full_scale_48k.wav",
        lambda p: soundfile.write(p, np.sign(tone(1.0, 48000, 200.0)), 48000, subtype="FLOAT"), length=RATE)
    return cases


def manifest_text(cases: dict[str, Case], names: list[str] | None = None) -> str:
    """A manifest listing ``names`` (default: every case), quoting paths as CSV needs."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "speaker", "system", "split"])
    for i, name in enumerate(names or list(cases)):
        writer.writerow([cases[name].path, "spoof" if i % 2 else "bonafide", f"s{i % 3}",
                         "A01" if i % 2 else "-", ("train", "val", "test")[i % 3]])
    return buffer.getvalue()
