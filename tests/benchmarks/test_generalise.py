"""The generalisation protocols (benchmarks/generalise.py): folds, the held-out source's EER, tables,
resuming; the trainings and evaluations are mocked (they are the CLI's, tested in tests/cli)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest

from benchmarks import generalise
from benchmarks.generalise import (
    NO_TEST_CLIPS,
    Run,
    corpus_label,
    recipe_flags,
    resolve_source_column,
    run_all,
    source_eers,
    summarise,
    train,
    write_source_folds,
)
from detector.data.manifest import read_manifest, write_manifest

SPLITS = ("train", "val", "test")


def _corpus(root: Path, with_source: bool = True) -> Path:
    """Bona fide sources a, b (train/val/test), c (train/val only: no test clips), t (test only);
    each bona fide clip has a vocoded spoof from its source, and one TTS spoof per split has none.
    The speaker is the source's voice, except that source a has two speakers (a1, a2)."""
    rows = []

    def add(path, label, speaker, system, split, source):
        row = {"path": path, "label": label, "speaker": speaker, "system": system, "split": split,
               "condition": "g722"}
        if with_source:
            row["source"] = source
        rows.append(row)

    for split in SPLITS:
        sources = {"train": "abc", "val": "abc", "test": "abt"}[split]
        for source in sources:
            for index in range(2):
                speaker = f"{source}{index + 1}" if source == "a" and with_source else source
                add(f"bonafide/{source}/{split}{index}.wav", "bonafide", speaker, "-", split, source)
                add(f"spoof/voc/{source}/{split}{index}.wav", "spoof", speaker, "vocoder", split, source)
        add(f"spoof/tts/{split}.wav", "spoof", "tts_voice", "tts", split, "")
    write_manifest(rows, root / "manifest.csv")
    return root / "manifest.csv"


def _as_set(manifest: Path) -> set[tuple[str, str, str]]:
    corpus = read_manifest(manifest, allow_outside_root=True)
    return {(str(corpus.audio_path(row).absolute()), row.split, row.label) for row in corpus.rows}


def test_a_fold_leaves_out_every_train_and_val_row_of_its_source_spoofs_included(tmp_path):
    manifest = _corpus(tmp_path / "corpus")
    column, note = resolve_source_column(read_manifest(manifest), None)
    assert (column, note) == ("source", "")
    folds = write_source_folds(manifest, tmp_path / "out", column)
    assert [fold.source for fold in folds] == ["a", "b", "c"]   # t: test-only, no fold; "" is no source
    assert {fold.source: fold.n_test_bonafide for fold in folds} == {"a": 2, "b": 2, "c": 0}
    corpus = read_manifest(manifest)
    source_of = {str(corpus.audio_path(row).absolute()): row.extra["source"] for row in corpus.rows}
    everything = _as_set(manifest)
    for fold in folds:
        assert fold.manifest == tmp_path / "out" / "folds" / "corpus" / f"loso-{fold.source}.csv"
        kept = _as_set(fold.manifest)
        left_out = everything - kept
        assert kept <= everything
        # exactly the train and val rows of the held-out source, bona fide and the spoofs made from it
        assert left_out == {entry for entry in everything if source_of[entry[0]] == fold.source
                            and entry[1] in ("train", "val")}
        assert {label for _, _, label in left_out} == {"bonafide", "spoof"}
        assert {e for e in kept if e[1] == "test"} == {e for e in everything if e[1] == "test"}, "test untouched"
        rows = read_manifest(fold.manifest).rows
        assert all(Path(row.path).is_absolute() and row.extra["condition"] == "g722" for row in rows)
        assert {row.extra["source"] for row in rows if row.split == "train"} == {"a", "b", "c", ""} - {fold.source}


def test_without_a_source_column_the_speaker_is_the_source_and_the_note_says_so(tmp_path):
    manifest = _corpus(tmp_path / "corpus", with_source=False)
    corpus = read_manifest(manifest)
    column, note = resolve_source_column(corpus, None)
    assert column == "speaker" and "no `source` column" in note and "speaker" in note
    folds = write_source_folds(manifest, tmp_path / "out", column)
    assert [fold.source for fold in folds] == ["a", "b", "c"]
    fold = read_manifest(folds[0].manifest)
    assert not any(row.speaker == "a" and row.split in ("train", "val") for row in fold.rows)
    assert sum(row.speaker == "a" and row.split == "test" for row in fold.rows) == 4   # bona fide + vocoded
    assert any(row.speaker == "tts_voice" and row.split == "train" for row in fold.rows)
    with pytest.raises(SystemExit, match="no column 'channel'"):
        resolve_source_column(corpus, "channel")
    assert resolve_source_column(read_manifest(_corpus(tmp_path / "c2")), "speaker") == ("speaker", "")


def test_sources_restricts_the_folds_and_rejects_unknown_names(tmp_path):
    manifest = _corpus(tmp_path / "corpus")
    assert [f.source for f in write_source_folds(manifest, tmp_path / "out", "source", ["b"])] == ["b"]
    with pytest.raises(SystemExit, match="not a bona fide source"):
        write_source_folds(manifest, tmp_path / "out", "source", ["t"])


def test_the_held_out_source_eer_by_hand(tmp_path):
    """Source a's bona fide (0.9, 0.8) beats every spoof: EER 0. Source b's (0.1, 0.35) against the
    spoofs (0.0, 0.2, 0.3, 0.4), ranked 0.0s 0.1b 0.2s 0.3s 0.35b 0.4s: rejecting the 3 lowest
    misses 1 of 2 bona fide and lets 2 of 4 spoofs through, EER (0.5 + 0.5) / 2 = 0.5."""
    rows = [{"path": f"{name}.wav", "label": label, "speaker": "x", "system": "-" if label == "bonafide" else "s",
             "split": "test", "source": source}
            for name, label, source in [("a1", "bonafide", "a"), ("a2", "bonafide", "a"), ("b1", "bonafide", "b"),
                                        ("b2", "bonafide", "b"), ("s1", "spoof", "a"), ("s2", "spoof", "a"),
                                        ("s3", "spoof", "b"), ("s4", "spoof", "")]]
    rows.append({"path": "train.wav", "label": "bonafide", "speaker": "x", "system": "-", "split": "train",
                 "source": "a"})
    write_manifest(rows, tmp_path / "manifest.csv")
    scores = {"a1": 0.9, "a2": 0.8, "b1": 0.1, "b2": 0.35, "s1": 0.0, "s2": 0.2, "s3": 0.3, "s4": 0.4}
    lines = [f"{utt} {'spoof' if utt[0] == 's' else 'bonafide'} - {condition} {value!r}"
             for condition in ("clean", "mp3:64k") for utt, score in scores.items()
             for value in [score if condition == "clean" else 1 - score]]
    (tmp_path / "scores.txt").write_text("\n".join(lines) + "\n")
    result = source_eers(tmp_path / "scores.txt", tmp_path / "manifest.csv", "source")
    assert set(result) == {"a", "b"}   # spoof-only groups are no bona fide source
    assert result["a"]["eer"] == 0.0 and result["b"]["eer"] == 0.5
    assert (result["b"]["n_bonafide"], result["b"]["n_spoof"]) == (2, 4)
    (tmp_path / "scores.txt").write_text("\n".join(lines + ["ghost bonafide - clean 0.5"]) + "\n")
    with pytest.raises(ValueError, match="not in the test split"):
        source_eers(tmp_path / "scores.txt", tmp_path / "manifest.csv", "source")


def _args(tmp_path: Path, **overrides) -> argparse.Namespace:
    values = {"out": tmp_path / "out", "seeds": [42], "epochs": 0, "crop_s": 0.0, "train_args": "", "device": "auto",
              "cache_dir": "", "manifest": None, "cross": None, "both_directions": False, "source_column": None,
              "sources": None, "loso": True}
    return argparse.Namespace(**{**values, **overrides})


def test_the_tables_give_mean_and_std_over_seeds_and_say_how_many(tmp_path):
    rng = np.random.default_rng(0)
    seeds = [42, 43, 44]
    rows = []
    for seed in seeds:
        rows.append({"protocol": "standard", "train_corpus": "large", "fold": "standard", "source": "",
                     "test_corpus": "large", "seed": seed, "eer": rng.uniform()})
        rows.append({"protocol": "standard", "train_corpus": "wild", "fold": "standard", "source": "",
                     "test_corpus": "wild", "seed": seed, "eer": rng.uniform()})
        for source in ("a", "b", "t"):
            rows.append({"protocol": "standard", "train_corpus": "large", "fold": "standard", "source": source,
                         "test_corpus": "large", "seed": seed, "eer": rng.uniform(), "n_bonafide": 7,
                         "note": "test-only source" if source == "t" else ""})
        for source in ("a", "b"):
            if (source, seed) != ("b", 44):   # one fold unfinished for one seed
                rows.append({"protocol": "loso", "train_corpus": "large", "fold": f"loso-{source}", "source": source,
                             "test_corpus": "large", "seed": seed, "eer": rng.uniform(), "n_bonafide": 7})
        rows.append({"protocol": "loso", "train_corpus": "large", "fold": "loso-c", "source": "c",
                     "test_corpus": "large", "seed": seed, "n_bonafide": 0, "note": NO_TEST_CLIPS})
        rows.append({"protocol": "cross", "train_corpus": "large", "fold": "standard", "source": "",
                     "test_corpus": "wild", "seed": seed, "eer": rng.uniform()})
        rows.append({"protocol": "cross", "train_corpus": "wild", "fold": "standard", "source": "",
                     "test_corpus": "large", "seed": seed, "eer": rng.uniform()})
    table, bars = summarise(rows, _args(tmp_path, seeds=seeds), ["a note"])

    def pick(**where):
        return [r["eer"] for r in rows if "eer" in r and all(r.get(k, "") == v for k, v in where.items())]

    def mean_std(values):
        return f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=1):.1f}"

    def cells(prefix):
        line = next(line for line in table.splitlines() if line.startswith(prefix))
        return [cell.strip() for cell in line.strip("|").split("|")]

    assert table.count("3 seeds (42, 43, 44), mean ± standard deviation over seeds") == 3   # beside each table
    assert "- a note" in table and "`detector train`'s defaults)" in table
    assert cells("| large |")[1] == mean_std(pick(protocol="standard", train_corpus="large", source=""))
    assert cells("| a |") == ["a", "7", mean_std(pick(protocol="loso", source="a")),
                              mean_std(pick(protocol="standard", source="a"))]
    assert cells("| b |")[2] == mean_std(pick(protocol="loso", source="b")) + " (n=2)"
    assert cells("| c |") == ["c", "0", NO_TEST_CLIPS, "–"]
    assert cells("| t |")[2] == "test-only"
    folds_mean = [np.mean(pick(protocol="loso", seed=seed)) for seed in seeds]   # seed 44: fold a only
    assert cells("| **mean of the folds** |")[2] == mean_std(folds_mean)
    assert cells("| large → wild |") == ["large → wild", cells("| large |")[1],
                                         mean_std(pick(protocol="cross", train_corpus="large"))]
    assert cells("| wild → large |")[2] == mean_std(pick(protocol="cross", train_corpus="wild"))
    assert list(bars) == ["large test", "wild test", "without a", "without b", "leave-one-source-out mean",
                          "large → wild", "wild → large"]
    one_seed, _ = summarise([r for r in rows if r["seed"] == 42], _args(tmp_path, epochs=3), [])
    assert "1 seed (42)" in one_seed and "± " not in one_seed and "`--epochs 3`" in one_seed
    generalise.plot(bars, tmp_path / "g.png", "t")
    assert (tmp_path / "g.png").stat().st_size > 0


def _fake_call(calls: list[list[str]]):
    """A stand-in for benchmarks.frontends._call: train writes best.pt/last.pt/history.csv; evaluate
    scores the manifest's test split (bona fide 0.9 except source b's 0.1, spoofs 0.5)."""
    def call(command: list[str], log: Path) -> None:
        calls.append(command)
        words = dict(zip(command[3:], command[4:]))
        if command[3] == "train":
            out = Path(words["--out"])
            out.mkdir(parents=True, exist_ok=True)
            for name in ("best.pt", "last.pt"):
                (out / name).write_text("checkpoint")
            (out / "history.csv").write_text("epoch,val_eer,seconds\n1,0.3,2.0\n2,0.2,3.0\n")
        else:
            out, manifest = Path(words["--out"]), Path(words["--manifest"])
            corpus = read_manifest(manifest, allow_outside_root=True)
            test = [row for row in corpus.rows if row.split == "test"]
            lines = [f"{row.utt} {row.label} {row.system} clean "
                     f"{(0.1 if row.extra.get('source') == 'b' else 0.9) if row.label == 'bonafide' else 0.5!r}"
                     for row in test]
            out.mkdir(parents=True, exist_ok=True)
            (out / "scores.txt").write_text("\n".join(lines) + "\n")
            (out / "metrics.json").write_text(json.dumps(
                {"eer": 0.25, "min_dcf": 0.5, "act_dcf": 0.6, "cllr": 0.7, "n_bonafide": 1, "n_spoof": 1,
                 "conditions": ["clean"], "manifest": str(manifest)}))
    return call


def test_every_protocol_runs_and_a_source_without_test_clips_is_reported_not_trained(tmp_path, monkeypatch):
    home, other = _corpus(tmp_path / "large"), _corpus(tmp_path / "wild")
    calls: list[list[str]] = []
    monkeypatch.setattr(generalise, "_call", _fake_call(calls))
    args = _args(tmp_path, manifest=home, cross=other, both_directions=True, seeds=[1, 2])
    rows, notes = run_all(args)
    trained = [c for c in calls if c[3] == "train"]
    assert len(trained) == 2 * (2 + 2)   # per seed: standard on both corpora, folds a and b (c has no test clips)
    assert not any("loso-c" in word for command in calls for word in command)
    assert notes == []
    by = {(r["protocol"], r["train_corpus"], r["test_corpus"], r["source"], r["seed"]): r for r in rows}
    assert by[("loso", "large", "large", "c", 1)]["note"] == NO_TEST_CLIPS
    assert by[("loso", "large", "large", "a", 1)]["eer"] == 0.0
    assert by[("loso", "large", "large", "b", 2)]["eer"] == 1.0
    assert by[("loso", "large", "large", "b", 2)]["eer_whole_test"] == 0.25
    assert by[("standard", "large", "large", "t", 1)]["note"] == "test-only source"
    assert ("cross", "large", "wild", "", 1) in by and ("cross", "wild", "large", "", 2) in by
    assert by[("standard", "large", "large", "", 1)]["best_epoch"] == "2"
    assert by[("standard", "large", "large", "", 1)]["train_seconds"] == 5.0
    assert (args.out / "generalise.csv").read_text().count("\n") == len(rows) + 1
    table, _ = summarise(rows, args, notes)
    assert "| c | 0 | no test clips |" in table
    assert "| large → wild |" in table and "| wild → large |" in table
    evaluations = [c for c in calls if c[3] == "evaluate"]
    assert len(evaluations) == 2 * (2 * 2 + 2)
    train_command = trained[0]
    assert "--epochs" not in train_command and "--resume" not in train_command   # the defaults

    calls.clear()
    assert run_all(args)[0] == rows and calls == [], "a rerun reuses every finished training and evaluation"


def test_resume_continues_an_unfinished_training_and_refuses_other_flags(tmp_path, monkeypatch):
    manifest = _corpus(tmp_path / "corpus")
    calls: list[list[str]] = []
    monkeypatch.setattr(generalise, "_call", _fake_call(calls))
    args = _args(tmp_path, epochs=3, train_args="--batch-size 16")
    run = Run(corpus_label(manifest), "standard", 42)
    folder = run.folder(args.out)
    folder.mkdir(parents=True)
    (folder / "last.pt").write_text("interrupted")
    train(run, manifest, args)
    assert calls[-1][-1] == "--resume" and calls[-1][-5:-1] == ["--epochs", "3", "--batch-size", "16"]
    assert recipe_flags(calls[-1]) == ["train", "--allow-outside-root", "--seed", "42", "--epochs", "3",
                                       "--batch-size", "16"]
    calls.clear()
    train(run, manifest, _args(tmp_path, epochs=3, train_args="--batch-size 16", device="cuda", cache_dir="/c"))
    assert calls == [], "finished: not run again (device and cache folder do not matter)"
    with pytest.raises(SystemExit, match="was trained by"):
        train(run, manifest, _args(tmp_path, epochs=4, train_args="--batch-size 16"))

    # an evaluation older than its checkpoint is redone; a newer one of the same manifest is reused
    metrics = generalise.evaluate(run, folder / "best.pt", manifest, "corpus", args)
    assert len(calls) == 1 and metrics.exists()
    generalise.evaluate(run, folder / "best.pt", manifest, "corpus", args)
    assert len(calls) == 1
    os.utime(metrics, (1, 1))
    generalise.evaluate(run, folder / "best.pt", manifest, "corpus", args)
    assert len(calls) == 2


def test_unseen_systems_eer_is_read_from_evaluates_seen_unseen_breakdown():
    from benchmarks.generalise import unseen_systems_eer

    metrics = {"seen_unseen": {"systems": {"unseen": {"eer": 0.25}, "seen": {"eer": 0.1}}}}
    assert unseen_systems_eer(metrics) == 0.25
    assert unseen_systems_eer({"seen_unseen": {"systems": {"seen": {"eer": 0.1}}}}) == ""
    assert unseen_systems_eer({}) == ""


def test_fewer_seeds_for_the_folds_are_planned_and_stated():
    from types import SimpleNamespace

    from benchmarks.generalise import loso_seeds

    assert loso_seeds(SimpleNamespace(seeds=[42, 43, 44], loso_seeds=None)) == [42, 43, 44]
    assert loso_seeds(SimpleNamespace(seeds=[42, 43, 44], loso_seeds=[42])) == [42]


def test_the_standard_and_cross_corpus_cells_carry_the_bootstrap_interval_of_their_score_files(tmp_path):
    """Score files where the unseen system's spoofs score like bona fide: its interval holds chance;
    the cross-corpus scores separate the classes: its interval is near 0; no files, no interval."""
    rng = np.random.default_rng(3)
    seeds, args = [42, 43], _args(tmp_path, seeds=[42, 43])
    rows = []
    for seed in seeds:
        rows.append({"protocol": "standard", "train_corpus": "wild", "fold": "standard", "source": "",
                     "test_corpus": "wild", "seed": seed, "eer": 0.2, "eer_unseen_systems": 0.5})
        rows.append({"protocol": "cross", "train_corpus": "wild", "fold": "standard", "source": "",
                     "test_corpus": "large", "seed": seed, "eer": 0.0})
        for test_corpus, unseen_shift in (("wild", 0.0), ("large", -6.0)):
            folder = generalise.Run("wild", "standard", seed).folder(args.out) / "eval" / test_corpus
            folder.mkdir(parents=True)
            lines = [f"b{k} bonafide - clean {rng.normal():.6f}" for k in range(100)]
            lines += [f"s{k} spoof seen clean {rng.normal() - 6:.6f}" for k in range(100)]
            lines += [f"u{k} spoof unseen clean {rng.normal() + unseen_shift:.6f}" for k in range(100)]
            (folder / "scores.txt").write_text("\n".join(lines) + "\n")
            unseen = {"seen_unseen": {"systems": {"unseen": {"names": ["unseen"]}}}}
            (folder / "metrics.json").write_text(json.dumps(unseen))
    table, _ = summarise(rows, args, [])

    def bounds(prefix: str, column: int) -> tuple[float, float]:
        line = next(line for line in table.splitlines() if line.startswith(prefix))
        low, high = line.strip("|").split("|")[column].split("[")[1].rstrip("] ").split("–")
        return float(low), float(high)

    assert bounds("| wild |", 2)[0] < 50 < bounds("| wild |", 2)[1]            # unseen systems only
    assert bounds("| wild |", 1)[1] < bounds("| wild |", 2)[0]                 # all spoofs: the seen ones help
    assert bounds("| wild → large |", 2)[1] < 1.0
    (generalise.Run("wild", "standard", 43).folder(args.out) / "eval" / "large" / "scores.txt").unlink()
    table, _ = summarise(rows, args, [])
    assert "[" not in next(line for line in table.splitlines() if line.startswith("| wild → large |"))
