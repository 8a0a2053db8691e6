"""Real codec round trips (MP3, Ogg Vorbis, Ogg Opus through libsndfile), run on the host.

A codec is file I/O plus a C library: it cannot run inside a batched,
sync-free ``apply`` on the device. So codec conditions are attacks flagged
``host_side = True`` and are used as a *preprocessing step*:

- :func:`derived_cache` encodes and decodes every requested clip of a waveform
  cache once and stores the result as a derived cache next to it
  (``<cache folder>/derived/<condition>/``, same layout (int16 samples, written
  by :class:`detector.data.cache.CacheWriter`) and same ``waveform(row)`` API as
  :class:`detector.data.WaveformCache`), so an
  ablation or a second evaluation pays once; a ``CropDataset`` over it yields
  the laundered crops, and no device-side attack is needed;
- :meth:`HostCodec.process` does one clip (numpy in, numpy out) with an
  in-memory memo per (clip key, condition);
- calling the attack on a device batch still works (``forward``/``apply``
  copy the batch to the host and loop over examples), for convenience in
  small scripts, but it syncs with the host and codes the *crop*, not the clip.

MP3 bitrates. libsndfile (1.2) exposes LAME through ``compression_level`` in
[0, 1) with ``bitrate_mode="CONSTANT"``; the bitrate is
``max - level * (max - min)``, snapped by LAME to a legal MPEG bitrate, with
(max, min) = (160, 8) kbit/s for MPEG-2 layer III (16, 22.05, 24 kHz) and
(320, 32) for MPEG-1 (32, 44.1, 48 kHz). Measured on a 4 s clip (file size
over duration, tags included, so ~2-3% above nominal):

=========  =======================================  ================
condition  what it does                             measured kbit/s
=========  =======================================  ================
mp3:16k    MPEG-2 L3 at 16 kHz, 16 kbit/s CBR       16
mp3:64k    MPEG-2 L3 at 16 kHz, 64 kbit/s CBR       66
mp3:128k   MPEG-2 L3 at 16 kHz, 128 kbit/s CBR      132
mp3:196k   16 -> 44.1 kHz, MPEG-1 L3 at 192 kbit/s  196 (LAME's legal rate nearest 196 is 192)
mp3:256k   16 -> 44.1 kHz, MPEG-1 L3 at 256 kbit/s  261
mp3:320k   16 -> 44.1 kHz, MPEG-1 L3 at 320 kbit/s  326
=========  =======================================  ================

At 16 kHz MPEG-2 tops out at 160 kbit/s, so 196k-320k cannot be reached
there; they are encoded at 44.1 kHz (MPEG-1) after resampling up, and
resampled back to 16 kHz after decoding. Their distortion of 16 kHz speech is
small; an encoder asked for 320k at 16 kHz (e.g. ffmpeg/LAME) would silently
clamp to 160k instead, which is closer to ``mp3:128k``. Bitrates above 160 on
a 16 kHz model therefore do what their name says, at a different encoder rate.

Alignment: when the decoder trims the encoder delay (LAME tag read, the usual
case) the output has the input's length and lines up; at low bitrates
(<= ~40 kbit/s at 16 kHz) libsndfile returns 576 + 529 = 1105 extra leading
samples (encoder + decoder delay, measured), found by cross-correlation and
cut, then the end is trimmed or zero-padded to the input's length.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
import torch

from detector.utils.keys import slug

from .attacks import Attack, Params

MPEG2_RATES = (16000, 22050, 24000)
MPEG1_RATE = 44100
MPEG_LIMITS_KBPS = {1: (32.0, 320.0), 2: (8.0, 160.0)}
MP3_DELAY_SAMPLES = 1105   # LAME's 576 + mpg123's 529, when the decoder does not trim them
MAX_LAG = 4096
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def mp3_plan(bitrate_kbps: float, sample_rate: int) -> tuple[int, float]:
    """(encoder sample rate, libsndfile ``compression_level``) that give ``bitrate_kbps`` (see the module doc)."""
    if sample_rate in MPEG2_RATES and bitrate_kbps <= MPEG_LIMITS_KBPS[2][1]:
        rate, (low, high) = sample_rate, MPEG_LIMITS_KBPS[2]
    else:
        rate, (low, high) = MPEG1_RATE, MPEG_LIMITS_KBPS[1]
    if not low <= bitrate_kbps <= high:
        raise ValueError(f"mp3: {bitrate_kbps:g} kbit/s is outside {low:g}..{high:g} kbit/s of MPEG layer III "
                         f"at {rate} Hz")
    return rate, min((high - bitrate_kbps) / (high - low), 0.999)


def _resample(wave: np.ndarray, source: int, target: int) -> np.ndarray:
    if source == target:
        return wave
    g = np.gcd(source, target)
    return scipy.signal.resample_poly(wave, target // g, source // g).astype(np.float32)


def _align(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Remove a leading codec delay (found by cross-correlation) and match ``reference``'s length."""
    length = len(reference)
    if len(decoded) > length:
        n = min(length, 8 * MAX_LAG)
        corr = scipy.signal.correlate(decoded[: n + MAX_LAG], reference[:n], mode="valid", method="fft")
        lag = int(np.argmax(np.abs(corr[: MAX_LAG + 1]))) if np.abs(reference[:n]).max() > 0 else MP3_DELAY_SAMPLES
        decoded = decoded[lag:]
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(decoded))] = decoded[:length]
    return out


def encode_decode(wave: np.ndarray, sample_rate: int, format: str, subtype: str, compression_level: float,
                  bitrate_mode: str | None = None) -> tuple[np.ndarray, int]:
    """One in-memory libsndfile round trip; returns (decoded mono float32, encoded size in bytes)."""
    buffer = io.BytesIO()
    extra = {"bitrate_mode": bitrate_mode} if bitrate_mode else {}
    soundfile.write(buffer, wave, sample_rate, format=format, subtype=subtype,
                    compression_level=compression_level, **extra)
    size = buffer.tell()
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32", always_2d=True)
    return decoded.mean(axis=1), size


def codec_round_trip(wave: np.ndarray, sample_rate: int, codec: str, setting: float) -> tuple[np.ndarray, float]:
    """Encode and decode one clip; returns (aligned float32 ``(time,)`` at ``sample_rate``, bitrate in kbit/s).

    Args:
        wave: ``(time,)`` float32 in [-1, 1].
        codec: ``"mp3"`` (``setting`` = bitrate in kbit/s), ``"vorbis"`` or
            ``"opus"`` (``setting`` = libsndfile compression level in [0, 1],
            0 = best quality).
    """
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if codec == "mp3":
        rate, level = mp3_plan(setting, sample_rate)
        fmt, subtype, mode = "MP3", "MPEG_LAYER_III", "CONSTANT"
    elif codec in ("vorbis", "opus"):
        rate = sample_rate if codec == "vorbis" or sample_rate in OPUS_RATES else 48000
        level, fmt, subtype, mode = float(setting), "OGG", codec.upper(), None
    else:
        raise ValueError(f"unknown codec {codec!r}; valid: mp3, vorbis, opus")
    coded = _resample(wave, sample_rate, rate)
    decoded, size = encode_decode(coded, rate, fmt, subtype, level, mode)
    decoded = _align(decoded, coded)
    return _resample(decoded, rate, sample_rate)[: len(wave)], size * 8 / (len(wave) / sample_rate) / 1000


class HostCodec(Attack):
    """A real codec round trip as a condition; ``host_side = True`` (see the module docstring for use).

    Deterministic: no parameters. ``process(wave)`` codes one clip (numpy),
    memoised per ``key``; ``apply`` on a device batch works but syncs.

    Args:
        codec: ``mp3``, ``vorbis`` or ``opus``.
        setting: kbit/s for mp3, compression level in [0, 1] for vorbis/opus.
    """

    host_side = True

    def __init__(self, codec: str, setting: float, sample_rate: int = 16000, name: str | None = None) -> None:
        super().__init__(name or f"{codec}:{setting:g}", sample_rate)
        if codec == "mp3":
            mp3_plan(setting, sample_rate)   # validates the bitrate
        self.codec = codec
        self.setting = float(setting)
        self._memo: dict = {}

    def process(self, wave: np.ndarray, key=None) -> np.ndarray:
        """Code one clip ``(time,)`` float32; with a ``key`` (e.g. the manifest row), memoised in memory."""
        if key is not None and key in self._memo:
            return self._memo[key]
        out = np.clip(codec_round_trip(wave, self.sample_rate, self.codec, self.setting)[0], -1.0, 1.0)
        if key is not None:
            self._memo[key] = out
        return out

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        host = wave.detach().cpu().numpy()[:, 0]
        coded = np.stack([self.process(clip) for clip in host])
        return torch.from_numpy(coded).unsqueeze(1).to(wave.device)


def _coded_in_order(attack: HostCodec, cache, existing, have: set, rows: list[int], chunk: int = 64):
    """Each row's coded clip, in order (rows in ``have`` are read back from ``existing``).

    libsndfile releases the GIL while it codes, so a thread per core codes clips in parallel
    (measured 1.6x on 2 cores); chunks bound how many coded clips wait in memory.
    """
    def code(row: int) -> np.ndarray:
        return existing.waveform(row) if row in have else attack.process(cache.waveform(row))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for first in range(0, len(rows), chunk):
            yield from pool.map(code, rows[first:first + chunk])


def derived_cache(cache, attack: HostCodec, rows=None, progress: bool = False):
    """A waveform cache holding ``attack`` applied to whole clips of ``cache`` (computed once, then reused).

    Args:
        cache: a :class:`detector.data.WaveformCache`.
        attack: a host-side condition.
        rows: manifest rows needed (default: every valid row). Rows coded by
            an earlier call are reused; only missing ones are coded.

    Returns:
        A ``WaveformCache`` under ``<cache.folder>/derived/<condition>/`` with
        the same row numbering; rows not requested (or bad in ``cache``) are
        absent (offset -1).
    """
    from detector.data.cache import CacheWriter, open_cache

    valid = set(cache.valid_rows.tolist())
    wanted = sorted(valid if rows is None else valid.intersection(int(r) for r in rows))
    folder = Path(cache.folder) / "derived" / slug(attack.name)
    existing = None
    if folder.exists():
        try:
            existing = open_cache(folder)
        except (OSError, ValueError, KeyError):
            shutil.rmtree(folder, ignore_errors=True)
    if existing is not None and all(existing.offsets[r] >= 0 for r in wanted):
        return existing
    have = set() if existing is None else set(np.flatnonzero(existing.offsets >= 0).tolist())
    todo = sorted(set(wanted) | have)
    iterator = todo
    if progress:
        from tqdm import tqdm

        iterator = tqdm(todo, desc=attack.name, unit="clip")
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        with CacheWriter(temp, len(cache.offsets)) as writer:   # the waveform cache's own writer: int16
            for row, wave in zip(iterator, _coded_in_order(attack, cache, existing, have, todo)):
                writer.add(row, wave)
            writer.finish(cache.sample_rate, cache.skipped, condition=attack.name)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(temp, folder)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return open_cache(folder)
