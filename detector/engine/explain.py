"""Grad-CAM of a detector's score on one clip: where in the front-end's picture the decision comes from.

Grad-CAM (Selvaraju et al., ICCV 2017) on the backbone's last block (``layer4``): the block's
activations ``A`` ``(512, h, w)`` are weighted per channel by the mean gradient of the score
(bona fide logit minus spoof logit) over the block's positions, summed over channels, and
rectified; the ``(h, w)`` map is upsampled bilinearly to the front-end output's ``(rows,
frames)`` and divided by its maximum (0 to 1; all zeros where nothing speaks for bona fide).

The model sees the clip's first window (the window :func:`~detector.engine.inference.load_detector`
scores first: the training crop length unless ``--window-s`` says otherwise), or the whole clip,
unrepeated, when it is shorter than a window. :class:`Explanation` also carries what the picture's
axes mean: each row's frequency in Hz (log-mel band centres, CQT bin centres, the seed image's
rows on its log-frequency axis) or, for LFCC, none (its rows are cepstral coefficients), and the
time in seconds of its first and last column's edges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from detector.config import FeatureConfig
from detector.engine.inference import LoadedDetector
from detector.engine.scoring import WindowSettings
from detector.features import LFCC, LogCQT, LogMel, SeedImage
from detector.features.cqt import bin_frequencies
from detector.features.seed_image import HOP as SEED_HOP
from detector.features.seed_image import N_FFT
from detector.metrics.calibration import Calibration
from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.models.detector import scores_from_logits
from detector.utils.runtime import resolve_device


@dataclass
class Explanation:
    image: np.ndarray            # (rows, frames) spectrogram, or (224, 224, 3) RGB in [0, 1] (image front-ends)
    saliency: np.ndarray         # (rows, frames) Grad-CAM in [0, 1], on the image's grid
    row_hz: np.ndarray | None    # (rows,) frequency of each row in Hz; None for LFCC (cepstral rows)
    row_label: str               # what the rows are
    rows_top_down: bool          # row 0 drawn at the top (image front-ends) rather than the bottom
    time_extent_s: tuple[float, float]   # left edge of the first column, right edge of the last
    score: float                 # the model's score of the explained input (window or short clip)
    probability_bonafide: float  # its calibrated probability of bona fide
    explained_s: float           # seconds the model saw
    whole_clip: bool             # True: the clip was shorter than a window and was explained whole


def grad_cam(model: torch.nn.Module, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``wave`` ``(1, 1, time)`` -> ``(front-end output (1, C, rows, frames), saliency (rows, frames) in
    [0, 1], score)``: Grad-CAM of the score on ``model.backbone.layer4``, in float32."""
    captured = {}
    handle = model.backbone.layer4.register_forward_hook(lambda _module, _inputs, output: captured.update(a=output))
    try:
        with torch.enable_grad():
            features = model.frontend(wave).detach().float().requires_grad_(True)   # so layer4's output has a graph
            score = scores_from_logits(model.backbone(features))[0]
            activations = captured["a"]
            gradients, = torch.autograd.grad(score, activations)
    finally:
        handle.remove()
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(dim=1, keepdim=True)).detach()
    cam = torch.nn.functional.interpolate(cam, size=features.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    peak = cam.max()
    return features.detach(), cam / peak if peak > 0 else cam, float(score.detach())


def load_explainer(checkpoint, device: str = "auto", windows: WindowSettings | None = None
                   ) -> tuple[LoadedDetector, FeatureConfig]:
    """The checkpoint as :func:`~detector.engine.inference.load_detector` loads it (float32, no
    autocast: gradients are taken), with its front-end settings, which the axes need."""
    torch_device = resolve_device(device)
    state = load_checkpoint(checkpoint, torch_device)
    model, config = detector_from_checkpoint(state, torch_device)
    detector = LoadedDetector(model, config.data.sample_rate, Calibration(**state.get("calibration", {})),
                              config.data.crop_s, torch_device, windows, amp="off")
    return detector, config.features


def explain(detector: LoadedDetector, features: FeatureConfig, waveform: np.ndarray) -> Explanation:
    """Grad-CAM of ``detector``'s score on the first window of ``waveform`` ``(time,)`` float32 at the
    detector's rate (the whole clip if shorter), with the front-end picture and its axes
    (``features``: the checkpoint's front-end settings)."""
    model, rate = detector.model, detector.sample_rate
    if waveform.ndim != 1 or waveform.size == 0:
        raise ValueError(f"explain expects a non-empty (time,) waveform, got shape {waveform.shape}")
    whole = waveform.shape[0] <= detector.window
    clip = waveform if whole else waveform[:detector.window]
    wave = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))[None, None].to(detector.device)
    model.eval()
    output, saliency, score = grad_cam(model, wave)
    frontend = model.frontend
    if isinstance(frontend, SeedImage):
        with torch.no_grad():
            image = frontend.image(wave)[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()
    else:
        image = output[0, 0].cpu().numpy()
    row_hz, row_label, top_down = frequency_rows(frontend, features, rate)
    probability = float(detector.calibration.probability(np.array([score]))[0])
    return Explanation(image=image, saliency=saliency.cpu().numpy(), row_hz=row_hz, row_label=row_label,
                       rows_top_down=top_down, time_extent_s=time_extent(frontend, features, clip.shape[0], rate),
                       score=score, probability_bonafide=probability, explained_s=clip.shape[0] / rate,
                       whole_clip=whole)


def slaney_mel_frequencies(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """``(n_mels,)`` centre frequencies in Hz of Slaney-scale mel bands between ``f_min`` and ``f_max``
    (librosa's ``mel_frequencies(n_mels + 2, ...)[1:-1]``, torchaudio's ``mel_scale="slaney"``)."""
    f_sp, break_hz = 200.0 / 3, 1000.0
    break_mel, step = break_hz / f_sp, math.log(6.4) / 27.0

    def to_mel(hz: float) -> float:
        return hz / f_sp if hz < break_hz else break_mel + math.log(hz / break_hz) / step

    mels = np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)[1:-1]
    return np.where(mels < break_mel, mels * f_sp, break_hz * np.exp(step * (mels - break_mel)))


def frequency_rows(frontend: torch.nn.Module, features: FeatureConfig, sample_rate: int
                   ) -> tuple[np.ndarray | None, str, bool]:
    """``(row frequencies in Hz or None, axis label, rows drawn top-down)`` for ``frontend``'s picture
    (``features``: the checkpoint's front-end settings)."""
    if isinstance(frontend, LogMel):
        return (slaney_mel_frequencies(features.n_mels, features.f_min, features.f_max or sample_rate / 2),
                "mel band centre (Hz)", False)
    if isinstance(frontend, LogCQT):
        return bin_frequencies(sample_rate), "constant-Q bin centre (Hz)", False
    if isinstance(frontend, LFCC):
        return None, "LFCC coefficient (0-19; 20-39 Δ, 40-59 ΔΔ)", False
    if isinstance(frontend, SeedImage):
        # Each of the 224 rows is a weighted mix of STFT bins (SeedImage.rows); its frequency is their
        # weighted centre, on the seed's symlog axis (top row highest).
        centres = np.arange(frontend.rows.shape[1]) * sample_rate / N_FFT
        return frontend.rows.cpu().double().numpy() @ centres, "image row, at frequency (Hz, seed's log axis)", True
    raise ValueError(f"explain: no axes known for front-end {type(frontend).__name__}")


def time_extent(frontend: torch.nn.Module, features: FeatureConfig, samples: int, sample_rate: int
                ) -> tuple[float, float]:
    """Seconds at the left edge of the picture's first column and the right edge of its last."""
    if isinstance(frontend, LFCC):   # frames start at sample 0, one hop apart, 20 ms long
        frames = max(math.ceil((samples - frontend.hop) / frontend.hop), 1)
        return 0.0, ((frames - 1) * frontend.hop + frontend.window_length) / sample_rate
    hop = _hop(frontend, features)
    frames = 1 + samples // hop                                       # centred frames, one cell each
    return -0.5 * hop / sample_rate, (frames - 0.5) * hop / sample_rate


def _hop(frontend: torch.nn.Module, features: FeatureConfig) -> int:
    return SEED_HOP if isinstance(frontend, SeedImage) else features.hop_length
