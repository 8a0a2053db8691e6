"""Evidence over seeds: the coded choice of a default, the bootstrap interval, mean ± std."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.evidence import Candidate, bootstrap_eer_interval, choose, format_percent, mean_std
from detector.metrics.detection import equal_error_rate


def test_the_lowest_mean_wins_when_no_one_is_within_its_spread():
    choice = choose([Candidate("fast", (0.30, 0.31, 0.29), 900.0), Candidate("good", (0.10, 0.11, 0.12), 100.0)],
                    "EER")
    assert choice.chosen == "good" and choice.tied == ("good",)
    assert "3 seed(s)" in choice.reason


def test_ties_within_one_standard_deviation_go_to_the_fastest():
    noisy_best = Candidate("cqt", (0.10, 0.20, 0.15), 75.0)           # mean 0.15, std 0.05
    close = Candidate("logmel", (0.17, 0.18, 0.19), 144.0)            # mean 0.18: within 0.15 + 0.05
    far = Candidate("lfcc", (0.30, 0.31, 0.32), 194.0)
    choice = choose([noisy_best, close, far], "EER")
    assert choice.chosen == "logmel" and choice.tied == ("logmel", "cqt")


def test_a_candidate_without_numbers_is_left_out_and_none_at_all_is_an_error():
    choice = choose([Candidate("a", (float("nan"),), 1.0), Candidate("b", (0.2,), 1.0)], "EER")
    assert choice.chosen == "b"
    with pytest.raises(ValueError, match="no candidate"):
        choose([Candidate("a", (float("nan"),), 1.0)], "EER")


def test_mean_std_and_the_percent_format():
    assert mean_std([0.1, 0.3]) == pytest.approx((0.2, np.std([0.1, 0.3], ddof=1)))
    assert format_percent([0.1, 0.3]) == "20.0 ± 14.1"
    assert format_percent([0.123]) == "12.3" and format_percent([]) == "–" and format_percent([""]) == "–"


def _scores(path, rng, shift, n=200, systems=("sys",)):
    labels = np.repeat(["bonafide", "spoof"], n // 2)
    scores = rng.normal(size=n) + np.where(labels == "bonafide", shift, 0.0)
    lines = [f"utt{k:04d} {label} {'-' if label == 'bonafide' else systems[k % len(systems)]} clean "
             f"{float(score)!r}" for k, (label, score) in enumerate(zip(labels, scores))]
    lines += [f"utt{k:04d} {label} - noise 0.0" for k, label in enumerate(labels)]   # another condition
    path.write_text("\n".join(lines) + "\n")
    return (labels == "bonafide"), scores


def test_the_bootstrap_interval_holds_the_seed_mean_eer_and_is_reproducible(tmp_path):
    rng = np.random.default_rng(0)
    files, eers = [], []
    for seed in range(3):
        labels, scores = _scores(tmp_path / f"s{seed}.txt", rng, shift=1.5)
        files.append(tmp_path / f"s{seed}.txt")
        eers.append(equal_error_rate(scores[labels], scores[~labels])[0])
    low, high = bootstrap_eer_interval(files, draws=300)
    assert low < np.mean(eers) < high
    assert 0.02 < high - low < 0.3, "an interval as wide as 200 clips allow"
    assert (low, high) == bootstrap_eer_interval(files, draws=300), "fixed seed: the same interval"
    (tmp_path / "other.txt").write_text((tmp_path / "s0.txt").read_text().replace("utt0000", "utt9999"))
    with pytest.raises(ValueError, match="same clips"):
        bootstrap_eer_interval([files[0], tmp_path / "other.txt"], draws=10)
    with pytest.raises(ValueError, match="no scores for condition"):
        bootstrap_eer_interval(files, condition="reverb", draws=10)


def test_the_bootstrap_interval_of_some_systems_resamples_only_their_spoof_clips(tmp_path):
    """Clips of an easy system ("a", scored far below every bona fide clip) and of a hard one ("b",
    scored like bona fide): the interval of "b" alone lies around chance, of both well below it."""
    rng = np.random.default_rng(1)
    labels = np.repeat(["bonafide", "spoof"], 100)
    systems = np.where(np.arange(200) % 2 == 0, "a", "b")
    scores = rng.normal(size=200) - np.where((labels == "spoof") & (systems == "a"), 6.0, 0.0)
    lines = [f"utt{k:04d} {label} {'-' if label == 'bonafide' else system} clean {float(score)!r}"
             for k, (label, system, score) in enumerate(zip(labels, systems, scores))]
    (tmp_path / "s.txt").write_text("\n".join(lines) + "\n")
    hard = bootstrap_eer_interval([tmp_path / "s.txt"], draws=200, systems={"b"})
    both = bootstrap_eer_interval([tmp_path / "s.txt"], draws=200)
    assert hard[0] < 0.5 < hard[1] and both[1] < hard[0]
    with pytest.raises(ValueError, match="no spoof clips of the systems"):
        bootstrap_eer_interval([tmp_path / "s.txt"], draws=10, systems={"c"})
