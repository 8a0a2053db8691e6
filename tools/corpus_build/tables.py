"""The tables of a built corpus's README, from its manifest: ``python -m tools.corpus_build.tables MANIFEST``.

Per bona fide source, per bona fide speaker, per spoof system and per channel:
clips per split and minutes (from the manifest's ``duration_s``), so the README's
numbers are the build's, not typed by hand. Columns ``source``, ``condition``
(channel) and ``language`` are used when the manifest has them.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from detector.data.manifest import read_manifest

SPLITS = ("train", "val", "test")


def _row(name: str, rows: list, extra: list[str]) -> str:
    """One Markdown row: name, extra cells, clips per split, minutes."""
    per_split = Counter(r.split for r in rows)
    minutes = sum(float(r.extra.get("duration_s") or 0) for r in rows) / 60
    cells = [name, *extra, *(f"{per_split[s]:,}" for s in SPLITS), f"{minutes:.1f}"]
    return "| " + " | ".join(cells) + " |"


def corpus_tables(manifest_path: str) -> str:
    """The Markdown tables of a manifest (see the module doc)."""
    manifest = read_manifest(manifest_path)
    rows = manifest.rows

    def get(row, column: str) -> str:
        return row.extra.get(column, "")

    bonafide = [r for r in rows if r.label == "bonafide"]
    spoof = [r for r in rows if r.label != "bonafide"]
    hours = sum(float(get(r, "duration_s") or 0) for r in rows) / 3600
    speakers = {r.speaker for r in bonafide}
    languages = {get(r, "language") for r in bonafide} - {""}
    lines = [f"{len(rows):,} clips, {hours:.2f} h of audio. Bona fide: {len(bonafide):,} clips, "
             f"{len(speakers)} speaker labels, {len(languages)} languages. Spoof: {len(spoof):,} clips, "
             f"{len({r.system for r in spoof})} systems.", ""]

    def table(title: str, key, subset: list, extra_header: list[str], extra_cells) -> None:
        groups = defaultdict(list)
        for r in subset:
            groups[key(r)].append(r)
        lines.extend([f"| {title} | " + " | ".join(extra_header + list(SPLITS)) + " | minutes |",
                      "|---|" + "---|" * len(extra_header) + "---:|" * (len(SPLITS) + 1)])
        lines.extend(_row(f"`{name}`", group, extra_cells(group)) for name, group in sorted(groups.items()))
        lines.extend([_row("**all**", subset, [""] * len(extra_header)), ""])

    def languages_of(group) -> list[str]:
        return [", ".join(sorted({get(r, "language") for r in group}))]

    if any(get(r, "source") for r in rows):
        table("bona fide source", lambda r: get(r, "source"), bonafide, ["speakers", "languages"],
              lambda g: [str(len({r.speaker for r in g})), ", ".join(sorted({get(r, "language") for r in g}))])
    table("bona fide speaker", lambda r: r.speaker, bonafide, ["languages"], languages_of)
    table("spoof system", lambda r: r.system, spoof, ["languages"], languages_of)
    if any(get(r, "condition") for r in rows):
        by_class = {label: Counter(get(r, "condition") for r in rows if (r.label == "bonafide") == is_bona)
                    for label, is_bona in (("bona fide", True), ("spoof", False))}
        lines.extend(["| channel | bona fide | spoof | spoof per bona fide |", "|---|---:|---:|---:|"])
        for channel in sorted(set(by_class["bona fide"]) | set(by_class["spoof"])):
            b, s = by_class["bona fide"][channel], by_class["spoof"][channel]
            lines.append(f"| `{channel}` | {b:,} | {s:,} | {s / b:.2f} |" if b else f"| `{channel}` | 0 | {s:,} | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.corpus_build.tables", description=__doc__)
    parser.add_argument("manifest", help="manifest CSV of a built corpus")
    print(corpus_tables(parser.parse_args(argv).manifest))


if __name__ == "__main__":
    main()
