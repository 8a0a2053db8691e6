"""Simulated room impulse responses of the laundered-ASVspoof study's shoebox room, by pyroomacoustics.

The study's room is 10 x 7.5 x 3.5 m, source at (2.5, 3.73, 1.76) m and
microphone at (6.3, 4.87, 1.2) m, wall absorption and image-source order from
the RT60 by the inverse Sabine formula, responses from pyroomacoustics'
image-source model (``ShoeBox`` + ``inverse_sabine``) with its defaults: no
air absorption, no ray tracing, deterministic image sources, its
fractional-delay filter (``frac_delay_length`` taps, 81 by default) and its
default RIR high-pass. Two models of that room:

- **study** (:class:`RoomSpec`, :func:`study_rirs`; ``reverb:rt60=0.6``): the
  study's recipe verbatim: the nominal RT60 goes into ``inverse_sabine``, the
  geometry is fixed, one response per RT60, kept exactly as pyroomacoustics
  returns it (the fractional-delay filter's ``frac_delay_length // 2`` leading
  samples included, as ``room.rir`` and ``room.simulate()`` give it). In this
  elongated room its measured decay is longer than the name: T20 0.30 / 0.68 /
  1.08 s for 0.3 / 0.6 / 0.9 s (README, "Laundering conditions"). Validation
  checks what the recipe promises, not the name: the simulation used
  ``inverse_sabine``'s absorption and order for the nominal RT60, the direct
  path lies at the source-microphone distance over the speed of sound (after
  the filter's offset), and the measured T20 and T30 are finite; both are
  recorded in the response's report.
- **shoebox** (:class:`ShoeBoxSpec`, :func:`shoebox_rirs`;
  ``reverb:rt60=0.6:model=shoebox``), for training: the RT60 given to
  ``inverse_sabine`` is corrected by a few fixed-point steps on the nominal
  geometry so that the *measured* T20 matches the name, and several responses
  per RT60 jitter source and microphone positions so a model cannot memorise
  one response. The filter's offset is removed (direct path at distance / c).
  Every response is validated: measured T20 within ``SHOEBOX_T20_TOLERANCE``
  of the name, direct path within ``DELAY_TOLERANCE_SAMPLES``.

Responses take seconds to simulate; they are cached on disk (written
atomically), keyed by the model, its settings, the RT60, the sample rate, the
pyroomacoustics version and the pyroomacoustics constants they depend on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from detector.utils.io import atomic_write_with

from .rir import T20_RANGE_DB, T30_RANGE_DB, estimate_rt60

# Calibration puts the measured T20 within ~1 % of the name at the study
# geometry; jittered positions move it by up to ~8 % (0.9 s: 0.90-0.97 s).
SHOEBOX_T20_TOLERANCE = 0.10
DELAY_TOLERANCE_SAMPLES = 2.0
STUDY_RT60S_S = (0.3, 0.6, 0.9)
# pyroomacoustics settings a response depends on besides the room (part of the cache key and the report).
_PRA_CONSTANTS = ("c", "frac_delay_length", "sinc_lut_granularity", "rir_hpf_enable", "rir_hpf_fc")


def _pyroomacoustics_settings() -> dict:
    import pyroomacoustics as pra

    return {"version": pra.__version__, **{name: pra.constants.get(name) for name in _PRA_CONSTANTS}}


@dataclass(frozen=True)
class RoomSpec:
    """The study model: a shoebox room (metres) simulated by the study's recipe verbatim.

    Defaults are the laundered-ASVspoof study's room, source and microphone.
    """

    room_m: tuple[float, float, float] = (10.0, 7.5, 3.5)
    source_m: tuple[float, float, float] = (2.5, 3.73, 1.76)
    mic_m: tuple[float, float, float] = (6.3, 4.87, 1.2)

    def key(self, rt60_s: float, sample_rate: int) -> str:
        """Cache key: model, settings, RT60 (s), rate (Hz) and the pyroomacoustics settings used."""
        text = json.dumps([type(self).__name__, asdict(self), rt60_s, sample_rate, _pyroomacoustics_settings()],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ShoeBoxSpec(RoomSpec):
    """The shoebox model: the study's geometry, calibrated to the measured T20, with jittered positions."""

    variants: int = 8            # responses per RT60 (variant 0 is the exact geometry)
    jitter_m: float = 0.3        # uniform +- jitter of source and microphone coordinates, metres
    seed: int = 0


def simulate(spec: RoomSpec, rt60_s: float, source_m, mic_m, sample_rate: int) -> tuple[np.ndarray, dict]:
    """One response as pyroomacoustics computes it, with ``inverse_sabine(rt60_s)``'s absorption and order.

    Returns:
        (float64 response, unnormalised, direct path at ``frac_delay_length // 2``
        plus distance / c samples; the recipe: ``{"absorption", "max_order"}``).
    """
    import pyroomacoustics as pra

    absorption, max_order = pra.inverse_sabine(rt60_s, list(spec.room_m))
    room = pra.ShoeBox(list(spec.room_m), fs=sample_rate, materials=pra.Material(absorption), max_order=max_order)
    room.add_source(list(source_m))
    room.add_microphone(list(mic_m))
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64), {"absorption": float(absorption),
                                                           "max_order": int(max_order)}


def filter_offset_samples() -> int:
    """Samples before the direct path that pyroomacoustics' centred fractional-delay filter adds."""
    import pyroomacoustics as pra

    return pra.constants.get("frac_delay_length") // 2


def expected_delay_samples(source, mic, sample_rate: int) -> float:
    """Direct-path delay in samples: distance (m) / speed of sound (pyroomacoustics' c, 343 m/s) x rate."""
    import pyroomacoustics as pra

    return float(np.linalg.norm(np.subtract(source, mic)) / pra.constants.get("c") * sample_rate)


def measured_rt60(rir: np.ndarray, sample_rate: int, fit_range_db: tuple[float, float] = T20_RANGE_DB) -> float:
    """Measured decay time in seconds (Schroeder backward integration): T20 by default, T30 with ``T30_RANGE_DB``."""
    return float(estimate_rt60(torch.from_numpy(np.asarray(rir, dtype=np.float64)), sample_rate, fit_range_db))


def _measure(rir: np.ndarray, offset: int, source, mic, sample_rate: int, where: str) -> dict:
    """Direct-path delay (checked) and measured T20/T30 (checked finite) of one response."""
    delay = float(np.argmax(np.abs(rir)))
    expected = offset + expected_delay_samples(source, mic, sample_rate)
    if abs(delay - expected) > DELAY_TOLERANCE_SAMPLES:
        raise RuntimeError(f"{where}: direct path at sample {delay:.0f}, expected {expected:.1f} "
                           f"(filter offset {offset} + source-microphone distance / speed of sound)")
    t20, t30 = measured_rt60(rir, sample_rate, T20_RANGE_DB), measured_rt60(rir, sample_rate, T30_RANGE_DB)
    if not (math.isfinite(t20) and t20 > 0 and math.isfinite(t30) and t30 > 0):
        raise RuntimeError(f"{where}: the response does not decay (T20 {t20}, T30 {t30})")
    return {"measured_t20_s": t20, "measured_t30_s": t30, "delay_samples": delay,
            "expected_delay_samples": expected}


def _cached(path: Path, count: int, generate: Callable[[], tuple[list[np.ndarray], list[dict]]]):
    """``generate()``'s (responses, reports), stored at ``path`` (atomically) and read from there next time."""
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return [stored[f"rir{k}"] for k in range(count)], json.loads(str(stored["reports"]))
        except (OSError, KeyError, ValueError):
            path.unlink(missing_ok=True)   # damaged: regenerate
    rirs, reports = generate()
    atomic_write_with(path, lambda handle: np.savez(
        handle, reports=json.dumps(reports), **{f"rir{k}": r for k, r in enumerate(rirs)}))
    return rirs, reports


def _cache_path(kind: str, spec: RoomSpec, rt60_s: float, sample_rate: int, cache_dir) -> Path:
    if not rt60_s > 0:
        raise ValueError(f"{kind} RIR: rt60 must be > 0 s, got {rt60_s}")
    if cache_dir is None:
        from detector.data.cache import default_cache_dir

        cache_dir = default_cache_dir() / "rirs"
    return Path(cache_dir) / f"{kind}-{spec.key(rt60_s, sample_rate)}.npz"


def study_rirs(rt60_s: float, sample_rate: int = 16000, spec: RoomSpec = RoomSpec(),
               cache_dir: str | Path | None = None) -> tuple[list[np.ndarray], list[dict]]:
    """The study model's one response for a nominal RT60, from the disk cache or simulated (then cached).

    Args:
        rt60_s: nominal reverberation time in seconds (> 0), given to ``inverse_sabine`` as is.
        sample_rate: Hz.
        cache_dir: folder of the cache (default ``<detector cache>/rirs``).

    Returns:
        ([response], [report]): the float64 response exactly as pyroomacoustics
        returns it, and its report: the recipe (absorption, max_order,
        pyroomacoustics settings), the direct-path delay and the measured T20/T30.
    """
    where = f"study RIR rt60={rt60_s:g}"

    def generate():
        import pyroomacoustics as pra

        rir, recipe = simulate(spec, rt60_s, spec.source_m, spec.mic_m, sample_rate)
        # The recipe's promise: nominal RT60 in, nothing recalibrated.
        absorption, max_order = pra.inverse_sabine(rt60_s, list(spec.room_m))
        if (recipe["absorption"], recipe["max_order"]) != (float(absorption), int(max_order)):
            raise RuntimeError(f"{where}: simulated with {recipe}, not inverse_sabine({rt60_s:g})'s "
                               f"({absorption}, {max_order})")
        report = _measure(rir, filter_offset_samples(), spec.source_m, spec.mic_m, sample_rate, where)
        report.update(model="study", rt60_s=rt60_s, **recipe, pyroomacoustics=_pyroomacoustics_settings(),
                      source_m=list(spec.source_m), mic_m=list(spec.mic_m), room_m=list(spec.room_m))
        return [rir], [report]

    return _cached(_cache_path("study", spec, rt60_s, sample_rate, cache_dir), 1, generate)


def _calibrated_input(spec: ShoeBoxSpec, rt60_s: float, sample_rate: int, steps: int = 3) -> float:
    rt60_in = rt60_s
    for _ in range(steps):
        rir, _ = simulate(spec, rt60_in, spec.source_m, spec.mic_m, sample_rate)
        rt60_in *= rt60_s / measured_rt60(rir, sample_rate)
    return rt60_in


def shoebox_rirs(rt60_s: float, sample_rate: int = 16000, spec: ShoeBoxSpec = ShoeBoxSpec(),
                 cache_dir: str | Path | None = None) -> tuple[list[np.ndarray], list[dict]]:
    """The shoebox model's ``spec.variants`` validated responses for one RT60, cached like :func:`study_rirs`.

    Args:
        rt60_s: the measured T20 wanted, in seconds (> 0).
        sample_rate: Hz.
        cache_dir: folder of the cache (default ``<detector cache>/rirs``).

    Returns:
        (responses, reports): float64 arrays (direct path at distance / c,
        unnormalised) and per-response reports (measured T20/T30, delays,
        the calibrated RT60 given to ``inverse_sabine``, positions in metres).
    """
    offset = filter_offset_samples()

    def generate():
        rt60_in = _calibrated_input(spec, rt60_s, sample_rate)
        rng = np.random.default_rng((spec.seed, round(rt60_s * 1000)))
        rirs, reports = [], []
        for k in range(spec.variants):
            jitter = (lambda: rng.uniform(-spec.jitter_m, spec.jitter_m, 3)) if k else (lambda: np.zeros(3))
            source = np.asarray(spec.source_m) + jitter()
            mic = np.asarray(spec.mic_m) + jitter()
            where = f"shoebox RIR rt60={rt60_s:g} variant {k}"
            rir = simulate(spec, rt60_in, source, mic, sample_rate)[0][offset:]
            report = _measure(rir, 0, source, mic, sample_rate, where)
            if abs(report["measured_t20_s"] - rt60_s) > SHOEBOX_T20_TOLERANCE * rt60_s:
                raise RuntimeError(f"{where}: measured T20 {report['measured_t20_s']:.3f} s is more than "
                                   f"{SHOEBOX_T20_TOLERANCE:.0%} from the requested {rt60_s:.3f} s")
            report.update(model="shoebox", rt60_s=rt60_s, rt60_in_s=rt60_in, source_m=source.tolist(),
                          mic_m=mic.tolist())
            rirs.append(rir)
            reports.append(report)
        return rirs, reports

    return _cached(_cache_path("shoebox", spec, rt60_s, sample_rate, cache_dir), spec.variants, generate)


def decay_table(rt60s_s=STUDY_RT60S_S, sample_rate: int = 16000, cache_dir: str | Path | None = None) -> str:
    """Markdown table of the measured T20/T30 (s) of both models at each nominal RT60 (for the README).

    The shoebox model's cells give the mean over its variants and, in brackets, their range.
    """
    def cell(reports, key):
        values = [r[key] for r in reports]
        if len(values) == 1:
            return f"{values[0]:.2f}"
        return f"{np.mean(values):.2f} ({min(values):.2f}-{max(values):.2f})"

    lines = ["| nominal RT60 (s) | study T20 | study T30 | shoebox T20 | shoebox T30 |", "|---:|---:|---:|---:|---:|"]
    for rt60 in rt60s_s:
        study = study_rirs(rt60, sample_rate, cache_dir=cache_dir)[1]
        shoebox = shoebox_rirs(rt60, sample_rate, cache_dir=cache_dir)[1]
        lines.append(f"| {rt60:g} | {cell(study, 'measured_t20_s')} | {cell(study, 'measured_t30_s')} | "
                     f"{cell(shoebox, 'measured_t20_s')} | {cell(shoebox, 'measured_t30_s')} |")
    return "\n".join(lines)
