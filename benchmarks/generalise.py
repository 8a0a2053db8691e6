"""Generalisation protocols (issue 20, item 2): ``python -m benchmarks.generalise``.

Trains the default recipe (``detector train``'s defaults, plus ``--train-args``) and scores it
with ``detector evaluate`` (subprocesses: the commands it prints are the ones that reproduce the
tables), clean test audio, for each ``--seeds``:

- **standard**: trained on ``--manifest`` as it is, scored on its test split; also the EER of each
  bona fide source's test clips against all spoof test clips (sources seen in training, and
  test-only ones);
- **leave-one-source-out**, the bona fide twin of :mod:`benchmarks.frontends`' leave-one-system-out:
  for each bona fide source of the training split, a fold manifest without every train and val
  row, bona fide *and* spoof, whose source is the held-out one (its channel is never seen in
  training, not even through the spoofs made from its clips); the test split is the corpus's,
  whole. The fold's number: the EER of the held-out source's bona fide test clips against all
  spoof test clips (:func:`source_eers`, from the fold's scores.txt). A source with no bona fide
  test clips is reported as such, and not trained;
- **cross-corpus**: the standard run on ``--manifest`` scored on ``--cross``'s test split; with
  ``--both-directions`` also the standard run on ``--cross`` scored on its own test split and on
  ``--manifest``'s.

A row's source is its ``--source-column`` (default ``source``). A spoof row's source is that of
the bona fide clip it was made from or paired with (its channel). A manifest without that column
(``large``, the demo corpus) falls back to ``speaker``, and the output says so: there a vocoded
copy carries its bona fide voice's name, a TTS voice its own.

Everything lands under ``--out``: ``folds/<corpus>/`` (fold manifests, absolute audio paths),
``runs/<corpus>/<fold>/s<seed>/`` (run folders; ``eval/<test corpus>/metrics.json`` and
``scores.txt``), ``generalise.csv`` (one row per run, test set, source and seed),
``generalise.md`` (the tables: mean ± standard deviation over seeds, with the number of seeds)
and ``generalise.png`` (the tables' cells as bars). A rerun resumes: finished trainings
(``trained.json``, written when ``detector train`` exits 0) and evaluations newer than their
checkpoint are reused, unfinished trainings continue (``--resume``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.evidence import BOOTSTRAP_DRAWS, bootstrap_eer_interval, format_percent, mean_std
from benchmarks.frontends import _call, _detector, _evaluated, _history

CSV_COLUMNS = ("protocol", "train_corpus", "fold", "source", "test_corpus", "seed", "eer", "min_dcf", "act_dcf",
               "cllr", "n_bonafide", "n_spoof", "eer_whole_test", "eer_unseen_systems", "note", "best_epoch",
               "train_seconds")
NO_TEST_CLIPS = "no test clips"
TEST_ONLY = "test-only source"   # a standard run's per-source row: no bona fide clip of it in the train split
TRAINED = "trained.json"   # written when `detector train` exits 0: the run is finished, early stop or not


# -- sources and folds ------------------------------------------------------------------------------

def resolve_source_column(manifest, column: str | None) -> tuple[str, str]:
    """``(column, note)``: the column that names a row's source in ``manifest`` (a read Manifest).

    ``column`` None: ``source`` where the manifest has it, else ``speaker`` (the note says so).
    A column asked for by name must exist.
    """
    first = manifest.rows[0]
    present = {"speaker", *first.extra}
    if column is None:
        if "source" in present:
            return "source", ""
        return "speaker", (f"{manifest.path} has no `source` column: a row's source is its `speaker` "
                           "(a vocoded spoof carries its bona fide voice's name, a TTS voice its own)")
    if column not in present:
        raise SystemExit(f"{manifest.path}: no column {column!r} for --source-column "
                         f"(columns: path, label, speaker, system, split, {', '.join(first.extra)})")
    return column, ""


def source_of(row, column: str) -> str:
    """The source of a manifest row: its ``column`` value ("" where empty)."""
    value = row.speaker if column == "speaker" else row.extra.get(column, "")
    return "" if value in ("", "-") else value


def train_sources(manifest, column: str) -> set[str]:
    """The bona fide sources of a read manifest's train split (a row without a source is none)."""
    return {source_of(row, column) for row in manifest.rows if row.split == "train" and row.label == "bonafide"} - {""}


@dataclass(frozen=True)
class Fold:
    """One leave-one-source-out fold: the held-out source, its manifest, its bona fide test clips."""
    source: str
    manifest: Path
    n_test_bonafide: int

    @property
    def name(self) -> str:
        return fold_name(self.source)


def fold_name(source: str) -> str:
    """``loso-<source>``, file-name safe."""
    from detector.utils.keys import slug
    return f"loso-{slug(source)}"


def write_source_folds(manifest: Path, out: Path, column: str, only: list[str] | None = None) -> list[Fold]:
    """A :class:`Fold` per bona fide source of ``manifest``'s train split (or those of ``only``).

    A fold manifest (under ``out``, absolute audio paths) holds every row but the train and val
    rows, of either label, whose source is the held-out one; the test split is untouched. It is
    rewritten every run (same rows, same bytes), so it follows a changed corpus.
    """
    from detector.data.manifest import read_manifest, write_relocated_manifest

    corpus = read_manifest(manifest, allow_outside_root=True)
    sources = sorted(train_sources(corpus, column))
    if only:
        unknown = sorted(set(only) - set(sources))
        if unknown:
            raise SystemExit(f"{manifest}: --sources {', '.join(unknown)}: not a bona fide source of the train "
                             f"split (those are: {', '.join(sources)})")
        sources = [s for s in sources if s in only]
    if len(sources) < 2 and not only:
        raise SystemExit(f"{manifest}: leave-one-source-out needs at least 2 bona fide sources (column "
                         f"{column!r}) in the train split, found {sources}")
    folds = []
    for source in sources:
        kept = [row for row in corpus.rows if not (row.split in ("train", "val") and source_of(row, column) == source)]
        path = out / "folds" / corpus_label(manifest) / f"{fold_name(source)}.csv"
        fold = Fold(source, path, sum(1 for row in corpus.rows if row.split == "test" and row.label == "bonafide"
                                      and source_of(row, column) == source))
        fold.manifest.parent.mkdir(parents=True, exist_ok=True)
        write_relocated_manifest(corpus, kept, fold.manifest)
        folds.append(fold)
    return folds


def corpus_label(manifest: Path) -> str:
    """A corpus's name in folders and tables: its folder's name for ``.../NAME/manifest.csv``, else the file stem."""
    from detector.utils.keys import slug
    path = Path(manifest).absolute()
    return slug(path.parent.name if path.stem == "manifest" else path.stem) or "corpus"


# -- the held-out source's EER ----------------------------------------------------------------------

def source_eers(scores_file: Path, manifest: Path, column: str, condition: str = "clean") -> dict[str, dict]:
    """Per bona fide source: ``detection_metrics`` of its bona fide trials in ``scores_file`` (evaluate's
    scores.txt of ``manifest``) against all spoof trials, by ``per_group_metrics(..., of_class=1)``,
    the breakdown evaluate itself gives per system and per bona fide speaker. Trials are matched to
    ``manifest``'s rows by utt id; a source without bona fide trials is absent."""
    from detector.data.manifest import LABELS, read_manifest
    from detector.engine.fusion import read_scores
    from detector.metrics.detection import per_group_metrics

    rows = read_manifest(manifest, allow_outside_root=True).rows
    source = {row.utt: source_of(row, column) for row in rows if row.split == "test"}
    trials = read_scores(scores_file, condition)
    missing = [utt for utt, _ in trials if utt not in source]
    if missing:
        raise ValueError(f"{scores_file}: {len(missing)} trial(s) not in the test split of {manifest}, "
                         f"e.g. {missing[0]}")
    scores = np.array([trial.score for trial in trials.values()])
    targets = np.array([LABELS[trial.label] for trial in trials.values()])
    groups = np.array([source[utt] for utt, _ in trials])
    return per_group_metrics(scores, targets, groups, of_class=1)


# -- runs -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One training: on a corpus (its label), a fold (``standard`` or ``loso-<source>``), a seed."""
    corpus: str
    fold: str
    seed: int

    def folder(self, out: Path) -> Path:
        return out / "runs" / self.corpus / self.fold / f"s{self.seed}"


def train_command(run: Run, manifest: Path, args) -> list[str]:
    """``detector train`` for ``run``: the defaults, plus --epochs/--crop-s/--train-args where given."""
    command = _detector("train", "--out", str(run.folder(args.out)), "--manifest", str(manifest),
                        "--allow-outside-root", "--seed", str(run.seed), "--device", args.device)
    if args.cache_dir:
        command += ["--cache-dir", args.cache_dir]
    if args.epochs:
        command += ["--epochs", str(args.epochs)]
    if args.crop_s:
        command += ["--crop-s", f"{args.crop_s:g}"]
    return command + shlex.split(args.train_args)


def train(run: Run, manifest: Path, args) -> Path:
    """Train ``run`` unless finished (``trained.json``); continue with ``--resume`` from ``last.pt``.
    Returns its best checkpoint. A finished run trained with other flags is refused, not mixed in."""
    folder = run.folder(args.out)
    command = train_command(run, manifest, args)
    marker = folder / TRAINED
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recipe_flags(recorded["command"]) != recipe_flags(command):
            raise SystemExit(f"{folder} was trained by\n  {shlex.join(recorded['command'])}\nnot with the flags of\n"
                             f"  {shlex.join(command)}\nuse another --out, or delete that run folder to train it again")
        return folder / "best.pt"
    if (folder / "last.pt").exists():
        command.append("--resume")
    _call(command, folder / "log.txt")
    from detector.utils.io import atomic_write_text
    atomic_write_text(marker, json.dumps({"command": command}))
    return folder / "best.pt"


def recipe_flags(command: list[str]) -> list[str]:
    """The flags of a train command that shape the model: not the interpreter, the folders (``--out``,
    ``--manifest``, ``--cache-dir``: a moved --out is the same run), ``--device`` or ``--resume``."""
    words, kept = command[3:], []   # past `python -m detector`
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--out", "--manifest", "--cache-dir", "--device"):
            skip = True
        elif word != "--resume":
            kept.append(word)
    return kept


def evaluate(run: Run, checkpoint: Path, manifest: Path, test_corpus: str, args) -> Path:
    """Score ``checkpoint`` on ``manifest``'s clean test split into ``eval/<test_corpus>/`` unless a
    metrics.json newer than the checkpoint, of that manifest, is there; returns that metrics.json."""
    metrics = run.folder(args.out) / "eval" / test_corpus / "metrics.json"
    if not (_evaluated(metrics, checkpoint, ("clean",))
            and json.loads(metrics.read_text()).get("manifest") == str(manifest)):
        command = _detector("evaluate", "--checkpoint", str(checkpoint), "--out", str(metrics.parent),
                            "--manifest", str(manifest), "--allow-outside-root", "--conditions", "clean",
                            "--device", args.device)
        if args.cache_dir:
            command += ["--cache-dir", args.cache_dir]
        _call(command, run.folder(args.out) / "log.txt")
    return metrics


def _training_record(folder: Path) -> dict:
    history = _history(folder)
    if not history:
        return {"best_epoch": "", "train_seconds": ""}
    best = min(history, key=lambda row: float(row["val_eer"]))
    return {"best_epoch": best["epoch"], "train_seconds": sum(float(row["seconds"]) for row in history)}


def unseen_systems_eer(metrics: dict) -> float | str:
    """EER of the test split's bona fide clips against the spoof systems its training split never
    held (evaluate's ``seen_unseen``), or "" when every test system was seen in training."""
    unseen = (metrics.get("seen_unseen") or {}).get("systems", {}).get("unseen")
    return unseen["eer"] if unseen else ""


def _metric_cells(report: dict) -> dict:
    return {"eer": report["eer"], "min_dcf": report["min_dcf"], "act_dcf": report["act_dcf"],
            "cllr": report["cllr"], "n_bonafide": report.get("n_bonafide", ""), "n_spoof": report.get("n_spoof", "")}


@dataclass(frozen=True)
class Corpus:
    label: str
    manifest: Path
    source_column: str = ""   # only the corpus the folds come from


def loso_seeds(args) -> list[int]:
    """The seeds of the leave-one-source-out folds: ``--loso-seeds``, or every ``--seeds``."""
    return getattr(args, "loso_seeds", None) or args.seeds


def run_all(args) -> tuple[list[dict], list[str]]:
    """Every training and evaluation the flags ask for (resuming); returns the CSV rows and notes."""
    from detector.data.manifest import read_manifest
    from detector.utils.io import atomic_write_csv

    home = args.manifest.resolve()
    home_corpus = read_manifest(home, allow_outside_root=True)
    column, note = resolve_source_column(home_corpus, args.source_column)
    trained_sources = train_sources(home_corpus, column)
    notes = [note] if note else []
    for line in notes:
        tqdm.write(f"note: {line}")
    corpora = [Corpus(corpus_label(home), home, column)]
    if args.cross:
        other = args.cross.resolve()
        label = corpus_label(other)
        corpora.append(Corpus(label if label != corpora[0].label else f"{label}-2", other))
    trained_on = corpora if args.both_directions else corpora[:1]
    folds = write_source_folds(home, args.out, column, args.sources) if args.loso else []

    plan = [(corpus, "standard", None, seed) for seed in args.seeds for corpus in trained_on]
    plan += [(corpora[0], fold.name, fold, seed) for seed in loso_seeds(args) for fold in folds]
    rows: list[dict] = []
    for corpus, fold_id, fold, seed in tqdm(plan, desc="generalise runs", unit="run"):
        run = Run(corpus.label, fold_id, seed)
        base = {"train_corpus": corpus.label, "fold": fold_id, "seed": seed}
        if fold is not None and fold.n_test_bonafide == 0:
            tqdm.write(f"{fold_id} s{seed}: source {fold.source!r} has no bona fide test clips; not trained")
            rows.append({**base, "protocol": "loso", "source": fold.source, "test_corpus": corpora[0].label,
                         "n_bonafide": 0, "note": NO_TEST_CLIPS})
            continue
        tqdm.write(f"{corpus.label} {fold_id} s{seed}")
        manifest = fold.manifest if fold else corpus.manifest
        checkpoint = train(run, manifest, args)
        record = _training_record(run.folder(args.out))
        own = json.loads(evaluate(run, checkpoint, manifest, corpus.label, args).read_text())
        scores = run.folder(args.out) / "eval" / corpus.label / "scores.txt"
        if fold is not None:
            held_out = source_eers(scores, manifest, column).get(fold.source)
            rows.append({**base, "protocol": "loso", "source": fold.source, "test_corpus": corpus.label,
                         **(_metric_cells(held_out) if held_out else {"n_bonafide": 0, "note": NO_TEST_CLIPS}),
                         "eer_whole_test": own["eer"], **record})
        else:
            rows.append({**base, "protocol": "standard", "source": "", "test_corpus": corpus.label,
                         **_metric_cells(own), "eer_unseen_systems": unseen_systems_eer(own), **record})
            if corpus.source_column:
                for source, report in source_eers(scores, manifest, corpus.source_column).items():
                    if source:
                        rows.append({**base, "protocol": "standard", "source": source, "test_corpus": corpus.label,
                                     **_metric_cells(report), **record,
                                     "note": "" if source in trained_sources else TEST_ONLY})
            for test in corpora:
                if test is not corpus:
                    cross = json.loads(evaluate(run, checkpoint, test.manifest, test.label, args).read_text())
                    rows.append({**base, "protocol": "cross", "source": "", "test_corpus": test.label,
                                 **_metric_cells(cross), **record})
        atomic_write_csv(args.out / "generalise.csv", rows, CSV_COLUMNS)
    atomic_write_csv(args.out / "generalise.csv", rows, CSV_COLUMNS)
    return rows, notes


# -- tables -----------------------------------------------------------------------------------------

def _select(rows: list[dict], **where) -> list[dict]:
    return [row for row in rows if all(str(row.get(key, "")) == str(value) for key, value in where.items())]


def per_seed(rows: list[dict], seeds, column: str = "eer", **where) -> list[float]:
    """``column`` (an EER) of the row matching ``where`` for each seed (NaN where none, or no number)."""
    values = []
    for seed in seeds:
        found = [row[column] for row in _select(rows, seed=seed, **where) if row.get(column, "") != ""]
        values.append(float(found[0]) if found else math.nan)
    return values


def cell(values: list[float]) -> str:
    """``format_percent`` over seeds, with ``(n=k)`` where only k of the seeds have a number."""
    finite = sum(1 for v in values if np.isfinite(v))
    text = format_percent(values)
    return text + (f" (n={finite})" if 0 < finite < len(values) else "")


def seed_score_files(out: Path, train_corpus: str, test_corpus: str, seeds) -> list[Path]:
    """The clean scores of the standard run on ``train_corpus`` of every seed on ``test_corpus``'s
    test split, or ``[]`` when some seed has none (no interval from part of the seeds)."""
    files = [Run(train_corpus, "standard", seed).folder(out) / "eval" / test_corpus / "scores.txt" for seed in seeds]
    return files if all(f.is_file() for f in files) else []


def unseen_system_names(score_file: Path) -> list[str]:
    """The test spoof systems the run's training never held, from evaluate's ``metrics.json`` beside
    ``score_file`` (``[]`` when every test system was seen)."""
    metrics = json.loads((score_file.parent / "metrics.json").read_text())
    unseen = ((metrics.get("seen_unseen") or {}).get("systems") or {}).get("unseen")
    return list(unseen["names"]) if unseen else []


def interval(files: list[Path], systems: list[str] | None = None) -> tuple[float, float] | None:
    """The bootstrap 95 % interval of the seed-mean EER over ``files`` (:func:`bootstrap_eer_interval`;
    ``systems``: only their spoof clips), ``None`` without files."""
    return bootstrap_eer_interval(files, systems=systems) if files else None


def interval_text(bounds: tuple[float, float] | None) -> str:
    """`` [lo–hi]`` in percent, or nothing."""
    return " [{:.1f}–{:.1f}]".format(*(100 * b for b in bounds)) if bounds else ""


def _seeds_text(seeds) -> str:
    return (f"{len(seeds)} seeds ({', '.join(map(str, seeds))}), mean ± standard deviation over seeds"
            if len(seeds) > 1 else f"1 seed ({seeds[0]})")


def loso_mean_per_seed(rows: list[dict], seeds) -> list[float]:
    """Per seed, the mean of the folds' held-out-source EERs (folds without test clips left out)."""
    folds = sorted({row["fold"] for row in rows if row["protocol"] == "loso" and row.get("note") != NO_TEST_CLIPS})
    return [mean_std([per_seed(rows, [seed], protocol="loso", fold=fold)[0] for fold in folds])[0] for seed in seeds]


def recipe_text(args) -> str:
    """The training recipe in words: the defaults and the flags added to them."""
    flags = " ".join(part for part in (f"--epochs {args.epochs}" if args.epochs else "",
                                        f"--crop-s {args.crop_s:g}" if args.crop_s else "", args.train_args) if part)
    return "the default recipe (`detector train`'s defaults" + (f" + `{flags}`)" if flags else ")")


def summarise(rows: list[dict], args, notes: list[str] = ()) -> tuple[str, dict[str, tuple[float, float]]]:
    """The markdown tables, and their cells as ``{label: (mean, std)}`` (EER fractions) for the chart."""
    seeds = args.seeds
    bars: dict[str, tuple[float, float]] = {}
    lines = [f"EER % (official ASVspoof 5 EER), clean test audio, the best.pt (best validation epoch) of "
             f"{recipe_text(args)}. In brackets: the bootstrap 95 % interval of the seed-mean EER "
             f"({BOOTSTRAP_DRAWS} draws of the test clips, each class resampled; not for held-out sources).", ""]
    if notes:
        lines += [*(f"- {note}" for note in notes), ""]

    standard = [row for row in rows if row["protocol"] == "standard" and row["source"] == ""]
    lines += [f"**Standard test split** ({_seeds_text(seeds)}):", "",
              "| trained and tested on | EER % | EER % against the unseen systems |", "|---|---|---|"]
    for corpus in dict.fromkeys(row["train_corpus"] for row in standard):
        values = per_seed(rows, seeds, protocol="standard", train_corpus=corpus, source="")
        unseen = per_seed(rows, seeds, "eer_unseen_systems", protocol="standard", train_corpus=corpus, source="")
        files = seed_score_files(args.out, corpus, corpus, seeds)
        names = unseen_system_names(files[0]) if files else []
        lines.append(f"| {corpus} | {cell(values)}{interval_text(interval(files))} | "
                     f"{cell(unseen)}{interval_text(interval(files, names) if names else None)} |")
        bars[f"{corpus} test"] = mean_std(values)

    loso = [row for row in rows if row["protocol"] == "loso"]
    if loso:
        home = loso[0]["train_corpus"]
        folds = list(dict.fromkeys(row["source"] for row in loso))
        others = sorted({row["source"] for row in rows if row["protocol"] == "standard" and row["source"]
                            and row["train_corpus"] == home} - set(folds))
        which = (_seeds_text(seeds) if loso_seeds(args) == seeds
                 else f"held out: {_seeds_text(loso_seeds(args))}; standard: {_seeds_text(seeds)}")
        lines += ["", f"**Leave-one-source-out** on {home} ({which}): EER % of a bona fide source's "
                  "test clips against all spoof test clips. *Held out*: trained without that source's train and "
                  "val rows, bona fide and the spoofs made from or paired with its clips; *standard*: the "
                  "standard run, trained with it (a test-only source: never in training, no fold).", "",
                  "| source | bona fide test clips | held out | standard |", "|---|---|---|---|"]
        for source in folds + others:
            counts = [row["n_bonafide"] for row in _select(rows, source=source) if row.get("n_bonafide", "") != ""]
            fold_rows = _select(rows, protocol="loso", source=source)
            if not fold_rows:
                test_only = any(row.get("note") == TEST_ONLY for row in _select(rows, source=source))
                held = "test-only" if test_only else "not held out (--sources)"
            elif all(row.get("note") == NO_TEST_CLIPS for row in fold_rows):
                held = NO_TEST_CLIPS
            else:
                values = per_seed(rows, loso_seeds(args), protocol="loso", source=source)
                held = cell(values)
                bars[f"without {source}"] = mean_std(values)
            trained_with = cell(per_seed(rows, seeds, protocol="standard", train_corpus=home, source=source))
            lines.append(f"| {source} | {counts[0] if counts else '–'} | {held} | {trained_with} |")
        mean = loso_mean_per_seed(rows, loso_seeds(args))
        lines.append(f"| **mean of the folds** | | {cell(mean)} | |")
        if np.isfinite(mean).any():
            bars["leave-one-source-out mean"] = mean_std(mean)

    cross = [row for row in rows if row["protocol"] == "cross"]
    if cross:
        lines += ["", f"**Cross-corpus** ({_seeds_text(seeds)}): the standard run on one corpus, EER % on the "
                  "test split of each.", "", "| trained on → tested on | own test split | other test split |",
                  "|---|---|---|"]
        for train_corpus, test_corpus in dict.fromkeys((row["train_corpus"], row["test_corpus"]) for row in cross):
            own = per_seed(rows, seeds, protocol="standard", train_corpus=train_corpus, source="")
            other = per_seed(rows, seeds, protocol="cross", train_corpus=train_corpus, test_corpus=test_corpus)
            bounds = interval(seed_score_files(args.out, train_corpus, test_corpus, seeds))
            lines.append(f"| {train_corpus} → {test_corpus} | {cell(own)} | {cell(other)}{interval_text(bounds)} |")
            bars[f"{train_corpus} → {test_corpus}"] = mean_std(other)
    return "\n".join(lines) + "\n", bars


def plot(bars: dict[str, tuple[float, float]], path: Path, title: str) -> None:
    """The tables' cells as bars (EER %), one standard deviation over seeds as error bars."""
    from detector.metrics.plots import pyplot, save_figure

    plt = pyplot()
    labels = list(bars)
    means = np.array([100 * bars[label][0] for label in labels], float)
    stds = np.nan_to_num(np.array([100 * bars[label][1] for label in labels], float))
    colours = ["tab:green" if label.endswith(" test") else "tab:orange" if "→" in label
               else "tab:blue" for label in labels]
    figure, axes = plt.subplots(figsize=(2.5 + 0.6 * len(labels), 3.8), dpi=110)
    drawn = axes.bar(range(len(labels)), np.nan_to_num(means), yerr=stds, color=colours, edgecolor="black",
                     linewidth=0.6, capsize=3)
    axes.bar_label(drawn, labels=["–" if np.isnan(m) else f"{m:.1f}" for m in means], fontsize=7, padding=2)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    top = np.nanmax(means + stds) if np.isfinite(means).any() else 1.0
    axes.set_ylim(0, max(1.0, float(top) * 1.15))
    axes.set(ylabel="EER (%)")
    axes.set_title(title, fontsize=9)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True,
                        help="the corpus to train on and hold sources out of (train/val/test splits)")
    parser.add_argument("--cross", type=Path, help="a second corpus: the --manifest run is scored on its test split")
    parser.add_argument("--both-directions", action="store_true",
                        help="with --cross: also train on it and score on --manifest's test split")
    parser.add_argument("--out", type=Path, required=True, help="folder for folds, runs and the tables")
    parser.add_argument("--source-column", default=None,
                        help="the manifest column naming a row's source (default: source, or speaker where the "
                             "manifest has no source column)")
    parser.add_argument("--sources", type=lambda t: t.split(","), default=None,
                        help="hold out only these sources (default: every bona fide source of the train split)")
    parser.add_argument("--no-loso", dest="loso", action="store_false", help="no leave-one-source-out folds")
    parser.add_argument("--seeds", type=lambda t: [int(s) for s in t.split(",")], default=[42])
    parser.add_argument("--loso-seeds", type=lambda t: [int(s) for s in t.split(",")], default=None,
                        help="seeds of the leave-one-source-out folds (default: --seeds); fewer saves trainings")
    parser.add_argument("--epochs", type=int, default=0, help="--epochs of every training (default: train's)")
    parser.add_argument("--crop-s", type=float, default=0.0, help="--crop-s of every training (default: train's)")
    parser.add_argument("--train-args", default="",
                        help='further `detector train` flags, after an = sign: --train-args="--batch-size 64"')
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", default=os.environ.get("DETECTOR_CACHE", ""))
    args = parser.parse_args(argv)
    if args.both_directions and not args.cross:
        parser.error("--both-directions needs --cross")

    from detector.utils.io import atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    rows, notes = run_all(args)
    table, bars = summarise(rows, args, notes)
    atomic_write_text(args.out / "generalise.md", table)
    folds_seeds = "" if loso_seeds(args) == args.seeds else f"\nheld-out folds: {_seeds_text(loso_seeds(args))}"
    plot(bars, args.out / "generalise.png", f"EER % by protocol, {_seeds_text(args.seeds)}{folds_seeds}")
    print(table)
    print(f"wrote {args.out / 'generalise.csv'}, {args.out / 'generalise.md'}, {args.out / 'generalise.png'}")


if __name__ == "__main__":
    main()
