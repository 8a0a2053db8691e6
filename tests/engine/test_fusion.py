"""``detector fuse``: prior-weighted logistic-regression fusion of score files (engine/fusion.py)."""
import json
import math
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from detector.cli.main import main
from detector.engine.fusion import fit_fusion, fuse
from detector.metrics.detection import equal_error_rate


def synthetic(rng, n_bonafide=300, n_spoof=600):
    """Two complementary systems: each sees half the spoof systems well, the other half barely."""
    targets = np.r_[np.ones(n_bonafide, int), np.zeros(n_spoof, int)]
    kind = np.r_[np.zeros(n_bonafide, int), rng.integers(1, 3, n_spoof)]   # spoof system 1 or 2
    a = np.where(targets == 1, 2.0, np.where(kind == 1, -2.0, 1.5)) + rng.normal(0, 1, targets.size)
    b = np.where(targets == 1, 1.0, np.where(kind == 2, -3.0, 0.5)) + rng.normal(0, 1.5, targets.size)
    return targets, kind, np.c_[a, b]


def write_scores(path, targets, kind, scores, condition="clean", order=None):
    order = range(len(targets)) if order is None else order
    lines = [f"u{i:04d} {'bonafide' if targets[i] else 'spoof'} {'-' if targets[i] else f'A{kind[i]:02d}'} "
             f"{condition} {float(scores[i])!r}" for i in order]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def score_files(tmp_path):
    rng = np.random.default_rng(0)
    files = {}
    for part in ("dev", "eval"):
        targets, kind, scores = synthetic(rng)
        files[part] = (targets, kind, scores,
                       [write_scores(tmp_path / f"{name}_{part}.txt", targets, kind, scores[:, j])
                        for j, name in enumerate("AB")])
    return files


@pytest.mark.parametrize("prior", [0.5, 0.2])
def test_weights_and_bias_match_scikit_learn(prior):
    targets, _, scores = synthetic(np.random.default_rng(1))
    fusion = fit_fusion(scores, targets, prior)
    n, n_bonafide = targets.size, int(targets.sum())
    # Prior weighting = class weights P n / n_bonafide, (1 - P) n / n_spoof; the LLR bias drops logit P.
    reference = LogisticRegression(C=1e8, tol=1e-12, max_iter=10000, class_weight={
        1: prior * n / n_bonafide, 0: (1 - prior) * n / (n - n_bonafide)}).fit(scores, targets)
    assert fusion.weights == pytest.approx(reference.coef_[0], abs=1e-3)
    assert fusion.bias == pytest.approx(reference.intercept_[0] - math.log(prior / (1 - prior)), abs=1e-3)
    if prior == 0.5:   # equal priors are scikit-learn's "balanced" classes
        balanced = LogisticRegression(C=1e8, tol=1e-12, max_iter=10000, class_weight="balanced").fit(scores, targets)
        assert fusion.weights == pytest.approx(balanced.coef_[0], abs=1e-3)
        assert fusion.bias == pytest.approx(balanced.intercept_[0], abs=1e-3)


def test_fused_eval_scores_are_the_linear_map_and_beat_each_system(score_files, tmp_path, capsys):
    dev_targets, _, dev_scores, dev_files = score_files["dev"]
    eval_targets, _, eval_scores, eval_files = score_files["eval"]
    out = tmp_path / "fused"
    assert main(["fuse", "--dev", *map(str, dev_files), "--eval", *map(str, eval_files), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fusion" in printed and "EER %" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    weights, bias = np.array([system["weight"] for system in metrics["systems"]]), metrics["bias"]
    assert weights == pytest.approx(fit_fusion(dev_scores, dev_targets).weights)
    lines = [line.split() for line in (out / "scores.txt").read_text().splitlines()]
    assert [line[0] for line in lines] == [f"u{i:04d}" for i in range(eval_targets.size)]
    assert [line[1] == "bonafide" for line in lines] == (eval_targets == 1).tolist()
    assert {line[3] for line in lines} == {"clean"}
    fused = np.array([float(line[4]) for line in lines])
    np.testing.assert_allclose(fused, eval_scores @ weights + bias, rtol=0, atol=1e-12)
    eers = [equal_error_rate(s[eval_targets == 1], s[eval_targets == 0])[0] for s in (*eval_scores.T, fused)]
    assert metrics["fusion"]["eer"] == pytest.approx(eers[2])
    assert [system["eer"] for system in metrics["systems"]] == pytest.approx(eers[:2])
    assert eers[2] < min(eers[:2]) - 0.03
    for key in ("eer", "min_dcf", "act_dcf", "cllr"):
        assert key in metrics["fusion"] and all(key in system for system in metrics["systems"])


def test_trials_match_by_utt_and_condition(tmp_path):
    rng = np.random.default_rng(2)
    targets, kind, scores = synthetic(rng, 40, 60)
    shuffled = rng.permutation(targets.size)
    a = write_scores(tmp_path / "a.txt", targets, kind, scores[:, 0])
    b = write_scores(tmp_path / "b.txt", targets, kind, scores[:, 1], order=shuffled)   # another order
    with a.open("a") as handle:   # a second condition, dropped by --condition clean
        handle.write("u0000 bonafide - noise 0.5\n")
    metrics = fuse([a, b], [a, b], tmp_path / "out", condition="clean")
    assert metrics["n_eval_trials"] == targets.size
    fused = np.array([float(line.split()[4]) for line in (tmp_path / "out" / "scores.txt").read_text().splitlines()])
    np.testing.assert_allclose(fused, scores @ [s["weight"] for s in metrics["systems"]] + metrics["bias"],
                               atol=1e-12)
    with pytest.raises(ValueError, match=f"{re.escape(str(b))}: 1 trial.*missing.*u0000 \\(condition noise\\)"):
        fuse([a, b], [a, b], tmp_path / "out2")


def test_errors_name_the_file(tmp_path, capsys):
    targets, kind, scores = synthetic(np.random.default_rng(3), 20, 30)
    a = write_scores(tmp_path / "a.txt", targets, kind, scores[:, 0])
    short = write_scores(tmp_path / "short.txt", targets, kind, scores[:, 1], order=range(1, targets.size))
    flipped = targets.copy()
    flipped[5] = 1 - flipped[5]
    relabelled = write_scores(tmp_path / "relabelled.txt", flipped, kind, scores[:, 1])
    out = tmp_path / "out"
    a_, short_ = re.escape(str(a)), re.escape(str(short))
    with pytest.raises(ValueError, match=f"{short_}: 1 trial.* of {a_} missing, e.g. utt u0000"):
        fuse([a, short], [a, a], out)
    with pytest.raises(ValueError, match=f"{a_}: 1 trial.* not in {short_}"):
        fuse([short, a], [a, a], out)
    with pytest.raises(ValueError, match=f"{re.escape(str(relabelled))}: utt u0005 \\(condition clean\\) is labelled"):
        fuse([a, a], [a, relabelled], out)
    with pytest.raises(ValueError, match="--dev names 2 file.*--eval names 1"):
        fuse([a, a], [a], out)
    with pytest.raises(ValueError, match=f"{a_}: no trials of condition 'noise'"):
        fuse([a], [a], out, condition="noise")
    assert not out.exists()   # nothing written on an error
    assert main(["fuse", "--dev", str(a), str(short), "--eval", str(a), str(a), "--out", str(out)]) == 2
    assert str(short) in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("u1 bonafide - clean nan\n")
    with pytest.raises(ValueError, match=f"{re.escape(str(bad))}, line 1: score 'nan'"):
        fuse([bad], [bad], out)
