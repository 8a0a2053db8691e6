"""The recipe comparison's rule: folds gathered from generalise rows, the criterion per seed, the choice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.recipes import DEFAULT_RECIPE, RECIPES, criterion, decide, fold_intervals, fold_values
from detector.launder.chain import LaunderChain, parse_codec_variants


def _rows(unseen: list[float], cross: list[float], loso: list[float], seconds: float) -> list[dict]:
    rows = []
    for seed, (u, c, held) in zip((42, 43, 44), zip(unseen, cross, loso)):
        base = {"seed": str(seed), "train_seconds": str(seconds), "note": ""}
        rows.append({**base, "protocol": "standard", "source": "", "train_corpus": "wild", "test_corpus": "wild",
                     "eer": "0.1", "eer_unseen_systems": str(u)})
        rows.append({**base, "protocol": "cross", "source": "", "train_corpus": "wild", "test_corpus": "large",
                     "eer": str(c)})
        rows.append({**base, "protocol": "loso", "source": "sky", "train_corpus": "wild", "test_corpus": "wild",
                     "eer": str(held)})
    return rows


def test_the_folds_are_unseen_systems_cross_corpus_and_held_out_sources():
    folds = fold_values(_rows([0.2, 0.3, 0.4], [0.5, 0.5, 0.5], [0.3, 0.3, 0.3], 60), [42, 43, 44])
    assert folds == {"wild unseen systems": [0.2, 0.3, 0.4], "wild -> large": [0.5, 0.5, 0.5],
                     "without sky": [0.3, 0.3, 0.3]}
    assert criterion(folds, 3) == (1.0 / 3, 1.1 / 3, 1.2 / 3)
    gap = criterion({"a": [0.2, math.nan], "b": [0.4, 0.6]}, 2)
    assert gap == (0.30000000000000004, 0.6)   # a seed missing from one fold: the mean of the others


def test_the_lower_mean_wins_and_a_tie_goes_to_the_faster_recipe():
    worse = _rows([0.30, 0.31, 0.32], [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], seconds=60)
    better = _rows([0.20, 0.21, 0.22], [0.4, 0.4, 0.4], [0.3, 0.3, 0.3], seconds=120)
    chosen, table = decide({"default": worse, "logmel": better}, [42, 43, 44])
    assert chosen == "logmel" and "**Chosen: logmel.**" in table
    # "spread" has the lowest mean (0.383) but a wide spread (std 0.060); "fast" is worse (0.420) but
    # within one standard deviation of it and trains twice as fast: it is chosen.
    spread = _rows([0.07, 0.43, 0.25], [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], seconds=60)
    fast = _rows([0.36, 0.36, 0.36], [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], seconds=30)
    chosen, table = decide({"spread": spread, "fast": fast}, [42, 43, 44])
    assert chosen == "fast" and "120.0 trainings/h" in table
    slow_and_worse = _rows([0.50, 0.50, 0.50], [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], seconds=10)
    assert decide({"spread": spread, "x": slow_and_worse}, [42, 43, 44])[0] == "spread"   # outside the band


def test_only_the_folds_every_recipe_has_are_compared():
    with_loso = _rows([0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.9, 0.9, 0.9], seconds=60)
    without = [row for row in _rows([0.25, 0.25, 0.25], [0.4, 0.4, 0.4], [0.0, 0.0, 0.0], seconds=60)
               if row["protocol"] != "loso"]
    chosen, table = decide({"a": with_loso, "b": without}, [42, 43, 44])
    assert chosen == "a" and "without sky" not in table   # a's bad held-out fold is not held against it


def _config(*flags: str):
    from detector.cli.commands.common import resolve_config
    from detector.cli.main import build_parser

    return resolve_config(build_parser().parse_args(["train", "--out", "r", "--manifest", "m.csv", *flags]))


def test_every_recipe_is_flags_the_trainer_accepts_and_rawboost_gets_half_the_laundered_crops():
    configs = {name: _config(*flags) for name, flags in RECIPES.items()}   # argparse exits on an unknown flag
    assert len({repr(c) for c in configs.values()}) == len(RECIPES), "two recipes train the same thing"
    chain = LaunderChain.from_spec(configs["rawboost"].train.launder)
    odds = np.diff(chain.cumulative.numpy(), prepend=0.0)
    assert chain.conditions[-1].name.startswith("rawboost") and odds[-1] == pytest.approx(0.5)
    codecs = configs["rawboost-codecs"].train
    assert codecs.launder == configs["rawboost"].train.launder and len(parse_codec_variants(codecs.train_codecs)) == 3


def test_the_codes_defaults_are_the_chosen_recipe():
    """`detector train` without flags trains the recipe the rule chose; the others differ from it."""
    defaults = _config()
    assert _config(*RECIPES[DEFAULT_RECIPE]) == defaults
    assert all(_config(*flags) != defaults for name, flags in RECIPES.items() if name != DEFAULT_RECIPE)


def _score_file(path, rng, hard_shift: float):
    """200 bona fide clips, 100 spoof clips of an easy seen system and 100 of a hard unseen one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"b{k} bonafide - clean {rng.normal() + 2:.6f}" for k in range(200)]
    lines += [f"e{k} spoof easy clean {rng.normal() - 4:.6f}" for k in range(100)]
    lines += [f"h{k} spoof hard clean {rng.normal() + hard_shift:.6f}" for k in range(100)]
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "metrics.json").write_text(json.dumps(
        {"seen_unseen": {"systems": {"unseen": {"names": ["hard"]}}}}))


def test_the_intervals_come_from_each_folds_score_files(tmp_path):
    rng = np.random.default_rng(0)
    seeds = [42, 43]
    rows = _rows([0.3, 0.3], [0.2, 0.2], [0.1, 0.1], seconds=60)
    for seed in seeds:
        run = tmp_path / "runs" / "wild" / "standard" / f"s{seed}" / "eval"
        _score_file(run / "wild" / "scores.txt", rng, hard_shift=1.5)     # unseen systems: hard ones
        _score_file(run / "large" / "scores.txt", rng, hard_shift=-4.0)   # the other corpus: easy
    intervals = fold_intervals(tmp_path, rows, seeds)
    assert set(intervals) == {"wild unseen systems", "wild -> large"}, "no interval for held-out sources"
    (low, high), cross_high = intervals["wild unseen systems"], intervals["wild -> large"][1]
    assert 0.2 < low < high < 0.5 and cross_high < 0.05   # only the hard system enters the first
    table = decide({"r": rows}, seeds, {"r": intervals})[1]
    assert "[{:.1f}–{:.1f}]".format(100 * low, 100 * high) in table
    (tmp_path / "runs" / "wild" / "standard" / "s43" / "eval" / "large" / "scores.txt").unlink()
    assert set(fold_intervals(tmp_path, rows, seeds)) == {"wild unseen systems"}, "a seed's scores missing"


def test_the_chart_draws_a_bar_per_recipe_for_each_compared_fold_and_the_criterion(tmp_path, monkeypatch):
    import matplotlib.axes

    from benchmarks.recipes import plot

    results = {"a": _rows([0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.9, 0.9, 0.9], seconds=60),
               "b": [r for r in _rows([0.3, 0.3, 0.3], [0.5, 0.5, 0.5], [0, 0, 0], 60) if r["protocol"] != "loso"]}
    drawn, bar = [], matplotlib.axes.Axes.bar
    monkeypatch.setattr(matplotlib.axes.Axes, "bar",
                        lambda self, x, height, *a, **k: drawn.append(list(height)) or bar(self, x, height, *a, **k))
    plot(results, [42, 43, 44], tmp_path / "r.png")
    assert drawn == [pytest.approx([20, 40, 30]), pytest.approx([30, 50, 40])]   # 2 common folds + criterion
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
