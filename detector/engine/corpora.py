"""One checkpoint scored on several corpora in one run, and the cross-corpus table.

Each corpus (a manifest) goes through :func:`detector.engine.evaluate.evaluate` unchanged: same
split, conditions, windows, seed and waveform cache, its usual files written to
``OUT/<corpus>/``. The table (``corpora.csv``, ``corpora.md``, ``corpora_eer.png`` in ``OUT``)
gives each corpus's top-level metrics (its trials under every condition) and a ``pooled`` row:
every corpus's trials together. The checkpoint's calibration applies to every corpus as it is:
nothing is refitted per corpus.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.engine.evaluate import EvaluationOptions, evaluate_with_trials
from detector.engine.tensorboard import log_pictures
from detector.metrics.detection import classification_report
from detector.metrics.plots import plot_bars
from detector.utils.io import atomic_write_csv, atomic_write_text
from detector.utils.keys import slug

POOLED = "pooled"   # the table's row of all corpora together; no corpus takes this name
TABLE_COLUMNS = ("corpus", "manifest", "n_bonafide", "n_spoof", "eer", "eer_interpolated", "min_dcf", "act_dcf",
                 "cllr", "roc_auc", "accuracy", "threshold")


def corpus_names(manifests: list[str | Path]) -> list[str]:
    """A folder name per manifest: its file stem, or, for stems that several manifests share
    (``asv19/manifest.csv``, ``itw/manifest.csv``), its folder's name; made file-name safe
    (:func:`~detector.utils.keys.slug`) and unique (``-2``, ``-3``, ... ignoring case;
    ``pooled`` is taken by the table's pooled row)."""
    paths = [Path(manifest) for manifest in manifests]
    stems = [path.stem for path in paths]
    taken, names = {POOLED}, []
    for path in paths:
        base = slug(path.absolute().parent.name if stems.count(path.stem) > 1 else path.stem)
        base = base if base.strip(".") else "corpus"
        name, number = base, 2
        while name.lower() in taken:
            name, number = f"{base}-{number}", number + 1
        taken.add(name.lower())
        names.append(name)
    return names


def evaluate_corpora(checkpoint: str | Path, manifests: list[str | Path], out_dir: str | Path,
                     options: EvaluationOptions | None = None, tensorboard: str | Path = "") \
        -> tuple[list[dict], dict[str, dict]]:
    """Evaluate ``checkpoint`` on each manifest into ``out_dir/<name>/`` (:func:`corpus_names`),
    then write the cross-corpus table. Returns ``(table, metrics)``: the table's rows (one per
    corpus, in the order given, then ``pooled``; columns :data:`TABLE_COLUMNS`) and each corpus's
    metrics.json by name. Every manifest is read before any is scored, so a missing or malformed
    one stops the run at once, naming it. With ``tensorboard``, each corpus's plots are tagged
    ``evaluate/<name>/...`` and the bar chart ``evaluate/corpora_eer``.
    """
    from detector.data.manifest import read_manifest

    options = options or EvaluationOptions()
    out_dir = Path(out_dir)
    if not manifests:
        raise ValueError("evaluate_corpora needs at least one manifest")
    seen: dict[Path, str] = {}
    for manifest in manifests:
        read_manifest(manifest, allow_outside_root=options.allow_outside_root)   # FileNotFoundError names it
        resolved = Path(manifest).resolve()
        if resolved in seen:
            raise ValueError(f"{manifest}: given twice (also as {seen[resolved]}); its trials would count twice "
                             "in the pooled row")
        seen[resolved] = str(manifest)
    names = corpus_names(manifests)
    table, metrics, scores, targets = [], {}, [], []
    threshold = 0.0
    for name, manifest in zip(names, manifests):
        corpus_metrics, corpus_scores, corpus_targets = evaluate_with_trials(
            checkpoint, manifest, out_dir / name, options, tensorboard, tensorboard_tag=f"evaluate/{name}")
        metrics[name], threshold = corpus_metrics, corpus_metrics["threshold"]   # one checkpoint: one threshold
        table.append(_row(name, str(manifest), corpus_metrics))
        scores.append(corpus_scores)
        targets.append(corpus_targets)
    pooled = classification_report(np.concatenate(scores), np.concatenate(targets), threshold, options.cost)
    table.append(_row(POOLED, "", pooled))
    write_corpus_table(table, out_dir, options)
    if tensorboard:
        log_pictures(tensorboard, {"evaluate/corpora_eer": out_dir / "corpora_eer.png"})
    return table, metrics


def _row(name: str, manifest: str, metrics: dict) -> dict:
    return {"corpus": name, "manifest": manifest, **{key: metrics[key] for key in TABLE_COLUMNS[2:]}}


def write_corpus_table(table: list[dict], out_dir: Path, options: EvaluationOptions) -> None:
    """corpora.csv (full precision), corpora.md (:func:`markdown_table`) and corpora_eer.png (EER % per row)."""
    atomic_write_csv(out_dir / "corpora.csv", table, TABLE_COLUMNS)
    atomic_write_text(out_dir / "corpora.md", markdown_table(table, options))
    plot_bars({row["corpus"]: 100 * row["eer"] for row in table}, out_dir / "corpora_eer.png",
              title=f"EER per corpus ({options.split} split, {_conditions_text(options.conditions)})",
              ylabel="EER (%)", set_apart=(POOLED,))


def _conditions_text(conditions: list[str]) -> str:
    return ", ".join(conditions) if len(conditions) <= 3 else f"{len(conditions)} conditions pooled"


def markdown_table(table: list[dict], options: EvaluationOptions) -> str:
    """The table as Markdown: EER %, minDCF, actDCF, Cllr, accuracy and counts, one row per corpus
    and the pooled row, with a caption on what the numbers are and how calibration enters them."""
    cost = options.cost
    lines = [f"Cross-corpus results: one checkpoint, the {options.split} split of each corpus, conditions "
             f"{', '.join(options.conditions)} (a row pools its trials under every condition; `{POOLED}`: "
             "every corpus's trials together).",
             "",
             "The checkpoint's calibration (fitted on its training run's validation split; the identity if it "
             "has none) applies to every "
             "corpus unchanged, as in `detector evaluate`; nothing is refitted per corpus. EER and minDCF do "
             "not depend on calibration. actDCF (at the Bayes threshold "
             f"{cost.bayes_threshold:.3f}; C_miss {cost.c_miss:g}, C_fa {cost.c_fa:g}, P_spoof {cost.p_spoof:g}) "
             "and Cllr read the raw scores as natural-log likelihood ratios, and accuracy is at the calibrated "
             "bona fide probability 0.5 (score threshold "
             f"{table[0]['threshold']:.3f}): so these three measure how the checkpoint's score calibration "
             "transfers to each corpus (actDCF well above minDCF: scores miscalibrated for that corpus).",
             "",
             "| corpus | bona fide | spoof | EER (%) | minDCF | actDCF | Cllr (bits) | accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in table:
        name = f"**{POOLED}**" if row["corpus"] == POOLED else row["corpus"]
        lines.append(f"| {name} | {row['n_bonafide']} | {row['n_spoof']} | {100 * row['eer']:.2f} | "
                     f"{row['min_dcf']:.4f} | {row['act_dcf']:.4f} | {row['cllr']:.4f} | {row['accuracy']:.4f} |")
    return "\n".join(lines) + "\n"
