"""Cues other than the speech that can tell a corpus's classes apart, measured per clip.

Each cue is one number per clip (:data:`CUES` names them with their units). Its single-cue ROC
AUC, the cue taken as a bona fide score, says how well it alone separates the classes: 0.5 is
useless, and an AUC of 0.3 is as informative as one of 0.7 (the cue is then lower for bona
fide), so a cue's strength is max(AUC, 1 - AUC). Known leaks these measure: duration; leading
and trailing silence (ASVspoof 2019 LA: the length of the leading silence alone detects most
spoofs, Müller et al., "Speech is Silver, Silence is Golden", Interspeech 2021); level and
peak; the noise floor; bandwidth; energy below 100 Hz; DC offset.

One implementation for both users: ``detector inspect --probe`` (:func:`probe_cues`, on the
waveform cache at the model's rate) and the corpus builder's audit
(``tools/corpus_build/audit.py``, on the built files at their own rate).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.data.summary import SPLIT_ORDER, _table, roc_auc

# name -> (what it is, with its unit; how to remove it as a shortcut)
CUES: dict[str, tuple[str, str]] = {
    "duration_s": ("clip length in seconds", "crop every clip to one length"),
    "leading_silence_s": ("seconds before the first active frame",
                          "trim leading and trailing silence in both classes alike"),
    "trailing_silence_s": ("seconds after the last active frame",
                           "trim leading and trailing silence in both classes alike"),
    "rms_dbfs": ("whole-clip RMS level in dBFS", "normalise the loudness of both classes alike"),
    "peak": ("largest absolute sample (full scale 1)", "normalise the peaks (or crest factor) of both classes alike"),
    "floor_dbfs": ("noise floor: 5th percentile of 20 ms frame levels, dBFS",
                   "give both classes the same background noise, or launder with noise"),
    "bandwidth_hz": ("highest frequency with energy: the top of the band within 60 dB of the "
                     "average spectrum's maximum, Hz",
                     "band-limit both classes alike, or launder with low-pass filters and resampling"),
    "rolloff95_hz": ("frequency below which 95 % of the power lies, Hz",
                     "band-limit both classes alike, or launder with low-pass filters and resampling"),
    "energy_above_4k": ("fraction of the power above 4 kHz",
                        "band-limit both classes alike, or launder with low-pass filters and resampling"),
    "energy_above_7k": ("fraction of the power above 7 kHz",
                        "band-limit both classes alike, or launder with low-pass filters and resampling"),
    "energy_below_100hz": ("fraction of the power below 100 Hz (hum, rumble, handling)",
                           "high-pass both classes alike (e.g. at 100 Hz)"),
    "dc_offset": ("mean sample value (full scale 1)", "subtract each clip's mean"),
}
FRAME_S, HOP_S = 0.020, 0.010   # level frames: 20 ms every 10 ms
# A frame is silence when it is this far below the clip's loudest frame (relative: whatever the
# recording level), or within SILENCE_ABOVE_FLOOR_DB of the clip's noise floor (``floor_dbfs``:
# in a noisy recording the pauses are less than 40 dB down), or below SILENCE_DBFS; but never
# when within ALWAYS_ACTIVE_DB of the loudest frame (a clip of steady sound has no silence).
SILENCE_BELOW_LOUDEST_DB = 40.0
SILENCE_ABOVE_FLOOR_DB = 6.0
ALWAYS_ACTIVE_DB = 12.0
SILENCE_DBFS = -80.0
BANDWIDTH_RANGE_DB = 60.0       # the band ends where the average spectrum falls this far below its maximum
SPECTRUM_FRAME_S = 0.032        # frames of the average spectrum (512 samples at 16 kHz: 31 Hz bins)
PROBE_THRESHOLD = 0.7           # warn when a cue's max(AUC, 1 - AUC) reaches this ...
CHANCE_SIGMAS = 3.0             # ... and its AUC is this many chance standard deviations from 0.5


def clip_cues(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """The :data:`CUES` of one mono clip ``x`` (``(time,)``, float in [-1, 1]), in that order.

    Everything but ``dc_offset`` is measured on the clip minus its mean, so that a DC offset
    shows in ``dc_offset`` alone rather than in the level, peak, silence and low-frequency cues
    at once. Silence is measured in 20 ms frames (see :data:`SILENCE_BELOW_LOUDEST_DB` for which
    are silent); a clip with no active frame is all silence, leading and trailing. Spectral cues come from
    the average power spectrum of Hann-windowed :data:`SPECTRUM_FRAME_S` frames (half overlapping).
    """
    x = np.asarray(x, dtype=np.float64)
    dc_offset = float(x.mean()) if x.size else 0.0
    x = x - dc_offset
    duration_s = x.size / sample_rate

    win, hop = max(1, round(FRAME_S * sample_rate)), max(1, round(HOP_S * sample_rate))
    frame_db = 10 * np.log10(np.mean(_frames(x, win, hop) ** 2, axis=1) + 1e-12)
    floor_dbfs = np.percentile(frame_db, 5)
    loudest = frame_db.max()
    silent_below = min(max(loudest - SILENCE_BELOW_LOUDEST_DB, floor_dbfs + SILENCE_ABOVE_FLOOR_DB),
                       loudest - ALWAYS_ACTIVE_DB)
    active = np.flatnonzero(frame_db > max(silent_below, SILENCE_DBFS))
    if active.size:
        leading_s = active[0] * hop / sample_rate
        trailing_s = max(0.0, (x.size - (active[-1] * hop + win)) / sample_rate)
    else:
        leading_s = trailing_s = duration_s

    n_fft = 1 << max(4, int(np.ceil(np.log2(SPECTRUM_FRAME_S * sample_rate))))
    frames = _frames(x, n_fft, n_fft // 2)
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    total = power.sum() + 1e-20
    cumulative = np.cumsum(power) / total
    in_band = np.flatnonzero(power >= power.max() * 10 ** (-BANDWIDTH_RANGE_DB / 10))
    return np.array([
        duration_s, leading_s, trailing_s,
        10 * np.log10(np.mean(x**2) + 1e-12) if x.size else -120.0,
        np.abs(x).max() if x.size else 0.0,
        floor_dbfs,
        freqs[in_band[-1]],
        freqs[min(np.searchsorted(cumulative, 0.95), len(freqs) - 1)],   # silent clip: the top bin
        power[freqs > 4000].sum() / total,
        power[freqs > 7000].sum() / total,
        power[freqs < 100].sum() / total,
        dc_offset,
    ])


def _frames(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """``(n_frames, win)`` frames of ``x`` every ``hop`` samples; a clip shorter than a frame is zero-padded to one."""
    if x.size < win:
        return np.pad(x, (0, win - x.size))[None, :]
    n = (x.size - win) // hop + 1
    return x[np.arange(win)[None, :] + hop * np.arange(n)[:, None]]


def check_threshold(threshold: float) -> float:
    """``threshold`` if it is a possible max(AUC, 1 - AUC), in [0.5, 1]; else ValueError."""
    if not 0.5 <= threshold <= 1.0:
        raise ValueError(f"the probe threshold is a max(AUC, 1 - AUC), in [0.5, 1]; got {threshold:g}")
    return threshold


def strength(auc: float) -> float:
    """How informative a single-cue AUC is, whichever class the cue is higher for: max(AUC, 1 - AUC)."""
    return max(auc, 1.0 - auc)


@dataclass
class CueProbe:
    """The cues of a corpus's clips and their single-cue AUCs, overall and per split.

    ``values`` is ``(clips, len(CUES))``; ``positive`` (bona fide) and ``splits`` are ``(clips,)``.
    A cue is a shortcut where its strength, max(AUC, 1 - AUC), reaches ``threshold`` and is
    also beyond chance: at least :data:`CHANCE_SIGMAS` standard deviations from 0.5 for a useless
    cue on that many clips (a split of 20 clips per class gives a useless cue an AUC of 0.7 or
    more about one time in 30, and 12 cues x several splits would then warn on noise).
    """

    values: np.ndarray
    positive: np.ndarray
    splits: np.ndarray
    threshold: float = PROBE_THRESHOLD

    def __post_init__(self):
        check_threshold(self.threshold)

    @property
    def places(self) -> dict[str, np.ndarray]:
        """``{"all": every clip, "train": its clips, ...}`` as boolean masks, splits in train, val, test order."""
        named = sorted(set(self.splits.tolist()) - {""}, key=SPLIT_ORDER.get)
        return {"all": np.ones(len(self.positive), bool), **{split: self.splits == split for split in named}}

    def aucs(self, place: str = "all") -> dict[str, float | None]:
        """Each cue's ROC AUC as a bona fide score over ``place`` ("all" or a split); None where a class is absent."""
        inside = self.places[place]
        if self.positive[inside].all() or not self.positive[inside].any():
            return dict.fromkeys(CUES)
        return {name: roc_auc(self.values[inside, j], self.positive[inside]) for j, name in enumerate(CUES)}

    def shortcut(self, auc: float | None, place: str) -> bool:
        """Whether a cue with this AUC over ``place`` is a shortcut (see the class docstring)."""
        if auc is None:
            return False
        inside = self.places[place]
        n_bona, n_spoof = int(self.positive[inside].sum()), int((~self.positive[inside]).sum())
        # The AUC of a useless cue (Mann-Whitney U / (n_bona n_spoof), no ties) has this spread.
        chance = np.sqrt((n_bona + n_spoof + 1) / (12 * n_bona * n_spoof))
        return strength(auc) >= self.threshold and abs(auc - 0.5) >= CHANCE_SIGMAS * chance

    def table_lines(self) -> list[str]:
        """A table: per cue, each class's median and the AUC overall and per split."""
        by_place = {place: self.aucs(place) for place in self.places}
        header = ["cue", "bonafide median", "spoof median", *[f"AUC {place}" for place in by_place]]
        body = []
        for j, name in enumerate(CUES):
            medians = [f"{np.median(self.values[mask, j]):.4g}" if mask.any() else "-"
                       for mask in (self.positive, ~self.positive)]
            body.append([name, *medians, *["-" if aucs[name] is None else
                                           f"{aucs[name]:.2f}" + ("!" if self.shortcut(aucs[name], place) else "")
                                           for place, aucs in by_place.items()]])
        return [f"cues of the audio, single-cue ROC AUC as a bona fide score (! = a shortcut: max(AUC, 1 - AUC) "
                f">= {self.threshold:g} and beyond chance on that many clips; - = a class is absent):",
                *_table(header, body)]

    def warnings(self) -> list[str]:
        """One sentence per cue that is a shortcut overall or in a split, strongest first."""
        by_place = {place: self.aucs(place) for place in self.places}
        found = []
        for j, (name, (meaning, fix)) in enumerate(CUES.items()):
            aucs = {place: place_aucs[name] for place, place_aucs in by_place.items() if place_aucs[name] is not None}
            strong = [strength(auc) for place, auc in aucs.items() if self.shortcut(auc, place)]
            if not strong:
                continue
            medians = " vs ".join(f"{label} median {np.median(self.values[mask, j]):.4g}"
                                  for label, mask in (("bonafide", self.positive), ("spoof", ~self.positive))
                                  if mask.any())
            where = ", ".join(f"{place} {auc:.2f}" for place, auc in aucs.items())
            found.append((max(strong), f"{name} shortcut: the {meaning} alone separates the classes "
                                       f"(ROC AUC {where}; {medians}); {fix}"))
        return [text for _, text in sorted(found, key=lambda item: -item[0])]


def probe_cues(manifest, cache, threshold: float = PROBE_THRESHOLD, progress: bool = True) -> CueProbe:
    """The cues of every clip of ``manifest`` that its waveform ``cache`` holds (skipped rows left out)."""
    from tqdm import tqdm

    rows = cache.valid_rows
    values = np.empty((len(rows), len(CUES)))
    for k, i in enumerate(tqdm(rows, desc="cues", unit="clip", disable=not progress)):
        values[k] = clip_cues(cache.waveform(int(i)), cache.sample_rate)
    positive = np.array([manifest.rows[i].label == "bonafide" for i in rows], dtype=bool)
    splits = np.array([manifest.rows[i].split for i in rows], dtype=str)
    return CueProbe(values, positive, splits, threshold)
