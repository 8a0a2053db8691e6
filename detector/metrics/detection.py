"""Detection metrics on bona fide scores (higher = more bona fide; target 1 = bona fide).

Scores are the detector's ``logit[bonafide] - logit[spoof]``, read as natural-log likelihood
ratios. A trial is accepted as bona fide when ``score >= threshold``; every rate is a fraction
in [0, 1]. The definitions follow the ASVspoof 5 evaluation package (``calculate_modules.py``),
so the numbers can be set beside published ASVspoof tables:

* ``eer``: ASVspoof's EER (the same in the 2019/2021 ``eval_metrics.py``). The trials are
  ranked by a stable sort of their scores, with bona fide trials before spoof trials among
  equal scores; operating point k rejects the k lowest-ranked trials, and the EER is the mean
  of the miss and false-alarm rates at the point where they are closest. Inside a run of tied
  scores these points split the tie against the detector, so a detector that gives every
  trial the same score has an EER of 1.
* ``eer_interpolated``: the crossing of the miss and false-alarm rates, interpolated linearly
  between the two thresholds (distinct scores) that bracket it; ties are never split.
* ``min_dcf`` / ``act_dcf``: the normalised detection cost at its best threshold / at the
  Bayes threshold ``-log(beta)`` that the costs and prior imply for calibrated LLR scores.
* ``cllr``: the log-likelihood-ratio cost, in bits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score


def _checked(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bonafide, spoof = np.asarray(bonafide, float).ravel(), np.asarray(spoof, float).ravel()
    if bonafide.size == 0 or spoof.size == 0:
        raise ValueError(f"detection metrics need both classes: got {bonafide.size} bona fide "
                         f"and {spoof.size} spoof scores")
    if not (np.isfinite(bonafide).all() and np.isfinite(spoof).all()):
        raise ValueError("scores contain NaN or infinite values")
    return bonafide, spoof


@dataclass
class DetCurve:
    """Operating points, shape (n_points,) each; point k accepts the trials with score >= thresholds[k]
    (exactly so at reachable points; see :func:`ranked_det_curve` for points inside a tie)."""

    thresholds: np.ndarray   # non-decreasing scores; the last lies just above the highest score
    miss: np.ndarray         # fraction of bona fide trials rejected (non-decreasing)
    false_alarm: np.ndarray  # fraction of spoof trials accepted (non-increasing)


def ranked_det_curve(bonafide: np.ndarray, spoof: np.ndarray) -> DetCurve:
    """ASVspoof's DET curve: n_trials + 1 points, point k rejecting the k lowest-ranked trials.

    Trials are ranked by a stable (merge) sort of the bona fide scores followed by the spoof
    scores, so among equal scores bona fide trials rank lower and are rejected first, as in
    ASVspoof's ``compute_det_curve``. A point inside a run of tied scores rejects only part of
    the run, which no threshold can do; its threshold is the tied score, which accepts the
    whole run. (ASVspoof reports the highest rejected score as a point's threshold; here it is
    the lowest accepted one, so that ``score >= threshold`` holds everywhere in this module.)
    """
    bonafide, spoof = _checked(bonafide, spoof)
    scores = np.concatenate([bonafide, spoof])
    order = np.argsort(scores, kind="mergesort")
    ranked_bonafide = (order < bonafide.size).astype(float)   # bona fide trials are the first block
    rejected_bonafide = np.concatenate([[0.0], np.cumsum(ranked_bonafide)])
    rejected_spoof = np.arange(scores.size + 1) - rejected_bonafide
    thresholds = np.append(scores[order], np.nextafter(scores.max(), np.inf))
    return DetCurve(thresholds, rejected_bonafide / bonafide.size, (spoof.size - rejected_spoof) / spoof.size)


def det_curve(bonafide: np.ndarray, spoof: np.ndarray) -> DetCurve:
    """The points of :func:`ranked_det_curve` a threshold can reach: one per distinct score, plus
    one just above the highest score (everything rejected)."""
    ranked = ranked_det_curve(bonafide, spoof)
    reachable = np.concatenate([[True], ranked.thresholds[1:] != ranked.thresholds[:-1]])
    return DetCurve(ranked.thresholds[reachable], ranked.miss[reachable], ranked.false_alarm[reachable])


def equal_error_rate(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """``(eer, threshold)`` as ASVspoof defines them (see :func:`ranked_det_curve`).

    The point is the first of those where |miss - false alarm| is smallest, and the EER is the
    mean of its two rates; ``threshold`` is the lowest score that point accepts.
    """
    curve = ranked_det_curve(bonafide, spoof)
    best = int(np.argmin(np.abs(curve.miss - curve.false_alarm)))
    return float((curve.miss[best] + curve.false_alarm[best]) / 2), float(curve.thresholds[best])


def interpolated_eer(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """``(eer, threshold)`` where the miss and false-alarm rates cross on the reachable DET curve.

    The crossing is interpolated linearly (rates and threshold alike) between the two reachable
    points that bracket it, so ties are never split and the result moves continuously with
    the scores.
    """
    curve = det_curve(bonafide, spoof)
    gap = curve.miss - curve.false_alarm   # rises from -1 (everything accepted) to +1 (everything rejected)
    after = int(np.argmax(gap >= 0))       # first point at or past the crossing (>= 1)
    if gap[after] == 0:
        return float(curve.miss[after]), float(curve.thresholds[after])
    before = after - 1
    weight = gap[before] / (gap[before] - gap[after])   # in (0, 1)
    eer = curve.miss[before] + weight * (curve.miss[after] - curve.miss[before])
    threshold = curve.thresholds[before] + weight * (curve.thresholds[after] - curve.thresholds[before])
    return float(eer), float(threshold)


@dataclass(frozen=True)
class DetectionCost:
    """Detection-cost parameters; ASVspoof 5's: C_miss 1, C_fa 10, spoof prior 0.05."""

    c_miss: float = 1.0     # cost of rejecting a bona fide trial
    c_fa: float = 10.0      # cost of accepting a spoof trial
    p_spoof: float = 0.05   # prior probability of a spoof trial

    def __post_init__(self):
        if not (self.c_miss > 0 and self.c_fa > 0 and 0 < self.p_spoof < 1):
            raise ValueError(f"detection costs must be positive and the spoof prior in (0, 1): got {self}")

    def normalised(self, miss, false_alarm):
        """C_miss (1 - P_spoof) P_miss + C_fa P_spoof P_fa, divided by the cost of the better
        trivial system (accept all or reject all), min(C_miss (1 - P_spoof), C_fa P_spoof)."""
        cost = self.c_miss * (1 - self.p_spoof) * miss + self.c_fa * self.p_spoof * false_alarm
        return cost / min(self.c_miss * (1 - self.p_spoof), self.c_fa * self.p_spoof)

    @property
    def bayes_threshold(self) -> float:
        """-log(beta), beta = C_miss (1 - P_spoof) / (C_fa P_spoof): the LLR above which accepting
        a trial as bona fide costs less on average than rejecting it (-log 1.9 for ASVspoof 5)."""
        return -math.log(self.c_miss * (1 - self.p_spoof) / (self.c_fa * self.p_spoof))

    def as_dict(self) -> dict[str, float]:
        return {"c_miss": self.c_miss, "c_fa": self.c_fa, "p_spoof": self.p_spoof,
                "bayes_threshold": self.bayes_threshold}


def min_dcf(bonafide: np.ndarray, spoof: np.ndarray, cost: DetectionCost = DetectionCost()) -> tuple[float, float]:
    """``(min_dcf, threshold)``: the smallest normalised detection cost over all thresholds.

    ASVspoof's package minimises over its ranked curve, whose tie-splitting points never cost
    less than a reachable point beside them (there the miss rate rises at the run's highest
    false-alarm rate, then the false-alarm rate falls at its highest miss rate), so the
    reachable points give the same minimum.
    """
    curve = det_curve(bonafide, spoof)
    dcf = cost.normalised(curve.miss, curve.false_alarm)
    best = int(np.argmin(dcf))
    return float(dcf[best]), float(curve.thresholds[best])


def act_dcf(bonafide: np.ndarray, spoof: np.ndarray, cost: DetectionCost = DetectionCost()) -> float:
    """Normalised detection cost at ``cost.bayes_threshold``: what the scores cost when read as
    natural-log LLRs and acted upon. 0 is perfect; above 1 is worse than a trivial system."""
    bonafide, spoof = _checked(bonafide, spoof)
    threshold = cost.bayes_threshold
    return float(cost.normalised(np.mean(bonafide < threshold), np.mean(spoof >= threshold)))


def cllr(bonafide: np.ndarray, spoof: np.ndarray) -> float:
    """Log-likelihood-ratio cost in bits, scores read as natural-log LLRs:

    (mean log2(1 + e^-s) over bona fide + mean log2(1 + e^s) over spoof) / 2.

    0 for perfect, confident scores; 1 for scores that are all 0 (no information); unbounded
    above for confident errors. ``logaddexp`` keeps it finite for large scores.
    """
    bonafide, spoof = _checked(bonafide, spoof)
    bits = (np.mean(np.logaddexp(0.0, -bonafide)) + np.mean(np.logaddexp(0.0, spoof))) / (2 * math.log(2))
    return float(bits)


def detection_metrics(bonafide: np.ndarray, spoof: np.ndarray, cost: DetectionCost = DetectionCost()) -> dict:
    """The detection metrics of one set of trials (see the module docstring for each).

    ``bonafide`` (n_bonafide,) and ``spoof`` (n_spoof,) are scores. Returns ``eer``,
    ``eer_interpolated``, ``min_dcf``, ``act_dcf`` (fractions / normalised costs), ``cllr``
    (bits), ``eer_threshold`` and ``min_dcf_threshold`` (score units), and the two counts.
    """
    eer, eer_threshold = equal_error_rate(bonafide, spoof)
    dcf, dcf_threshold = min_dcf(bonafide, spoof, cost)
    return {
        "eer": eer,
        "eer_threshold": eer_threshold,
        "eer_interpolated": interpolated_eer(bonafide, spoof)[0],
        "min_dcf": dcf,
        "min_dcf_threshold": dcf_threshold,
        "act_dcf": act_dcf(bonafide, spoof, cost),
        "cllr": cllr(bonafide, spoof),
        "n_bonafide": int(np.size(bonafide)),
        "n_spoof": int(np.size(spoof)),
    }


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
    """:func:`detection_metrics`, ROC AUC, and threshold metrics at ``threshold`` and at the EER threshold.

    ``scores`` and ``targets`` have shape (n_trials,). A trial is called bona fide when
    ``score >= threshold``. The top-level accuracy, precision, recall, F1 and confusion matrix
    are those at ``threshold`` (default 0: the argmax of the two logits, or a calibrated
    probability of 0.5 when the caller passes the calibrated threshold); ``at_eer_threshold``
    repeats them at this set's own EER threshold (an oracle operating point, for comparison).
    """
    scores, targets = np.asarray(scores, float), np.asarray(targets, int)
    metrics = detection_metrics(scores[targets == 1], scores[targets == 0], cost)
    return {
        **metrics,
        "dcf_parameters": cost.as_dict(),
        "roc_auc": float(roc_auc_score(targets, scores)),
        **threshold_metrics(scores, targets, threshold),
        "at_eer_threshold": threshold_metrics(scores, targets, metrics["eer_threshold"]),
        "positive_class": "spoof",
        "confusion_matrix_labels": ["bonafide", "spoof"],   # rows: true, columns: predicted
    }


def within_group_metrics(scores: np.ndarray, targets: np.ndarray, groups: np.ndarray,
                         cost: DetectionCost = DetectionCost()) -> dict[str, dict]:
    """:func:`detection_metrics` inside each group that holds both classes (e.g. a recording
    channel): its bona fide trials against its spoof trials. Groups with one class only are
    left out. All arrays have shape (n_trials,)."""
    scores, targets, groups = np.asarray(scores, float), np.asarray(targets, int), np.asarray(groups)
    result = {}
    for group in sorted(set(groups.tolist())):
        inside = groups == group
        bonafide, spoof = scores[inside & (targets == 1)], scores[inside & (targets == 0)]
        if bonafide.size and spoof.size:
            result[str(group)] = detection_metrics(bonafide, spoof, cost)
    return result


def per_group_metrics(scores: np.ndarray, targets: np.ndarray, groups: np.ndarray, of_class: int = 0,
                      cost: DetectionCost = DetectionCost()) -> dict[str, dict]:
    """:func:`detection_metrics` of each group of one class's trials against all trials of the other class.

    ``of_class`` 0 (default): spoof groups, e.g. each system against all bona fide;
    1: bona fide groups, e.g. each speaker against all spoofs. All arrays have shape (n_trials,).
    """
    scores, targets, groups = np.asarray(scores, float), np.asarray(targets, int), np.asarray(groups)
    others = scores[targets != of_class]
    result = {}
    for group in sorted(set(groups[targets == of_class].tolist())):
        mine = scores[(targets == of_class) & (groups == group)]
        bonafide, spoof = (mine, others) if of_class == 1 else (others, mine)
        result[str(group)] = detection_metrics(bonafide, spoof, cost)
    return result


def seen_unseen_metrics(scores: np.ndarray, targets: np.ndarray, groups: np.ndarray, seen: set[str],
                        of_class: int = 0, cost: DetectionCost = DetectionCost()) -> dict[str, dict]:
    """One class's trials pooled by whether their group is in ``seen`` (e.g. the spoof systems of
    the training split), each pool against all trials of the other class.

    Returns ``{"unseen": {...}, "seen": {...}}``, each ``{"names": sorted groups, **detection_metrics}``,
    or only ``{"names": []}`` for a pool without trials. Trials whose group is "" or "-" (not
    known) are in neither pool. ``of_class`` as in :func:`per_group_metrics`; arrays (n_trials,).
    """
    scores, targets, groups = np.asarray(scores, float), np.asarray(targets, int), np.asarray(groups)
    others = scores[targets != of_class]
    mine = (targets == of_class) & ~np.isin(groups, ["", "-"])
    known = np.isin(groups, sorted(seen))
    result = {}
    for pool, inside in (("unseen", mine & ~known), ("seen", mine & known)):
        result[pool] = {"names": sorted(set(groups[inside].tolist()))}
        if inside.any():
            bonafide, spoof = (scores[inside], others) if of_class == 1 else (others, scores[inside])
            result[pool].update(detection_metrics(bonafide, spoof, cost))
    return result
