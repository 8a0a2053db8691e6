"""Data: manifests, decoding, the waveform cache, and crop loaders.

The public names are imported on first use (PEP 562), so ``import detector.data.cache`` in a
decoding worker does not pay for torch: only the loaders (and resampling) need it.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # for type checkers and IDEs; at run time the names load lazily
    from detector.config import DataConfig
    from detector.data.audio import AudioError, decode, iter_decode
    from detector.data.cache import BadRowsError, WaveformCache, load_or_build_cache
    from detector.data.device_cache import DeviceCropLoader, upload_samples
    from detector.data.loader import CropDataset, make_loader
    from detector.data.manifest import Manifest, ManifestRow, read_manifest, write_manifest

_LAZY = {
    "AudioError": "audio", "decode": "audio", "iter_decode": "audio",
    "BadRowsError": "cache", "WaveformCache": "cache", "load_or_build_cache": "cache",
    "CropDataset": "loader", "make_loader": "loader",
    "DeviceCropLoader": "device_cache", "upload_samples": "device_cache",
    "Manifest": "manifest", "ManifestRow": "manifest", "read_manifest": "manifest", "write_manifest": "manifest",
}

__all__ = ["AudioError", "BadRowsError", "CropDataset", "DeviceCropLoader", "Manifest", "ManifestRow",
           "WaveformCache", "decode", "iter_decode", "load_corpus", "load_or_build_cache", "make_loader",
           "read_manifest", "upload_samples", "write_manifest"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"detector.data.{_LAZY[name]}"), name)
        globals()[name] = value   # later lookups skip this function
        return value
    raise AttributeError(f"module 'detector.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_corpus(config: DataConfig) -> tuple[Manifest, WaveformCache]:
    """Read the manifest and open its waveform cache, decoding the clips once if needed."""
    from detector.data.cache import load_or_build_cache
    from detector.data.manifest import read_manifest

    if not config.manifest:
        raise ValueError("no manifest given: pass --manifest PATH (or set [data] manifest in the config)")
    manifest = read_manifest(config.manifest, allow_outside_root=config.allow_outside_root)
    cache = load_or_build_cache(manifest, config.sample_rate, config.cache_dir, config.on_error)
    return manifest, cache
