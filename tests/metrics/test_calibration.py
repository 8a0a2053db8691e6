"""Logistic calibration of scores."""
import numpy as np
import pytest

from detector.metrics.calibration import Calibration, fit_calibration


def test_recovers_a_known_logistic_relation():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, 20000)
    targets = (rng.random(scores.size) < 1 / (1 + np.exp(-(0.5 * scores - 1.0)))).astype(int)
    fit = fit_calibration(scores, targets)
    assert fit.scale == pytest.approx(0.5, abs=0.03) and fit.offset == pytest.approx(-1.0, abs=0.05)
    assert fit.probability(np.array([fit.threshold(0.5)]))[0] == pytest.approx(0.5)
    assert fit.threshold(0.5) == pytest.approx(2.0, abs=0.15)


def test_identity_is_the_softmax_and_reversed_fits_fall_back():
    assert Calibration().probability(np.array([0.0, np.log(3)])) == pytest.approx([0.5, 0.75])
    rng = np.random.default_rng(1)
    scores = rng.normal(0, 1, 500)
    assert fit_calibration(scores, (scores < 0).astype(int)) == Calibration()
    with pytest.raises(ValueError, match="both classes"):
        fit_calibration(scores, np.ones(500, int))
