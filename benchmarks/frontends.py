"""The front-ends compared on unseen generators (issue 15): ``python -m benchmarks.frontends``.

For each front-end (log-mel, seed-image, seed-thresholded, LFCC, CQT) it trains ResNet-18 with
``detector train`` and scores it with ``detector evaluate`` (subprocesses: the commands it prints
are the ones that reproduce the table), on one corpus with a test split and held-out systems:

- **standard fold**: the manifest as it is, trained clean (``--launder off``) and with the
  default laundering chain; scored on the test split clean and under one condition of each
  of the laundering study's families (``--conditions``), with the EER of the systems and
  speakers the training split never held (evaluate's ``seen_unseen``);
- **leave-one-system-out**: for each spoof system of the training split, a fold manifest without
  that system's train and val clips (its test clips stay), trained with the default chain and
  scored on the clean test split; the fold's number is the held-out system's EER (bona fide
  test clips against that system's test clips);
- **throughput**: training clips/s of each front-end (default chain + front-end + ResNet-18
  forward, backward and AdamW; warm-up, median, device synchronised), and as a ratio to
  log-mel's in the same run; appended to ``benchmarks/results.csv`` (section ``frontends``).

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
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

FRONTENDS = ("logmel", "seed-image", "seed-thresholded", "lfcc", "cqt")
# One condition of each of the laundering study's families (detector.launder.STUDY_CONDITIONS),
# at its middle severity, plus babble: the noise the detector is most often deployed in.
CONDITIONS = ("clean", "reverb:rt60=0.6", "noise:white:snr=10..10.5", "noise:babble:snr=10..10.5",
              "resample:8000", "mp3:64k", "lowpass:7000")
TRAININGS = ("laundered", "clean")   # the default chain, or --launder off
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
                            *common, *(["--launder", "off"] if run.training == "clean" else []))
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
    values = [float(v) for v in values if v != "" and not np.isnan(float(v))]
    return statistics.fmean(values) if values else float("nan")


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{100 * value:.1f}"


def summarise(rows: list[dict], rates: dict[str, float], args) -> str:
    """The markdown tables (EER in %, means over seeds) and the heatmap PNG of the main table."""
    from detector.metrics.plots import plot_heatmap

    def select(**where):
        return [row for row in rows if all(str(row[key]) == str(value) for key, value in where.items())]

    laundered_conditions = [c for c in CONDITIONS if c != "clean"]
    loso_folds = sorted({row["fold"] for row in rows if row["fold"] != "standard"})
    header = ["front-end", "train clips/s", "test clean, laundered-trained", "test clean, clean-trained",
              "unseen systems", "unseen speakers", f"mean of {len(laundered_conditions)} laundered conditions",
              "leave-one-system-out mean"]
    table, heat = [], []
    for frontend in args.frontends:
        standard = select(frontend=frontend, fold="standard", training="laundered", condition="clean")
        numbers = [_mean(r["eer"] for r in standard),
                   _mean(r["eer"] for r in select(frontend=frontend, fold="standard", training="clean",
                                                   condition="clean")),
                   _mean(r["eer_unseen_systems"] for r in standard),
                   _mean(r["eer_unseen_speakers"] for r in standard),
                   _mean(r["eer"] for c in laundered_conditions
                         for r in select(frontend=frontend, fold="standard", training="laundered", condition=c)),
                   _mean(_mean(r["eer_held_out_system"] for r in select(frontend=frontend, fold=fold))
                         for fold in loso_folds)]
        heat.append(numbers)
        rate = rates.get(frontend, float("nan"))
        table.append([f"`{frontend}`", "–" if np.isnan(rate) else f"{rate:.1f}", *map(_percent, numbers)])
    seeds = f"mean over seeds {', '.join(map(str, args.seeds))}" if len(args.seeds) > 1 else f"seed {args.seeds[0]}"
    lines = [f"EER % (official ASVspoof 5 EER), {seeds}; "
             f"{args.epochs} epochs of {args.crop_s:g} s crops ({args.loso_epochs} in the leave-one-system-out "
             f"folds), best validation-EER epoch.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    if loso_folds:
        lines += ["", "Leave-one-system-out, EER % of the held-out system (trained with the default chain):", "",
                  "| front-end | " + " | ".join(f.removeprefix("loso-") for f in loso_folds) + " | mean |",
                  "|" + "---|" * (len(loso_folds) + 2)]
        for frontend in args.frontends:
            folds = [_mean(r["eer_held_out_system"] for r in select(frontend=frontend, fold=f)) for f in loso_folds]
            lines.append(f"| `{frontend}` | " + " | ".join(map(_percent, folds)) + f" | {_percent(_mean(folds))} |")
    lines += ["", "Standard fold, laundered-trained / clean-trained, EER % per condition (all test trials; "
              "the last two columns: the systems held out of training, on clean audio and averaged over the "
              f"{len(CONDITIONS)} conditions):", "",
              "| front-end | " + " | ".join(CONDITIONS) + " | unseen systems, clean | unseen systems, mean |",
              "|" + "---|" * (len(CONDITIONS) + 3)]
    for frontend in args.frontends:
        def eer(training: str, conditions: tuple[str, ...], column: str = "eer") -> str:
            return _percent(_mean(r[column] for c in conditions
                                  for r in select(frontend=frontend, fold="standard", training=training, condition=c)))

        cells = [f"{eer('laundered', (c,))} / {eer('clean', (c,))}" for c in CONDITIONS]
        cells += [f"{eer('laundered', c, 'eer_unseen_systems')} / {eer('clean', c, 'eer_unseen_systems')}"
                  for c in (("clean",), CONDITIONS)]
        lines.append(f"| `{frontend}` | " + " | ".join(cells) + " |")
    plot_heatmap(100 * np.array(heat), list(args.frontends), header[2:], args.out / "frontends.png",
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
                        help="standard-fold trainings: laundered (default chain), clean (--launder off)")
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
    unknown = sorted(set(args.frontends) - set(FRONTENDS)) + sorted(set(args.trainings) - set(TRAININGS))
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
