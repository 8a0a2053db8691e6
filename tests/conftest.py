"""Shared fixtures: tiny synthetic corpora written in the layouts the package reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile


def synthetic_clip(rng: np.random.Generator, label: str, seconds: float, sample_rate: int) -> np.ndarray:
    """A speech-like test signal: bona fide is a wobbling harmonic tone in noise, spoof a steady one.

    The classes differ in a way a spectrogram CNN can learn in a few steps, which lets the
    end-to-end tests check that training does something without real speech.
    """
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = rng.uniform(100, 220)
    wobble = 1 + (0.08 * np.sin(2 * np.pi * rng.uniform(3, 6) * t) if label == "bonafide" else 0)
    phase = 2 * np.pi * np.cumsum(f0 * wobble) / sample_rate
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 8))
    noise_level = 0.05 if label == "bonafide" else 0.005
    wave = 0.3 * harmonics / 2.6 + noise_level * rng.standard_normal(t.size)
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def write_folder_corpus(root: Path, n_per_class: int = 12, seconds: float = 1.0, sample_rate: int = 16000,
                        systems: tuple[str, ...] = ("tts_a", "tts_b"), seed: int = 0) -> Path:
    """``root/bonafide/*.wav`` and ``root/spoof/<system>/*.flac``."""
    rng = np.random.default_rng(seed)
    for i in range(n_per_class):
        path = root / "bonafide" / f"bona_{i:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, synthetic_clip(rng, "bonafide", seconds, sample_rate), sample_rate)
        system = systems[i % len(systems)]
        path = root / "spoof" / system / f"spoof_{i:03d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, synthetic_clip(rng, "spoof", seconds, sample_rate), sample_rate)
    return root


def prepared_folder_corpus(root: Path, split: str, manifest_name: str = "manifest.csv", **corpus) -> Path:
    """:func:`write_folder_corpus` under ``root/corpus`` (``corpus``: its keyword arguments), then
    ``detector prepare --corpus folder --split SPLIT`` into ``root/manifest_name``; returns the manifest."""
    from detector.cli.main import main

    write_folder_corpus(root / "corpus", **corpus)
    manifest = root / manifest_name
    assert main(["prepare", "--corpus", "folder", "--root", str(root / "corpus"), "--out", str(manifest),
                 "--split", split]) == 0
    return manifest


@pytest.fixture
def folder_corpus(tmp_path: Path) -> Path:
    return write_folder_corpus(tmp_path / "corpus")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"
