"""Disk full while writing a checkpoint or the waveform cache: a clear error naming the file, the
previous file byte-identical, no temporary file left behind. The failure is injected: writes to
files under a chosen folder raise ENOSPC once a byte budget is spent, part-way through a write."""
import errno
import os
from pathlib import Path

import pytest
import torch

import detector.data.cache as cache_module
from detector.cli.main import main
from detector.config import Config
from detector.data import load_or_build_cache, read_manifest, write_manifest
from detector.data.corpora import folder_corpus
from detector.engine.train import train
from detector.models.checkpoint import load_checkpoint, save_checkpoint
from detector.utils.io import WriteError, atomic_write_text
from tests.conftest import write_folder_corpus


class FullDisk:
    """Wraps a writable file: after ``budget`` bytes, a write stores what fits, then raises ENOSPC."""

    def __init__(self, handle, budget: int):
        self._handle, self._budget = handle, budget

    def write(self, data):
        data = memoryview(data).cast("B") if not isinstance(data, str) else data
        if len(data) > self._budget:
            self._handle.write(data[:self._budget])
            self._budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


def fill_disk(monkeypatch, folder: Path, budget: int) -> None:
    """Every file opened for writing with ``os.fdopen`` (atomic writes) under ``folder`` gets ``budget`` bytes."""
    real = os.fdopen

    def fdopen(descriptor, mode="r", *args, **kwargs):
        handle = real(descriptor, mode, *args, **kwargs)
        target = os.readlink(f"/proc/self/fd/{descriptor}")
        return FullDisk(handle, budget) if "w" in mode and target.startswith(str(folder)) else handle

    monkeypatch.setattr(os, "fdopen", fdopen)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


def test_checkpoint_write_fails_cleanly_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "run" / "last.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.arange(50_000, dtype=torch.float32)})
    before = path.read_bytes()
    fill_disk(monkeypatch, tmp_path / "run", budget=100_000)   # the new checkpoint is ~400 kB
    with pytest.raises(WriteError) as error:
        save_checkpoint(path, {"epoch": 2, "weights": torch.zeros(100_000)})
    assert error.value.errno == errno.ENOSPC
    assert str(error.value) == (f"{path}: cannot write (no space left on device); "
                                "the previous version, if any, is intact")
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1


def test_text_write_fails_cleanly_when_the_flush_hits_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "out" / "m.csv"
    atomic_write_text(path, "old\n")
    fill_disk(monkeypatch, tmp_path / "out", budget=10)
    with pytest.raises(WriteError, match=r"m\.csv: cannot write \(no space left on device\)"):
        atomic_write_text(path, "x" * 100_000)
    assert path.read_text() == "old\n" and leftovers(tmp_path) == []


def _manifest(tmp_path, n_per_class):
    corpus = write_folder_corpus(tmp_path / "corpus", n_per_class=n_per_class, seconds=0.5)
    write_manifest(folder_corpus(corpus, tmp_path / "m.csv", (0.5, 0.25, 0.25)), tmp_path / "m.csv")
    return read_manifest(tmp_path / "m.csv")


def test_cache_build_on_a_full_disk_names_the_folder_and_leaves_nothing(tmp_path, monkeypatch):
    manifest = _manifest(tmp_path, 4)
    real_open = open

    def open_on_full_disk(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        samples = cache_module.SAMPLE_FILES["int16"]
        return FullDisk(handle, 40_000) if "w" in mode and str(file).endswith(samples) else handle

    monkeypatch.setattr(cache_module, "open", open_on_full_disk, raising=False)
    with pytest.raises(WriteError, match=r"cannot write the waveform cache \(no space left on device\); "
                                         r"nothing was left behind") as error:
        load_or_build_cache(manifest, 16000, tmp_path / "cache")
    assert error.value.errno == errno.ENOSPC and str(tmp_path / "cache") in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.undo()
    cache = load_or_build_cache(manifest, 16000, tmp_path / "cache")   # with space again: builds
    assert len(cache.valid_rows) == len(manifest.rows)


def _config(manifest_path, tmp_path, epochs):
    config = Config()
    config.data.manifest, config.data.cache_dir, config.data.crop_s = str(manifest_path), str(tmp_path / "cache"), 0.5
    config.train.epochs, config.train.batch_size, config.train.max_steps_per_epoch = epochs, 4, 1
    config.train.device, config.train.amp, config.train.launder = "cpu", "off", "off"
    return config


def test_training_on_a_full_disk_stops_with_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    manifest = _manifest(tmp_path, 8)
    run = tmp_path / "run"
    train(_config(manifest.path, tmp_path, epochs=1), run)
    before = {name: (run / name).read_bytes() for name in ("last.pt", "history.csv")}
    fill_disk(monkeypatch, run, budget=1_000_000)   # a checkpoint is ~135 MB
    with pytest.raises(WriteError, match=r"\.pt: cannot write \(no space left on device\)"):
        train(_config(manifest.path, tmp_path, epochs=2), run, resume=True)
    monkeypatch.undo()
    assert {name: (run / name).read_bytes() for name in before} == before
    assert leftovers(run) == []
    assert load_checkpoint(run / "last.pt")["state"]["epoch"] == 1


def test_cli_reports_a_full_disk_without_a_traceback(tmp_path, monkeypatch, capsys):
    manifest = _manifest(tmp_path, 8)
    fill_disk(monkeypatch, tmp_path / "run", budget=10)   # the first write into the run folder fails
    code = main(["train", "--manifest", str(manifest.path), "--out", str(tmp_path / "run"), "--epochs", "1",
                 "--batch-size", "4", "--max-steps-per-epoch", "1", "--crop-s", "0.5", "--device", "cpu",
                 "--amp", "off", "--launder", "off", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("detector train: error: ")
    assert f"{tmp_path / 'run'}/config.toml: cannot write (no space left on device)" in err
    assert leftovers(tmp_path / "run") == []
