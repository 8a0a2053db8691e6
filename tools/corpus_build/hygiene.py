"""The clip treatment every clip gets, whatever its class: codec, trim, cut, fade, loudness.

All waveforms are mono float64 at ``SAMPLE_RATE`` Hz, shape ``(time,)``. The codec
round trips go through FFmpeg, the same decoder and resampler that decode the real
prompts, so a spoof carries the same channel fingerprint as the bona fide clips
of its channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.corpus_build.tools import BuildError, run

SAMPLE_RATE = 16_000
MIN_DURATION_S = 2.0  # shortest clip kept (after silence trim)
CODEC_LEVEL_DBFS = -18.0  # spoof level before the codec round trip (Asterisk prompts' level)
TARGET_LEVEL_DBFS = -23.0  # final RMS over active frames
PEAK_LIMIT = 0.99
TRIM_RANGE_DB = 40.0  # frames more than this below the loudest frame count as silence
FRAME_S, HOP_S = 0.020, 0.010  # analysis frame and hop for trimming, in seconds
PAD_S = 0.050  # silence kept before the first and after the last active frame
FADE_S = 0.010


@dataclass(frozen=True)
class Codec:
    """A telephone channel as FFmpeg arguments.

    ``file_input``: input options before ``-i`` for a shipped prompt file;
    ``encode``: output options that code a 16 kHz stream for this channel;
    ``stream_input``: input options before ``-i`` to read that coded stream back.
    """

    file_input: tuple[str, ...]
    encode: tuple[str, ...]
    stream_input: tuple[str, ...]


# Channel name -> codec. "g722" is wideband (16 kHz); "gsm" and "pcm8k" are narrowband
# (8 kHz, nothing above 4 kHz), the channels of the 8 kHz prompt packages.
CODECS = {
    "g722": Codec(("-f", "g722"), ("-c:a", "g722", "-f", "g722"), ("-f", "g722")),
    "gsm": Codec(("-f", "gsm"), ("-ar", "8000", "-c:a", "libgsm", "-f", "gsm"), ("-f", "gsm")),
    "pcm8k": Codec((), ("-ar", "8000", "-c:a", "pcm_s16le", "-f", "s16le"), ("-f", "s16le", "-ar", "8000", "-ac", "1")),
}


# The channels of the `wild` preset's sources, named by what the source shipped:
# "<format>-<sample rate>[-<kbit/s>k]" (``channel_name``). A spoof is coded at the source's own
# rate (and bitrate) with FFmpeg's encoder, so it loses what a real clip of that channel lost;
# both classes are then decoded the same way, in process (libsndfile, then ``resample``):
# thousands of short recordings would spend most of a build starting FFmpeg.
LOSSY_ENCODERS = {"vorbis": ("libvorbis", "ogg"), "opus": ("libopus", "ogg"), "mp3": ("libmp3lame", "mp3")}
PCM_FORMATS = ("pcm16", "u8")


def channel_name(fmt: str, sample_rate: int, kbps: int | None = None) -> str:
    """The channel key of a source file: e.g. ``vorbis-44100-128k``, ``u8-11025`` (``kbps`` for lossy formats)."""
    if fmt not in LOSSY_ENCODERS and fmt not in PCM_FORMATS:
        raise ValueError(f"corpus_build: unknown channel format {fmt!r}")
    return f"{fmt}-{sample_rate}" + (f"-{kbps}k" if kbps else "")


def parse_channel(channel: str) -> tuple[str, int, int | None]:
    """``channel_name``'s inverse: (format, sample rate in Hz, kbit/s or None)."""
    fmt, rate, *rest = channel.split("-") + [""]
    rest = [part for part in rest if part]
    if (fmt not in LOSSY_ENCODERS and fmt not in PCM_FORMATS) or not rate.isdigit() or len(rest) > 1:
        raise ValueError(f"corpus_build: unknown channel {channel!r}")
    return fmt, int(rate), int(rest[0].removesuffix("k")) if rest else None


def decode_file(path: str, codec: str) -> np.ndarray:
    """Decode a shipped prompt file of channel ``codec`` to 16 kHz float64, through 16-bit PCM."""
    if codec in CODECS:
        return _decode(CODECS[codec].file_input, path, None)
    with open(path, "rb") as f:
        return decode_stream(f.read(), codec)


def decode_stream(data: bytes, channel: str) -> np.ndarray:
    """Decode a coded stream of a ``channel_name`` channel to 16 kHz float64 mono (stereo is averaged).

    Raw PCM channels (an archive's samples) are bytes of samples at the channel's rate:
    unsigned 8-bit or little-endian 16-bit; other streams carry their own header.
    """
    import io

    import soundfile as sf

    fmt, rate, _ = parse_channel(channel)
    if fmt == "u8":
        x = (np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif fmt == "pcm16" and not data.startswith(b"RIFF"):
        x = np.frombuffer(data, dtype="<i2") / 32768.0
    else:
        x, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
        x = x.mean(axis=1)
    return resample(x, rate)


def codec_roundtrip(x: np.ndarray, codec: str) -> np.ndarray:
    """Code 16 kHz ``x`` (float, [-1, 1]) for channel ``codec`` and decode it again, as a shipped clip is."""
    x = np.clip(x, -1.0, 1.0)
    if codec in CODECS:
        coded = run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
                     *CODECS[codec].encode, "pipe:1"], stdin=x.astype("<f4").tobytes())
        return _decode(CODECS[codec].stream_input, "pipe:0", coded)
    fmt, rate, kbps = parse_channel(codec)
    if fmt in PCM_FORMATS:
        y = np.clip(resample(x, SAMPLE_RATE, rate), -1.0, 32767 / 32768)
        coded = (np.round(y * 128) + 128).astype(np.uint8) if fmt == "u8" else np.round(y * 32768).astype("<i2")
        return decode_stream(coded.tobytes(), codec)
    encoder, container = LOSSY_ENCODERS[fmt]
    # libvorbis refuses a bitrate its mode tables lack at a rate (e.g. 256k for mono 22,050 Hz):
    # the nearest it accepts is used, found once per channel and process (same answer every build).
    ladder = [kbps] + sorted((b for b in LOSSY_KBPS if b != kbps), key=lambda b: (abs(b - kbps), b))
    for bitrate in ([_WORKING_KBPS[codec]] if codec in _WORKING_KBPS else ladder):
        try:
            coded = run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
                         "-ar", str(rate), "-c:a", encoder, "-b:a", f"{bitrate}k", "-f", container, "pipe:1"],
                        stdin=x.astype("<f4").tobytes())
        except BuildError:
            continue
        _WORKING_KBPS[codec] = bitrate
        return decode_stream(coded, codec)
    raise BuildError(f"corpus_build: no bitrate of {encoder} encodes channel {codec}")


LOSSY_KBPS = (16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 256)   # the bitrates a channel is named by
_WORKING_KBPS: dict[str, int] = {}


def highpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 4th-order Butterworth high-pass of 16 kHz ``x``: no DC, hum or rumble below ``cutoff_hz``."""
    from scipy.signal import butter, sosfiltfilt

    if len(x) < 64:
        return x
    return sosfiltfilt(butter(4, cutoff_hz, "highpass", fs=SAMPLE_RATE, output="sos"), x)


ROOM_TONE_BELOW_DB = 30.0   # a frame this far below a clip's loudest frame is background, not speech


def add_room_tone(x: np.ndarray, recording: np.ndarray, seed: int) -> np.ndarray:
    """``x`` (16 kHz) with ``recording``'s background noise added at ``recording``'s own noise-to-speech level.

    The background is ``recording``'s 10 ms hops whose 20 ms frame lies ``ROOM_TONE_BELOW_DB``
    below its loudest (or its quietest tenth, if fewer), laid end to end in a seeded order to
    ``x``'s length, and scaled by the ratio of the two clips' active levels (``active_rms``).
    """
    db = frame_db(recording)
    hop = int(HOP_S * SAMPLE_RATE)
    quiet = np.flatnonzero(db < db.max() - ROOM_TONE_BELOW_DB)
    if len(quiet) < max(1, len(db) // 10):
        quiet = np.argsort(db)[: max(1, len(db) // 10)]
    chunks = [recording[i * hop: (i + 1) * hop] for i in quiet if (i + 1) * hop <= len(recording)]
    if not chunks or not len(x):
        return x
    order = np.random.default_rng(seed).integers(0, len(chunks), size=-(-len(x) // hop))
    tone = np.concatenate([chunks[i] for i in order])[: len(x)]
    return x + tone * (active_rms(x) / max(active_rms(recording), 1e-9))


def limit_peaks(x: np.ndarray, ceiling: float, lookahead_s: float = 0.005) -> np.ndarray:
    """A look-ahead peak limiter: no sample above ``ceiling``, the gain eased over ``lookahead_s`` each side.

    The gain is the minimum of each sample's needed gain (``ceiling / |x|``, at most 1) over a
    window, then averaged over a window of the same width: at a peak every averaged value is
    at most the gain the peak needs, so the ceiling holds without hard clipping.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x), 1e-12))
    width = 2 * int(lookahead_s * SAMPLE_RATE) + 1
    return x * uniform_filter1d(minimum_filter1d(need, width, mode="nearest"), width, mode="nearest")


def _decode(input_options: tuple[str, ...], source: str, stdin: bytes | None) -> np.ndarray:
    """FFmpeg-decode ``source`` (a path, or ``pipe:0`` fed ``stdin``) to 16 kHz 16-bit PCM, as float64."""
    pcm = run(["ffmpeg", "-v", "error", *input_options, "-i", source, "-ar", str(SAMPLE_RATE),
               "-f", "s16le", "pipe:1"], stdin=stdin)
    return np.frombuffer(pcm, dtype="<i2") / 32768.0


def frame_db(x: np.ndarray) -> np.ndarray:
    """Frame energies in dBFS, frames of ``FRAME_S`` every ``HOP_S`` (shape ``(frames,)``)."""
    win, hop = int(FRAME_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
    x = np.pad(x, (0, max(0, win - len(x))))
    n = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    return 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-12)


def trim_silence(x: np.ndarray) -> np.ndarray:
    """Cut leading/trailing frames more than ``TRIM_RANGE_DB`` below the loudest frame, keeping ``PAD_S``."""
    if len(x) == 0:
        return x
    db = frame_db(x)
    active = np.flatnonzero(db > db.max() - TRIM_RANGE_DB)
    hop, pad = int(HOP_S * SAMPLE_RATE), int(PAD_S * SAMPLE_RATE)
    start = max(0, active[0] * hop - pad)
    stop = min(len(x), active[-1] * hop + int(FRAME_S * SAMPLE_RATE) + pad)
    return x[start:stop]


def cut_at_pause(x: np.ndarray, target_s: float) -> np.ndarray:
    """Shorten ``x`` to at most ``target_s`` seconds, at a pause if one lies in the last 0.5 s.

    The cut is at the quietest frame in ``[max(MIN_DURATION_S, target_s - 0.5), target_s]``
    if that frame is silence (by the trim criterion), else at ``target_s``.
    """
    stop = int(target_s * SAMPLE_RATE)
    if len(x) <= stop:
        return x
    db = frame_db(x)
    hop, win = int(HOP_S * SAMPLE_RATE), int(FRAME_S * SAMPLE_RATE)
    first = int(max(MIN_DURATION_S, target_s - 0.5) * SAMPLE_RATE) // hop
    last = (stop - win) // hop
    if last > first:
        quiet = first + int(np.argmin(db[first:last]))
        if db[quiet] < db.max() - TRIM_RANGE_DB:
            stop = quiet * hop + win // 2
    return x[:stop]


def fade(x: np.ndarray) -> np.ndarray:
    """Apply ``FADE_S`` linear fade-in and fade-out."""
    n = min(int(FADE_S * SAMPLE_RATE), len(x) // 2)
    ramp = np.linspace(0.0, 1.0, n, endpoint=False)
    y = x.copy()
    y[:n] *= ramp
    y[len(y) - n:] *= ramp[::-1]
    return y


def active_rms(x: np.ndarray) -> float:
    """RMS (linear) over frames within ``TRIM_RANGE_DB`` of the loudest frame."""
    db = frame_db(x)
    return float(np.sqrt(np.mean(10 ** (db[db > db.max() - TRIM_RANGE_DB] / 10))))


def set_level(x: np.ndarray, level_dbfs: float, peak: float) -> np.ndarray:
    """Scale ``x`` to ``level_dbfs`` active RMS, then down further if its peak exceeds ``peak``."""
    y = x * (10 ** (level_dbfs / 20) / max(active_rms(x), 1e-9))
    top = np.abs(y).max()
    return y * (peak / top) if top > peak else y


def resample(x: np.ndarray, sr: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono ``x`` from ``sr`` Hz to ``target`` Hz with a polyphase filter."""
    from math import gcd

    from scipy.signal import resample_poly

    if sr == target:
        return x
    g = gcd(sr, target)
    return resample_poly(x, target // g, sr // g)


@dataclass(frozen=True)
class Mastering:
    """What a preset adds to every clip of both classes after its channel (None: nothing).

    ``highpass_hz``: a ``highpass`` cutoff (removes DC offsets and rumble that a generator or a
    recording room adds); ``peak_dbfs``: a ``limit_peaks`` ceiling applied after loudness
    normalisation (a generator's peakier waveform is not left as a level cue); ``room_tone``:
    a TTS clip gets the background noise of the real clip it is paired with (``add_room_tone``),
    before that clip's channel, as if said in the same room.
    """

    highpass_hz: float | None = None
    peak_dbfs: float | None = None
    room_tone: bool = False


NO_MASTERING = Mastering()


def finish(x: np.ndarray, target_s: float, codec: str | None, mastering: Mastering = NO_MASTERING) -> np.ndarray | None:
    """Common post-processing of one 16 kHz clip; None if it is shorter than ``MIN_DURATION_S``.

    ``codec`` None says the waveform is already decoded from its channel (bona fide
    prompts); otherwise it is levelled to ``CODEC_LEVEL_DBFS`` and round-tripped through
    that channel's codec first. Then: the ``mastering`` high-pass, trim, cut to ``target_s``
    seconds, fade, normalise, the ``mastering`` peak limit.
    """
    if codec is not None:
        x = codec_roundtrip(set_level(x, CODEC_LEVEL_DBFS, 0.95), codec)
    if mastering.highpass_hz is not None:
        x = highpass(x, mastering.highpass_hz)
    x = trim_silence(x)
    if len(x) < MIN_DURATION_S * SAMPLE_RATE:
        return None
    y = set_level(fade(cut_at_pause(x, target_s)), TARGET_LEVEL_DBFS, PEAK_LIMIT)
    return y if mastering.peak_dbfs is None else limit_peaks(y, 10 ** (mastering.peak_dbfs / 20))
