"""Plain-text summaries of evaluation metrics for the terminal."""
from __future__ import annotations

MAX_SPEAKERS_SHOWN = 20   # corpora with more speakers (ASVspoof eval: 67) keep them in metrics.json only


def format_metrics(metrics: dict) -> str:
    """A short report: headline metrics, confusion matrix, and per-condition / per-system EER."""
    (tb, fs), (fb, ts) = metrics["confusion_matrix"]
    lines = [
        f"clips: {metrics['n_bonafide']} bona fide, {metrics['n_spoof']} spoof "
        f"(split {metrics.get('split', '?')})",
        f"EER {100 * metrics['eer']:.2f}% (threshold {metrics['eer_threshold']:.3f}), "
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
        lines.append("EER per condition:")
        lines += [f"  {name:<28} {100 * m['eer']:6.2f}%  (AUC {m['roc_auc']:.4f}, accuracy {m['accuracy']:.4f})"
                  for name, m in metrics["per_condition"].items()]
    lines.append("EER per spoof system (against all bona fide):")
    lines += [f"  {name:<28} {100 * eer:6.2f}%" for name, eer in metrics["per_system"].items()]
    speakers = metrics.get("per_bonafide_speaker", {})
    if 1 < len(speakers) <= MAX_SPEAKERS_SHOWN:
        lines.append("EER per bona fide speaker (against all spoofs):")
        lines += [f"  {name:<28} {100 * eer:6.2f}%" for name, eer in speakers.items()]
    if metrics.get("per_manifest_condition"):
        lines.append("EER within each manifest condition (its bona fide against its spoof):")
        lines += [f"  {name:<28} {100 * eer:6.2f}%" for name, eer in metrics["per_manifest_condition"].items()]
    return "\n".join(lines)
