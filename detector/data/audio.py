"""Decoding: any file soundfile (libsndfile) reads -> mono float32 at the model's rate.

Files are read in blocks, mixed down to mono per block and resampled block by block with
enough overlap that the result equals resampling the whole clip at once, so memory is
bounded by the block size, not by the clip: :func:`iter_decode` yields the blocks (the
waveform cache streams them to disk), :func:`decode` joins them for callers that want
the whole clip in memory (it then holds the clip once, at the model's rate, mono).

Every problem is an :class:`AudioError` whose message starts with the file's path and says
what is wrong. Before any sample is read, :func:`open_audio` checks the file: an
uncompressed WAV / RF64 / W64 / AIFF header with a field no valid file can have is refused
naming the field (libsndfile would decode it, at the wrong length), and a file libsndfile
cannot open is named for what its first bytes look like (an HTML page, a ZIP archive...).
While decoding, a clip is refused when it is truncated, non-finite, out of [-1, 1] or
carries no signal: an RMS level below :data:`SILENCE_DBFS`, or below it once its mean (a DC
offset) is removed. Levels are dBFS: 20 log10(RMS) with full scale 1.0.

torch is imported only when a clip needs resampling, so decoding workers start quickly.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import stat
import struct
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

MIN_DURATION_S = 0.1
MIN_FILE_RATE = 1000                # Hz; below this a header is more likely corrupt than real
MAX_FILE_RATE = 768_000             # Hz
MAX_CHANNELS = 64                   # more is far likelier a corrupt header than a microphone array
# dBFS. One step of 16-bit audio is -90.3 dBFS: a clip whose RMS (or RMS about its mean) is
# below this is digital silence, dither or a DC offset, with nothing for a detector to score.
SILENCE_DBFS = -90.0
BLOCK_SAMPLES = 1 << 16             # samples (all channels together) per block: 256 KiB of float32
MAX_RESAMPLE_KERNEL = 4_000_000     # weights in the windowed-sinc kernel for a pair of rates
# Formats whose header frame count is exact: fewer decoded frames means a truncated file.
EXACT_LENGTH_FORMATS = {"FLAC", "WAV", "WAVEX", "W64", "RF64", "AIFF", "CAF", "AU"}
UNKNOWN_WAV_SIZES = {0, 0xFFFFFFFF, 0x7FFFF000}   # what streaming writers (SoX: 0x7FFFF000) leave
PCM_WIDTHS = range(1, 33)           # bits per sample of integer PCM: narrower samples sit in whole bytes
# Encodings whose frames are data bytes / block align, and the bits per sample each can have.
# Anything else (ADPCM, GSM, MP3 in WAV, compressed AIFC) is left to libsndfile.
WAV_ENCODINGS = {0x0001: ("PCM", PCM_WIDTHS), 0x0003: ("IEEE float", (32, 64)),
                 0x0006: ("A-law", (8,)), 0x0007: ("mu-law", (8,))}
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
EXTENSIBLE_ENCODINGS = {0x0001: ("PCM", (8, 16, 24, 32)), 0x0003: ("IEEE float", (32, 64))}   # container widths
AIFF_ENCODINGS = {b"NONE": ("PCM", PCM_WIDTHS), b"twos": ("PCM", PCM_WIDTHS), b"sowt": ("PCM", PCM_WIDTHS),
                  b"fl32": ("IEEE float", (32,)), b"FL32": ("IEEE float", (32,)),
                  b"fl64": ("IEEE float", (64,)), b"FL64": ("IEEE float", (64,))}
# libsndfile messages that mislead for a file we already know exists and is regular.
MISLEADING_OPEN_ERRORS = ("not a regular file", "Format not recognised", "unknown format", "Internal error")
NOT_AUDIO = "not an audio file, or a format libsndfile does not read"
# First bytes of files that end up named like audio (a download that saved an error page, a
# thumbnail, an archive); text and HTML are recognised separately.
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
              (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"),
              (b"\x1f\x8b", "a gzip file"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
              (b"\x7fELF", "an executable"))
AUDIO_SIGNATURES = ((b"RIFF", "a WAV"), (b"RF64", "an RF64 WAV"), (b"riff", "a W64"), (b"FORM", "an AIFF"),
                    (b".snd", "an AU"), (b"caff", "a CAF"), (b"fLaC", "a FLAC"), (b"OggS", "an Ogg"),
                    (b"ID3", "an MP3"))


class AudioError(ValueError):
    """A clip that cannot be used; the message names the file and the problem."""


def decode(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read ``path`` and return a mono float32 waveform ``(time,)`` at ``sample_rate`` Hz.

    Channels are averaged; other rates are resampled with torchaudio's windowed-sinc
    resampler and the laundering resampler's Kaiser-windowed filter. Raises
    :class:`AudioError` for a missing, non-audio, undecodable, impossible-header, truncated,
    empty, too short, non-finite, out-of-range, silent or constant clip. The whole clip is
    returned (a two-hour clip is 460 MB at 16 kHz); use :func:`iter_decode` to stream it instead.
    """
    blocks = list(iter_decode(path, sample_rate))
    wave = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return np.ascontiguousarray(wave, dtype=np.float32)


def iter_decode(path: str | Path, sample_rate: int = 16000,
                block_samples: int | None = None) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks ``(time,)`` at ``sample_rate`` Hz whose concatenation is :func:`decode`'s result.

    Checks run as the blocks go: an error may come after some blocks were yielded (the
    caller discards them). The length and level checks need the whole clip, so they are
    raised at the end; the level is accumulated block by block, so memory is a few blocks of
    ``block_samples`` samples (default ``BLOCK_SAMPLES``, all channels together) at the
    file's rate however long the clip.
    """
    path = Path(path)
    block_samples = block_samples or BLOCK_SAMPLES
    handle = open_audio(path)
    with handle:
        file_rate, channels, frames, format_name = handle.samplerate, handle.channels, handle.frames, handle.format
        resampler = _StreamResampler(path, file_rate, sample_rate) if file_rate != sample_rate else None
        step = resampler.orig if resampler else 1
        frames_per_block = max(step, (max(1, block_samples // channels) // step) * step)
        decoded, level = 0, _Level()
        while True:
            try:
                with quiet_stderr():
                    block = handle.read(frames_per_block, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError, MemoryError) as error:
                raise AudioError(f"{path}: cannot decode as audio after {decoded} of {frames} frames "
                                 f"(truncated or corrupt?): {_reason(error)}") from None
            if block.shape[0] == 0:
                break
            mono = block.mean(axis=1, dtype=np.float32) if channels > 1 else block[:, 0]
            if not np.isfinite(mono).all():
                at = decoded + int(np.flatnonzero(~np.isfinite(mono))[0])
                raise AudioError(f"{path}: contains NaN or infinite samples (first at {at / file_rate:.3f} s)")
            block_peak = float(np.abs(mono).max())
            if block_peak > 1.0:
                at = decoded + int(np.argmax(np.abs(mono)))
                raise AudioError(f"{path}: samples exceed [-1, 1] (peak {block_peak:.3g} at {at / file_rate:.3f} s); "
                                 "rescale the file")
            level.add(mono)
            decoded += block.shape[0]
            if resampler is not None:
                out = resampler.push(mono)
                if out.size:
                    yield out
            else:
                yield np.array(mono, dtype=np.float32)   # own the memory: ``block`` is reused
        if decoded == 0:
            raise AudioError(f"{path}: 0 samples after decoding (empty file?)")
        if decoded < frames and format_name in EXACT_LENGTH_FORMATS:
            raise AudioError(f"{path}: truncated: the header promises {frames} frames, only {decoded} decode")
        duration_s = decoded / file_rate
        if duration_s < MIN_DURATION_S:
            raise AudioError(f"{path}: {decoded} sample(s) at {file_rate} Hz ({duration_s:.3f} s) is shorter "
                             f"than the minimum {MIN_DURATION_S} s")
        problem = level.problem()
        if problem:
            raise AudioError(f"{path}: {problem}")
        if resampler is not None:
            tail = resampler.finish()
            if tail.size:
                yield tail


def open_audio(path: str | Path) -> soundfile.SoundFile:
    """Open ``path`` for reading, after every check that needs no decoding; raises :class:`AudioError`.

    Refused here: a missing path, a folder, FIFO or device, an unreadable or empty file; an
    uncompressed WAV / RF64 / W64 / AIFF header with an impossible field (see
    :meth:`PcmHeader.impossible`), or whose frame count disagrees with the data the file
    holds; a file libsndfile cannot open (named for what its first bytes look like); a
    channel count or sample rate outside ``1..MAX_CHANNELS`` / ``MIN_FILE_RATE..MAX_FILE_RATE``.
    Decoder chatter on stderr (mpg123's) is kept off the terminal; wrap later reads of the
    returned handle in :func:`quiet_stderr` for the same reason.
    """
    path = Path(path)
    _check_regular_file(path)
    header = pcm_header(path)
    problem = header.impossible() if header else None
    if problem:
        raise AudioError(f"{path}: impossible {header.container} header: {problem}")
    try:
        with quiet_stderr():
            handle = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        raise AudioError(f"{path}: cannot decode as audio: {_open_reason(path, error)}") from None
    problem = _format_problem(handle.channels, handle.samplerate)
    if problem is None and header is not None and header.frames is not None and header.frames != handle.frames:
        if header.frames > handle.frames:
            problem = f"truncated: the {header.container} header declares {header.frames} frames, " \
                      f"the file holds {handle.frames}"
        else:   # the data spans more frames than declared: the sample width or channel count is wrong
            problem = (f"the {header.container} header declares {header.frames} frames, but its {header.bits}-bit "
                       f"samples x {header.channels} channel(s) make the data {handle.frames} frames long "
                       "(impossible sample width or channel count)")
    if problem:
        handle.close()
        raise AudioError(f"{path}: {problem}")
    return handle


@dataclass(frozen=True)
class PcmHeader:
    """The fields of an uncompressed WAV / RF64 / W64 / AIFF / AIFC header that fix how its bytes decode."""

    container: str              # "WAV", "RF64", "W64" or "AIFF"
    encoding: str               # "PCM", "IEEE float", "A-law" or "mu-law"
    widths: range | tuple       # the bits per sample this encoding can have
    channels: int
    sample_rate: float          # Hz
    bits: int                   # bits per sample (WAVE_FORMAT_EXTENSIBLE: the container's)
    block_align: int | None     # bytes per frame (WAV family; AIFF has no such field)
    byte_rate: int | None       # bytes per second (WAV family)
    frames: int | None          # frames the header declares; None where a streaming writer left it unknown
    valid_bits: int | None = None   # WAVE_FORMAT_EXTENSIBLE's significant bits per sample
    data_bytes: int | None = None   # AIFF: sample bytes the SSND chunk declares, which the frame count must fill

    def impossible(self) -> str | None:
        """The first field no valid file of this kind can hold, named with its value; None if all can be."""
        problem = _format_problem(self.channels, self.sample_rate)
        if problem:
            return problem
        if self.bits not in self.widths:
            return f"bits per sample {self.bits} is impossible for {self.encoding} (expected {_spell(self.widths)})"
        if self.valid_bits is not None and self.valid_bits > self.bits:
            return f"valid bits per sample {self.valid_bits} exceed the {self.bits}-bit sample container"
        frame_bytes = self.channels * -(-self.bits // 8)
        if self.data_bytes is not None and self.frames is not None and self.frames * frame_bytes != self.data_bytes:
            return (f"frame count {self.frames} x {self.channels} channel(s) x {self.bits}-bit samples is "
                    f"{self.frames * frame_bytes} bytes, but the sound data chunk holds {self.data_bytes} "
                    "(wrong sample size, channel count or frame count)")
        if self.block_align is None:
            return None
        if self.block_align != frame_bytes:
            return (f"block alignment {self.block_align} bytes, but {self.channels} channel(s) of {self.bits}-bit "
                    f"samples take {frame_bytes}")
        if self.byte_rate is not None and self.byte_rate != self.sample_rate * self.block_align:
            return (f"byte rate {self.byte_rate} bytes/s, but {self.sample_rate:g} Hz x {self.block_align} bytes "
                    f"per frame is {self.sample_rate * self.block_align:g}")
        return None


def pcm_header(path: str | Path) -> PcmHeader | None:
    """The header of an uncompressed WAV, RF64, W64, AIFF or AIFC file, as it stands in the file.

    libsndfile trusts the data over the header: a WAV cut short decodes as a shorter clip with
    no error, and a header whose sample width is wrong decodes at the wrong length, so the
    header is read here to tell. None for other files, compressed encodings (ADPCM, GSM:
    their frames are not data bytes / block size) and headers too damaged to hold a format
    chunk (libsndfile then refuses the file itself).
    """
    try:
        with open(path, "rb") as handle:
            preamble = handle.read(40)
            if preamble[:4] in (b"RIFF", b"RF64") and preamble[8:12] == b"WAVE":
                handle.seek(12)
                return _wav_header(handle, "WAV" if preamble[:4] == b"RIFF" else "RF64")
            if preamble[:4] == b"riff" and preamble[24:28] == b"wave":   # W64: GUIDs that start with the fourcc
                return _wav_header(handle, "W64")
            if preamble[:4] == b"FORM" and preamble[8:12] in (b"AIFF", b"AIFC"):
                handle.seek(12)
                return _aiff_header(handle, preamble[8:12] == b"AIFC")
    except OSError:
        return None
    return None


def _chunks(handle, w64: bool = False, big_endian: bool = False) -> Iterator[tuple[bytes, int]]:
    """Yield ``(fourcc, body_bytes)`` per chunk from the handle's position, leaving it at the body.

    RIFF and AIFF chunks are an id, a 4-byte size and a body padded to an even size; W64's
    are a 16-byte GUID (the fourcc first), an 8-byte size that counts the 24 header bytes,
    and a body padded to 8 bytes.
    """
    while True:
        head = handle.read(24 if w64 else 8)
        if len(head) < (24 if w64 else 8):
            return
        if w64:
            size = int.from_bytes(head[16:24], "little") - 24
            padded = size + -size % 8
        else:
            size = int.from_bytes(head[4:8], "big" if big_endian else "little")
            padded = size + size % 2
        if size < 0:
            return
        body = handle.tell()
        yield head[:4], size
        handle.seek(body + padded)


def _wav_header(handle, container: str) -> PcmHeader | None:
    fmt, data_size, ds64_data_size = None, None, None
    for kind, size in _chunks(handle, w64=container == "W64"):
        if kind == b"ds64":     # RF64: the 64-bit sizes that do not fit the 32-bit chunk fields
            ds64 = handle.read(min(size, 28))
            ds64_data_size = int.from_bytes(ds64[8:16], "little") if len(ds64) >= 16 else None
        elif kind == b"fmt ":
            fmt = handle.read(min(size, 64))   # 40 bytes hold every field read; a lying size reads no more
        elif kind == b"data":
            data_size = size
            break
    if fmt is None or len(fmt) < 16:
        return None
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    valid_bits = None
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 26:
            return None
        valid_bits, tag = struct.unpack("<H4xH", fmt[18:26])   # valid bits, channel mask, sub-format's tag
        encoding = EXTENSIBLE_ENCODINGS.get(tag)
    else:
        encoding = WAV_ENCODINGS.get(tag)
    if encoding is None:
        return None
    if container == "RF64" and data_size == 0xFFFFFFFF:
        data_size = ds64_data_size
    known = data_size is not None and data_size not in UNKNOWN_WAV_SIZES and block_align
    return PcmHeader(container, *encoding, channels, rate, bits, block_align, byte_rate,
                     data_size // block_align if known else None, valid_bits)


def _aiff_header(handle, aifc: bool) -> PcmHeader | None:
    comm, data_bytes = None, None
    for kind, size in _chunks(handle, big_endian=True):
        if kind == b"COMM":
            comm = handle.read(min(size, 22))
        elif kind == b"SSND" and size not in UNKNOWN_WAV_SIZES:   # body: offset, block size, samples
            offset = handle.read(4)
            data_bytes = size - 8 - int.from_bytes(offset, "big") if len(offset) == 4 else None
        if comm is not None and data_bytes is not None:
            break
    if comm is None or len(comm) < 18:
        return None
    channels, frames, bits = struct.unpack(">hIh", comm[:8])
    encoding = AIFF_ENCODINGS.get(comm[18:22] if aifc else b"NONE")
    if encoding is None:
        return None
    # frames 0: a streaming writer's placeholder, like WAV's unknown sizes
    return PcmHeader("AIFF", *encoding, channels, _extended(comm[8:18]), bits, None, None, frames or None,
                     data_bytes=data_bytes)


def _extended(data: bytes) -> float:
    """An 80-bit IEEE 754 extended float (AIFF's sample rate): sign, 15-bit exponent, 64-bit mantissa."""
    exponent, mantissa = struct.unpack(">HQ", data)
    sign = -1.0 if exponent & 0x8000 else 1.0
    exponent &= 0x7FFF
    if exponent == 0x7FFF:
        return math.inf
    try:
        return sign * math.ldexp(mantissa, exponent - 16383 - 63)
    except OverflowError:
        return math.inf


def _format_problem(channels: int, sample_rate: float) -> str | None:
    if not 1 <= channels <= MAX_CHANNELS:
        return f"channel count {channels} is outside 1..{MAX_CHANNELS}"
    if not MIN_FILE_RATE <= sample_rate <= MAX_FILE_RATE:
        return f"sample rate {sample_rate:g} Hz is outside {MIN_FILE_RATE}..{MAX_FILE_RATE} Hz"
    return None


def _spell(widths: range | tuple) -> str:
    if isinstance(widths, range):
        return f"{widths.start}..{widths.stop - 1}"
    return " or ".join(map(str, widths))


class _Level:
    """Streaming RMS of a clip, and of its deviation from its mean, in float64.

    Each block's mean and sum of squared deviations are merged with Chan et al.'s update, so
    the result does not lose precision over hours of samples, and a constant clip has zero
    deviation exactly.
    """

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0   # m2: sum of squared deviations from the mean

    def add(self, block: np.ndarray) -> None:
        x = block.astype(np.float64)
        mean = float(x.mean())
        m2 = float(np.square(x - mean).sum())
        total = self.count + x.size
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * x.size / total
        self.mean += delta * x.size / total
        self.count = total

    def problem(self) -> str | None:
        """Why the clip carries no signal (silent, or constant), or None."""
        varying_power = self.m2 / self.count
        power = varying_power + self.mean * self.mean
        if power == 0.0:
            return "every sample is zero (silent clip)"
        rms_dbfs = _dbfs(power)
        if rms_dbfs < SILENCE_DBFS:
            return f"silent clip: RMS level {rms_dbfs:.1f} dBFS is below the {SILENCE_DBFS:g} dBFS floor"
        varying_dbfs = _dbfs(varying_power)
        if varying_dbfs < SILENCE_DBFS:
            return (f"no varying content: the clip is a constant {self.mean:+.4g} (DC only); its RMS about that "
                    f"mean is {varying_dbfs:.1f} dBFS, below the {SILENCE_DBFS:g} dBFS floor")
        return None


def _dbfs(power: float) -> float:
    """Mean square (full scale 1.0) -> dBFS; -inf for exact silence."""
    return 10 * math.log10(power) if power > 0 else -math.inf


_quiet_lock = threading.Lock()
_quiet_users = 0
_saved_stderr: int | None = None


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at the null device while libsndfile opens or reads a file.

    mpg123 (libsndfile's MP3 decoder) writes notes such as "Illegal Audio-MPEG-Header" to fd 2
    from C, where no Python setting reaches; a problem with the file is reported as an
    :class:`AudioError` instead. Nested and concurrent users share one redirection: the
    first redirects, the last restores. Anything another thread writes to stderr meanwhile
    is lost too, so the context is held only around single libsndfile calls.
    """
    global _quiet_users, _saved_stderr
    with _quiet_lock:
        if _quiet_users == 0:
            try:
                sys.stderr.flush()   # what Python has buffered belongs on the terminal
            except (AttributeError, OSError, ValueError):   # no stderr, or a closed one
                pass
            try:
                _saved_stderr = os.dup(2)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
            except OSError:   # no fd 2 to redirect: nothing to keep quiet
                _saved_stderr = None
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


def _check_regular_file(path: Path) -> None:
    """Missing paths, folders, FIFOs and devices are refused before libsndfile opens them (a FIFO would block)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AudioError(f"{path}: file not found") from None
    except (OSError, ValueError) as error:   # ValueError: a NUL byte in the path
        raise AudioError(f"{path}: cannot access the file: {_reason(error)}") from None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise AudioError(f"{path}: is a folder, not an audio file")
    if not stat.S_ISREG(mode):
        raise AudioError(f"{path}: not a regular file (a pipe, socket or device?)")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied")
    if info.st_size == 0:
        raise AudioError(f"{path}: cannot decode as audio: empty file (0 bytes)")


def _open_reason(path: Path, error: BaseException) -> str:
    """Why libsndfile could not open ``path``, with a guess from its first bytes.

    For a file that exists and is regular (checked before), libsndfile's "File does not exist
    or is not a regular file (possibly a pipe?)" (its MP3 reader's answer to any bytes it
    cannot parse), "Format not recognised" and "Internal error" mislead: they are replaced by
    :data:`NOT_AUDIO` and what the first bytes look like. Its other messages ("Channel count
    is zero") are kept, with the guess only when the bytes are a known non-audio type.
    """
    reason = _reason(error)
    misleading = any(text in reason for text in MISLEADING_OPEN_ERRORS)
    try:
        with open(path, "rb") as handle:
            first = handle.read(512)
    except OSError:
        return NOT_AUDIO if misleading else reason
    guess = _looks_like(first)
    if misleading:
        audio = next((kind for magic, kind in AUDIO_SIGNATURES if first.startswith(magic)), None)
        guess = guess or (f"it starts like {audio} file, but is damaged or uses an encoding libsndfile does not "
                          f"read" if audio else f"its first bytes are {first[:8].hex(' ')}")
        return f"{NOT_AUDIO} ({guess})"
    return f"{reason} ({guess})" if guess else reason


def _looks_like(first: bytes) -> str | None:
    """A cheap guess at what non-audio file this is from its first bytes ("it looks like an HTML page"), or None."""
    for magic, kind in SIGNATURES:
        if first.startswith(magic):
            return f"it looks like {kind}"
    if first[4:8] == b"ftyp":
        return "it looks like an MP4/M4A file: AAC or ALAC audio, which libsndfile does not read; convert it"
    if not first.strip(b"\x00"):
        return "it holds only zero bytes"
    body = first.removeprefix(b"\xef\xbb\xbf")   # a UTF-8 byte-order mark
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:   # a character cut at byte 512 still leaves text
        text = body[:error.start].decode("utf-8") if error.start > len(body) - 4 else None
    if text is None or not all(c.isprintable() or c.isspace() for c in text):
        return None
    start = text.lstrip().lower()
    if start.startswith("<!doctype html") or "<html" in start:
        return "it looks like an HTML page: a download that saved an error or login page?"
    if start.startswith("<?xml"):
        return "it looks like an XML document"
    return "it looks like text"


def _reason(error: BaseException) -> str:
    """libsndfile's message without the path it repeats (ours already leads the message)."""
    text = str(error).strip()
    for prefix in ("Error opening", "Error reading"):
        if text.startswith(prefix) and ": " in text:
            text = text.split(": ", 1)[1]
    return text or type(error).__name__


class _StreamResampler:
    """:func:`_resampler` applied to a stream, equal to resampling the whole clip at once.

    The resampler maps each group of ``orig`` input samples (rates divided by their gcd) to
    ``new`` output samples using the inputs within ``width`` samples of the group. Blocks are
    cut at multiples of ``orig`` and carry ``context`` samples (>= width + orig) on each side,
    whose outputs are dropped; the stream starts with ``context`` zeros, which is exactly the
    zero padding the whole-clip resampler applies.
    """

    def __init__(self, path: Path, file_rate: int, sample_rate: int):
        divisor = math.gcd(file_rate, sample_rate)
        self.file_rate, self.sample_rate = file_rate, sample_rate
        self.orig, self.new = file_rate // divisor, sample_rate // divisor
        # torchaudio's kernel reaches this many input samples either side of each output group
        width = math.ceil(ingest_filter()["lowpass_filter_width"] * self.orig
                          / (min(self.orig, self.new) * ingest_filter()["rolloff"]))
        if self.new * (2 * width + self.orig) > MAX_RESAMPLE_KERNEL:
            raise AudioError(f"{path}: sample rate {file_rate} Hz has no small ratio to {sample_rate} Hz "
                             f"(the resampling filter would need {self.new * (2 * width + self.orig):,} weights); "
                             "convert the file to a standard rate (e.g. 16000, 22050, 44100 or 48000 Hz)")
        self.context = self.orig * math.ceil((width + self.orig) / self.orig)
        self.buffer = np.zeros(self.context, dtype=np.float32)
        self.consumed = 0   # input samples received
        self.emitted = 0    # output samples yielded

    def _resample(self, wave: np.ndarray) -> np.ndarray:
        import torch

        out = _resampler(self.file_rate, self.sample_rate)(torch.from_numpy(wave)).numpy()
        # Resampling can overshoot a full-scale clip slightly; keep the [-1, 1] contract.
        return np.clip(out, -1.0, 1.0)

    def push(self, mono: np.ndarray) -> np.ndarray:
        """Add input samples; return the output samples that no later input can change."""
        self.buffer = np.concatenate([self.buffer, mono])
        self.consumed += mono.shape[0]
        ready = (self.buffer.shape[0] - 2 * self.context) // self.orig * self.orig
        if ready <= 0:
            return np.zeros(0, dtype=np.float32)
        out = self._resample(self.buffer[:ready + 2 * self.context])
        first = self.context // self.orig * self.new
        out = out[first:first + ready // self.orig * self.new]
        self.buffer = self.buffer[ready:].copy()
        self.emitted += out.shape[0]
        return out

    def finish(self) -> np.ndarray:
        """The remaining output samples, up to ``ceil(new * inputs / orig)`` in all."""
        total = math.ceil(self.new * self.consumed / self.orig)
        out = self._resample(self.buffer)[self.context // self.orig * self.new:]
        return np.ascontiguousarray(out[:total - self.emitted], dtype=np.float32)


@functools.cache
def ingest_filter() -> dict:
    """torchaudio resampling arguments of the ingest filter: the laundering resampler's Kaiser-windowed sinc.

    The design is :data:`detector.launder.resample.DOWN_UP` (24 zero crossings, measured there:
    flat within 0.01 dB to 0.8 x the lower rate's Nyquist, stop band from 1.05 x). torchaudio's
    default (Hann window, 6 zero crossings) lets an 8.4 kHz tone from a 44.1 kHz file through
    to 16 kHz at -9.8 dB, aliased into the band, which on a corpus whose classes come at
    different rates is a cue a detector can learn instead of the speech.
    """
    from detector.launder.resample import DOWN_UP  # imports the launder package (torch): only when resampling

    return dict(resampling_method="sinc_interp_kaiser", lowpass_filter_width=DOWN_UP.zero_crossings,
                rolloff=DOWN_UP.rolloff, beta=DOWN_UP.beta)


@functools.lru_cache(maxsize=8)
def _resampler(file_rate: int, sample_rate: int):
    """torchaudio's resampler with :func:`ingest_filter`, its kernel computed once per pair of rates.

    Equal to ``torchaudio.functional.resample(..., **ingest_filter())``, which recomputes the
    kernel on every call (about 0.2 s for 44.1 -> 16 kHz, more than decoding a short clip takes).
    """
    import torch
    import torchaudio.transforms

    return torchaudio.transforms.Resample(file_rate, sample_rate, dtype=torch.float32, **ingest_filter())
