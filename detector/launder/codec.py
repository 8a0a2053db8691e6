"""Real codec round trips, run on the host: MP3, Ogg Vorbis, Ogg Opus and GSM 06.10 through libsndfile; AAC,
AMR-NB, G.722, G.711 (mu-law, A-law) and Opus at a bitrate through PyAV (FFmpeg's codecs, built into its wheel).

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
- :func:`codec_variants` builds those derived caches for the training rows
  (``--train-codecs``): each training example of each epoch reads its crop from one
  of them with a seeded probability (:class:`detector.data.loader.CropDataset`), so
  nothing is encoded during training. Disk: int16 at the model's rate, 115.2 MB per
  hour of training audio per condition at 16 kHz (:func:`variant_bytes_per_hour`);
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

``codec:NAME[:BITRATE][:rate=HZ]`` (the ``codec`` family): one grammar for every real codec
(:data:`CODECS`). ``codec:mp3:B`` is ``mp3:B`` (libsndfile, above); the others are encoded and
decoded packet by packet (no container: ``aac`` is the audio of an M4A file, whose edit list would
trim the same priming samples) through PyAV, whose wheels ship FFmpeg with its own encoders and
libopencore-amrnb, libopus and LAME: one maintained dependency instead of a system FFmpeg or
codecs written here. Encoders checked in PyAV 18.1's wheel: ``aac``, ``libopencore_amrnb``,
``g722``, ``g723_1``, ``g726``, ``libopus``, ``vorbis``, ``libmp3lame``, ``pcm_mulaw``,
``pcm_alaw``; GSM and Speex are decode-only there. GSM 06.10 is libsndfile's (WAV, ``GSM610``).
Missing (:data:`MISSING_CODECS`, an error naming why): Speex (no encoder in either library),
AMR-WB (FFmpeg decodes it only; its encoder, libvo-amrwbenc, is not in the wheel) and Encodec
(a neural codec: needs model weights).

Rates. A codec whose rates do not include the model's runs at its own (AMR-NB, GSM, G.711 at
8 kHz; G.722 at 16 kHz): the clip is resampled there and back by the project's FFT-domain
resampler (:func:`.functional.fft_resample`, the ``DOWN_UP`` Kaiser sinc of :mod:`.resample`),
which is zero-phase, so the output stays at the model's rate and time-aligned. ``rate=HZ``
picks another encoder rate for AAC and Opus (``codec:opus:8k:rate=8000`` is narrow-band Opus).

Delay. Each decoder's output starts :attr:`CodecSpec.delay` samples (at the encoder's rate) late:
the encoder's priming (AAC: 1024) or the codec's look-ahead (G.722: 22; AMR-NB: 38.5), measured
as the peak of the cross-correlation with the input (AAC and G.722 to 0.05 sample on 8 demo
clips, at 8, 16 and 32 kbit/s for AAC). AMR-NB, a CELP coder, reproduces the spectrum and not the
waveform: its peak wanders between clips (median 38.6, 5-95 % 37.2..39.8 samples at 8 kHz over
55 demo clips, the same in every mode, and on 2 of them one pitch period later). GSM 06.10 and
G.711 have none, and the Opus decoder drops the encoder's pre-skip itself (the OpusHead header
carries it; residual -0.6 sample at 16 kHz, 0..1 over 55 demo clips at 6 kbit/s, -2..3 for narrow-band
Opus at 4 kbit/s). The decoded audio is resampled back to the model's
rate, the delay cut there and the end cut or zero-padded to the input's length.
tests/launder/test_codecs_av.py checks the cross-correlation peak is at lag 0 +- 2 samples at
16 kHz (AMR-NB: +- 4) on demo speech; over the 55 clips above the peak was at 0 exactly for AAC,
G.722, GSM, G.711 and MP3, and within +-4 on 96 % of the clips for AMR-NB.

Bitrates. ``aac`` 8..128 kbit/s (FFmpeg's AAC-LC encoder; at 16 kHz mono it spends at most
~72 kbit/s, measured, whatever is asked above that), ``amr`` one of its 8 modes 4.75..12.2,
``opus`` 2..256, ``mp3`` as above; ``g722`` 64, ``gsm`` 13, ``mulaw``/``alaw`` 64 are fixed
(given, the bitrate must be that one).
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal
import soundfile
import torch

from detector.utils.keys import slug

from . import functional as F
from .attacks import Attack, Params
from .resample import leg_kernel

MPEG2_RATES = (16000, 22050, 24000)
MPEG1_RATE = 44100
MPEG_LIMITS_KBPS = {1: (32.0, 320.0), 2: (8.0, 160.0)}
MP3_DELAY_SAMPLES = 1105   # LAME's 576 + mpg123's 529, when the decoder does not trim them
MAX_LAG = 4096
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
AMR_NB_MODES_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)
BYTES_PER_SAMPLE = 2   # derived caches are int16 (CacheWriter), at the waveform cache's (the model's) rate


@dataclass(frozen=True)
class CodecSpec:
    """One real codec of the ``codec`` family (see the module docstring).

    Attributes:
        name: the word in ``codec:NAME``.
        title: what it is, for help texts and errors.
        library: ``"pyav"``, ``"libsndfile"`` (GSM 06.10) or ``"mp3"`` (the ``mp3`` family's path).
        encoder, decoder: FFmpeg codec names (PyAV), or the libsndfile subtype.
        rates: encoder sample rates (Hz) it takes; the model's rate when listed, else the first.
        bitrates: the only bitrates (kbit/s) it runs at, or ``None`` for any in ``bitrate_range``.
        bitrate_range: (low, high) kbit/s when ``bitrates`` is ``None``.
        delay: leading samples at the encoder's rate that its decoder adds (measured; cut at the
            model's rate, rounded there, so AMR-NB's 38.5 is 77 samples at 16 kHz).
    """

    name: str
    title: str
    library: str
    encoder: str = ""
    decoder: str = ""
    rates: tuple[int, ...] = ()
    bitrates: tuple[float, ...] | None = None
    bitrate_range: tuple[float, float] | None = None
    delay: float = 0.0

    @property
    def fixed_bitrate(self) -> float | None:
        """The one bitrate of a fixed-rate codec (G.722, GSM, G.711), else ``None``."""
        return self.bitrates[0] if self.bitrates is not None and len(self.bitrates) == 1 else None


CODECS: dict[str, CodecSpec] = {spec.name: spec for spec in (
    CodecSpec("aac", "AAC-LC (the audio of M4A), FFmpeg's encoder", "pyav", "aac", "aac", AAC_RATES,
              bitrate_range=(8.0, 128.0), delay=1024),
    CodecSpec("amr", "AMR-NB (3GPP narrow-band speech), libopencore-amrnb", "pyav", "libopencore_amrnb", "amrnb",
              (8000,), AMR_NB_MODES_KBPS, delay=38.5),
    CodecSpec("g722", "G.722 (wide-band ADPCM, 64 kbit/s)", "pyav", "g722", "g722", (16000,), (64.0,), delay=22),
    CodecSpec("gsm", "GSM 06.10 full rate (13 kbit/s), libsndfile", "libsndfile", "GSM610", "GSM610", (8000,),
              (13.0,)),
    CodecSpec("mulaw", "G.711 mu-law (64 kbit/s)", "pyav", "pcm_mulaw", "pcm_mulaw", (8000,), (64.0,)),
    CodecSpec("alaw", "G.711 A-law (64 kbit/s)", "pyav", "pcm_alaw", "pcm_alaw", (8000,), (64.0,)),
    CodecSpec("mp3", "MP3 (LAME through libsndfile; the mp3 family)", "mp3", bitrate_range=(8.0, 320.0)),
    CodecSpec("opus", "Opus at a bitrate, libopus", "pyav", "libopus", "libopus", OPUS_RATES,
              bitrate_range=(2.0, 256.0)),
)}
MISSING_CODECS: dict[str, str] = {
    "speex": "Speex has no encoder here: PyAV's FFmpeg only decodes it and libsndfile has no Speex",
    "amrwb": "AMR-WB has no encoder here: PyAV's FFmpeg only decodes it (libvo-amrwbenc is not in its wheel)",
    "encodec": "Encodec is a neural codec: it needs model weights, which this package does not ship or fetch",
}


def codec_plan(codec: str, bitrate_kbps: float | None, rate: int | None, sample_rate: int) -> tuple[CodecSpec, int]:
    """(spec, encoder sample rate) for ``codec:CODEC[:BITRATE][:rate=RATE]``; ``ValueError`` naming what is wrong."""
    where = f"codec:{codec}"
    if codec in MISSING_CODECS:
        raise ValueError(f"{codec} is missing: {MISSING_CODECS[codec]}. Real codecs available: {', '.join(CODECS)}")
    if codec not in CODECS:
        raise ValueError(f"{where}: unknown codec; valid: {', '.join(CODECS)} (missing: {', '.join(MISSING_CODECS)})")
    spec = CODECS[codec]
    if spec.library == "mp3":
        if rate is not None:
            raise ValueError(f"{where}: the MP3 encoder's rate follows from the bitrate (see detector.launder.codec); "
                             "rate= is not taken")
        if bitrate_kbps is None:
            raise ValueError(f"{where} needs a bitrate, e.g. codec:mp3:128k")
        return spec, mp3_plan(bitrate_kbps, sample_rate)[0]
    if rate is None:
        rate = sample_rate if sample_rate in spec.rates else spec.rates[0]
    elif rate not in spec.rates:
        raise ValueError(f"{where}: rate={rate} Hz is not one it encodes at; valid: "
                         f"{'|'.join(str(r) for r in spec.rates)}")
    if spec.fixed_bitrate is not None:
        if bitrate_kbps is not None and bitrate_kbps != spec.fixed_bitrate:
            raise ValueError(f"{where} runs at {spec.fixed_bitrate:g} kbit/s only; leave the bitrate out")
    elif bitrate_kbps is None:
        example = spec.bitrates[-1] if spec.bitrates else 32
        raise ValueError(f"{where} needs a bitrate, e.g. codec:{codec}:{example:g}k")
    elif spec.bitrates is not None and bitrate_kbps not in spec.bitrates:
        raise ValueError(f"{where}: {bitrate_kbps:g} kbit/s is not one of its modes; valid: "
                         f"{'|'.join(f'{b:g}k' for b in spec.bitrates)}")
    elif spec.bitrate_range is not None and not spec.bitrate_range[0] <= bitrate_kbps <= spec.bitrate_range[1]:
        low, high = spec.bitrate_range
        raise ValueError(f"{where}: {bitrate_kbps:g} kbit/s is outside {low:g}..{high:g} kbit/s")
    return spec, rate


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


def encode_decode(wave: np.ndarray, sample_rate: int, format: str, subtype: str, compression_level: float | None,
                  bitrate_mode: str | None = None) -> tuple[np.ndarray, int]:
    """One in-memory libsndfile round trip; returns (decoded mono float32, encoded size in bytes).

    ``compression_level=None`` for a subtype that takes none (GSM 06.10).
    """
    buffer = io.BytesIO()
    extra = {"bitrate_mode": bitrate_mode} if bitrate_mode else {}
    if compression_level is not None:
        extra["compression_level"] = compression_level
    soundfile.write(buffer, wave, sample_rate, format=format, subtype=subtype, **extra)
    size = buffer.tell()
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32", always_2d=True)
    return decoded.mean(axis=1), size


@lru_cache(maxsize=32)
def _leg_spectrum(rate_a: int, rate_b: int, n_high: int) -> np.ndarray:
    """rfft of :func:`.resample.leg_kernel` placed circularly around sample 0 on ``n_high`` points (float32)."""
    kernel = leg_kernel(rate_a, rate_b).astype(np.float32)
    half = len(kernel) // 2
    placed = np.roll(np.pad(kernel, (0, n_high - len(kernel))), -half)
    return scipy.fft.rfft(placed)


def fft_resample_host(wave: np.ndarray, source: int, target: int) -> np.ndarray:
    """The project's resampler (:func:`.functional.fft_resample` with :func:`.resample.leg_kernel`) on one host clip.

    The same computation in scipy.fft (float32): zero-phase, time-aligned, ``ceil(time * target / source)``
    samples. Not the torch function itself: clips are coded on a thread per core
    (:func:`derived_cache`), and torch's own intra-op threads on top of those made it ~50x slower
    on a busy 2-core machine (measured 170 ms instead of 3 ms for a 2 s clip).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if source == target:
        return wave
    length = len(wave)
    common = math.gcd(source, target)
    up, down = target // common, source // common
    half = len(leg_kernel(source, target)) // 2
    pad = -(-half * source // max(source, target))
    n_in = down * F.next_fast_len(-(-(length + pad) // down))
    n_out = n_in * up // down
    bins = min(n_in, n_out) // 2 + 1
    spectrum = scipy.fft.rfft(wave, n=n_in)[:bins] * _leg_spectrum(source, target, max(n_in, n_out))[:bins]
    out = scipy.fft.irfft(spectrum, n=n_out) * np.float32(n_out / n_in)
    return out[: -(-length * up // down)].astype(np.float32)


def av_encode_decode(wave: np.ndarray, rate: int, encoder: str, decoder: str,
                     bitrate_kbps: float | None) -> tuple[np.ndarray, int, int]:
    """One PyAV (FFmpeg) round trip, packet by packet in memory.

    Returns:
        (decoded mono float32, its sample rate (Opus decodes at 48 kHz), encoded size in bytes).
    """
    import av

    enc = av.codec.CodecContext.create(encoder, "w")
    enc.sample_rate, enc.layout, enc.time_base = rate, "mono", Fraction(1, rate)
    formats = [f.name for f in enc.codec.audio_formats]
    enc.format = next((f for f in ("flt", "fltp") if f in formats), "s16" if "s16" in formats else formats[0])
    if bitrate_kbps is not None:
        enc.bit_rate = int(round(bitrate_kbps * 1000))
    enc.open()
    fmt, size = enc.format.name, enc.frame_size or 1024
    frames = -(-len(wave) // size)
    padded = np.zeros(frames * size, dtype=np.float32)
    padded[: len(wave)] = wave
    samples = padded if fmt.startswith("flt") else np.clip(np.round(padded * 32768), -32768, 32767).astype(np.int16)
    packets = []
    for index in range(frames):
        frame = av.AudioFrame.from_ndarray(samples[None, index * size:(index + 1) * size], format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, index * size
        packets += enc.encode(frame)
    packets += enc.encode(None)
    dec = av.codec.CodecContext.create(decoder, "r")
    dec.sample_rate, dec.layout = rate, "mono"
    if enc.extradata:
        dec.extradata = enc.extradata
    out, out_rate = [], rate
    for packet in (*packets, None):
        for frame in dec.decode(packet):
            data = frame.to_ndarray()
            data = data.astype(np.float32) / 32768 if data.dtype == np.int16 else data.astype(np.float32)
            out.append(data.reshape(-1) if data.shape[0] == 1 else data.mean(axis=0))
            out_rate = frame.sample_rate
    decoded = np.concatenate(out) if out else np.zeros(0, np.float32)
    return decoded, out_rate, sum(packet.size for packet in packets)


def _trim(decoded: np.ndarray, delay: int, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    kept = decoded[delay: delay + length]
    out[: len(kept)] = kept
    return out


def real_codec_round_trip(wave: np.ndarray, sample_rate: int, codec: str, bitrate_kbps: float | None = None,
                          rate: int | None = None) -> tuple[np.ndarray, float]:
    """``codec:CODEC[:BITRATE][:rate=RATE]`` on one clip: (aligned float32 ``(time,)`` at ``sample_rate``, kbit/s).

    The kbit/s returned is the encoded stream's (packets, no container) over the clip's duration.
    """
    spec, rate = codec_plan(codec, bitrate_kbps, rate, sample_rate)
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if spec.library == "mp3":
        return codec_round_trip(wave, sample_rate, "mp3", float(bitrate_kbps))
    coded = fft_resample_host(wave, sample_rate, rate)
    if spec.library == "libsndfile":
        decoded, size = encode_decode(coded, rate, "WAV", spec.encoder, None)
        out_rate = rate
    else:
        bitrate = spec.fixed_bitrate if bitrate_kbps is None else bitrate_kbps
        decoded, out_rate, size = av_encode_decode(coded, rate, spec.encoder, spec.decoder,
                                                   None if spec.fixed_bitrate else bitrate)
    out = fft_resample_host(decoded, out_rate, sample_rate)
    return _trim(out, round(spec.delay * sample_rate / rate), len(wave)), size * 8 / (len(wave) / sample_rate) / 1000


def codec_round_trip(wave: np.ndarray, sample_rate: int, codec: str, setting: float) -> tuple[np.ndarray, float]:
    """Encode and decode one clip; returns (aligned float32 ``(time,)`` at ``sample_rate``, bitrate in kbit/s).

    Args:
        wave: ``(time,)`` float32 in [-1, 1].
        codec: ``"mp3"`` (``setting`` = bitrate in kbit/s), ``"vorbis"`` or
            ``"opus"`` (``setting`` = libsndfile compression level in [0, 1],
            0 = best quality). The ``codec`` family's codecs: :func:`real_codec_round_trip`.
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
        codec: ``mp3``, ``vorbis`` or ``opus`` (the libsndfile families), or
            ``codec:NAME`` for the ``codec`` family's :data:`CODECS`.
        setting: kbit/s for mp3 and the ``codec`` family (``None``: a fixed-rate
            codec's own), compression level in [0, 1] for vorbis/opus.
        rate: the ``codec`` family's encoder rate in Hz (``None``: its default).
    """

    host_side = True

    def __init__(self, codec: str, setting: float | None, sample_rate: int = 16000, name: str | None = None,
                 rate: int | None = None) -> None:
        super().__init__(name or (f"{codec}:{setting:g}" if setting is not None else codec), sample_rate)
        if codec.startswith("codec:"):
            codec_plan(codec.partition(":")[2], setting, rate, sample_rate)   # validates the whole condition
        elif codec == "mp3":
            mp3_plan(setting, sample_rate)   # validates the bitrate
        self.codec = codec
        self.setting = None if setting is None else float(setting)
        self.rate = rate
        self._memo: dict = {}

    def round_trip(self, wave: np.ndarray) -> tuple[np.ndarray, float]:
        """(coded clip, kbit/s) without the memo or the final clip to [-1, 1]."""
        if self.codec.startswith("codec:"):
            return real_codec_round_trip(wave, self.sample_rate, self.codec.partition(":")[2], self.setting, self.rate)
        return codec_round_trip(wave, self.sample_rate, self.codec, self.setting)

    def process(self, wave: np.ndarray, key=None) -> np.ndarray:
        """Code one clip ``(time,)`` float32; with a ``key`` (e.g. the manifest row), memoised in memory."""
        if key is not None and key in self._memo:
            return self._memo[key]
        out = np.clip(self.round_trip(wave)[0], -1.0, 1.0)
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
        progress: show a tqdm bar (clips, the reused ones included).

    Returns:
        A ``WaveformCache`` under ``<cache.folder>/derived/<condition>/`` with
        the same row numbering; rows not requested (or bad in ``cache``) are
        absent (offset -1). Each clip is as long as in ``cache``.

    Resumable: when coding stops (Ctrl-C, an error), the rows coded so far are kept as a partial
    derived cache, so the next call codes only the rest. The reused rows are copied first for
    that reason: a partial cache then never holds fewer rows than the one it replaces.
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
    todo = sorted(have) + sorted(set(wanted) - have)
    iterator = todo
    if progress:
        from tqdm import tqdm

        iterator = tqdm(todo, desc=attack.name, unit="clip")
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))

    def install(writer: CacheWriter) -> None:
        writer.finish(cache.sample_rate, cache.skipped, condition=attack.name)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(temp, folder)

    try:
        with CacheWriter(temp, len(cache.offsets)) as writer:   # the waveform cache's own writer: int16
            written = 0
            try:
                for row, wave in zip(iterator, _coded_in_order(attack, cache, existing, have, todo)):
                    writer.add(row, wave)
                    written += 1
            except BaseException:
                if written > len(have):
                    # A signal can land inside a write: drop the bytes of a clip that was not placed.
                    writer.handle.truncate(writer.position * BYTES_PER_SAMPLE)
                    install(writer)
                raise
            install(writer)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return open_cache(folder)


def variant_bytes_per_hour(sample_rate: int) -> int:
    """Disk bytes one codec variant takes per hour of audio: 2 bytes x rate x 3600 (115.2 MB at 16 kHz)."""
    return BYTES_PER_SAMPLE * sample_rate * 3600


def codec_variants(cache, attacks: list[HostCodec], rows) -> list:
    """One derived cache per attack for ``rows`` (``--train-codecs``), built once with a tqdm bar each.

    Each is :func:`derived_cache` (reused when it holds the rows; resumable when stopped). The
    crops of training read them at the clean clip's crop start, so every clip must keep its
    length: checked here, a ``ValueError`` naming the condition and row otherwise.

    Returns:
        ``[WaveformCache]``, in the order of ``attacks``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[cache.offsets[rows] >= 0]
    variants = []
    for attack in attacks:
        variant = derived_cache(cache, attack, rows, progress=True)
        wrong = rows[variant.lengths[rows] != cache.lengths[rows]]
        if len(wrong):
            raise ValueError(f"{attack.name}: the coded clip of manifest row {int(wrong[0])} has "
                             f"{int(variant.lengths[wrong[0]])} samples, not the clean clip's "
                             f"{int(cache.lengths[wrong[0]])}; delete {variant.folder} and rerun")
        variants.append(variant)
    return variants
