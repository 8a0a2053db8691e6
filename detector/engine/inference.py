"""Scoring a user's own audio: ``load_detector(path).predict(waveform, sample_rate)``.

Any length (sliding windows, scores averaged, maxed or minned), any sample rate and channel count
(mixed down and resampled to the model's rate), batched on the GPU when present.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio.functional
from tqdm import tqdm

from detector.data.audio import AudioError, decode, ingest_filter
from detector.data.corpora import AUDIO_SUFFIXES
from detector.data.loader import aggregate_windows, crop_or_repeat, window_starts
from detector.engine.scoring import WindowSettings
from detector.metrics.calibration import Calibration
from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.models.detector import Detector, scores_from_logits
from detector.utils.runtime import Precision, resolve_device


@dataclass
class Prediction:
    score: float                 # logit difference, higher = more bona fide
    probability_bonafide: float  # calibrated on the validation split at training time
    label: str                   # bonafide | spoof at the detector's threshold
    duration_s: float
    path: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class LoadedDetector:
    """A trained detector ready for inference; build it with :func:`load_detector`."""

    def __init__(self, model: Detector, sample_rate: int, calibration: Calibration, window_s: float,
                 device: torch.device, windows: WindowSettings | None = None, batch_size: int = 64,
                 amp: str = "auto", threshold_probability: float = 0.5):
        windows = windows or WindowSettings()
        self.model, self.sample_rate, self.calibration, self.device = model, sample_rate, calibration, device
        self.window, self.hop = windows.samples(window_s, sample_rate)
        self.aggregate, self.batch_size = windows.aggregate, batch_size
        self.precision = Precision.for_scoring(amp, device)
        self.threshold = calibration.threshold(threshold_probability)

    def predict(self, waveform: np.ndarray | torch.Tensor, sample_rate: int) -> Prediction:
        """Score one clip: ``waveform`` is ``(time,)`` or ``(channels, time)`` float in [-1, 1]."""
        wave = torch.as_tensor(waveform, dtype=torch.float32)
        if wave.dim() == 2:
            wave = wave.mean(dim=0)
        if wave.dim() != 1 or wave.numel() == 0:
            raise ValueError(f"predict expects a non-empty (time,) or (channels, time) waveform, "
                             f"got shape {tuple(wave.shape)}")
        if sample_rate != self.sample_rate:
            # The ingest filter, so an array scores as the same audio decoded from a file would.
            wave = torchaudio.functional.resample(wave, sample_rate, self.sample_rate, **ingest_filter())
        return self._predict_many([wave.numpy()], [""])[0]

    def predict_files(self, paths: Iterable[str | Path], on_error: str = "fail", progress: bool = True,
                      samples_per_chunk: int = 16000 * 600) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Score audio files; returns the predictions and the ``(path, error)`` of skipped files.

        Files are decoded and scored in chunks of about ``samples_per_chunk`` decoded samples
        (10 minutes of audio by default), so memory stays bounded however many files there
        are, while the windows of several short files share each batch.
        """
        paths = [str(path) for path in paths]
        predictions, skipped, waves, names = [], [], [], []
        for path in tqdm(paths, desc="predicting", unit="file", disable=not progress or len(paths) < 2):
            try:
                waves.append(decode(path, self.sample_rate))
                names.append(path)
            except AudioError as error:   # the message names the file and the problem
                if on_error == "fail":
                    raise
                skipped.append((path, str(error)))
            if sum(len(w) for w in waves) >= samples_per_chunk:
                predictions += self._predict_many(waves, names)
                waves, names = [], []
        return predictions + self._predict_many(waves, names), skipped

    @torch.no_grad()
    def _predict_many(self, waves: list[np.ndarray], names: list[str]) -> list[Prediction]:
        starts = [window_starts(len(w), self.window, self.hop).numpy() for w in waves]
        clip_of_window = np.repeat(np.arange(len(waves)), [len(s) for s in starts])
        windows = [(clip, int(start)) for clip, clip_starts in enumerate(starts) for start in clip_starts]
        scores = []
        for first in range(0, len(windows), self.batch_size):
            batch = np.stack([crop_or_repeat(waves[clip], self.window, start)
                              for clip, start in windows[first:first + self.batch_size]])
            batch = torch.from_numpy(batch)[:, None].to(self.device, non_blocking=True)
            with self.precision.autocast():
                scores.append(scores_from_logits(self.model(batch)))
        window_scores = torch.cat(scores).cpu().numpy() if scores else np.zeros(0)
        clip_scores = aggregate_windows(window_scores, clip_of_window, len(waves), self.aggregate)
        probabilities = self.calibration.probability(clip_scores)
        return [Prediction(score=float(s), probability_bonafide=float(p),
                           label="bonafide" if s >= self.threshold else "spoof",
                           duration_s=len(w) / self.sample_rate, path=name)
                for s, p, w, name in zip(clip_scores, probabilities, waves, names)]


def load_detector(checkpoint: str | Path, device: str = "auto", windows: WindowSettings | None = None,
                  batch_size: int = 64, amp: str = "auto", threshold_probability: float = 0.5) -> LoadedDetector:
    """Load a checkpoint (safely, ``weights_only=True``) for inference."""
    torch_device = resolve_device(device)
    state = load_checkpoint(checkpoint, torch_device)
    model, config = detector_from_checkpoint(state, torch_device)
    return LoadedDetector(model, config.data.sample_rate, Calibration(**state.get("calibration", {})),
                          config.data.crop_s, torch_device, windows, batch_size, amp, threshold_probability)


def find_audio(paths: Iterable[str | Path]) -> list[Path]:
    """Files given directly, plus every audio file under the folders given, sorted per folder."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found
