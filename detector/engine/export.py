"""Export a trained detector as one self-contained file that scores whole clips as ``predict`` does.

Input ``wave``: ``(batch, time)`` float32 mono at the model's rate (16 kHz), in [-1, 1], at least
2 samples. Outputs ``score`` ``(batch,)`` (logit difference, higher = more bona fide) and
``probability_bonafide`` ``(batch,)`` (the checkpoint's calibration). Inside the graph, as in
:meth:`~detector.engine.inference.LoadedDetector.predict`: the clip is cut into windows at
:func:`~detector.data.loader.window_starts` (the training crop by default, hop half a window, the
last window aligned to the end, a clip shorter than a window repeated to fill it), each window is
scored, and the window scores are aggregated per clip (mean, max or min) and calibrated. Every
window of the batch goes through the network in one pass, so memory grows with batch × windows.

- TorchScript: the windowing and aggregation are scripted (the length stays symbolic); the
  network (front-end + ResNet) inside is a trace on a batch of windows.
- ONNX: ONNX has no complex tensors, so torch's STFT cannot be exported; the log-mel front-end
  is swapped for the nnAudio backend, whose STFT is a real convolution with the same window,
  framing and filterbank (parity with torchaudio is a test of ``features``). The other
  front-ends export as they are; the CQT's decimation FFTs take power-of-2 lengths there.

Either file is checked against the PyTorch model, on clips shorter than, equal to and several
times longer than a window.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from detector.data.loader import AGGREGATES, gather_windows, window_starts
from detector.engine.scoring import WindowSettings
from detector.features import mel_power
from detector.metrics.calibration import Calibration
from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.models.detector import Detector, scores_from_logits

FORMATS = ("torchscript", "onnx")
MAX_EXPORT_SECONDS = 3600   # longest input the ONNX graph accepts
MIN_EXPORT_SAMPLES = 2      # torch.export specialises sizes 0 and 1, so the symbolic length starts at 2


class WindowScorer(torch.nn.Module):
    """``(n_windows, window)`` float32 windows -> ``(n_windows,)`` bona fide scores."""

    def __init__(self, detector: Detector):
        super().__init__()
        self.detector = detector

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return scores_from_logits(self.detector(windows[:, None]))


class WaveformScorer(torch.nn.Module):
    """``(batch, time)`` float32 clips -> ``(score (batch,), probability_bonafide (batch,))``.

    ``window`` and ``hop`` are in samples; ``windows`` maps ``(n, window)`` to ``(n,)`` scores (a
    :class:`WindowScorer` or its trace). Clips of one batch share a length, hence their windows.
    """

    def __init__(self, windows: torch.nn.Module, window: int, hop: int, aggregate: str, calibration: Calibration):
        super().__init__()
        if aggregate not in AGGREGATES:
            raise ValueError(f"--aggregate {aggregate!r}: valid values are {', '.join(AGGREGATES)}")
        self.windows, self.window, self.hop, self.aggregate = windows, window, hop, aggregate
        self.scale, self.offset = float(calibration.scale), float(calibration.offset)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        starts = window_starts(wave.shape[1], self.window, self.hop)
        windows = gather_windows(wave, starts, self.window)                        # (batch, n, window)
        scores = self.windows(windows.reshape(-1, self.window)).reshape(wave.shape[0], starts.shape[0])
        if self.aggregate == "mean":
            score = scores.mean(dim=1)
        elif self.aggregate == "max":
            score = scores.amax(dim=1)
        else:
            score = scores.amin(dim=1)
        return score, torch.sigmoid(self.scale * score + self.offset)


def export_model(checkpoint: str | Path, format: str, out: str | Path, windows: WindowSettings | None = None) -> float:
    """Write the export to ``out``; returns the largest score difference to the PyTorch model on
    check clips 1/3, 1 and 3.4 windows long."""
    if format not in FORMATS:
        raise ValueError(f"--format {format!r}: valid formats are {', '.join(FORMATS)}")
    windows = windows or WindowSettings()
    state = load_checkpoint(checkpoint)
    model, config = detector_from_checkpoint(state, torch.device("cpu"))
    window, hop = windows.samples(config.data.crop_s, config.data.sample_rate)
    calibration = Calibration(**state.get("calibration", {}))
    reference = WaveformScorer(WindowScorer(model).eval(), window, hop, windows.aggregate, calibration).eval()
    generator = torch.Generator().manual_seed(1)
    checks = [0.1 * torch.randn(2, max(round(fraction * window), MIN_EXPORT_SAMPLES), generator=generator)
              for fraction in (1 / 3, 1.0, 3.4)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        if format == "torchscript":
            example = 0.1 * torch.randn(2, window, generator=torch.Generator().manual_seed(0))
            traced = torch.jit.trace(WindowScorer(model).eval(), example, check_trace=False)
            torch.jit.script(WaveformScorer(traced, window, hop, windows.aggregate, calibration)).save(str(out))
            exported = torch.jit.load(str(out))
            produced = [exported(check)[0].numpy() for check in checks]
        else:
            produced = _export_onnx(model, config, (window, hop, windows.aggregate, calibration), checks, out)
        expected = [reference(check)[0].numpy() for check in checks]
    return max(float(np.abs(p - e).max()) for p, e in zip(produced, expected))


def _export_onnx(model: Detector, config, settings: tuple, checks: list[torch.Tensor], out: Path) -> list[np.ndarray]:
    """Export with the nnAudio front-end; the scores of ``checks`` by ONNX Runtime.

    ``settings`` are :class:`WaveformScorer`'s ``(window, hop, aggregate, calibration)``."""
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx extra: pip install 'detector[onnx]' "
                           "(onnx, onnxscript, onnxruntime)") from None
    exportable = Detector(config.data.sample_rate, config.features, config.model)
    exportable.load_state_dict(model.state_dict())
    if config.features.frontend == "logmel":   # the other front-ends have no torch STFT to swap
        exportable.frontend.mel = mel_power("nnaudio", config.data.sample_rate, config.features)
    if config.features.frontend == "cqt":      # ONNX Runtime's DFT is exact at powers of 2 only
        exportable.frontend.cqt.power_of_two_fft = True
    scorer = WaveformScorer(WindowScorer(exportable.eval()).eval(), *settings).eval()
    shapes = {"wave": {0: torch.export.Dim("batch"),
                       1: torch.export.Dim("time", min=MIN_EXPORT_SAMPLES,
                                           max=MAX_EXPORT_SECONDS * config.data.sample_rate)}}
    torch.onnx.export(scorer, (checks[-1],), str(out), dynamo=True, dynamic_shapes=shapes,
                      input_names=["wave"], output_names=["score", "probability_bonafide"], verbose=False)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return [session.run(None, {"wave": check.numpy()})[0] for check in checks]
