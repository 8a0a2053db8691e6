"""The detector network (front-end + ResNet-18) and its checkpoints.

- :class:`Detector`: waveform ``(batch, 1, time)`` float32 -> logits ``(batch, 2)`` (class 1 = bona fide);
- :func:`resnet18_backbone`: the ResNet-18 alone, front-end output -> logits, for your own model;
- :func:`scores_from_logits`: logits ``(batch, 2)`` -> scores ``(batch,)``, higher = more bona fide;
- :func:`load_checkpoint`, :func:`detector_from_checkpoint`, :func:`save_checkpoint`: checkpoints
  (for inference on audio, :func:`detector.load_detector` is simpler).
"""
from .checkpoint import CheckpointError, detector_from_checkpoint, load_checkpoint, save_checkpoint
from .detector import Detector, resnet18_backbone, scores_from_logits

__all__ = ["CheckpointError", "Detector", "detector_from_checkpoint", "load_checkpoint", "resnet18_backbone",
           "save_checkpoint", "scores_from_logits"]
