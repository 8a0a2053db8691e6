"""Plain-text summaries of evaluation metrics for the terminal."""
from __future__ import annotations

MAX_SPEAKERS_SHOWN = 20   # corpora with more speakers (ASVspoof eval: 67) keep them in metrics.json only


def _detection(m: dict) -> str:
    """One line of a :func:`detector.metrics.detection_metrics` dict; rates in %, Cllr in bits."""
    return (f"EER {100 * m['eer']:6.2f}% (interpolated {100 * m['eer_interpolated']:6.2f}%), "
            f"minDCF {m['min_dcf']:.4f}, actDCF {m['act_dcf']:.4f}, Cllr {m['cllr']:.4f} bits")


def format_metrics(metrics: dict) -> str:
    """A short report: headline metrics, confusion matrix, and per-condition / per-group metrics."""
    (tb, fs), (fb, ts) = metrics["confusion_matrix"]
    costs = metrics["dcf_parameters"]
    lines = [
        f"clips: {metrics['n_bonafide']} bona fide, {metrics['n_spoof']} spoof "
        f"(split {metrics.get('split', '?')})",
        _detection(metrics),
        f"  EER threshold {metrics['eer_threshold']:.3f}; DCF costs C_miss {costs['c_miss']:g}, "
        f"C_fa {costs['c_fa']:g}, P_spoof {costs['p_spoof']:g} (actDCF at score {costs['bayes_threshold']:.3f}); "
        f"ROC AUC {metrics['roc_auc']:.4f}",
        f"at score >= {metrics['threshold']:g} = bona fide, positive class {metrics['positive_class']}: "
        f"accuracy {metrics['accuracy']:.4f}, precision {metrics['precision']:.4f}, "
        f"recall {metrics['recall']:.4f}, F1 {metrics['f1']:.4f}",
        "confusion matrix (rows true, columns predicted):",
        f"  {'':>9} {'bonafide':>9} {'spoof':>9}",
        f"  {'bonafide':>9} {tb:>9} {fs:>9}",
        f"  {'spoof':>9} {fb:>9} {ts:>9}",
    ]
    if len(metrics.get("per_condition", {})) > 1:
        lines.append("per condition:")
        lines += [f"  {name:<28} {_detection(m)}, AUC {m['roc_auc']:.4f}, accuracy {m['accuracy']:.4f}"
                  for name, m in metrics["per_condition"].items()]
    groups = [("per spoof system (against all bona fide):", metrics["per_system"])]
    speakers = metrics.get("per_bonafide_speaker", {})
    if 1 < len(speakers) <= MAX_SPEAKERS_SHOWN:
        groups.append(("per bona fide speaker (against all spoofs):", speakers))
    if metrics.get("per_manifest_condition"):
        groups.append(("within each manifest condition (its bona fide against its spoof):",
                       metrics["per_manifest_condition"]))
    for heading, breakdown in groups:
        lines.append(heading)
        lines += [f"  {name:<28} {_detection(m)}" for name, m in breakdown.items()]
    if "seen_unseen" in metrics:
        lines.append(seen_unseen_line(metrics["seen_unseen"]))
    return "\n".join(lines)


def seen_unseen_line(summary: dict) -> str:
    """One line of a ``seen_unseen`` entry: the EER of the spoof systems and of the bona fide
    speakers absent from the training split, next to that of those present."""
    if "error" in summary:
        return (f"unseen in training: not summarised (training manifest {summary['training_manifest']!r}: "
                f"{summary['error']})")
    parts = []
    for what, key in (("spoof systems", "systems"), ("bona fide speakers", "bonafide_speakers")):
        pools = [f"{pool} {len(summary[key][pool]['names'])} EER {100 * summary[key][pool]['eer']:.2f}%"
                 if "eer" in summary[key][pool] else f"{pool} none" for pool in ("unseen", "seen")]
        parts.append(f"{what}: {', '.join(pools)}")
    return "unseen in training (each pool against all of the other class): " + "; ".join(parts)
