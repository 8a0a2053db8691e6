"""The seed recipe in a tiny training run: a manifest without splits is split, best.pt follows --stop-on."""
import csv
from pathlib import Path

import pytest

import detector.engine.train as train_module
from detector.config import Config
from detector.data.manifest import read_manifest, write_manifest
from detector.data.splits import split_manifest
from detector.engine.train import train
from detector.models.checkpoint import load_checkpoint
from tests.conftest import write_folder_corpus

# Scripted validation measures per epoch: the loss is lowest at epoch 2, the EER keeps improving.
VAL_LOSSES = [0.9, 0.5, 0.7, 0.8, 0.1]
VAL_EERS = [0.5, 0.4, 0.3, 0.2, 0.1]


@pytest.fixture(scope="module")
def unsplit_manifest(tmp_path_factory):
    """10 bona fide and 10 spoof clips (two systems), with an empty split column."""
    root = write_folder_corpus(tmp_path_factory.mktemp("seed") / "corpus", n_per_class=10)
    rows = [{"path": str(path.relative_to(root)), "label": path.parent.name if path.parent.name == "bonafide"
             else "spoof", "speaker": "-", "system": "-" if path.parent.name == "bonafide" else path.parent.name,
             "split": ""} for path in sorted(root.rglob("*.*"))]
    write_manifest(rows, root / "manifest.csv")
    return root / "manifest.csv"


def _tiny_seed_config(manifest, tmp_path, stop_on: str) -> Config:
    config = Config.from_recipe("seed")
    config.data.manifest, config.data.cache_dir, config.data.crop_s = str(manifest), str(tmp_path / "cache"), 0.5
    config.model.pretrained, config.model.freeze_epochs = "", 1      # tests never download
    train_settings = config.train
    train_settings.epochs, train_settings.batch_size, train_settings.max_steps_per_epoch = len(VAL_LOSSES), 4, 1
    train_settings.patience, train_settings.stop_on = 2, stop_on
    train_settings.device, train_settings.amp, train_settings.launder = "cpu", "off", "off"
    return config


def _script_validation(monkeypatch) -> None:
    losses, eers = iter(VAL_LOSSES), iter(VAL_EERS)
    monkeypatch.setattr(train_module, "_binary_cross_entropy", lambda scores, targets: next(losses))
    monkeypatch.setattr(train_module, "equal_error_rate", lambda bona, spoof: (next(eers), 0.0))


def test_stop_on_val_loss_keeps_the_lowest_loss_epoch_in_best_pt_and_stops_on_it(unsplit_manifest, tmp_path,
                                                                                  monkeypatch):
    """Following the EER instead would keep epoch 5 and never stop early."""
    _script_validation(monkeypatch)
    state = train(_tiny_seed_config(unsplit_manifest, tmp_path, "val_loss"), tmp_path / "run")
    best_epoch, epochs_run = 2, 4                                  # patience 2: epochs 3 and 4 are stale
    assert (state.best_epoch, state.epoch) == (best_epoch, epochs_run)
    assert (state.best_loss, state.best_eer) == (VAL_LOSSES[best_epoch - 1], VAL_EERS[best_epoch - 1])
    best = load_checkpoint(tmp_path / "run" / "best.pt")["state"]
    assert (best["epoch"], best["best_epoch"]) == (best_epoch, best_epoch)
    with open(tmp_path / "run" / "history.csv", newline="") as history:
        assert [float(row["val_loss"]) for row in csv.DictReader(history)] == VAL_LOSSES[:epochs_run]


def test_a_manifest_without_splits_is_split_70_15_15_by_label_and_system_and_written(unsplit_manifest, tmp_path,
                                                                                      monkeypatch):
    _script_validation(monkeypatch)
    config = _tiny_seed_config(unsplit_manifest, tmp_path, "val_loss")
    config.train.epochs = 1
    train(config, tmp_path / "run")
    written = read_manifest(tmp_path / "run" / "manifest.csv")
    expected, _ = split_manifest(read_manifest(unsplit_manifest), (0.7, 0.15, 0.15), config.train.seed)
    assert [(row.label, row.system, row.split) for row in written.rows] == \
        [(row.label, row.system, row.split) for row in expected.rows]
    assert all(written.audio_path(row).is_file() for row in written.rows)
    # The checkpoint names the manifest that holds the split (evaluate's seen/unseen summary reads it).
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert Path(saved["config"]["data"]["manifest"]) == (tmp_path / "run" / "manifest.csv").resolve()
    # Each (label, system) group is cut alone: 10 bona fide -> 6/2/2 (round(1.5) = 2), 5 per spoof system -> 3/1/1.
    counts = {(label, split): sum(row.label == label and row.split == split for row in written.rows)
              for label in ("bonafide", "spoof") for split in ("train", "val", "test")}
    assert counts == {("bonafide", "train"): 6, ("bonafide", "val"): 2, ("bonafide", "test"): 2,
                      ("spoof", "train"): 6, ("spoof", "val"): 2, ("spoof", "test"): 2}


def test_the_split_is_deterministic_from_the_seed(unsplit_manifest):
    manifest = read_manifest(unsplit_manifest)
    first, report = split_manifest(manifest, (0.7, 0.15, 0.15), seed=42)
    assert first == split_manifest(manifest, (0.7, 0.15, 0.15), seed=42)[0]
    assert first != split_manifest(manifest, (0.7, 0.15, 0.15), seed=43)[0]
    assert "stratified by label and system" in report.how
