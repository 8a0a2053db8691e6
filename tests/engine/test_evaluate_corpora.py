"""``detector evaluate --manifest A.csv B.csv``: one checkpoint scored on several corpora, each
exactly as evaluating it alone, plus a cross-corpus table whose pooled row is all the trials together."""
import csv
import json

import numpy as np
import pytest

from detector.cli.main import main
from detector.config import Config
from detector.engine.corpora import corpus_names
from detector.engine.evaluate import EvaluationOptions, evaluate
from detector.engine.train import train
from detector.metrics.detection import detection_metrics
from tests.conftest import prepared_folder_corpus


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """A tiny trained checkpoint and two evaluation corpora, ``alpha/manifest.csv`` and
    ``beta/manifest.csv`` (different synthetic clips, each all test): (checkpoint, alpha, beta, cache)."""
    root = tmp_path_factory.mktemp("corpora")
    manifest = prepared_folder_corpus(root / "train", "50/25/25", n_per_class=8)
    config = Config()
    config.data.manifest, config.data.cache_dir, config.data.crop_s = str(manifest), str(root / "cache"), 0.5
    config.train.epochs, config.train.batch_size, config.train.seed = 1, 4, 1
    config.train.device, config.train.amp, config.train.max_steps_per_epoch = "cpu", "off", 2
    train(config, root / "run")
    alpha = prepared_folder_corpus(root / "alpha", "0/0/100", n_per_class=4, seed=11)
    beta = prepared_folder_corpus(root / "beta", "0/0/100", n_per_class=6, seed=12)
    return root / "run" / "best.pt", alpha, beta, root / "cache"


def scoring_flags(cache) -> list[str]:
    return ["--device", "cpu", "--amp", "off", "--batch-size", "8", "--cache-dir", str(cache)]


def test_each_corpus_as_alone_and_a_pooled_row_of_all_trials(corpora, tmp_path, capsys):
    checkpoint, alpha, beta, cache = corpora
    out = tmp_path / "both"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--manifest", str(alpha), str(beta),
                 "--out", str(out), *scoring_flags(cache)]) == 0
    printed = capsys.readouterr().out
    # alone: one manifest through the command (today's outputs, no table) and through the API
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--manifest", str(alpha), "--out",
                 str(tmp_path / "alpha_alone"), *scoring_flags(cache)]) == 0
    assert not (tmp_path / "alpha_alone" / "corpora.csv").exists()
    alone = {"alpha": json.loads((tmp_path / "alpha_alone" / "metrics.json").read_text()),
             "beta": evaluate(checkpoint, beta, tmp_path / "beta_alone",
                              EvaluationOptions(device="cpu", amp="off", batch_size=8, cache_dir=str(cache)))}

    rows = list(csv.DictReader(open(out / "corpora.csv")))
    assert [row["corpus"] for row in rows] == ["alpha", "beta", "pooled"]
    for row in rows[:2]:
        name = row["corpus"]
        assert json.loads((out / name / "metrics.json").read_text()) == alone[name]   # evaluate's own path
        assert (out / name / "scores.txt").read_text() == (tmp_path / f"{name}_alone" / "scores.txt").read_text()
        for key in ("eer", "min_dcf", "act_dcf", "cllr"):
            assert float(row[key]) == alone[name][key]
    trials = [line.split() for name in ("alpha", "beta")
              for line in (tmp_path / f"{name}_alone" / "scores.txt").read_text().splitlines()]
    scores = {label: np.array([float(t[4]) for t in trials if t[1] == label]) for label in ("bonafide", "spoof")}
    pooled = detection_metrics(scores["bonafide"], scores["spoof"])
    assert int(rows[2]["n_bonafide"]) + int(rows[2]["n_spoof"]) == 20
    for key in ("eer", "min_dcf", "act_dcf", "cllr"):
        assert float(rows[2][key]) == pooled[key]

    markdown = (out / "corpora.md").read_text()
    assert "| alpha |" in markdown and "| **pooled** |" in markdown and "calibration" in markdown
    assert markdown in printed + "\n" and "== beta (" in printed
    assert (out / "corpora_eer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_manifest_stops_the_run_before_scoring_naming_it(corpora, tmp_path, capsys):
    checkpoint, alpha, _, cache = corpora
    missing = tmp_path / "nowhere" / "gamma.csv"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--manifest", str(alpha), str(missing),
                 "--out", str(tmp_path / "out"), *scoring_flags(cache)]) == 2
    assert f"{missing}: manifest not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()   # nothing scored, nothing written


def test_corpus_names_are_stems_or_folders_and_unique():
    assert corpus_names(["d/asv19.csv", "d/itw.csv"]) == ["asv19", "itw"]
    assert corpus_names(["asv19/manifest.csv", "itw/manifest.csv", "tts.csv"]) == ["asv19", "itw", "tts"]
    assert corpus_names(["a/x/m.csv", "b/X/m.csv", "c/x/m.csv"]) == ["x", "X-2", "x-3"]
    assert corpus_names(["pooled.csv", "my corpus.csv"]) == ["pooled-2", "my_corpus"]
