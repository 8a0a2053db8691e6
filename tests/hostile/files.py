"""A corpus of hostile audio files, written by the tests (never shipped).

``write_hostile_corpus(folder)`` returns ``{name: Case}``: each case is a file under ``folder``
and either the decoded length it must give at 16 kHz (a usable clip) or a regex its
:class:`AudioError` must match after the file's name (a clip that must be refused).
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
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
    return riff_header(frames * block, tag=3 if float_format else 1, channels=channels, rate=rate,
                       byte_rate=rate * block, block_align=block, bits=bits)


def riff_header(data_bytes: int, tag: int = 1, channels: int = 1, rate: int = RATE, byte_rate: int = 2 * RATE,
                block_align: int = 2, bits: int = 16, extensible: tuple[int, int] | None = None) -> bytes:
    """A WAV header with every ``fmt `` field given as is (a lying header is the point).

    ``extensible=(valid_bits, sub_format_tag)`` writes WAVE_FORMAT_EXTENSIBLE with that sub-format.
    """
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, byte_rate, block_align, bits)
    if extensible:
        valid_bits, sub_format = extensible
        fmt += struct.pack("<HHI", 22, valid_bits, 0) + struct.pack("<H", sub_format) + \
            b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"   # the KSDATAFORMAT GUID's tail
    return b"RIFF" + struct.pack("<I", 20 + len(fmt) + data_bytes) + b"WAVE" + b"fmt " + \
        struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_bytes)


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


PCM16_TONE = (tone(1.0, RATE) * 32767).astype("<i2").tobytes()   # 1 s of 16-bit mono: 32,000 bytes

# Header lies: fields of a 1 s, 16-bit mono 16 kHz WAV (written with its true 32,000 data bytes)
# set to values no valid file has, each with the message that must name the field.
WAV_LIES = {
    "bits_8_of_16": (dict(bits=8), r"block alignment 2 bytes, but 1 channel\(s\) of 8-bit samples take 1"),
    "bits_7": (dict(bits=7), r"block alignment 2 bytes, but 1 channel\(s\) of 7-bit samples take 1"),
    "bits_8_align_1": (dict(bits=8, block_align=1),
                       r"byte rate 32000 bytes/s, but 16000 Hz x 1 bytes per frame is 16000"),
    "bits_0": (dict(bits=0), r"bits per sample 0 is impossible for PCM \(expected 1\.\.32\)"),
    "bits_40": (dict(bits=40), r"bits per sample 40 is impossible for PCM"),
    "bits_64_pcm": (dict(bits=64, block_align=8, byte_rate=8 * RATE), r"bits per sample 64 is impossible for PCM"),
    "float_16": (dict(tag=3), r"bits per sample 16 is impossible for IEEE float \(expected 32 or 64\)"),
    "mulaw_16": (dict(tag=7), r"bits per sample 16 is impossible for mu-law \(expected 8\)"),
    "align_0": (dict(block_align=0), r"block alignment 0 bytes, but 1 channel\(s\) of 16-bit samples take 2"),
    "align_3": (dict(block_align=3, byte_rate=3 * RATE), r"block alignment 3 bytes"),
    "align_4": (dict(block_align=4, byte_rate=4 * RATE), r"block alignment 4 bytes"),
    "channels_0": (dict(channels=0), r"channel count 0 is outside 1\.\.64"),
    "channels_2_of_1": (dict(channels=2), r"block alignment 2 bytes, but 2 channel\(s\) of 16-bit samples take 4"),
    "channels_300": (dict(channels=300, block_align=600, byte_rate=600 * RATE), r"channel count 300 is outside"),
    "rate_0": (dict(rate=0, byte_rate=0), r"sample rate 0 Hz is outside 1000\.\.768000 Hz"),
    "rate_1": (dict(rate=1, byte_rate=2), r"sample rate 1 Hz is outside"),
    "rate_4e9": (dict(rate=4_000_000_000), r"sample rate 4e\+09 Hz is outside"),
    "byte_rate_0": (dict(byte_rate=0), r"byte rate 0 bytes/s, but 16000 Hz x 2 bytes per frame is 32000"),
    "extensible_valid_24_of_16": (dict(extensible=(24, 1)), r"valid bits per sample 24 exceed the 16-bit"),
    "extensible_container_12": (dict(bits=12, extensible=(12, 1)),
                                r"bits per sample 12 is impossible for PCM \(expected 8 or 16 or 24 or 32\)"),
    "extensible_float_16": (dict(extensible=(16, 3)), r"bits per sample 16 is impossible for IEEE float"),
}


def aiff_bytes(channels: int | None = None, frames: int | None = None, bits: int | None = None,
               rate: bytes | None = None) -> bytes:
    """A 1 s, 16-bit mono AIFF tone with COMM fields overwritten (``rate``: 10 bytes of 80-bit float)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, tone(1.0, RATE), RATE, format="AIFF", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    comm = data.index(b"COMM") + 8   # channels (2), frames (4), bits (2), rate (10), all big-endian
    fields = ((0, ">h", channels), (2, ">I", frames), (6, ">h", bits))
    for offset, value in [(at, struct.pack(form, value)) for at, form, value in fields if value is not None] + \
            ([(8, rate)] if rate is not None else []):
        data[comm + offset:comm + offset + len(value)] = value
    return bytes(data)


AIFF_LIES = {
    "aiff_bits_8_of_16": (dict(bits=8), r"impossible AIFF header: frame count 16000 x 1 channel\(s\) x 8-bit "
                                       r"samples is 16000 bytes, but the sound data chunk holds 32000"),
    "aiff_bits_0": (dict(bits=0), r"impossible AIFF header: bits per sample 0 is impossible for PCM"),
    "aiff_bits_40": (dict(bits=40), r"bits per sample 40 is impossible"),
    "aiff_channels_2_of_1": (dict(channels=2), r"frame count 16000 x 2 channel\(s\) x 16-bit samples is 64000"),
    "aiff_channels_0": (dict(channels=0), r"channel count 0 is outside 1\.\.64"),
    "aiff_channels_negative": (dict(channels=-2), r"channel count -2 is outside"),
    "aiff_frames_2x": (dict(frames=32000), r"frame count 32000 x 1 channel\(s\)"),
    "aiff_rate_0": (dict(rate=bytes(10)), r"sample rate 0 Hz is outside"),
    "aiff_rate_inf": (dict(rate=b"\x7f\xff" + bytes(8)), r"sample rate inf Hz is outside"),
}


def w64_rf64_lie(format_name: str) -> bytes:
    """A 16-bit mono W64 or RF64 tone whose ``fmt `` chunk claims 8-bit samples."""
    buffer = io.BytesIO()
    soundfile.write(buffer, tone(1.0, RATE), RATE, format=format_name, subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    fmt = data.index(b"fmt ") + (24 if format_name == "W64" else 8)
    data[fmt + 14:fmt + 16] = struct.pack("<H", 8)
    return bytes(data)


def not_audio() -> dict[str, tuple[bytes, str]]:
    """Files that are not audio, each with the guess its message must carry."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("clip.wav", b"not really")
    rng = np.random.default_rng(7)
    return {
        "html": (b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>gone</body></html>\n",
                 "an HTML page"),
        "html_bom": ("\ufeff\n  <HTML lang='de'><body>Zugriff verweigert: ä</body></HTML>".encode(), "an HTML page"),
        "xml": (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "an XML document"),
        "zip": (archive.getvalue(), "a ZIP archive"),
        "png": (png_bytes(), "a PNG image"),
        "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(300), "a JPEG image"),
        "gif": (b"GIF89a\x01\x00\x01\x00" + bytes(40), "a GIF image"),
        "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "a PDF document"),
        "gzip": (gzip.compress(b"RIFF" * 100), "a gzip file"),
        "text": ("a transcript, not audio: ünïcödé\n".encode() * 30, "text"),
        "json": (b'{"error": "rate limited", "retry_after": 30}\n', "text"),
        "zeros": (bytes(4096), "only zero bytes"),
        "m4a": (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom" + bytes(200), "an MP4/M4A file"),
        # no 0xFF byte: no MPEG frame sync for the MP3 reader to find
        "binary": (bytes([1, 2, 3, 200]) + rng.integers(0, 255, 600, dtype=np.uint8).tobytes(), "01 02 03 c8"),
    }


def level_clip(rms_dbfs: float, seconds: float = 1.0) -> np.ndarray:
    """A 440 Hz tone whose RMS is ``rms_dbfs`` (a whole number of cycles: the RMS is exact)."""
    return (np.sqrt(2) * 10 ** (rms_dbfs / 20) * np.sin(2 * np.pi * 440 * np.arange(round(seconds * RATE)) / RATE))


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
    put("impossible_header", "eight_bit_claim.wav", lambda p: p.write_bytes(riff_header(32000, bits=8) + PCM16_TONE),
        r"impossible WAV header: block alignment 2 bytes, but 1 channel\(s\) of 8-bit samples take 1")
    put("html_as_mp3", "download.mp3", lambda p: p.write_bytes(not_audio()["html"][0]),
        r"cannot decode as audio: not an audio file, or a format libsndfile does not read \(it looks like an HTML")
    put("near_silent", "near_silent.wav", lambda p: soundfile.write(p, level_clip(-600.0), RATE, subtype="FLOAT"),
        r"silent clip: RMS level -600\.0 dBFS is below the -90 dBFS floor")
    put("dc_only", "dc.wav", lambda p: soundfile.write(p, np.full(RATE, 0.25), RATE, subtype="PCM_16"),
        r"no varying content: the clip is a constant \+0\.25 \(DC only\)")
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
