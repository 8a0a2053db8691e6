"""A tiny manifest + waveform cache for launder tests (synthetic clips, no decoding of real speech)."""

from pathlib import Path

from detector.data import load_or_build_cache, read_manifest, write_manifest
from tests.conftest import write_folder_corpus


def small_corpus(root: Path, n_per_class: int = 8, seconds: float = 1.0):
    """(manifest, cache) of ``2 * n_per_class`` clips: half bona fide (train/test), half spoof."""
    corpus = write_folder_corpus(root / "corpus", n_per_class=n_per_class, seconds=seconds)
    rows = []
    for i, path in enumerate(sorted(corpus.rglob("*.*"))):
        label = "bonafide" if "bonafide" in path.parts else "spoof"
        rows.append({"path": path.relative_to(corpus).as_posix(), "label": label, "speaker": f"s{i % 3}",
                     "system": "-" if label == "bonafide" else path.parent.name,
                     "split": "train" if i % 2 else "test"})
    write_manifest(rows, corpus / "manifest.csv")
    manifest = read_manifest(corpus / "manifest.csv")
    return manifest, load_or_build_cache(manifest, 16000, root / "cache")
