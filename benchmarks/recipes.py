"""Training recipes compared on generalisation, the default chosen by code: ``python -m benchmarks.recipes``.

Each recipe of ``--recipes`` (:data:`RECIPES`: ``detector train`` flags on top of the defaults) goes
through :mod:`benchmarks.generalise` with the same corpora, seeds, epochs and folds, into
``OUT/<recipe>/`` (resuming there). Then :func:`decide` applies the rule written before the runs:

    per seed, the mean EER over the generalisation folds -- the home corpus's test clips against
    the spoof systems its training never held, every cross-corpus direction, and every
    leave-one-source-out fold -- and the lowest mean over seeds wins; recipes within one
    standard deviation of it are tied and the fastest to train of those is chosen
    (:func:`benchmarks.evidence.choose`).

Only the folds every recipe has enter the criterion (a recipe run without leave-one-source-out
folds is compared with the others on the rest). It writes ``OUT/recipes.md`` (one row per recipe:
each fold's EER as mean ± std over seeds with its bootstrap 95 % interval, the criterion, the
training time), ``OUT/recipes.csv`` (every generalise row with its recipe) and ``OUT/recipes.png``
(the table's bars), and prints the choice with its reason.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

import numpy as np

from benchmarks import generalise
from benchmarks.evidence import BOOTSTRAP_DRAWS, Candidate, choose, mean_std
from detector.config import LAUNDER_CHAIN, RAWBOOST_IN_CHAIN

# name -> `detector train` flags on top of the code's defaults, each naming its chain against
# LAUNDER_CHAIN (the five-family chain), so that a recipe means the same after the default moves.
# "chain" is that chain alone (the default until this comparison); the others change one thing:
# log-mel instead of CQT; RawBoost's series 1+2 in the chain with the weight of the five together (half
# of the laundered crops, 40 % of all at p=0.8; at weight 1 it would reach 13 %, a dose too small to
# compare); that and three of ASVspoof 5's evaluation codecs, pre-coded and drawn for half of the
# crops (the chain -> + RawBoost -> + RawBoost + codecs ladder); masking.
_CHAIN = ["--launder", LAUNDER_CHAIN]
_RAWBOOST = ["--launder", f"{LAUNDER_CHAIN}; {RAWBOOST_IN_CHAIN}"]
TRAIN_CODECS = "codec:aac:32k; codec:amr:12.2k; mp3:64k"
RECIPES = {"chain": _CHAIN, "logmel": ["--frontend", "logmel", *_CHAIN], "rawboost": _RAWBOOST,
           "rawboost-codecs": [*_RAWBOOST, "--train-codecs", TRAIN_CODECS, "--codec-p", "0.5"],
           "masked": [*_CHAIN, "--augment-mask", "0.6"]}
# The recipe the rule chose over 3 seeds (docs/benchmarks.md#recipes-chosen-by-code): the code's
# defaults are its flags (tested), so `detector train` with no flags trains it.
DEFAULT_RECIPE = "rawboost"


def fold_values(rows: list[dict], seeds) -> dict[str, list[float]]:
    """The generalisation folds of one recipe's generalise rows: fold name -> EER per seed."""
    folds: dict[str, list[float]] = {}
    standard = [r for r in rows if r["protocol"] == "standard" and r["source"] == ""]
    home = standard[0]["train_corpus"] if standard else ""
    if home:
        folds[f"{home} unseen systems"] = generalise.per_seed(rows, seeds, "eer_unseen_systems", protocol="standard",
                                                              train_corpus=home, source="")
    for row in rows:
        if row["protocol"] == "cross":
            name = f"{row['train_corpus']} -> {row['test_corpus']}"
            folds.setdefault(name, generalise.per_seed(rows, seeds, protocol="cross",
                                                       train_corpus=row["train_corpus"],
                                                       test_corpus=row["test_corpus"]))
        elif row["protocol"] == "loso" and row.get("eer", "") != "":
            folds.setdefault(f"without {row['source']}", generalise.per_seed(rows, seeds, protocol="loso",
                                                                             source=row["source"]))
    return folds


def fold_intervals(out: Path, rows: list[dict], seeds) -> dict[str, tuple[float, float]]:
    """Fold name -> the bootstrap 95 % interval of its seed-mean EER from one recipe's runs under
    ``out`` (:func:`benchmarks.generalise.interval`): the home corpus's unseen systems and each
    cross-corpus direction. A fold some seed lacks a score file for, or a held-out source's, gets none."""
    intervals = {}
    standard = [r for r in rows if r["protocol"] == "standard" and r["source"] == ""]
    home = standard[0]["train_corpus"] if standard else ""
    files = generalise.seed_score_files(out, home, home, seeds) if home else []
    names = generalise.unseen_system_names(files[0]) if files else []
    if names:
        intervals[f"{home} unseen systems"] = generalise.interval(files, names)
    for row in rows:
        name = f"{row['train_corpus']} -> {row['test_corpus']}"
        if row["protocol"] == "cross" and name not in intervals:
            files = generalise.seed_score_files(out, row["train_corpus"], row["test_corpus"], seeds)
            if files:
                intervals[name] = generalise.interval(files)
    return intervals


def criterion(folds: dict[str, list[float]], n_seeds: int) -> tuple[float, ...]:
    """Per seed, the mean EER over the folds that seed has."""
    values = []
    for i in range(n_seeds):
        per_fold = [v[i] for v in folds.values() if v[i] == v[i]]   # NaN where a fold lacks that seed
        values.append(sum(per_fold) / len(per_fold) if per_fold else float("nan"))
    return tuple(values)


def training_speed(rows: list[dict]) -> float:
    """Trainings per hour of this recipe's standard runs on the home corpus (the first one's: the
    same corpus for every recipe), from their recorded training seconds: the speed that breaks ties
    (``Candidate.clips_per_s``: higher is faster, the unit does not matter)."""
    standard = [r for r in rows if r["protocol"] == "standard" and r["source"] == ""]
    seconds = [float(r["train_seconds"]) for r in standard if r["train_corpus"] == standard[0]["train_corpus"]
               and r.get("train_seconds", "") != ""]
    return 3600.0 / mean_std(seconds)[0] if seconds else 0.0


def compared_folds(results: dict[str, list[dict]], seeds) -> tuple[dict[str, dict[str, list[float]]], list[str]]:
    """Recipe -> :func:`fold_values`, and the names of the folds every recipe has: only those are
    compared (a criterion over different folds would compare different things)."""
    folds = {name: fold_values(rows, seeds) for name, rows in results.items()}
    names = [f for f in dict.fromkeys(f for per in folds.values() for f in per)
             if all(f in per for per in folds.values())]
    return folds, names


def plot(results: dict[str, list[dict]], seeds, path: Path) -> None:
    """The compared folds and the criterion as grouped bars, one colour per recipe, EER % mean with
    one standard deviation over seeds as error bars."""
    from detector.metrics.plots import pyplot, save_figure

    folds, names = compared_folds(results, seeds)
    groups = names + ["criterion"]
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(3.0 + 1.4 * len(groups), 4.0), dpi=110)
    width = 0.8 / len(results)
    for k, recipe in enumerate(results):
        per_group = [folds[recipe][f] for f in names] + [criterion({f: folds[recipe][f] for f in names}, len(seeds))]
        stats = np.array([mean_std(values) for values in per_group], float) * 100
        axes.bar(np.arange(len(groups)) + (k - (len(results) - 1) / 2) * width, np.nan_to_num(stats[:, 0]), width,
                 yerr=np.nan_to_num(stats[:, 1]), capsize=2, label=recipe, edgecolor="black", linewidth=0.5)
    axes.set_xticks(range(len(groups)), groups, rotation=15, ha="right", fontsize=8)
    axes.set(ylabel="EER (%)")
    axes.legend(fontsize=7, ncols=min(len(results), 5))
    axes.set_title(f"recipes over {len(seeds)} seed(s): mean ± std; lower is better", fontsize=9)
    save_figure(figure, path)


def decide(results: dict[str, list[dict]], seeds,
           intervals: dict[str, dict[str, tuple[float, float]]] | None = None) -> tuple[str, str]:
    """The chosen recipe and the table (markdown) behind it; ``results``: recipe -> generalise rows,
    ``intervals``: recipe -> :func:`fold_intervals` (shown beside the folds' means; not part of the rule)."""
    intervals = intervals or {}
    folds, names = compared_folds(results, seeds)
    candidates = [Candidate(name, criterion({f: folds[name][f] for f in names}, len(seeds)),
                            training_speed(results[name])) for name in results]
    choice = choose(candidates, "EER over the generalisation folds", speed_unit="trainings/h")
    lines = [f"EER % (mean ± std over {len(seeds)} seed{'s' if len(seeds) > 1 else ''}: "
             f"{', '.join(map(str, seeds))}; in brackets the bootstrap 95 % interval of the seed-mean EER, "
             f"{BOOTSTRAP_DRAWS} draws of the test clips), clean test audio.", "",
             "| recipe | " + " | ".join(names) + " | criterion | trainings / h |",
             "|---|" + "---|" * (len(names) + 2)]
    for candidate in candidates:
        cells = [generalise.cell(folds[candidate.name].get(f, [])) for f in names]
        for k, fold in enumerate(names):
            if fold in intervals.get(candidate.name, {}):
                cells[k] += generalise.interval_text(intervals[candidate.name][fold])
        lines.append(f"| {candidate.name} | " + " | ".join(cells)
                     + f" | {generalise.cell(list(candidate.values))} | {candidate.clips_per_s:.1f} |")
    lines += ["", f"**Chosen: {choice.chosen}.** {choice.reason}"]
    return choice.chosen, "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", type=lambda t: t.split(","), default=list(RECIPES),
                        help=f"recipes to compare, of {', '.join(RECIPES)}")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--cross", type=Path)
    parser.add_argument("--both-directions", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="OUT/<recipe>/ per recipe, and the tables")
    parser.add_argument("--sources", default="", help="leave-one-source-out folds of these sources (comma list)")
    parser.add_argument("--no-loso", action="store_true")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--crop-s", type=float, default=0.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", default=os.environ.get("DETECTOR_CACHE", ""))
    parser.add_argument("--no-run", action="store_true",
                        help="decide from the generalise.csv already in OUT/<recipe>/, running nothing")
    args = parser.parse_args(argv)
    unknown = [r for r in args.recipes if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {unknown}; known: {', '.join(RECIPES)}")
    import csv

    from detector.utils.io import atomic_write_csv, atomic_write_text

    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for recipe in args.recipes:
        out = args.out / recipe
        common = ["--manifest", str(args.manifest), "--out", str(out), "--seeds", args.seeds,
                  "--device", args.device, "--train-args=" + shlex.join(RECIPES[recipe])]
        common += ["--cross", str(args.cross)] if args.cross else []
        common += ["--both-directions"] if args.both_directions else []
        common += ["--no-loso"] if args.no_loso else (["--sources", args.sources] if args.sources else [])
        common += ["--epochs", str(args.epochs)] if args.epochs else []
        common += ["--crop-s", str(args.crop_s)] if args.crop_s else []
        common += ["--cache-dir", args.cache_dir] if args.cache_dir else []
        if not args.no_run:
            print(f"== recipe {recipe}: python -m benchmarks.generalise {shlex.join(common)}", flush=True)
            generalise.main(common)
        with open(out / "generalise.csv", newline="") as f:
            results[recipe] = list(csv.DictReader(f))
    chosen, table = decide(results, seeds, {recipe: fold_intervals(args.out / recipe, rows, seeds)
                                            for recipe, rows in results.items()})
    atomic_write_text(args.out / "recipes.md", table + "\n")
    plot(results, seeds, args.out / "recipes.png")
    atomic_write_csv(args.out / "recipes.csv", [{"recipe": name, **row} for name, rows in results.items()
                                                for row in rows], ("recipe",) + generalise.CSV_COLUMNS)
    print(table)
    print(f"chosen: {chosen}")


if __name__ == "__main__":
    main()
