"""EER against an independent computation from scikit-learn's ROC curve; threshold metrics."""
import numpy as np
import pytest
from scipy.optimize import brentq
from sklearn.metrics import f1_score, precision_score, recall_score, roc_curve

from detector.metrics import classification_report, equal_error_rate, per_group_eer, within_group_eer


def reference_eer(bonafide, spoof):
    """EER from sklearn's ROC: the root, along the piecewise-linear curve, of FNR - FPR.

    The curve is walked by its point index t (it may hold vertical and horizontal runs, so
    neither rate alone can be the abscissa); scipy's brentq finds where the rates cross.
    """
    targets = np.r_[np.ones(len(bonafide)), np.zeros(len(spoof))]
    fpr, tpr, _ = roc_curve(targets, np.r_[bonafide, spoof], drop_intermediate=False)
    index = np.arange(len(fpr))
    gap = lambda t: (1.0 - np.interp(t, index, tpr)) - np.interp(t, index, fpr)
    t = brentq(gap, 0.0, len(fpr) - 1.0, xtol=1e-12)
    return float(np.interp(t, index, fpr))


@pytest.mark.parametrize("seed", range(30))
def test_eer_matches_reference_on_random_scores_with_ties(seed):
    rng = np.random.default_rng(seed)
    bonafide = np.round(rng.normal(1.0, 1.0, rng.integers(5, 200)), 1)   # rounding makes ties
    spoof = np.round(rng.normal(-0.5, 1.0, rng.integers(5, 200)), 1)
    eer, threshold = equal_error_rate(bonafide, spoof)
    assert eer == pytest.approx(reference_eer(bonafide, spoof), abs=1e-6)
    assert spoof.min() <= threshold <= bonafide.max()


def test_eer_edge_cases():
    assert equal_error_rate(np.array([2.0, 3.0]), np.array([0.0, 1.0]))[0] == 0.0
    assert equal_error_rate(np.array([0.0, 1.0]), np.array([2.0, 3.0]))[0] == 1.0
    assert equal_error_rate(np.array([1.0]), np.array([1.0]))[0] == 0.5
    with pytest.raises(ValueError, match="both classes"):
        equal_error_rate(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="NaN"):
        equal_error_rate(np.array([np.nan]), np.array([1.0]))


def test_threshold_metrics_match_sklearn_with_spoof_positive():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, 300)
    scores = rng.normal(targets - 0.5, 1.0)
    report = classification_report(scores, targets)
    predicted_spoof = (scores < 0).astype(int)
    spoof = 1 - targets
    assert report["precision"] == pytest.approx(precision_score(spoof, predicted_spoof))
    assert report["recall"] == pytest.approx(recall_score(spoof, predicted_spoof))
    assert report["f1"] == pytest.approx(f1_score(spoof, predicted_spoof))
    assert report["accuracy"] == pytest.approx((predicted_spoof == spoof).mean())
    (tb, fs), (fb, ts) = report["confusion_matrix"]
    assert (tb + fs, fb + ts) == (report["n_bonafide"], report["n_spoof"]) == ((targets == 1).sum(), (targets == 0).sum())
    assert fs == ((targets == 1) & (scores < 0)).sum()


def test_per_system_eer_uses_each_systems_spoofs_against_all_bonafide():
    scores = np.array([5.0, 6.0, 0.0, 1.0, 5.5, 7.0])
    targets = np.array([1, 1, 0, 0, 0, 0])
    systems = np.array(["-", "-", "easy", "easy", "hard", "hard"])
    result = per_group_eer(scores, targets, systems)
    assert result["easy"] == 0.0 and result["hard"] == pytest.approx(
        equal_error_rate(np.array([5.0, 6.0]), np.array([5.5, 7.0]))[0])


def test_per_group_eer_of_bona_fide_groups_uses_each_speakers_trials_against_all_spoofs():
    scores = np.array([5.0, 6.0, 0.5, 1.5, 0.0, 1.0])
    targets = np.array([1, 1, 1, 1, 0, 0])
    speakers = np.array(["seen", "seen", "unseen", "unseen", "tts", "tts"])
    result = per_group_eer(scores, targets, speakers, of_class=1)
    assert set(result) == {"seen", "unseen"} and result["seen"] == 0.0
    assert result["unseen"] == pytest.approx(equal_error_rate(np.array([0.5, 1.5]), np.array([0.0, 1.0]))[0])
    assert result["unseen"] > 0.0


def test_within_group_eer_compares_each_groups_own_classes_and_skips_one_class_groups():
    scores = np.array([5.0, 6.0, 0.0, 1.0, 2.0, 3.0, 2.5, 9.0])
    targets = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    channels = np.array(["wide", "wide", "wide", "wide", "narrow", "narrow", "narrow", "spoof-only"])
    result = within_group_eer(scores, targets, channels)
    assert set(result) == {"wide", "narrow"}
    assert result["wide"] == 0.0
    assert result["narrow"] == pytest.approx(equal_error_rate(np.array([2.0]), np.array([3.0, 2.5]))[0])
    assert result["narrow"] > 0.5   # both narrowband spoofs outscore the bona fide clip


def reference_min_dcf(bonafide, spoof, c_miss=1.0, c_fa=10.0, p_spoof=0.05):
    """Brute force over every candidate threshold (each score, and +inf)."""
    best = np.inf
    for threshold in np.r_[np.unique(np.r_[bonafide, spoof]), np.inf]:
        p_miss = np.mean(bonafide < threshold)
        p_fa = np.mean(spoof >= threshold)
        best = min(best, c_miss * (1 - p_spoof) * p_miss + c_fa * p_spoof * p_fa)
    return best / min(c_miss * (1 - p_spoof), c_fa * p_spoof)


@pytest.mark.parametrize("seed", range(20))
def test_min_dcf_matches_brute_force_with_ties(seed):
    from detector.metrics import DetectionCost, min_dcf
    rng = np.random.default_rng(100 + seed)
    bonafide = np.round(rng.normal(1.0, 1.0, rng.integers(5, 150)), 1)
    spoof = np.round(rng.normal(-0.5, 1.0, rng.integers(5, 150)), 1)
    assert min_dcf(bonafide, spoof)[0] == pytest.approx(reference_min_dcf(bonafide, spoof), abs=1e-6)
    cost = DetectionCost(c_miss=2.0, c_fa=1.0, p_spoof=0.3)
    assert min_dcf(bonafide, spoof, cost)[0] == pytest.approx(
        reference_min_dcf(bonafide, spoof, 2.0, 1.0, 0.3), abs=1e-6)
    assert 0.0 <= min_dcf(bonafide, spoof)[0] <= 1.0   # never worse than the best trivial system


def test_report_gives_metrics_at_the_eer_threshold_too():
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 2, 200)
    scores = rng.normal(2 * targets - 1 + 3, 1.0)   # offset: threshold 0 calls everything bona fide
    report = classification_report(scores, targets)
    assert report["recall"] == 0.0
    assert report["at_eer_threshold"]["recall"] > 0.5
    assert report["at_eer_threshold"]["threshold"] == report["eer_threshold"]
