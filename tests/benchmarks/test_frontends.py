"""The front-end comparison's folds and tables (benchmarks/frontends.py); its trainings are the CLI's."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.frontends import CONDITIONS, Run, plan_runs, summarise, write_folds
from detector.data.manifest import read_manifest, write_manifest


def _corpus(root: Path) -> Path:
    """A manifest (audio never read here) with 3 systems in train/val/test and one test-only system."""
    rows = []
    for split in ("train", "val", "test"):
        for index in range(2):
            rows.append({"path": f"bonafide/{split}{index}.wav", "label": "bonafide", "speaker": "s1",
                         "system": "-", "split": split})
            for system in ("a", "b", "c") + (("unseen",) if split == "test" else ()):
                rows.append({"path": f"spoof/{system}/{split}{index}.wav", "label": "spoof", "speaker": "s1",
                             "system": system, "split": split, "condition": "g722"})
    write_manifest(rows, root / "manifest.csv")
    return root / "manifest.csv"


def test_each_fold_leaves_out_one_training_system_from_train_and_val_only(tmp_path):
    manifest = _corpus(tmp_path / "corpus")
    folds = write_folds(manifest, tmp_path / "out")
    assert set(folds) == {"standard", "loso-a", "loso-b", "loso-c"}   # test-only systems are no fold
    assert folds["standard"] == manifest
    corpus = read_manifest(manifest)
    everywhere = {(str(corpus.audio_path(row).absolute()), row.split, row.system) for row in corpus.rows}
    for system in "abc":
        fold = read_manifest(folds[f"loso-{system}"])
        assert all(Path(row.path).is_absolute() for row in fold.rows)
        kept = {(row.path, row.split, row.system) for row in fold.rows}
        left_out = everywhere - kept
        assert left_out and all(s == system and split in ("train", "val") for _, split, s in left_out)
        assert any(row.system == system and row.split == "test" for row in fold.rows)
        assert all(row.extra.get("condition") == "g722" for row in fold.rows if row.label == "spoof")


def test_the_plan_trains_both_ways_on_the_standard_fold_and_laundered_on_each_held_out_fold(tmp_path):
    folds = {"standard": Path("m.csv"), "loso-a": Path("a.csv"), "loso-b": Path("b.csv")}
    args = argparse.Namespace(seeds=[1, 2], trainings=["laundered", "clean"], frontends=["logmel", "cqt"], loso=True)
    runs = plan_runs(folds, args)
    assert len(runs) == len(set(runs)) == 2 * (2 * 2 + 2 * 2)
    assert {run.training for run in runs if run.fold != "standard"} == {"laundered"}
    assert Run("cqt", "laundered", "loso-b", 2).held_out == "b"
    assert Run("cqt", "clean", "standard", 2).held_out == ""


def test_the_tables_average_seeds_and_folds(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for seed in (1, 2):
        for training in ("laundered", "clean"):
            for condition in CONDITIONS:
                rows.append({"frontend": "logmel", "training": training, "fold": "standard", "seed": seed,
                             "condition": condition, "eer": rng.uniform(), "eer_unseen_systems": rng.uniform(),
                             "eer_unseen_speakers": rng.uniform(), "eer_held_out_system": ""})
        for fold in ("loso-a", "loso-b"):
            rows.append({"frontend": "logmel", "training": "laundered", "fold": fold, "seed": seed,
                         "condition": "clean", "eer": rng.uniform(), "eer_held_out_system": rng.uniform()})
    args = argparse.Namespace(frontends=["logmel"], seeds=[1, 2], epochs=3, loso_epochs=2, crop_s=2.0, out=tmp_path,
                              trainings=["laundered", "clean"])
    table = summarise(rows, {"logmel": 12.5}, args)

    def select(**where):
        return [r for r in rows if all(r[k] == v for k, v in where.items())]

    def mean_std(values):
        return f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=1):.1f}"

    clean = [select(fold="standard", training="laundered", condition="clean", seed=seed)[0]["eer"] for seed in (1, 2)]
    loso = [np.mean([select(fold=f, seed=seed)[0]["eer_held_out_system"] for f in ("loso-a", "loso-b")])
            for seed in (1, 2)]
    laundered = [np.mean([r["eer"] for r in select(fold="standard", training="laundered", seed=seed)
                          if r["condition"] != "clean"]) for seed in (1, 2)]
    main_row = next(line for line in table.splitlines() if line.startswith("| `logmel` | 12.5 |"))
    cells = [cell.strip() for cell in main_row.strip("|").split("|")]
    assert cells[2] == mean_std(clean)
    assert cells[3] == "–", "no score files: no bootstrap interval"
    assert cells[7] == mean_std(laundered)
    assert cells[8] == mean_std(loso)
    assert "Front-end by the rule: **logmel**" in table
    assert (tmp_path / "frontends.png").stat().st_size > 0
