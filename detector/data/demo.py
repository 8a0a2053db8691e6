"""The built-in demo: the packaged demo corpus and the configuration ``detector demo`` trains with."""
from __future__ import annotations

from pathlib import Path

from detector.config import Config

DEMO_CORPUS = Path(__file__).parent / "demo_corpus"


def demo_manifest() -> Path:
    manifest = DEMO_CORPUS / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: the demo corpus is missing from this installation; "
                                "rebuild it with python -m tools.corpus_build --preset demo")
    return manifest


def demo_config() -> Config:
    """Sized to train on 2 CPU cores in a few minutes: short crops, few epochs."""
    config = Config()
    config.data.crop_s = 2.0   # the demo clips are 2.0-2.5 s
    config.train.epochs = 30
    # No early stop within the 30 epochs (best.pt is still the best validation EER): on 66
    # validation clips the EER is noisy, and laundered training, which converges more slowly,
    # was stopped after 2-6 epochs with patience 8 (README: three seeds measured both ways).
    config.train.patience = config.train.epochs
    return config
