"""The front-ends compared on unseen generators (issue 15): ``python -m benchmarks.frontends``.

For each front-end (log-mel, seed-image, seed-thresholded, LFCC, CQT) it trains ResNet-18 with
``detector train`` and scores it with ``detector evaluate`` (subprocesses: the commands it prints
are the ones that reproduce the table), on one corpus with a test split and held-out systems:

- **standard fold**: the manifest as it is, trained with each recipe of ``--trainings`` (by default
  clean, ``--launder off``, and with the default laundering chain; also ``masked`` and ``rawboost``,
  see :data:`RECIPES`); scored on the test split clean and under one condition of each
  of the laundering study's families (``--conditions``), with the EER of the systems and
  speakers the training split never held (evaluate's ``seen_unseen``);
- **leave-one-system-out**: for each spoof system of the training split, a fold manifest without
  that system's train and val clips (its test clips stay), trained with the default chain and
  scored on the clean test split; the fold's number is the held-out system's EER (bona fide
  test clips against that system's test clips);
- **throughput**: training clips/s of each front-end (default chain + front-end + ResNet-18
  forward, backward and AdamW; warm-up, median, device synchronised), and as a ratio to
  log-mel's in the same run; appended to ``benchmarks/results.csv`` (section ``frontends``).

With several ``--seeds`` every table gives mean ± standard deviation over seeds, and the clean test
EER a bootstrap 95 % interval (:mod:`benchmarks.evidence`); the default front-end and recipe are
then chosen by :func:`benchmarks.evidence.choose`, a rule written before the runs (see
:func:`decide`), and the choice is printed with its reason under the tables.

Everything lands under ``--out``: ``folds/`` (fold manifests, absolute audio paths),
``runs/<fold>/<frontend>-<training>-s<seed>/`` (run folders, with ``eval/metrics.json``),
``frontends.csv`` (one row per run and condition), ``frontends.md`` (the tables) and
``frontends.png`` (the main table as a heatmap) and ``throughput.json`` (measured first, while the
machine is idle). A rerun resumes: the throughput, finished trainings and evaluations newer than
their checkpoint are reused, unfinished trainings continue (``--resume``).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.evidence import BOOTSTRAP_DRAWS, Candidate, bootstrap_eer_interval, choose, format_percent, mean_std
from detector.config import TrainConfig

FRONTENDS = ("logmel", "seed-image", "seed-thresholded", "lfcc", "cqt")
# One condition of each of the laundering study's families (detector.launder.STUDY_CONDITIONS),
# at its middle severity, plus babble: the noise the detector is most often deployed in.
CONDITIONS = ("clean", "reverb:rt60=0.6", "noise:white:snr=10..10.5", "noise:babble:snr=10..10.5",
              "resample:8000", "mp3:64k", "lowpass:7000")
# The training recipes compared, as `detector train` flags on top of the defaults: the default
# chain, no laundering, the chain with time/frequency masking (WeDefense's p = 0.6), and the chain
# with RawBoost's series 1+2 (rawboost:5, the paper's best ASVspoof 2021 LA system) as one more option.
RECIPES = {"laundered": [], "clean": ["--launder", "off"], "masked": ["--augment-mask", "0.6"],
           "rawboost": ["--launder", f"{TrainConfig().launder}; rawboost:5"]}
TRAININGS = ("laundered", "clean")   # the recipes run by default
CSV_COLUMNS = ("frontend", "training", "fold", "seed", "condition", "eer", "min_dcf", "act_dcf", "cllr",
               "eer_seen_systems", "eer_unseen_systems", "eer_unseen_speakers", "eer_held_out_system",
               "best_epoch", "train_seconds")


@dataclass(frozen=True)
class Run:
    """One training: a front-end, a training mode, a fold (``standard`` or ``loso-<system>``), a seed."""
    frontend: str
    training: str
    fold: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.frontend}-{self.training}-s{self.seed}"

    @property
    def held_out(self) -> str:
        """The system a leave-one-system-out fold trains without ("" for the standard fold)."""
        return self.fold.removeprefix("loso-") if self.fold.startswith("loso-") else ""


def write_folds(manifest: Path, out: Path) -> dict[str, Path]:
    """``{"standard": manifest, "loso-<system>": fold manifest}`` for every spoof system of the training split.

    A fold manifest holds every row but the held-out system's train and val rows, with absolute
    audio paths (it lives under ``out``); its test split is the corpus's, whole.
    """
    from detector.data.manifest import read_manifest, write_relocated_manifest

    corpus = read_manifest(manifest)
    systems = sorted({row.system for row in corpus.rows if row.split == "train" and row.label == "spoof"})
    if len(systems) < 2:
        raise SystemExit(f"{manifest}: leave-one-system-out needs at least 2 spoof systems in the train split, "
                         f"found {systems}")
    folds = {"standard": manifest}
    for system in systems:
        path = out / "folds" / f"loso-{system}.csv"
        # Rewritten every run (same rows, same bytes, same waveform cache), so it follows a changed corpus.
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = [row for row in corpus.rows if not (row.system == system and row.split in ("train", "val"))]
        write_relocated_manifest(corpus, kept, path)
        folds[f"loso-{system}"] = path
    return folds


def plan_runs(folds: dict[str, Path], args) -> list[Run]:
    """The standard fold with both trainings, then each leave-one-system-out fold with the default chain."""
    runs = [Run(f, t, "standard", s) for s in args.seeds for t in args.trainings for f in args.frontends]
    if args.loso:
        runs += [Run(f, "laundered", fold, s) for s in args.seeds for fold in folds if fold != "standard"
                 for f in args.frontends]
    return runs


def _detector(*words: str) -> list[str]:
    return [sys.executable, "-m", "detector", *words]


def _call(command: list[str], log: Path) -> None:
    """Run one detector command, its output appended to ``log``; print it, so a reader can rerun it."""
    tqdm.write("$ " + " ".join(command))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}), see {log}: {' '.join(command)}")


def _history(run_dir: Path) -> list[dict]:
    """The rows of a run's history.csv (one per finished epoch), [] before the first."""
    path = run_dir / "history.csv"
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def train_and_evaluate(run: Run, manifest: Path, args) -> dict:
    """Train ``run`` (or finish it) and evaluate its best checkpoint; returns evaluate's metrics.json."""
    run_dir = args.out / "runs" / run.fold / run.name
    common = ["--manifest", str(manifest), "--allow-outside-root", "--device", args.device]
    if args.cache_dir:
        common += ["--cache-dir", args.cache_dir]
    epochs = args.epochs if run.fold == "standard" else args.loso_epochs
    if len(_history(run_dir)) < epochs:
        command = _detector("train", "--out", str(run_dir), "--frontend", run.frontend, "--epochs", str(epochs),
                            "--patience", str(epochs), "--crop-s", str(args.crop_s), "--seed", str(run.seed),
                            *common, *RECIPES[run.training])
        if (run_dir / "last.pt").exists():
            command.append("--resume")
        _call(command, run_dir / "log.txt")
    metrics = run_dir / "eval" / "metrics.json"
    conditions = CONDITIONS if run.fold == "standard" else ("clean",)
    if not _evaluated(metrics, run_dir / "best.pt", conditions):
        _call(_detector("evaluate", "--checkpoint", str(run_dir / "best.pt"), "--out", str(metrics.parent),
                        "--conditions", ",".join(conditions), *common), run_dir / "log.txt")
    return json.loads(metrics.read_text())


def _evaluated(metrics: Path, checkpoint: Path, conditions: tuple[str, ...]) -> bool:
    """Whether ``metrics`` scored this ``checkpoint`` (it is newer) under exactly ``conditions``."""
    if not metrics.exists() or metrics.stat().st_mtime < checkpoint.stat().st_mtime:
        return False
    return json.loads(metrics.read_text()).get("conditions") == list(conditions)


def result_rows(run: Run, metrics: dict, run_dir: Path) -> list[dict]:
    """One CSV row per scored condition of ``run``: EER and costs, seen/unseen pools, the held-out system."""
    history = _history(run_dir)
    best = min(history, key=lambda row: float(row["val_eer"]))
    rows = []
    for condition, report in metrics["per_condition"].items():
        pools = report["seen_unseen"]

        def pooled(kind: str, pool: str) -> float:
            return pools.get(kind, {}).get(pool, {}).get("eer", float("nan"))

        held_out = report["per_system"].get(run.held_out, {}).get("eer", float("nan")) if run.held_out else ""
        rows.append({"frontend": run.frontend, "training": run.training, "fold": run.fold, "seed": run.seed,
                     "condition": condition, "eer": report["eer"], "min_dcf": report["min_dcf"],
                     "act_dcf": report["act_dcf"], "cllr": report["cllr"],
                     "eer_seen_systems": pooled("systems", "seen"), "eer_unseen_systems": pooled("systems", "unseen"),
                     "eer_unseen_speakers": pooled("bonafide_speakers", "unseen"),
                     "eer_held_out_system": held_out, "best_epoch": best["epoch"],
                     "train_seconds": sum(float(row["seconds"]) for row in history)})
    return rows


def measure_throughput(args) -> dict[str, float]:
    """Training clips/s per front-end (the full step: default chain + front-end + ResNet-18 + AdamW)."""
    from benchmarks.results import record
    from benchmarks.run import train_step_rate
    from benchmarks.timing import device_name
    from detector.config import FeatureConfig
    from detector.utils.io import atomic_write_text

    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    rates = {}
    for frontend in args.frontends:
        rates[frontend], _ = train_step_rate(device, args.batch_size, args.crop_s, "auto", True, True, False,
                                             args.repeats, FeatureConfig(frontend=frontend))
        print(f"  {frontend:18s} {rates[frontend]:8.1f} training clips/s", flush=True)
    results = {f"{frontend} train": rate for frontend, rate in rates.items()}
    units = dict.fromkeys(results, "clips/s")
    if "logmel" in rates:
        for frontend, rate in rates.items():
            results[f"{frontend} / logmel"] = rate / rates["logmel"]
            units[f"{frontend} / logmel"] = "ratio"
    record(results, device_name(device), args, benchmark="frontends", unit=units)
    atomic_write_text(args.out / "throughput.json", json.dumps({"device": device_name(device), "clips_per_s": rates}))
    return rates


def _mean(values) -> float:
    return mean_std(values)[0]


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{100 * value:.1f}"


def _score_files(out: Path, frontend: str, training: str, seeds) -> list[Path]:
    return [out / "runs" / "standard" / Run(frontend, training, "standard", seed).name / "eval" / "scores.txt"
            for seed in seeds]


def per_seed(rows: list[dict], column: str, seeds, **where) -> list[float]:
    """Per seed, the mean of ``column`` over the rows matching ``where`` (NaN where none)."""
    values = []
    for seed in seeds:
        matching = [r[column] for r in rows if str(r["seed"]) == str(seed)
                    and all(str(r[key]) == str(value) for key, value in where.items())]
        values.append(_mean(matching))
    return values


def loso_per_seed(rows: list[dict], frontend: str, seeds) -> list[float]:
    """Per seed, the mean over the leave-one-system-out folds of the held-out system's EER."""
    folds = sorted({row["fold"] for row in rows if row["fold"] != "standard"})
    return [_mean(per_seed(rows, "eer_held_out_system", [seed], frontend=frontend, fold=fold)[0] for fold in folds)
            for seed in seeds]


def decide(rows: list[dict], rates: dict[str, float], args) -> list[str]:
    """The coded choices (:func:`benchmarks.evidence.choose`), as lines for the report.

    Front-end: over the front-ends trained with the default chain, the criterion per seed is the
    mean of the leave-one-system-out folds' held-out EERs and the standard fold's unseen-systems
    EER (clean test audio): generalisation to generators not seen in training. Recipe: over the
    recipes of the chosen front-end, the unseen-systems EER averaged over the test conditions.
    """
    lines = []
    frontends = [Candidate(f, tuple(_mean([loso, unseen]) for loso, unseen in zip(
        loso_per_seed(rows, f, args.seeds),
        per_seed(rows, "eer_unseen_systems", args.seeds, frontend=f, fold="standard", training="laundered",
                 condition="clean"))), rates.get(f, 0.0)) for f in args.frontends]
    frontend = choose(frontends, "EER (leave-one-system-out folds and unseen systems)")
    lines.append(f"Front-end by the rule: **{frontend.chosen}** ({frontend.reason}).")
    recipes = [Candidate(t, tuple(per_seed(rows, "eer_unseen_systems", args.seeds, frontend=frontend.chosen,
                                           fold="standard", training=t)), rates.get(frontend.chosen, 0.0))
               for t in args.trainings]
    if len(recipes) > 1:
        recipe = choose(recipes, "unseen-systems EER over the conditions")
        lines.append(f"Recipe by the rule (front-end {frontend.chosen}): **{recipe.chosen}** ({recipe.reason}).")
    return lines


def summarise(rows: list[dict], rates: dict[str, float], args) -> str:
    """The markdown tables (EER in %, mean ± standard deviation over seeds; a bootstrap 95 % interval
    of the clean test EER where the score files are there), the coded choices, and the heatmap PNG."""
    from detector.metrics.plots import plot_heatmap

    seeds = args.seeds
    laundered_conditions = [c for c in CONDITIONS if c != "clean"]
    loso_folds = sorted({row["fold"] for row in rows if row["fold"] != "standard"})
    header = ["front-end", "train clips/s", "test clean, laundered-trained", "95 % interval (bootstrap)",
              "test clean, clean-trained", "unseen systems", "unseen speakers",
              f"mean of {len(laundered_conditions)} laundered conditions", "leave-one-system-out mean"]
    table, heat = [], []
    for frontend in args.frontends:
        standard = {"frontend": frontend, "fold": "standard", "training": "laundered", "condition": "clean"}
        columns = [per_seed(rows, "eer", seeds, **standard),
                   per_seed(rows, "eer", seeds, **{**standard, "training": "clean"}),
                   per_seed(rows, "eer_unseen_systems", seeds, **standard),
                   per_seed(rows, "eer_unseen_speakers", seeds, **standard),
                   [_mean(per_seed(rows, "eer", [seed], frontend=frontend, fold="standard", training="laundered",
                                   condition=c)[0] for c in laundered_conditions) for seed in seeds],
                   loso_per_seed(rows, frontend, seeds)]
        heat.append([_mean(column) for column in columns])
        files = _score_files(args.out, frontend, "laundered", seeds)
        interval = ("–" if not all(path.exists() for path in files) else
                    "{:.1f}–{:.1f}".format(*(100 * x for x in bootstrap_eer_interval(files))))
        rate = rates.get(frontend, float("nan"))
        cells = [format_percent(column) for column in columns]
        table.append([f"`{frontend}`", "–" if np.isnan(rate) else f"{rate:.1f}", cells[0], interval, *cells[1:]])
    described = (f"mean ± standard deviation over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1
                 else f"seed {seeds[0]}")
    lines = [f"EER % (official ASVspoof 5 EER), {described}; "
             f"{args.epochs} epochs of {args.crop_s:g} s crops ({args.loso_epochs} in the leave-one-system-out "
             f"folds), best validation-EER epoch. The interval: test clips resampled {BOOTSTRAP_DRAWS} times "
             "(bona fide and spoof separately), the seed-mean EER's 2.5th-97.5th percentiles.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    if loso_folds:
        lines += ["", "Leave-one-system-out, EER % of the held-out system (trained with the default chain):", "",
                  "| front-end | " + " | ".join(f.removeprefix("loso-") for f in loso_folds) + " | mean |",
                  "|" + "---|" * (len(loso_folds) + 2)]
        for frontend in args.frontends:
            folds = [format_percent(per_seed(rows, "eer_held_out_system", seeds, frontend=frontend, fold=f))
                     for f in loso_folds]
            lines.append(f"| `{frontend}` | " + " | ".join(folds)
                         + f" | {format_percent(loso_per_seed(rows, frontend, seeds))} |")
    trainings = list(getattr(args, "trainings", TRAININGS))
    lines += ["", f"Standard fold, {' / '.join(trainings)}-trained, EER % per condition (all test trials; "
              "the last two columns: the systems held out of training, on clean audio and averaged over the "
              f"{len(CONDITIONS)} conditions):", "",
              "| front-end | " + " | ".join(CONDITIONS) + " | unseen systems, clean | unseen systems, mean |",
              "|" + "---|" * (len(CONDITIONS) + 3)]
    for frontend in args.frontends:
        def eer(training: str, conditions: tuple[str, ...], column: str = "eer") -> str:
            return format_percent([_mean(per_seed(rows, column, [seed], frontend=frontend, fold="standard",
                                                  training=training, condition=c)[0] for c in conditions)
                                   for seed in seeds])

        cells = [" / ".join(eer(t, (c,)) for t in trainings) for c in CONDITIONS]
        cells += [" / ".join(eer(t, c, "eer_unseen_systems") for t in trainings) for c in (("clean",), CONDITIONS)]
        lines.append(f"| `{frontend}` | " + " | ".join(cells) + " |")
    lines += ["", *decide(rows, rates, argparse.Namespace(**{**vars(args), "trainings": trainings}))]
    plot_heatmap(100 * np.array(heat), list(args.frontends), header[2:3] + header[4:], args.out / "frontends.png",
                 title="EER % by front-end")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True,
                        help="a corpus manifest with train/val/test splits (tools/corpus_build --preset large)")
    parser.add_argument("--out", type=Path, required=True, help="folder for folds, runs and the tables")
    parser.add_argument("--frontends", type=lambda t: t.split(","), default=list(FRONTENDS))
    parser.add_argument("--trainings", type=lambda t: t.split(","), default=list(TRAININGS),
                        help=f"standard-fold training recipes, of {', '.join(RECIPES)}: laundered (the default "
                             "chain), clean (--launder off), masked (+ --augment-mask 0.6), rawboost (the chain + "
                             "rawboost:5)")
    parser.add_argument("--seeds", type=lambda t: [int(s) for s in t.split(",")], default=[42])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--loso-epochs", type=int, default=0,
                        help="epochs of the leave-one-system-out trainings (default: --epochs)")
    parser.add_argument("--crop-s", type=float, default=2.0)
    parser.add_argument("--no-loso", dest="loso", action="store_false", help="only the standard fold")
    parser.add_argument("--batch-size", type=int, default=32, help="throughput batch (training uses its default, 32)")
    parser.add_argument("--repeats", type=int, default=5, help="timed throughput steps per front-end")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", default=os.environ.get("DETECTOR_CACHE", ""))
    parser.add_argument("--throughput-only", action="store_true",
                        help="measure the throughput (into OUT/throughput.json, reused by later runs) and stop")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.frontends) - set(FRONTENDS)) + sorted(set(args.trainings) - set(RECIPES))
    if unknown:
        parser.error(f"unknown front-end or training: {', '.join(unknown)}")
    args.loso_epochs = args.loso_epochs or args.epochs

    from detector.utils.io import atomic_write_csv, atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    measured = args.out / "throughput.json"
    if args.throughput_only or not measured.exists():   # measured once: a resumed run keeps the idle figures
        measure_throughput(args)
    if args.throughput_only:
        return
    rates = json.loads(measured.read_text())["clips_per_s"]
    folds = write_folds(args.manifest.resolve(), args.out)
    rows = []
    for run in tqdm(plan_runs(folds, args), desc="front-end runs", unit="run"):
        tqdm.write(f"{run.fold} {run.name}")
        metrics = train_and_evaluate(run, folds[run.fold], args)
        rows += result_rows(run, metrics, args.out / "runs" / run.fold / run.name)
        atomic_write_csv(args.out / "frontends.csv", rows, CSV_COLUMNS)
    table = summarise(rows, rates, args)
    atomic_write_text(args.out / "frontends.md", table)
    print(table)


if __name__ == "__main__":
    main()
