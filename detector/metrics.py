"""Detection metrics on bona fide scores (higher = more bona fide; target 1 = bona fide).

EER follows ASVspoof: the point where the miss rate (bona fide rejected) and the false-alarm
rate (spoof accepted) cross on the DET curve. Ties are handled exactly: the curve is
evaluated only at distinct score values, and the crossing is interpolated linearly between
the two operating points that bracket it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score


@dataclass
class DetCurve:
    thresholds: np.ndarray   # increasing; a trial is accepted as bona fide when score >= threshold
    miss: np.ndarray         # fraction of bona fide trials rejected
    false_alarm: np.ndarray  # fraction of spoof trials accepted


def det_curve(bonafide: np.ndarray, spoof: np.ndarray) -> DetCurve:
    """Miss and false-alarm rates at every distinct score (plus one above the maximum)."""
    bonafide, spoof = np.asarray(bonafide, float), np.asarray(spoof, float)
    if bonafide.size == 0 or spoof.size == 0:
        raise ValueError(f"EER needs both classes: got {bonafide.size} bona fide and {spoof.size} spoof scores")
    if not (np.isfinite(bonafide).all() and np.isfinite(spoof).all()):
        raise ValueError("scores contain NaN or infinite values")
    distinct = np.unique(np.concatenate([bonafide, spoof]))
    thresholds = np.append(distinct, np.inf)
    miss = np.searchsorted(np.sort(bonafide), thresholds, side="left") / bonafide.size
    false_alarm = 1.0 - np.searchsorted(np.sort(spoof), thresholds, side="left") / spoof.size
    return DetCurve(thresholds, miss, false_alarm)


def equal_error_rate(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """``(eer, threshold)``: where miss and false-alarm rates cross, as fractions in [0, 1]."""
    curve = det_curve(bonafide, spoof)
    gap = curve.miss - curve.false_alarm   # rises from -1 (lowest threshold) to +1 (threshold +inf)
    after = int(np.argmax(gap >= 0))       # first operating point at or past the crossing (>= 1)
    if gap[after] == 0:
        return float(curve.miss[after]), float(curve.thresholds[after])
    before = after - 1
    weight = gap[before] / (gap[before] - gap[after])   # in (0, 1)
    eer = curve.miss[before] + weight * (curve.miss[after] - curve.miss[before])
    # Past the highest score the threshold is +inf; report the highest score instead.
    upper = min(curve.thresholds[after], curve.thresholds[-2])
    threshold = curve.thresholds[before] + weight * (upper - curve.thresholds[before])
    return float(eer), float(threshold)


@dataclass(frozen=True)
class DetectionCost:
    """Detection-cost parameters; ASVspoof 5's defaults: C_miss 1, C_fa 10, spoof prior 0.05."""

    c_miss: float = 1.0     # cost of rejecting a bona fide trial
    c_fa: float = 10.0      # cost of accepting a spoof trial
    p_spoof: float = 0.05   # prior probability of a spoof trial

    def as_dict(self) -> dict[str, float]:
        return {"c_miss": self.c_miss, "c_fa": self.c_fa, "p_spoof": self.p_spoof}


def min_dcf(bonafide: np.ndarray, spoof: np.ndarray, cost: DetectionCost = DetectionCost()) -> tuple[float, float]:
    """``(min_dcf, threshold)``: the minimum normalised detection cost over all thresholds.

    DCF(t) = C_miss (1 - P_spoof) P_miss(t) + C_fa P_spoof P_fa(t), divided by the cost of the
    better trivial system, min(C_miss (1 - P_spoof), C_fa P_spoof), as ASVspoof 5 defines it.
    """
    curve = det_curve(bonafide, spoof)
    dcf = cost.c_miss * (1 - cost.p_spoof) * curve.miss + cost.c_fa * cost.p_spoof * curve.false_alarm
    best = int(np.argmin(dcf))
    normaliser = min(cost.c_miss * (1 - cost.p_spoof), cost.c_fa * cost.p_spoof)
    threshold = curve.thresholds[best] if np.isfinite(curve.thresholds[best]) else curve.thresholds[-2]
    return float(dcf[best] / normaliser), float(threshold)


def threshold_metrics(scores: np.ndarray, targets: np.ndarray, threshold: float) -> dict:
    """Accuracy, precision, recall, F1 and the confusion matrix when ``score >= threshold`` is bona fide.

    The positive class of precision/recall/F1 is spoof: detecting a fake is the positive event.
    """
    predicted = (scores >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        1 - targets, 1 - predicted, average="binary", pos_label=1, zero_division=0)
    return {
        "threshold": float(threshold),
        "accuracy": float((predicted == targets).mean()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": confusion_matrix(targets, predicted, labels=[1, 0]).tolist(),
    }


def classification_report(scores: np.ndarray, targets: np.ndarray, threshold: float = 0.0,
                          cost: DetectionCost = DetectionCost()) -> dict:
    """EER, minDCF, ROC AUC, and threshold metrics at ``threshold`` and at the EER threshold.

    A trial is called bona fide when ``score >= threshold``. The top-level accuracy,
    precision, recall, F1 and confusion matrix are those at ``threshold`` (default 0: the
    argmax of the two logits, or a calibrated probability of 0.5 when the caller passes the
    calibrated threshold); ``at_eer_threshold`` repeats them at this set's own EER threshold
    (an oracle operating point, for comparison).
    """
    scores, targets = np.asarray(scores, float), np.asarray(targets, int)
    bonafide, spoof = scores[targets == 1], scores[targets == 0]
    eer, eer_threshold = equal_error_rate(bonafide, spoof)
    dcf, dcf_threshold = min_dcf(bonafide, spoof, cost)
    return {
        "eer": eer,
        "eer_threshold": eer_threshold,
        "min_dcf": dcf,
        "min_dcf_threshold": dcf_threshold,
        "dcf_parameters": cost.as_dict(),
        "roc_auc": float(roc_auc_score(targets, scores)),
        **threshold_metrics(scores, targets, threshold),
        "at_eer_threshold": threshold_metrics(scores, targets, eer_threshold),
        "positive_class": "spoof",
        "confusion_matrix_labels": ["bonafide", "spoof"],   # rows: true, columns: predicted
        "n_bonafide": int(bonafide.size),
        "n_spoof": int(spoof.size),
    }


def within_group_eer(scores: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """EER inside each group that holds both classes (e.g. a recording channel): its bona fide
    trials against its spoof trials. Groups with one class only are left out."""
    scores, targets, groups = np.asarray(scores, float), np.asarray(targets, int), np.asarray(groups)
    result = {}
    for group in sorted(set(groups.tolist())):
        inside = groups == group
        bonafide, spoof = scores[inside & (targets == 1)], scores[inside & (targets == 0)]
        if bonafide.size and spoof.size:
            result[str(group)] = equal_error_rate(bonafide, spoof)[0]
    return result


def per_group_eer(scores: np.ndarray, targets: np.ndarray, groups: np.ndarray, of_class: int = 0) -> dict[str, float]:
    """EER of each group of one class's trials against all trials of the other class.

    ``of_class`` 0 (default): spoof groups, e.g. each system against all bona fide;
    1: bona fide groups, e.g. each speaker against all spoofs.
    """
    scores, targets, groups = np.asarray(scores, float), np.asarray(targets, int), np.asarray(groups)
    others = scores[targets != of_class]
    result = {}
    for group in sorted(set(groups[targets == of_class].tolist())):
        mine = scores[(targets == of_class) & (groups == group)]
        bonafide, spoof = (mine, others) if of_class == 1 else (others, mine)
        result[str(group)] = equal_error_rate(bonafide, spoof)[0]
    return result
