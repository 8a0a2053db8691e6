"""``--resume`` refuses a manifest that changed under the run, unless ``--allow-changed-manifest``."""
import csv
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from detector.cli.main import main
from detector.data.fingerprint import DataRecord
from detector.data.manifest import read_manifest
from detector.models.checkpoint import load_checkpoint
from tests.conftest import prepared_folder_corpus


def _record(rows: list[dict], tmp_path: Path, cache_key: str = "key") -> DataRecord:
    path = tmp_path / f"{len(list(tmp_path.glob('*.csv')))}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker", "system", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return DataRecord.of(read_manifest(path), SimpleNamespace(folder=tmp_path / cache_key))


def _rows(n: int) -> list[dict]:
    return [{"path": f"clip_{i}.wav", "label": "bonafide" if i % 2 else "spoof", "speaker": "s", "system": "-",
             "split": ("train", "train", "val", "test")[i % 4]} for i in range(n)]


def test_the_record_names_rows_added_removed_relabelled_and_moved_with_counts(tmp_path):
    rows = _rows(12)
    before = _record(rows, tmp_path)
    assert before.changes(_record(rows, tmp_path)) == []
    changed = [dict(row) for row in rows if row["path"] not in ("clip_0.wav", "clip_3.wav")]   # a train, a test
    changed[0]["label"] = "spoof"                                                              # clip_1: bonafide
    changed[1]["split"] = "train"                                                              # clip_2: val
    changed.append({"path": "new.wav", "label": "spoof", "speaker": "s", "system": "x", "split": "val"})
    assert before.changes(_record(changed, tmp_path)) == [
        "1 row(s) added (val 1)", "2 row(s) removed (train 1, test 1)", "1 row(s) relabelled (bonafide -> spoof 1)",
        "1 row(s) moved between splits (val -> train 1)"]
    assert before.changes(_record(rows[::-1], tmp_path)) == ["the rows' order or repeat counts changed"]
    cache = before.changes(_record(rows, tmp_path, cache_key="other"))
    assert len(cache) == 1 and cache[0].startswith("the rows are the same but their waveform cache is not "
                                                   "(key key -> other)")
    saved = before.to_saved()
    assert DataRecord.from_saved(saved).changes(before) == []
    assert saved["paths"].dtype == torch.int64 and saved["codes"].dtype == torch.uint8   # 9 bytes a row


@pytest.fixture
def trained(tmp_path):
    """A run trained for one epoch on a manifest, and the command that trains it."""
    manifest = prepared_folder_corpus(tmp_path, "60/20/20", n_per_class=10)
    run = tmp_path / "run"
    command = ["train", "--manifest", str(manifest), "--out", str(run), "--cache-dir", str(tmp_path / "cache"),
               "--frontend", "logmel", "--launder", "off", "--crop-s", "0.5", "--batch-size", "4",
               "--max-steps-per-epoch", "2", "--device", "cpu", "--amp", "off", "--num-workers", "0"]
    assert main([*command, "--epochs", "1"]) == 0
    return manifest, run, command


def _drop_a_fifth_of_the_training_rows(manifest: Path) -> int:
    with manifest.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    train = [row for row in rows if row["split"] == "train"]
    dropped = {row["path"] for row in train[::5]}
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(row for row in rows if row["path"] not in dropped)
    return len(dropped)


def _notes(run: Path) -> list[str]:
    with (run / "history.csv").open(newline="") as handle:
        return [row["note"] for row in csv.DictReader(handle)]


def test_resume_on_a_changed_manifest_is_refused_naming_the_change(trained, capsys):
    manifest, run, command = trained
    dropped = _drop_a_fifth_of_the_training_rows(manifest)
    capsys.readouterr()
    assert main([*command, "--epochs", "2", "--resume"]) == 2
    error = re.split(r"[\r\n]", capsys.readouterr().err.strip())[-1].strip()   # after any progress bar
    assert error.startswith(f"detector train: error: {manifest} changed since {run / 'last.pt'} was saved: "
                            f"{dropped} row(s) removed (train {dropped}). Resuming would train on other data"), error
    assert error.endswith("add --allow-changed-manifest to resume anyway")
    assert load_checkpoint(run / "last.pt")["state"]["epoch"] == 1, "nothing was trained"


def test_allow_changed_manifest_resumes_and_says_so_in_the_log_and_history(trained, capsys):
    manifest, run, command = trained
    dropped = _drop_a_fifth_of_the_training_rows(manifest)
    capsys.readouterr()
    assert main([*command, "--epochs", "2", "--resume", "--allow-changed-manifest"]) == 0
    note = f"resumed on changed data (--allow-changed-manifest): {dropped} row(s) removed (train {dropped})"
    assert f"detector: {note}; validation results before and after it are not comparable" in capsys.readouterr().err
    assert _notes(run) == ["", note], "the first epoch trained on the changed data carries the note"
    # The checkpoint now records the changed manifest: a later resume on it is not refused, nor noted.
    assert main([*command, "--epochs", "3", "--resume"]) == 0
    assert _notes(run) == ["", note, ""]


def test_a_checkpoint_without_a_data_record_resumes_saying_the_manifest_was_not_checked(trained, capsys):
    _, run, command = trained
    saved = load_checkpoint(run / "last.pt")
    del saved["data"]
    torch.save(saved, run / "last.pt")
    capsys.readouterr()
    assert main([*command, "--epochs", "2", "--resume"]) == 0
    assert "holds no record of its training data (written by an older version): could not check" in \
        capsys.readouterr().err
    assert "data" in load_checkpoint(run / "last.pt"), "the new last.pt has the record"
