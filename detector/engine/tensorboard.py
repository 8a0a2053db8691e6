"""TensorBoard event files: a training run's curves and front-end pictures; evaluation's and ablation's plots.

``detector train`` writes ``RUN/tensorboard/`` (``--no-tensorboard``: nothing), from the main
process only (:class:`TrainBoard`); ``tensorboard --logdir runs`` shows every run below ``runs/``.
Every value comes from what the host already holds: per step the numbers the loop reads at its
read points (a few times a second), per epoch the validation scores already gathered on the host.
The global step of every event is ``epoch * steps_per_epoch + step``, so a resumed run continues
its curves, in a new event file of the same folder (events after the resumed position, written
before the interruption, are hidden by TensorBoard: ``purge_step``).

Writing never stops a run: the first error (TensorBoard not installed, a full disk) becomes one
warning and turns the writer off for the rest of the run.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from detector.metrics.detection import min_dcf
from detector.utils.keys import slug

logger = logging.getLogger(__name__)

# What the front-end pictures show: a few fixed validation clips, clean and under these conditions,
# laundered with parameters drawn from (PICTURE_SEED, condition, clip id) as evaluation launders them.
PICTURE_CONDITIONS = ("noise:white:snr=10", "reverb:rt60=0.6", "resample:8000")
PICTURE_CLIPS = 4
PICTURE_SEED = 0
FLUSH_S = 10   # the writer's thread writes queued events to disk at least this often


class Board:
    """A lazily opened ``SummaryWriter`` on ``log_dir`` (None: off) whose failures never reach the caller.

    The first exception inside :meth:`_write` is logged as one warning and turns the board off.
    """

    def __init__(self, log_dir: str | Path | None):
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.purge_step: int | None = None   # events of a previous writer at steps >= this are hidden
        self._writer = None

    @property
    def enabled(self) -> bool:
        return self.log_dir is not None

    def _write(self, what: str, action: Callable) -> None:
        """``action(writer)``, opening the writer on first use; when off, nothing. An exception
        (here or queued by the writer's thread) becomes the board's one warning and turns it off."""
        if not self.enabled:
            return
        try:
            if self._writer is None:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

                self._writer = SummaryWriter(str(self.log_dir), purge_step=self.purge_step, flush_secs=FLUSH_S)
            action(self._writer)
        except Exception as error:
            logger.warning(f"detector: TensorBoard: writing {what} to {self.log_dir} failed ({type(error).__name__}: "
                           f"{error}); no more TensorBoard events from this run, which goes on")
            self.log_dir = None
            with contextlib.suppress(Exception):
                self._close()

    def images(self, pictures: Callable[[], dict[str, np.ndarray]], step: int, what: str = "images") -> None:
        """Add ``pictures()`` (``{tag: (height, width, 3) uint8 RGB}``, made only when the board is on) at ``step``."""
        def add(writer) -> None:
            for tag, picture in pictures().items():
                writer.add_image(tag, picture, step, dataformats="HWC")
            writer.flush()
        self._write(what, add)

    def close(self) -> None:
        """Flush and close the writer, if one was opened (a run that stopped before writing leaves no file)."""
        if self._writer is not None:
            self._write("the last events", lambda writer: self._close())

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TrainBoard(Board):
    """A training run's events in ``RUN/tensorboard``: scalars per read point and per epoch, the
    resolved config, and the front-end's pictures of a few validation clips once an epoch.

    Tags: ``train/loss`` (the recent mean loss the progress bar shows), ``train/lr``,
    ``train/clips_per_s``, ``train/skipped_steps`` (this epoch's so far); ``epoch/train_loss``,
    ``epoch/val_loss``, ``epoch/val_eer``, ``epoch/val_min_dcf`` (ASVspoof 5's costs, see
    :class:`~detector.metrics.detection.DetectionCost`); ``frontend/<clip>/<condition>`` (images);
    ``config`` (text).
    """

    def __init__(self, log_dir: str | Path | None):
        super().__init__(log_dir)
        self._clips = torch.empty(0)           # (clips * conditions, 1, time) float32 on the host
        self._tags: list[str] = []

    @classmethod
    def of_run(cls, run_dir: str | Path, enabled: bool, is_main: bool = True) -> "TrainBoard":
        """``run_dir/tensorboard``, written by the main process only; off when not ``enabled``."""
        return cls(Path(run_dir) / "tensorboard" if enabled and is_main else None)

    def begin(self, step: int, config_toml: str, manifest, cache, banks, crop: int) -> None:
        """Open at global ``step`` (> 0: a resumed run, whose later events are purged), write the
        config and launder the picture clips: the first ``crop`` samples of :data:`PICTURE_CLIPS`
        validation rows of ``manifest``, spread over the split, clean and under :data:`PICTURE_CONDITIONS`."""
        self.purge_step = step + 1 if step > 0 else None   # keep the resumed position's own events
        indented = "\n".join("    " + line for line in config_toml.splitlines())   # a Markdown code block
        self._write("the config", lambda writer: writer.add_text("config", indented, step))

        def launder(writer) -> None:
            self._clips, self._tags = _picture_clips(manifest, cache, banks, crop)
        self._write("the front-end pictures", launder)

    def step(self, step: int, loss: float, lr: float, clips_per_s: float, skipped: int) -> None:
        """One read point's numbers (host values the loop holds already) at global ``step``."""
        def add(writer) -> None:
            for tag, value in (("loss", loss), ("lr", lr), ("clips_per_s", clips_per_s), ("skipped_steps", skipped)):
                writer.add_scalar(f"train/{tag}", value, step)
        self._write("step scalars", add)

    def epoch(self, step: int, row: dict, scores: np.ndarray, targets: np.ndarray, model: torch.nn.Module) -> None:
        """An epoch's history ``row`` and the minDCF of its validation ``scores`` (host arrays, targets
        1 = bona fide) at global ``step``, then the pictures of ``model.frontend`` (on ``model``'s device)."""
        def add(writer) -> None:
            values = {name: row[name] for name in ("train_loss", "val_loss", "val_eer")}
            values["val_min_dcf"] = min_dcf(scores[targets == 1], scores[targets == 0])[0]
            for name, value in values.items():
                writer.add_scalar(f"epoch/{name}", value, step)
        self._write("epoch scalars", add)
        if self._tags:
            device = next(model.parameters()).device
            versions = 1 + len(PICTURE_CONDITIONS)   # a clip's laundered pictures share its clean one's colour scale
            scale_by = [i - i % versions for i in range(len(self._tags))]
            self.images(lambda: dict(zip(self._tags, frontend_pictures(model.frontend, self._clips, device, scale_by))),
                        step, "the front-end pictures")


def _picture_clips(manifest, cache, banks, crop: int) -> tuple[torch.Tensor, list[str]]:
    """``((n, 1, crop) float32, tags)``: the picture clips, each clean and laundered, zero-padded to ``crop``."""
    from detector.data.cache import dequantise
    from detector.launder.catalogue import parse_condition
    from detector.launder.clips import launder_clip

    rows = [row for row in manifest.split("val") if cache.offsets[row] >= 0]
    picks = dict.fromkeys(rows[i] for i in np.linspace(0, len(rows) - 1, min(PICTURE_CLIPS, len(rows))).round()
                          .astype(int)) if rows else {}
    attacks = [parse_condition(condition, cache.sample_rate, banks) for condition in PICTURE_CONDITIONS]
    waves, tags = [], []
    for row in picks:
        utt = manifest.rows[row].utt
        clean = torch.from_numpy(np.array(dequantise(cache.stored(row)[:crop]), dtype=np.float32))
        versions = [("clean", clean)] + [(a.name, launder_clip(a, clean, PICTURE_SEED, utt)) for a in attacks]
        for name, wave in versions:
            waves.append(torch.nn.functional.pad(wave, (0, crop - wave.numel())))
            tags.append(f"frontend/{slug(utt)}/{slug(name)}")
    return (torch.stack(waves)[:, None] if waves else torch.empty(0)), tags


def frontend_pictures(frontend: torch.nn.Module, waves: torch.Tensor, device: torch.device,
                      scale_by: list[int] | None = None) -> list[np.ndarray]:
    """What ``frontend`` makes of ``waves`` ``(batch, 1, time)`` float32 (host), as ``(height, width, 3)``
    uint8 RGB pictures: an image front-end's own picture (before ImageNet normalisation), else the
    first channel of its output with low frequencies at the bottom, the 1st to 99th percentile of
    picture ``scale_by[i]`` (default ``i``: its own) mapped onto the magma colour map."""
    from matplotlib import colormaps

    from detector.features import image_uint8

    waves = waves.to(device)
    if hasattr(frontend, "image"):
        return list(image_uint8(frontend, waves))
    with torch.no_grad():
        features = frontend(waves)[:, 0].float().cpu().numpy()
    ranges = np.percentile(features.reshape(len(features), -1), [1, 99], axis=1).T   # (batch, 2)
    pictures = []
    for feature, (low, high) in zip(features, ranges[scale_by] if scale_by is not None else ranges):
        scaled = np.clip((feature[::-1] - low) / max(high - low, 1e-6), 0, 1)
        pictures.append((colormaps["magma"](scaled)[..., :3] * 255).round().astype(np.uint8))
    return pictures


def log_pictures(log_dir: str | Path, pngs: dict[str, str | Path], step: int = 0) -> None:
    """Add PNG files (``{tag: path}``, e.g. evaluation's DET/ROC plot) as images to ``log_dir``'s events."""
    from PIL import Image  # a dependency of matplotlib

    with Board(log_dir) as board:
        board.images(lambda: {tag: np.asarray(Image.open(path).convert("RGB")) for tag, path in pngs.items()}, step,
                     ", ".join(map(str, pngs.values())))
