"""Data: manifests, decoding, the waveform cache, and crop loaders."""
from __future__ import annotations

from detector.config import DataConfig
from detector.data.audio import AudioError, decode
from detector.data.cache import BadRowsError, WaveformCache, load_or_build_cache
from detector.data.loader import CropDataset, make_loader
from detector.data.manifest import Manifest, ManifestRow, read_manifest, write_manifest

__all__ = ["AudioError", "BadRowsError", "CropDataset", "Manifest", "ManifestRow", "WaveformCache",
           "decode", "load_corpus", "load_or_build_cache", "make_loader", "read_manifest", "write_manifest"]


def load_corpus(config: DataConfig) -> tuple[Manifest, WaveformCache]:
    """Read the manifest and open its waveform cache, decoding the clips once if needed."""
    if not config.manifest:
        raise ValueError("no manifest given: pass --manifest PATH (or set [data] manifest in the config)")
    manifest = read_manifest(config.manifest)
    cache = load_or_build_cache(manifest, config.sample_rate, config.cache_dir, config.on_error)
    return manifest, cache
