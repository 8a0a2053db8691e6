"""Banks of noises and impulse responses, and :class:`LaunderBanks`, the context that builds them.

Conditions that need data beyond their string (babble made from speech,
folders of recorded noises, measured impulse responses, the cached room
simulations) get it from a :class:`LaunderBanks` passed to
``parse_condition(text, sample_rate, banks=...)``. Banks are built once per
``LaunderBanks`` (memoised), so many conditions share one buffer; they are
then moved to the device with the attack and never touch a file again.

Built-in noise substitutes (used for a type that has no ``noise_dirs`` folder;
they are *substitutes*, not recordings, and results with them should say so):

- ``white``, ``pink``, ``brown``: generated Gaussian noise, power ~ 1/f^0, 1/f, 1/f^2;
- ``babble``: sums of 6-10 bona fide utterances, each at equal RMS, in 8 s
  segments: babble as it is made in practice. The talkers come from the
  training split of the user's corpus when it has at least
  ``MIN_TRAIN_TALKERS`` usable bona fide clips (:meth:`LaunderBanks.from_corpus`),
  otherwise from the packaged demo corpus's bona fide training prompts
  (:func:`packaged_prompts`; speakers outside any user's data). Never from
  validation or test speech: babble made of the test clips' own speech would
  leak it into the noise added to those clips. ``LaunderBanks.babble_source``
  says which pool was used;
- ``volvo``: car-interior-like rumble: brown noise low-passed at 250 Hz
  (Butterworth order 4) with a slow (0.2-0.5 Hz) +-30% level modulation;
- ``street``: traffic-like: pink noise low-passed at 2 kHz under slow swells
  (passing vehicles, Gaussian bumps of 2-5 s), plus sparse horn-like harmonic
  tone bursts and broadband transients;
- ``cafe``: babble (same talker pool) over a pink-noise floor 10 dB below it,
  plus sparse decaying 2-6 kHz "clinks" (cutlery, cups).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
import torch
import torchaudio.functional as AF

from detector.data.audio import ingest_filter
from detector.data.demo import DEMO_CORPUS

from . import functional as F
from .noise import DEFAULT_BANK_LENGTH, NOISE_COLOURS, NoiseBank
from .rooms import RoomSpec, ShoeBoxSpec, shoebox_rirs, study_rirs

NOISE_TYPES = ("white", "pink", "brown", "babble", "cafe", "street", "volvo")
BABBLE_TALKERS = (6, 10)
# A training split with fewer bona fide clips cannot give every babble segment
# distinct talkers; the packaged prompts are used instead.
MIN_TRAIN_TALKERS = BABBLE_TALKERS[1]
BABBLE_SEGMENT_S = 8.0
# Measured impulse responses are cut to this length (s); rooms with longer
# tails are rare and the convolution cost grows with it.
MAX_RIR_S = 2.0


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 ``(time,)`` at ``sample_rate`` from any file libsndfile reads; errors name the file."""
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as audio ({error})") from None
    mono = samples.mean(axis=1)
    if mono.size == 0 or not np.isfinite(mono).all() or not np.abs(mono).max() > 0:
        raise ValueError(f"{path}: empty, silent or non-finite audio")
    if rate != sample_rate:   # the ingest filter, as for corpus audio: no aliased cue in the noise
        mono = AF.resample(torch.from_numpy(mono), rate, sample_rate, **ingest_filter()).numpy()
    return mono.astype(np.float32)


def read_folder(folder: str | Path, sample_rate: int, what: str) -> list[np.ndarray]:
    """Every audio file directly in ``folder`` (sorted by name); a clear error when empty or unreadable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{what} folder {folder}: not found or not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"{what} folder {folder}: empty; put audio files (wav, flac, ...) in it")
    return [read_audio(path, sample_rate) for path in files]


class RirBank(torch.nn.Module):
    """Impulse responses zero-padded into one ``(entries, max_len)`` buffer, each with unit energy.

    Args:
        rirs: 1-D arrays (any length >= 1).
        rt60_s: nominal RT60 per entry (``nan`` when unknown, e.g. measured).
        reports: per entry, what is known of it (simulated rooms: the
            generation report with the measured T20/T30, see
            :mod:`.rooms`), for run reports; empty dicts by default.
    """

    irs: torch.Tensor

    def __init__(self, rirs: Sequence[np.ndarray], rt60_s: Sequence[float],
                 reports: Sequence[dict] | None = None) -> None:
        super().__init__()
        if len(rirs) == 0 or len(rirs) != len(rt60_s) or (reports is not None and len(reports) != len(rirs)):
            raise ValueError(f"RirBank: need one RT60 (and report, if any) per response, got {len(rirs)} "
                             f"responses, {len(rt60_s)} RT60s")
        length = max(len(r) for r in rirs)
        irs = torch.zeros(len(rirs), length)
        for k, rir in enumerate(rirs):
            rir = torch.as_tensor(np.asarray(rir, dtype=np.float64))
            irs[k, : len(rir)] = (rir / rir.square().sum().sqrt().clamp_min(1e-12)).float()
        self.rt60_s = tuple(float(v) for v in rt60_s)
        self.reports = tuple(reports) if reports is not None else tuple({} for _ in rirs)
        self.register_buffer("irs", irs, persistent=False)

    def __len__(self) -> int:
        return self.irs.shape[0]

    def entries(self, rt60_s: Iterable[float] | None = None) -> list[int]:
        """Indices of entries with one of the nominal ``rt60_s`` values (all entries for ``None``)."""
        if rt60_s is None:
            return list(range(len(self)))
        wanted = [round(v, 4) for v in rt60_s]
        return [k for k, v in enumerate(self.rt60_s) if round(v, 4) in wanted]

    def extra_repr(self) -> str:
        return f"entries={len(self)}, length={self.irs.shape[1]}"


def _loop(wave: np.ndarray, length: int, start: int) -> np.ndarray:
    return np.take(wave, np.arange(start, start + length) % len(wave))


def _rms_normalise(wave: np.ndarray) -> np.ndarray:
    return wave / max(float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))), 1e-6)


def make_babble(utterances: Sequence[np.ndarray], length: int, sample_rate: int,
                rng: np.random.Generator) -> np.ndarray:
    """Babble: segments of ``BABBLE_SEGMENT_S`` s, each the sum of 6-10 utterances at equal RMS."""
    if len(utterances) < BABBLE_TALKERS[0]:
        raise ValueError(f"babble noise: needs at least {BABBLE_TALKERS[0]} bona fide utterances, got "
                         f"{len(utterances)}; leave utterances unset for the packaged prompts, or give recorded "
                         "babble with --noise-dir babble=PATH")
    segment = int(BABBLE_SEGMENT_S * sample_rate)
    pieces = []
    for start in range(0, length, segment):
        size = min(segment, length - start)
        talkers = rng.integers(BABBLE_TALKERS[0], BABBLE_TALKERS[1] + 1)
        chosen = rng.choice(len(utterances), size=min(talkers, len(utterances)), replace=False)
        mix = np.zeros(size)
        for k in chosen:
            wave = _rms_normalise(np.asarray(utterances[k], dtype=np.float64))
            mix += _loop(wave, size, int(rng.integers(len(wave))))
        pieces.append(mix)
    return np.concatenate(pieces).astype(np.float32)


def _coloured(length: int, exponent: float, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """``(length,)`` float64 unit-RMS noise ``~ 1 / f**exponent`` from ``rng``'s stream (the bank's seed)."""
    return F.shape_noise(torch.from_numpy(rng.standard_normal(length)), exponent, sample_rate).numpy()


def make_volvo(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Car-interior-like noise (see the module docstring)."""
    sos = scipy.signal.butter(4, 250.0, fs=sample_rate, output="sos")
    rumble = scipy.signal.sosfilt(sos, _coloured(length, 2.0, rng, sample_rate))
    t = np.arange(length) / sample_rate
    modulation = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 2 * np.pi))
    return _rms_normalise(rumble * modulation).astype(np.float32)


def make_street(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Traffic-like noise plus transients (see the module docstring)."""
    sos = scipy.signal.butter(2, 2000.0, fs=sample_rate, output="sos")
    traffic = scipy.signal.sosfilt(sos, _coloured(length, 1.0, rng, sample_rate))
    t = np.arange(length) / sample_rate
    swells = 0.4 * np.ones(length)
    for _ in range(max(1, int(length / sample_rate / 4))):   # a vehicle every ~4 s
        centre, width = rng.uniform(0, t[-1]), rng.uniform(1.0, 2.5)
        swells += rng.uniform(0.5, 1.5) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    street = _rms_normalise(traffic * swells)
    for _ in range(max(1, int(length / sample_rate / 6))):   # horns and bangs
        start = int(rng.integers(length))
        if rng.random() < 0.5:
            size = int(rng.uniform(0.3, 0.8) * sample_rate)
            tt = np.arange(size) / sample_rate
            f0 = rng.uniform(350, 500)
            burst = sum(np.sin(2 * np.pi * k * f0 * tt) / k for k in range(1, 6)) * np.hanning(size)
        else:
            size = int(rng.uniform(0.05, 0.2) * sample_rate)
            burst = rng.standard_normal(size) * np.exp(-np.arange(size) / (0.03 * sample_rate))
        index = (start + np.arange(size)) % length
        street[index] += rng.uniform(1.0, 3.0) * burst
    return _rms_normalise(street).astype(np.float32)


def make_cafe(babble: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Babble over a pink floor (-10 dB) plus clinks (see the module docstring)."""
    length = len(babble)
    cafe = _rms_normalise(babble) + 10 ** (-10 / 20) * _coloured(length, 1.0, rng, sample_rate)
    for _ in range(max(1, int(length / sample_rate / 2))):
        size = int(0.15 * sample_rate)
        tt = np.arange(size) / sample_rate
        clink = np.sin(2 * np.pi * rng.uniform(2000, 6000) * tt) * np.exp(-tt / 0.03)
        index = (int(rng.integers(length)) + np.arange(size)) % length
        cafe[index] += rng.uniform(1.0, 4.0) * clink
    return _rms_normalise(cafe).astype(np.float32)


def packaged_prompt_paths() -> list[Path]:
    """The packaged babble talkers: the demo corpus's bona fide *training* prompts, sorted by path.

    Training prompts only, so that babble added to the demo corpus's own
    validation or test clips never contains their speech.
    """
    with open(DEMO_CORPUS / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(DEMO_CORPUS / row["path"] for row in rows if row["label"] == "bonafide" and row["split"] == "train")


@functools.lru_cache(maxsize=2)
def packaged_prompts(sample_rate: int) -> tuple[np.ndarray, ...]:
    """:func:`packaged_prompt_paths` decoded (soundfile) to mono float32 at ``sample_rate``; once per process."""
    return tuple(read_audio(path, sample_rate) for path in packaged_prompt_paths())


def packaged_babble_source() -> str:
    """``babble_source`` of banks whose talkers are the packaged prompts (counted without decoding)."""
    return f"packaged demo-corpus prompts ({len(packaged_prompt_paths())} clips)"


@dataclass
class LaunderBanks:
    """Where conditions get their noises and impulse responses.

    Args:
        utterances: bona fide utterances for babble and cafe (``(time,)``
            float32 arrays at the model rate), or ``None`` for the packaged
            demo-corpus prompts (decoded at first use); see :meth:`from_corpus`.
        babble_source: where the babble/cafe talkers come from, for the run's
            config and report, e.g. ``"train split of PATH (132 clips)"`` or
            ``"packaged demo-corpus prompts (132 clips)"``; derived from
            ``utterances`` when left empty.
        noise_dirs: noise type -> folder of recordings; replaces the built-in
            substitute of that type.
        rir_dir: folder of measured impulse responses for ``reverb:model=measured``.
        cache_dir: where simulated RIRs are cached (default ``<detector cache>/rirs``).
        study_room: the room of ``reverb:rt60=...`` (``model=study``, the default).
        shoebox: room and generation settings of ``reverb:...:model=shoebox``.
        seed: seed of the generated substitutes (fixed like a recording would be).
        noise_length: samples per generated noise.
    """

    utterances: Sequence[np.ndarray] | None = None
    babble_source: str = ""
    noise_dirs: dict[str, str | Path] = field(default_factory=dict)
    rir_dir: str | Path | None = None
    cache_dir: str | Path | None = None
    study_room: RoomSpec = field(default_factory=RoomSpec)
    shoebox: ShoeBoxSpec = field(default_factory=ShoeBoxSpec)
    seed: int = 0
    noise_length: int = DEFAULT_BANK_LENGTH
    _noises: dict = field(default_factory=dict, init=False, repr=False)
    _rirs: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.noise_dirs if kind not in NOISE_TYPES]
        if unknown:
            raise ValueError(f"noise folders for unknown type(s) {unknown}; valid types: {', '.join(NOISE_TYPES)}")
        if not self.babble_source:
            self.babble_source = (packaged_babble_source() if self.utterances is None
                                  else f"given utterances ({len(self.utterances)} clips)")

    @classmethod
    def from_corpus(cls, manifest, cache, max_utterances: int = 200, **kwargs) -> LaunderBanks:
        """Banks whose babble talkers are ``manifest``'s bona fide *training* clips in ``cache``.

        With fewer than ``MIN_TRAIN_TALKERS`` usable ones (an evaluation-only
        manifest such as ASVspoof 2021 DF or In-the-Wild, or a handful of
        clips) the packaged demo-corpus prompts are used instead; validation
        and test clips never are. Up to ``max_utterances`` clips are taken,
        evenly spread over the training split, straight from the waveform
        cache (nothing is decoded).
        """
        valid = set(cache.valid_rows.tolist())
        rows = [i for i, row in enumerate(manifest.rows)
                if row.label == "bonafide" and row.split == "train" and i in valid]
        if len(rows) < MIN_TRAIN_TALKERS:
            return cls(**kwargs)
        if len(rows) > max_utterances:
            rows = [rows[k] for k in np.linspace(0, len(rows) - 1, max_utterances).round().astype(int)]
        return cls(utterances=[np.asarray(cache.waveform(i), dtype=np.float32) for i in rows],
                   babble_source=f"train split of {manifest.path} ({len(rows)} clips)", **kwargs)

    @staticmethod
    def parse_noise_dirs(items: Iterable[str]) -> dict[str, str]:
        """``["babble=PATH", ...]`` (the ``--noise-dir`` flag's values) -> ``{"babble": "PATH"}``."""
        parsed = {}
        for item in items:
            kind, sep, path = item.partition("=")
            if not sep or not path.strip() or kind.strip() not in NOISE_TYPES:
                raise ValueError(f"--noise-dir {item!r}: expected TYPE=PATH with TYPE one of {', '.join(NOISE_TYPES)}")
            parsed[kind.strip()] = path.strip()
        return parsed

    def noise(self, kind: str, sample_rate: int) -> np.ndarray:
        """The noise signal of one type: the recordings' concatenation, or the built-in substitute."""
        key = (kind, sample_rate)
        if key in self._noises:
            return self._noises[key]
        if kind not in NOISE_TYPES:
            raise ValueError(f"unknown noise type {kind!r}; valid: {', '.join(NOISE_TYPES)}")
        rng = np.random.default_rng((self.seed, NOISE_TYPES.index(kind)))
        if kind in self.noise_dirs:
            signal = np.concatenate([_rms_normalise(w) for w in read_folder(self.noise_dirs[kind], sample_rate,
                                                                             f"{kind} noise")])
        elif kind in NOISE_COLOURS:
            signal = _coloured(self.noise_length, NOISE_COLOURS[kind], rng, sample_rate)
        elif kind == "volvo":
            signal = make_volvo(self.noise_length, sample_rate, rng)
        elif kind == "street":
            signal = make_street(self.noise_length, sample_rate, rng)
        else:   # babble, cafe: from the talker pool
            talkers = packaged_prompts(sample_rate) if self.utterances is None else self.utterances
            babble = make_babble(talkers, self.noise_length, sample_rate, rng)
            signal = babble if kind == "babble" else make_cafe(babble, sample_rate, rng)
        self._noises[key] = np.asarray(signal, dtype=np.float32)
        return self._noises[key]

    def noise_bank(self, kinds: Sequence[str], sample_rate: int) -> NoiseBank:
        """A :class:`NoiseBank` with one entry per type in ``kinds``."""
        return NoiseBank(tuple(kinds), [torch.from_numpy(self.noise(kind, sample_rate)) for kind in kinds])

    def study_bank(self, rt60s: Sequence[float], sample_rate: int) -> RirBank:
        """The study's room by its recipe verbatim: one response per nominal RT60 (s), cached on disk."""
        return self._simulated_bank("study", study_rirs, self.study_room, rt60s, sample_rate)

    def shoebox_bank(self, rt60s: Sequence[float], sample_rate: int) -> RirBank:
        """Calibrated, jittered rooms (``shoebox.variants`` per RT60 in s), validated and cached on disk."""
        return self._simulated_bank("shoebox", shoebox_rirs, self.shoebox, rt60s, sample_rate)

    def _simulated_bank(self, model: str, generate, spec: RoomSpec, rt60s: Sequence[float],
                        sample_rate: int) -> RirBank:
        rirs, tags, reports = [], [], []
        for rt60 in rt60s:
            key = (model, float(rt60), sample_rate)
            if key not in self._rirs:
                self._rirs[key] = generate(float(rt60), sample_rate, spec, self.cache_dir)
            responses, generated = self._rirs[key]
            rirs += responses
            reports += generated
            tags += [float(rt60)] * len(responses)
        return RirBank(rirs, tags, reports)

    def measured_bank(self, sample_rate: int) -> RirBank:
        """Responses read from ``rir_dir`` (cut to ``MAX_RIR_S``; leading silence kept: it is the delay)."""
        if self.rir_dir is None:
            raise ValueError("reverb:model=measured needs a folder of measured impulse responses: "
                             "pass --rir-dir PATH (LaunderBanks(rir_dir=PATH))")
        key = ("measured", str(self.rir_dir), sample_rate)
        if key not in self._rirs:
            rirs = [r[: int(MAX_RIR_S * sample_rate)] for r in read_folder(self.rir_dir, sample_rate, "RIR")]
            self._rirs[key] = rirs
        return RirBank(self._rirs[key], [float("nan")] * len(self._rirs[key]))


def corpus_banks(manifest, cache, noise_dirs: str = "", rir_dir: str = "", cache_dir: str = "") -> LaunderBanks:
    """The banks every command uses: babble from ``manifest``'s training split (see
    :meth:`LaunderBanks.from_corpus`), plus the user's folders.

    ``noise_dirs`` is ``"TYPE=PATH,TYPE=PATH"`` (the joined ``--noise-dir`` flags); simulated
    impulse responses are cached under ``cache_dir/rirs`` (default: the detector cache).
    """
    items = [item for item in noise_dirs.split(",") if item.strip()]
    return LaunderBanks.from_corpus(manifest, cache, noise_dirs=LaunderBanks.parse_noise_dirs(items),
                                    rir_dir=rir_dir or None, cache_dir=Path(cache_dir) / "rirs" if cache_dir else None)
