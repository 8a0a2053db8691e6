"""Decoding: any file soundfile (libsndfile) reads -> mono float32 at the model's rate.

Files are read in blocks, mixed down to mono per block and resampled block by block with
enough overlap that the result equals resampling the whole clip at once, so memory is
bounded by the block size, not by the clip: :func:`iter_decode` yields the blocks (the
waveform cache streams them to disk), :func:`decode` joins them for callers that want
the whole clip in memory (it then holds the clip once, at the model's rate, mono).

Every problem is an :class:`AudioError` whose message starts with the file's path.
torch is imported only when a clip needs resampling, so decoding workers start quickly.
"""
from __future__ import annotations

import functools
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile

MIN_DURATION_S = 0.1
MIN_FILE_RATE = 1000                # Hz; below this a header is more likely corrupt than real
MAX_FILE_RATE = 768_000             # Hz
BLOCK_SAMPLES = 1 << 16             # samples (all channels together) per block: 256 KiB of float32
MAX_RESAMPLE_KERNEL = 4_000_000     # weights in the windowed-sinc kernel for a pair of rates
LOWPASS_FILTER_WIDTH, ROLLOFF = 6, 0.99   # torchaudio.functional.resample's defaults
# Formats whose header frame count is exact: fewer decoded frames means a truncated file.
EXACT_LENGTH_FORMATS = {"FLAC", "WAV", "WAVEX", "W64", "RF64", "AIFF", "CAF", "AU"}
# WAV format tags whose frames are data bytes / block align: PCM, IEEE float, A-law, mu-law, extensible.
UNCOMPRESSED_WAV_TAGS = {0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE}
UNKNOWN_WAV_SIZES = {0, 0xFFFFFFFF, 0x7FFFF000}   # what streaming writers (SoX: 0x7FFFF000) leave


class AudioError(ValueError):
    """A clip that cannot be used; the message names the file and the problem."""


def decode(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read ``path`` and return a mono float32 waveform ``(time,)`` at ``sample_rate`` Hz.

    Channels are averaged; other rates are resampled with torchaudio's windowed-sinc
    resampler. Raises :class:`AudioError` for a missing, undecodable, truncated, empty, too
    short, non-finite, silent or out-of-range clip. The whole clip is returned (a two-hour
    clip is 460 MB at 16 kHz); use :func:`iter_decode` to stream it instead.
    """
    blocks = list(iter_decode(path, sample_rate))
    wave = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return np.ascontiguousarray(wave, dtype=np.float32)


def iter_decode(path: str | Path, sample_rate: int = 16000,
                block_samples: int | None = None) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks ``(time,)`` at ``sample_rate`` Hz whose concatenation is :func:`decode`'s result.

    Checks run as the blocks go: an error may come after some blocks were yielded (the
    caller discards them). The silence and minimum-length checks need the whole clip, so
    they are raised at the end. Memory is a few blocks of ``block_samples`` samples (default
    ``BLOCK_SAMPLES``, all channels together) at the file's rate.
    """
    path = Path(path)
    block_samples = block_samples or BLOCK_SAMPLES
    _check_regular_file(path)
    try:
        handle = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        raise AudioError(f"{path}: cannot decode as audio: {_reason(error)}") from None
    with handle:
        file_rate, channels, frames, format_name = handle.samplerate, handle.channels, handle.frames, handle.format
        if not MIN_FILE_RATE <= file_rate <= MAX_FILE_RATE:
            raise AudioError(f"{path}: sample rate {file_rate} Hz is outside {MIN_FILE_RATE}..{MAX_FILE_RATE} Hz "
                             "(corrupt header?)")
        declared = wav_declared_frames(path) if format_name in ("WAV", "WAVEX") else None
        if declared is not None and declared > frames:
            raise AudioError(f"{path}: truncated: the WAV header declares {declared} frames, the file holds {frames}")
        resampler = _StreamResampler(path, file_rate, sample_rate) if file_rate != sample_rate else None
        step = resampler.orig if resampler else 1
        frames_per_block = max(step, (max(1, block_samples // channels) // step) * step)
        decoded, peak = 0, 0.0
        while True:
            try:
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
            peak = max(peak, block_peak)
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
        if peak == 0.0:
            raise AudioError(f"{path}: every sample is zero (silent clip)")
        if resampler is not None:
            tail = resampler.finish()
            if tail.size:
                yield tail


def wav_declared_frames(path: str | Path) -> int | None:
    """Frames a RIFF WAV's ``data`` chunk header declares, or None if it declares no usable size.

    libsndfile trusts the file over its header: a WAV cut short decodes as a shorter clip with
    no error, so the header is read here to tell a truncated file from a short one. Streaming
    writers leave the size "unknown" (0, 0xFFFFFFFF, or SoX's 0x7FFFF000); those, compressed
    encodings (ADPCM, GSM: their frames are not data bytes / block size), and files that are
    not plain RIFF WAV (RF64, W64) give None.
    """
    try:
        with open(path, "rb") as handle:
            riff = handle.read(12)
            if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if kind == b"fmt ":
                    fmt = handle.read(size)
                    if len(fmt) < 14 or int.from_bytes(fmt[:2], "little") not in UNCOMPRESSED_WAV_TAGS:
                        return None
                    block_align = int.from_bytes(fmt[12:14], "little")
                    handle.seek(size % 2, os.SEEK_CUR)   # chunks are padded to an even size
                elif kind == b"data":
                    if not block_align or size in UNKNOWN_WAV_SIZES:
                        return None
                    return size // block_align
                else:
                    handle.seek(size + size % 2, os.SEEK_CUR)
    except OSError:
        return None


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


def _reason(error: BaseException) -> str:
    """libsndfile's message without the path it repeats (ours already leads the message)."""
    text = str(error).strip()
    for prefix in ("Error opening", "Error reading"):
        if text.startswith(prefix) and ": " in text:
            text = text.split(": ", 1)[1]
    if "Format not recognised" in text or "unknown format" in text.lower():
        text += " (not an audio file, or a format libsndfile does not read)"
    return text or type(error).__name__


class _StreamResampler:
    """torchaudio's windowed-sinc resampler applied to a stream, equal to resampling all at once.

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
        width = math.ceil(LOWPASS_FILTER_WIDTH * self.orig / (min(self.orig, self.new) * ROLLOFF))
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


@functools.lru_cache(maxsize=8)
def _resampler(file_rate: int, sample_rate: int):
    """torchaudio's resampler with its windowed-sinc kernel computed once per pair of rates.

    Bitwise equal to ``torchaudio.functional.resample``, which recomputes the kernel on every
    call (about 0.2 s for 44.1 -> 16 kHz, more than decoding a short clip takes).
    """
    import torch
    import torchaudio.transforms

    return torchaudio.transforms.Resample(file_rate, sample_rate, dtype=torch.float32)
