"""Evidence over seeds for the comparison runners: mean ± standard deviation, a bootstrap interval of
the EER, and the coded rule that picks a default.

The rule is a function written before any run it judges (:func:`choose`), so a default follows
from the numbers and not from a reading of them: the lowest mean of the criterion over seeds;
every candidate whose mean lies within one standard deviation (over seeds) of the best counts as
tied with it, and among the tied the fastest (training clips/s) wins.
"""
from __future__ import annotations

import statistics
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.engine.fusion import align
from detector.metrics.detection import equal_error_rate

BOOTSTRAP_DRAWS = 1000
BOOTSTRAP_SEED = 20260   # fixed: the interval is a property of the scores, not of the day


def mean_std(values) -> tuple[float, float]:
    """``(mean, sample standard deviation)`` of the finite values (std 0 for one value, NaN for none)."""
    finite = [float(v) for v in values if v != "" and np.isfinite(float(v))]
    if not finite:
        return float("nan"), float("nan")
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0


def format_percent(values) -> str:
    """EERs (fractions) as ``"m.m ± s.s"`` percent over seeds, ``"m.m"`` for one seed, ``"–"`` for none."""
    finite = [float(v) for v in values if v != "" and np.isfinite(float(v))]
    if not finite:
        return "–"
    mean, std = mean_std(finite)
    return f"{100 * mean:.1f}" if len(finite) == 1 else f"{100 * mean:.1f} ± {100 * std:.1f}"


def bootstrap_eer_interval(score_files: list[Path], condition: str = "clean", draws: int = BOOTSTRAP_DRAWS,
                           seed: int = BOOTSTRAP_SEED, systems: Collection[str] | None = None) -> tuple[float, float]:
    """The 95 % interval (2.5th, 97.5th percentiles) of the seed-mean EER when the test clips are
    resampled with replacement, bona fide and spoof clips separately (so every draw keeps both
    classes' counts), the same draw for every seed's scores (the seeds scored the same clips;
    the files are read and matched by :func:`detector.engine.fusion.align`). ``systems``: only the
    spoof clips of these systems (and every bona fide clip), e.g. the ones training never held.
    """
    try:
        trials = align(score_files, condition)
    except ValueError as error:
        raise ValueError(f"the score files do not hold the same clips, or no scores for condition "
                         f"{condition!r}: {error}") from None
    rng = np.random.default_rng(seed)
    targets = trials.targets
    bonafide, spoof = np.flatnonzero(targets == 1), np.flatnonzero(targets == 0)
    if systems is not None:
        wanted = set(systems)
        spoof = np.array([i for i in spoof if trials.systems[i] in wanted], dtype=np.int64)
        if not spoof.size:
            raise ValueError(f"{score_files[0]}: no spoof clips of the systems {sorted(systems)}")
    eers = np.empty(draws)
    for draw in range(draws):
        pick_bona, pick_spoof = rng.choice(bonafide, bonafide.size), rng.choice(spoof, spoof.size)
        eers[draw] = np.mean([equal_error_rate(scores[pick_bona], scores[pick_spoof])[0]
                              for scores in trials.scores.T])
    return float(np.percentile(eers, 2.5)), float(np.percentile(eers, 97.5))


@dataclass(frozen=True)
class Candidate:
    """One option of a decision: its criterion over seeds (lower is better) and its training speed."""
    name: str
    values: tuple[float, ...]
    clips_per_s: float


@dataclass(frozen=True)
class Choice:
    chosen: str
    tied: tuple[str, ...]        # within one standard deviation of the best mean, fastest first
    reason: str


def choose(candidates: list[Candidate], criterion: str, speed_unit: str = "clips/s") -> Choice:
    """The default by the rule in this module's docstring; ``criterion`` names the values in the reason,
    ``speed_unit`` the unit of ``Candidate.clips_per_s`` (any measure where higher is faster)."""
    scored = [(c, *mean_std(c.values)) for c in candidates]
    scored = [entry for entry in scored if np.isfinite(entry[1])]
    if not scored:
        raise ValueError(f"no candidate has a value of {criterion}")
    best, best_mean, best_std = min(scored, key=lambda entry: entry[1])
    tied = sorted((entry for entry in scored if entry[1] <= best_mean + best_std),
                  key=lambda entry: -entry[0].clips_per_s)
    chosen = tied[0][0]
    seeds = len(best.values)
    reason = (f"lowest mean {criterion} over {seeds} seed(s): {best.name} {100 * best_mean:.1f} ± "
              f"{100 * best_std:.1f} %; within one standard deviation: "
              + ", ".join(f"{c.name} ({100 * m:.1f} %, {c.clips_per_s:.1f} {speed_unit})" for c, m, _ in tied)
              + f"; the fastest of those: {chosen.name}")
    return Choice(chosen.name, tuple(c.name for c, _, _ in tied), reason)
