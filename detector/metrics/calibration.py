"""Score calibration: a logistic map from scores to the probability of bona fide.

Fitted on the validation split at training time and stored in the checkpoint. The identity
calibration (scale 1, offset 0) is the model's own softmax probability, since the score is
the difference of the two logits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class Calibration:
    scale: float = 1.0
    offset: float = 0.0

    def probability(self, scores: np.ndarray) -> np.ndarray:
        """P(bona fide | score) = sigmoid(scale * score + offset)."""
        return 1.0 / (1.0 + np.exp(-(self.scale * np.asarray(scores, float) + self.offset)))

    def threshold(self, probability: float = 0.5) -> float:
        """The score at which the calibrated probability of bona fide equals ``probability``."""
        return float((np.log(probability / (1 - probability)) - self.offset) / self.scale)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_calibration(scores: np.ndarray, targets: np.ndarray) -> Calibration:
    """Logistic regression of the target (1 = bona fide) on the score, unregularised.

    A fit that would reverse the score's direction (negative scale: a model worse than
    chance on validation) falls back to the identity, which keeps "higher = more bona fide".
    """
    scores, targets = np.asarray(scores, float).reshape(-1, 1), np.asarray(targets, int)
    if len(set(targets.tolist())) < 2:
        raise ValueError("calibration needs validation scores of both classes")
    weights, bias = fit_logistic(scores, targets)
    scale, offset = float(weights[0]), bias
    return Calibration(scale, offset) if scale > 0 else Calibration()


def fit_logistic(features: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None,
                 tol: float = 1e-4) -> tuple[np.ndarray, float]:
    """``(weights (n_features,), bias)`` of the logistic regression of ``targets`` (n,), 1 = bona fide,
    on ``features`` (n, n_features): P(bona fide) = sigmoid(features @ weights + bias).

    Effectively unregularised (scikit-learn's L2 with C = 1e6, lbfgs). ``sample_weight`` (n,)
    weighs each trial's log loss; ``tol`` is lbfgs's gradient tolerance. The one logistic fit
    of the project: calibration (one feature) and score fusion (one per system) both use it.
    """
    fit = LogisticRegression(C=1e6, max_iter=1000, tol=tol).fit(
        np.asarray(features, float), np.asarray(targets, int), sample_weight=sample_weight)
    return fit.coef_[0].astype(float), float(fit.intercept_[0])
