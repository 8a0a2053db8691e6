"""Detection metrics: hand-computed cases, brute-force references written from the published
ASVspoof 5 definitions, and the interpolated EER against scikit-learn's ROC curve."""
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from sklearn.metrics import f1_score, precision_score, recall_score, roc_curve

from detector.metrics.detection import (
    DetectionCost,
    act_dcf,
    classification_report,
    cllr,
    det_curve,
    detection_metrics,
    equal_error_rate,
    interpolated_eer,
    min_dcf,
    per_group_metrics,
    ranked_det_curve,
    seen_unseen_metrics,
    within_group_metrics,
)
from detector.metrics.report import format_metrics, seen_unseen_line

EXACT = 1e-12   # rates are ratios of trial counts: only float rounding separates two correct computations


# ---------------------------------------------------------------- references from the published definitions

def reference_ranked_points(bonafide, spoof):
    """ASVspoof's DET points by counting: rank the trials by score, bona fide before spoof among
    equal scores; point k rejects the k lowest. Returns [(miss, false_alarm, lowest accepted score)]."""
    trials = sorted([(float(s), 0) for s in bonafide] + [(float(s), 1) for s in spoof])   # 0 = bona fide
    points = []
    for k in range(len(trials) + 1):
        rejected = trials[:k]
        miss = sum(1 for _, kind in rejected if kind == 0) / len(bonafide)
        false_alarm = (len(spoof) - sum(1 for _, kind in rejected if kind == 1)) / len(spoof)
        points.append((miss, false_alarm, trials[k][0] if k < len(trials) else math.inf))
    return points


def reference_asvspoof_eer(bonafide, spoof):
    """The first point with the smallest |miss - false alarm|; EER = the mean of its two rates."""
    best = None
    for miss, false_alarm, threshold in reference_ranked_points(bonafide, spoof):
        if best is None or abs(miss - false_alarm) < abs(best[0] - best[1]):
            best = (miss, false_alarm, threshold)
    return (best[0] + best[1]) / 2, best[2]


def reference_package_min_dcf(bonafide, spoof, c_miss=1.0, c_fa=10.0, p_spoof=0.05):
    """As the package: the smallest cost over every ranked point, tie-splitting ones included."""
    costs = [c_miss * (1 - p_spoof) * miss + c_fa * p_spoof * fa for miss, fa, _ in
             reference_ranked_points(bonafide, spoof)]
    return min(costs) / min(c_miss * (1 - p_spoof), c_fa * p_spoof)


def reference_threshold_min_dcf(bonafide, spoof, c_miss=1.0, c_fa=10.0, p_spoof=0.05):
    """Brute force over every threshold a system can use: each score, and above them all."""
    best = np.inf
    for threshold in np.r_[np.unique(np.r_[bonafide, spoof]), np.inf]:
        best = min(best, c_miss * (1 - p_spoof) * np.mean(bonafide < threshold)
                   + c_fa * p_spoof * np.mean(spoof >= threshold))
    return best / min(c_miss * (1 - p_spoof), c_fa * p_spoof)


def reference_act_dcf(bonafide, spoof, c_miss=1.0, c_fa=10.0, p_spoof=0.05):
    threshold = -math.log(c_miss * (1 - p_spoof) / (c_fa * p_spoof))
    miss = sum(s < threshold for s in bonafide) / len(bonafide)
    false_alarm = sum(s >= threshold for s in spoof) / len(spoof)
    return (c_miss * (1 - p_spoof) * miss + c_fa * p_spoof * false_alarm) / min(c_miss * (1 - p_spoof), c_fa * p_spoof)


def reference_cllr(bonafide, spoof):
    """Cllr in bits for natural-log LLR scores (moderate scores only: math.exp must not overflow)."""
    bonafide_cost = sum(math.log2(1 + math.exp(-s)) for s in bonafide) / len(bonafide)
    spoof_cost = sum(math.log2(1 + math.exp(s)) for s in spoof) / len(spoof)
    return (bonafide_cost + spoof_cost) / 2


def reference_interpolated_eer(bonafide, spoof):
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


def random_trials(rng, decimals):
    """Overlapping classes of random sizes; rounding to ``decimals`` makes ties (None: no rounding)."""
    bonafide = rng.normal(1.0, 1.5, rng.integers(1, 120))
    spoof = rng.normal(-0.5, 1.5, rng.integers(1, 120))
    return (bonafide, spoof) if decimals is None else (np.round(bonafide, decimals), np.round(spoof, decimals))


# ---------------------------------------------------------------- hand-computed cases

def test_three_bonafide_three_spoof_by_hand():
    bonafide, spoof = np.array([-1.0, 2.0, 3.0]), np.array([-2.0, -0.5, 1.0])
    # Ranked: -2 s, -1 b, -0.5 s, 1 s, 2 b, 3 b. Point k rejects the k lowest:
    #   k    0    1    2    3    4    5    6
    #   miss 0    0    1/3  1/3  1/3  2/3  1
    #   fa   1    2/3  2/3  1/3  0    0    0
    # |miss - fa| is 0 first at k = 3: EER 1/3, lowest accepted score 1. No ties, so the
    # interpolated crossing is the same point.
    assert equal_error_rate(bonafide, spoof) == pytest.approx((1 / 3, 1.0), abs=EXACT)
    assert interpolated_eer(bonafide, spoof) == pytest.approx((1 / 3, 1.0), abs=EXACT)
    # DCF = (0.95 miss + 0.5 fa) / min(0.95, 0.5): at threshold -1 (k=1) 0.5*(2/3)/0.5 = 2/3;
    # at 2 (k=4) 0.95*(1/3)/0.5 = 19/30, the smallest of the seven points.
    assert min_dcf(bonafide, spoof) == pytest.approx((19 / 30, 2.0), abs=EXACT)
    # Bayes threshold -log(0.95 / 0.5) = -0.642: bona fide -1 is missed (1/3), spoofs -0.5 and 1
    # are accepted (2/3): (0.95/3 + 0.5*2/3) / 0.5 = 1.3, worse than accepting everything.
    assert DetectionCost().bayes_threshold == pytest.approx(-math.log(1.9), abs=EXACT)
    assert act_dcf(bonafide, spoof) == pytest.approx(1.3, abs=EXACT)
    assert cllr(bonafide, spoof) == pytest.approx(reference_cllr(bonafide, spoof), abs=EXACT)


def test_tied_scores_official_eer_differs_from_interpolated_by_hand():
    bonafide, spoof = np.array([1.0, 1.0]), np.array([0.0, 1.0])
    # Ranked (bona fide first among the three 1s): 0 s, 1 b, 1 b, 1 s.
    #   k    0    1    2    3    4
    #   miss 0    0    1/2  1    1
    #   fa   1    1/2  1/2  1/2  0
    # The closest rates are at k = 2 (inside the run of 1s): official EER (1/2 + 1/2)/2 = 1/2.
    # Reachable points (thresholds 0, 1, above 1): miss 0, 0, 1 and fa 1, 1/2, 0; the gap
    # miss - fa goes -1/2 -> +1 between the last two, crossing a third of the way:
    # interpolated EER 0 + (1/3)(1 - 0) = 1/3.
    assert equal_error_rate(bonafide, spoof) == pytest.approx((0.5, 1.0), abs=EXACT)
    assert interpolated_eer(bonafide, spoof)[0] == pytest.approx(1 / 3, abs=EXACT)


def test_all_equal_scores_by_hand():
    bonafide, spoof = np.zeros(3), np.zeros(2)
    # Ranked: b b b s s. miss 0, 1/3, 2/3, 1, 1, 1; fa 1, 1, 1, 1, 1/2, 0: the rates meet at
    # k = 3 with both 1, so ASVspoof's EER is 1 (ties split against the detector); the
    # interpolated EER runs from (0, 1) straight to (1, 0): 1/2.
    assert equal_error_rate(bonafide, spoof) == pytest.approx((1.0, 0.0), abs=EXACT)
    assert interpolated_eer(bonafide, spoof)[0] == pytest.approx(0.5, abs=EXACT)
    # Accept all: 0.5 * 1 / 0.5 = 1; reject all: 0.95 / 0.5 = 1.9. Score 0 >= -0.642: accepted.
    assert min_dcf(bonafide, spoof)[0] == pytest.approx(1.0, abs=EXACT)
    assert act_dcf(bonafide, spoof) == pytest.approx(1.0, abs=EXACT)
    # log2(1 + e^0) = 1 bit for every trial
    assert cllr(bonafide, spoof) == pytest.approx(1.0, abs=EXACT)
    # one trial each, equal: ranked b s; miss 0, 1, 1; fa 1, 1, 0 -> EER 1 (interpolated 1/2)
    assert equal_error_rate([1.0], [1.0])[0] == 1.0 and interpolated_eer([1.0], [1.0])[0] == 0.5


def test_perfect_and_inverted_separation_by_hand():
    # Ranked s s b b: miss 0 0 0 1/2 1, fa 1 1/2 0 0 0 -> EER 0 at k = 2, lowest accepted 2
    assert equal_error_rate([2.0, 3.0], [0.0, 1.0]) == (0.0, 2.0)
    assert interpolated_eer([2.0, 3.0], [0.0, 1.0])[0] == 0.0
    assert min_dcf([2.0, 3.0], [0.0, 1.0]) == (0.0, 2.0)
    # Ranked b b s s: miss 0 1/2 1 1 1, fa 1 1 1 1/2 0 -> rates meet at k = 2, both 1
    assert equal_error_rate([0.0, 1.0], [2.0, 3.0])[0] == 1.0
    assert interpolated_eer([0.0, 1.0], [2.0, 3.0])[0] == 1.0
    report = classification_report(np.r_[2.0, 3.0, 0.0, 1.0], np.r_[1, 1, 0, 0])
    assert report["at_eer_threshold"]["accuracy"] == 1.0


def test_cllr_and_act_dcf_by_hand():
    # s = ±ln 3: every trial costs log2(1 + 1/3) = 2 - log2 3 bits
    assert cllr([math.log(3)], [-math.log(3)]) == pytest.approx(2 - math.log2(3), abs=EXACT)
    # confident errors: log2(1 + e^1000) = 1000 / ln 2 to double precision, and stays finite
    assert cllr([-1000.0], [1000.0]) == pytest.approx(1000 / math.log(2), rel=1e-12)
    assert cllr([1000.0], [-1000.0]) == pytest.approx(0.0, abs=EXACT)
    # a score exactly at the Bayes threshold is accepted: the bona fide is kept, the spoof passes
    at = DetectionCost().bayes_threshold
    assert act_dcf([at], [at - 1]) == 0.0 and act_dcf([at], [at]) == pytest.approx(1.0, abs=EXACT)
    below = np.nextafter(at, -np.inf)   # rejected: 0.95 * 1 / 0.5 = 1.9
    assert act_dcf([below], [at - 1]) == pytest.approx(1.9, abs=EXACT)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="got 0 bona fide and 1 spoof"):
        equal_error_rate(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="got 2 bona fide and 0 spoof"):
        cllr(np.array([1.0, 2.0]), np.array([]))
    with pytest.raises(ValueError, match="NaN"):
        act_dcf(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(ValueError, match="p_spoof=1.5"):
        DetectionCost(p_spoof=1.5)


# ---------------------------------------------------------------- randomized against the references

@pytest.mark.parametrize("decimals", [None, 1, 0])
@pytest.mark.parametrize("seed", range(15))
def test_metrics_match_the_published_definitions(seed, decimals):
    bonafide, spoof = random_trials(np.random.default_rng(seed), decimals)
    eer, threshold = equal_error_rate(bonafide, spoof)
    assert (eer, threshold) == pytest.approx(reference_asvspoof_eer(bonafide, spoof), abs=EXACT)
    package, reachable = reference_package_min_dcf(bonafide, spoof), reference_threshold_min_dcf(bonafide, spoof)
    assert package == pytest.approx(reachable, abs=EXACT)   # tie-splitting points never win
    dcf, dcf_threshold = min_dcf(bonafide, spoof)
    assert dcf == pytest.approx(package, abs=EXACT)
    cost = DetectionCost()
    assert cost.normalised(np.mean(bonafide < dcf_threshold), np.mean(spoof >= dcf_threshold)) == \
        pytest.approx(dcf, abs=EXACT)   # the threshold reported reaches the minimum
    other = DetectionCost(c_miss=2.0, c_fa=1.0, p_spoof=0.3)
    assert min_dcf(bonafide, spoof, other)[0] == pytest.approx(
        reference_package_min_dcf(bonafide, spoof, 2.0, 1.0, 0.3), abs=EXACT)
    assert act_dcf(bonafide, spoof) == pytest.approx(reference_act_dcf(bonafide, spoof), abs=EXACT)
    assert act_dcf(bonafide, spoof, other) == pytest.approx(reference_act_dcf(bonafide, spoof, 2.0, 1.0, 0.3),
                                                            abs=EXACT)
    assert cllr(bonafide, spoof) == pytest.approx(reference_cllr(bonafide, spoof), abs=1e-9)
    assert interpolated_eer(bonafide, spoof)[0] == pytest.approx(reference_interpolated_eer(bonafide, spoof),
                                                                  abs=1e-6)   # brentq's tolerance


@pytest.mark.parametrize("seed", range(10))
def test_reachable_curve_is_the_ranked_curve_at_distinct_scores(seed):
    bonafide, spoof = random_trials(np.random.default_rng(50 + seed), 0)
    ranked, reachable = ranked_det_curve(bonafide, spoof), det_curve(bonafide, spoof)
    assert ranked.thresholds.size == bonafide.size + spoof.size + 1
    assert list(reachable.thresholds[:-1]) == list(np.unique(np.r_[bonafide, spoof]))
    assert reachable.thresholds[-1] > max(bonafide.max(), spoof.max())
    for threshold, miss, false_alarm in zip(reachable.thresholds, reachable.miss, reachable.false_alarm):
        assert miss == np.mean(bonafide < threshold) and false_alarm == np.mean(spoof >= threshold)


@pytest.mark.parametrize("seed", range(10))
def test_interpolated_eer_threshold_lies_between_the_classes(seed):
    bonafide, spoof = random_trials(np.random.default_rng(80 + seed), 1)
    eer, threshold = interpolated_eer(bonafide, spoof)
    assert 0.0 <= eer <= 1.0 and min(spoof.min(), bonafide.min()) <= threshold <= max(spoof.max(), bonafide.max())


# ---------------------------------------------------------------- reports and breakdowns

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
    assert ((tb + fs, fb + ts) == (report["n_bonafide"], report["n_spoof"])
            == ((targets == 1).sum(), (targets == 0).sum()))
    assert fs == ((targets == 1) & (scores < 0)).sum()


def test_report_carries_every_detection_metric_and_the_eer_threshold_metrics():
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(2 * targets - 1 + 3, 1.0), 1)   # offset: threshold 0 calls everything bona fide
    report = classification_report(scores, targets)
    expected = detection_metrics(scores[targets == 1], scores[targets == 0])
    assert {key: report[key] for key in expected} == expected
    assert report["eer"] == equal_error_rate(scores[targets == 1], scores[targets == 0])[0]
    assert report["eer_interpolated"] == interpolated_eer(scores[targets == 1], scores[targets == 0])[0]
    assert report["dcf_parameters"]["bayes_threshold"] == DetectionCost().bayes_threshold
    assert report["recall"] == 0.0
    assert report["at_eer_threshold"]["recall"] > 0.5
    assert report["at_eer_threshold"]["threshold"] == report["eer_threshold"]


def test_per_system_metrics_use_each_systems_spoofs_against_all_bonafide():
    scores = np.array([5.0, 6.0, 0.0, 1.0, 5.5, 7.0])
    targets = np.array([1, 1, 0, 0, 0, 0])
    systems = np.array(["-", "-", "easy", "easy", "hard", "hard"])
    result = per_group_metrics(scores, targets, systems)
    assert set(result) == {"easy", "hard"}
    assert result["easy"]["eer"] == 0.0
    assert result["hard"] == detection_metrics(np.array([5.0, 6.0]), np.array([5.5, 7.0]))
    cost = DetectionCost(c_fa=1.0)
    assert per_group_metrics(scores, targets, systems, cost=cost)["hard"]["min_dcf"] == \
        min_dcf(np.array([5.0, 6.0]), np.array([5.5, 7.0]), cost)[0]


def test_per_group_metrics_of_bona_fide_groups_use_each_speakers_trials_against_all_spoofs():
    scores = np.array([5.0, 6.0, 0.5, 1.5, 0.0, 1.0])
    targets = np.array([1, 1, 1, 1, 0, 0])
    speakers = np.array(["seen", "seen", "unseen", "unseen", "tts", "tts"])
    result = per_group_metrics(scores, targets, speakers, of_class=1)
    assert set(result) == {"seen", "unseen"} and result["seen"]["eer"] == 0.0
    assert result["unseen"] == detection_metrics(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    assert result["unseen"]["eer"] > 0.0 and result["unseen"]["n_bonafide"] == 2


def test_within_group_metrics_compare_each_groups_own_classes_and_skip_one_class_groups():
    scores = np.array([5.0, 6.0, 0.0, 1.0, 2.0, 3.0, 2.5, 9.0])
    targets = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    channels = np.array(["wide", "wide", "wide", "wide", "narrow", "narrow", "narrow", "spoof-only"])
    result = within_group_metrics(scores, targets, channels)
    assert set(result) == {"wide", "narrow"}
    assert result["wide"]["eer"] == 0.0
    assert result["narrow"] == detection_metrics(np.array([2.0]), np.array([3.0, 2.5]))
    assert result["narrow"]["eer"] > 0.5   # both narrowband spoofs outscore the bona fide clip


def test_terminal_report_shows_every_metric_of_every_breakdown():
    scores = np.array([5.0, 6.0, 0.5, 0.0, 1.0, 5.5])
    targets = np.array([1, 1, 1, 0, 0, 0])
    metrics = classification_report(scores, targets)
    metrics["per_system"] = per_group_metrics(scores, targets, np.array(["-", "-", "-", "a", "a", "b"]))
    metrics["per_bonafide_speaker"] = per_group_metrics(scores, targets, np.array(["x", "y", "y", "", "", ""]), 1)
    text = format_metrics(metrics)
    for line in [line for line in text.splitlines() if line.strip().startswith(("a ", "b ", "x ", "y "))]:
        assert all(word in line for word in ("EER", "interpolated", "minDCF", "actDCF", "Cllr"))
    assert f"{100 * metrics['eer']:6.2f}%" in text and f"Cllr {metrics['cllr']:.4f} bits" in text


def test_seen_unseen_pools_each_side_against_all_of_the_other_class_and_skips_unknown_groups():
    scores = np.array([5.0, 6.0, 0.5, 0.0, 1.0, 5.5, 2.0])
    targets = np.array([1, 1, 1, 0, 0, 0, 0])
    systems = np.array(["-", "-", "-", "old", "old", "new", ""])
    result = seen_unseen_metrics(scores, targets, systems, seen={"old", "gone"})
    assert result["unseen"] == {"names": ["new"], **detection_metrics(scores[:3], np.array([5.5]))}
    assert result["seen"] == {"names": ["old"], **detection_metrics(scores[:3], np.array([0.0, 1.0]))}
    speakers = np.array(["x", "y", "-", "tts", "tts", "tts", "tts"])
    by_speaker = seen_unseen_metrics(scores, targets, speakers, seen={"x", "y"}, of_class=1)
    assert by_speaker["unseen"] == {"names": []}   # "-" is no speaker: in neither pool
    assert by_speaker["seen"]["n_bonafide"] == 2 and by_speaker["seen"]["n_spoof"] == 4
    line = seen_unseen_line({"training_manifest": "m.csv", "systems": result, "bonafide_speakers": by_speaker})
    assert f"unseen 1 EER {100 * result['unseen']['eer']:.2f}%" in line and "bona fide speakers: unseen none" in line
    assert "not summarised" in seen_unseen_line({"training_manifest": "m.csv", "error": "cannot read it"})
