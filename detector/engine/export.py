"""Export a trained detector as one self-contained file: waveform ``(batch, time)`` -> score ``(batch,)``.

The front-end is inside the exported graph, so the file maps raw 16 kHz audio (the model's
rate) to the bona fide score (higher = more bona fide) with no Python package needed.

- TorchScript: a trace of the model as trained.
- ONNX: ONNX has no complex tensors, so torch's STFT cannot be exported; the mel
  front-end is swapped for the nnAudio backend, whose STFT is a real convolution with the
  same window, framing and filterbank (parity with torchaudio is a test of ``features``).
  The export is then checked against the trained PyTorch model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.features import mel_power
from detector.models.detector import Detector, scores_from_logits

FORMATS = ("torchscript", "onnx")
MAX_EXPORT_SECONDS = 3600   # longest input the ONNX graph accepts


class WaveformScorer(torch.nn.Module):
    """``(batch, time)`` float32 waveform at the model's rate -> ``(batch,)`` bona fide score."""

    def __init__(self, detector: Detector):
        super().__init__()
        self.detector = detector

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return scores_from_logits(self.detector(wave[:, None]))


def export_model(checkpoint: str | Path, format: str, out: str | Path, check_seconds: float = 3.0) -> float:
    """Write the export to ``out``; returns the largest score difference to the PyTorch model
    on a random check batch (``check_seconds`` long)."""
    if format not in FORMATS:
        raise ValueError(f"--format {format!r}: valid formats are {', '.join(FORMATS)}")
    model, config = detector_from_checkpoint(load_checkpoint(checkpoint), torch.device("cpu"))
    reference = WaveformScorer(model).eval()
    sample_rate = config.data.sample_rate
    example = 0.1 * torch.randn(2, round(config.data.crop_s * sample_rate), generator=torch.Generator().manual_seed(0))
    check = 0.1 * torch.randn(3, round(check_seconds * sample_rate), generator=torch.Generator().manual_seed(1))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        expected = reference(check).numpy()
        if format == "torchscript":
            traced = torch.jit.trace(reference, example, check_trace=False)
            traced.save(str(out))
            produced = torch.jit.load(str(out))(check).numpy()
        else:
            produced = _export_onnx(model, config, example, check, out)
    return float(np.abs(produced - expected).max())


def _export_onnx(model: Detector, config, example: torch.Tensor, check: torch.Tensor, out: Path) -> np.ndarray:
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx extra: pip install 'detector[onnx]' "
                           "(onnx, onnxscript, onnxruntime)") from None
    exportable = Detector(config.data.sample_rate, config.features, config.model)
    exportable.load_state_dict(model.state_dict())
    exportable.frontend.mel = mel_power("nnaudio", config.data.sample_rate, config.features)
    scorer = WaveformScorer(exportable.eval()).eval()
    minimum = config.features.n_fft // 2 + 1   # reflect padding needs more samples than half a frame
    shapes = {"wave": {0: torch.export.Dim("batch"),
                       1: torch.export.Dim("time", min=minimum, max=MAX_EXPORT_SECONDS * config.data.sample_rate)}}
    torch.onnx.export(scorer, (example,), str(out), dynamo=True, dynamic_shapes=shapes,
                      input_names=["wave"], output_names=["score"], verbose=False)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return session.run(None, {"wave": check.numpy()})[0]
