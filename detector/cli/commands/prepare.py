"""``detector prepare``: a corpus on disk -> a validated, split (and optionally balanced) manifest.

Steps: adapter (protocol parsing) -> official splits kept, or seeded re-split (speaker-disjoint,
stratified, unseen systems to test) -> optional balancing -> every file checked once in worker
processes -> manifest written -> summary printed.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from detector.data.corpora import ADAPTERS


def _csv_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def register(commands) -> None:
    parser = commands.add_parser(
        "prepare", help="write a manifest for a corpus on disk",
        description="Read a corpus in its published layout, split, balance and check it, write a manifest.")
    parser.add_argument("--corpus", required=True, choices=list(ADAPTERS), help="corpus layout")
    parser.add_argument("--root", required=True, help="the corpus folder")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--track", help="asvspoof2019: LA or PA; asvspoof2021: LA or DF (default: all found)")
    parser.add_argument("--version", help="fake-or-real: for-original, for-norm, for-2seconds or for-rerec "
                                          "(default: all found)")
    parser.add_argument("--bonafide-root", help="the bona fide speech a corpus does not ship: mlaad: M-AILABS "
                                                "(holding de_DE/, en_US/, ...); diffssd: the folder holding "
                                                "LJSpeech-1.1/ and LibriSpeech/; codecfake-wu: VCTK")
    parser.add_argument("--codec-resynthesis", choices=["spoof", "bonafide"],
                        help="codecfake, codecfake-wu (required): the label of speech re-synthesised through a "
                             "neural codec: spoof (the original papers) or bonafide (AUDDT)")
    group = parser.add_argument_group("splits")
    group.add_argument("--split", default="70/15/15", help="train/val/test percentages for corpora without "
                                                           "official splits, or with --resplit")
    group.add_argument("--resplit", action="store_true", help="replace the corpus's official splits")
    group.add_argument("--split-by", choices=["language", "system"],
                       help="re-split with whole languages (mlaad's language column) or whole spoof systems in one "
                            "split each (bona fide spread by speaker), by the --split percentages")
    group.add_argument("--unseen-systems", help="comma-separated spoof systems kept for test only (implies a re-split)")
    group.add_argument("--no-speaker-disjoint", action="store_true",
                       help="split clips, not speakers (default: speaker-disjoint when speaker ids exist)")
    group.add_argument("--seed", type=int, default=0)
    group = parser.add_argument_group("balancing")
    group.add_argument("--balance", nargs="?", const="undersample", choices=["undersample", "oversample"],
                       help="equal bona fide and spoof counts per split (bare --balance: undersample)")
    group.add_argument("--balance-systems", action="store_true", help="spread spoofs evenly over systems")
    group.add_argument("--balance-speakers", action="store_true", help="spread clips evenly over speakers")
    group.add_argument("--per-class", type=int, help="at most N clips per class and split (e.g. 500)")
    group = parser.add_argument_group("file checks")
    group.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                       help="bad audio files: stop (default) or leave them out; both list them in the report")
    group.add_argument("--report", help="bad-file report CSV (default: OUT with .bad.csv)")
    group.add_argument("--workers", type=int, help="checking processes (default: min(8, cores))")
    group.add_argument("--no-check", action="store_true", help="skip the file checks (no durations in the summary)")
    group = parser.add_argument_group("--corpus csv")
    group.add_argument("--csv", help="the CSV to read (paths in it are relative to --root)")
    for field in ("path", "label", "speaker", "system", "split", "condition"):
        group.add_argument(f"--{field}-column", default=field if field in ("path", "label") else None,
                           help=f"its column holding the {field}"
                           + (f" (default {field})" if field in ("path", "label") else ""))
    group.add_argument("--delimiter", default=",", help="CSV field separator (default ,; use tab for TSV)")
    group.add_argument("--bonafide-values", help="comma-separated label values meaning bona fide "
                                                 "(default: bonafide, bona-fide, genuine, real, human)")
    group.add_argument("--spoof-values", help="comma-separated label values meaning spoof "
                                              "(default: spoof, fake, spoofed, deepfake, synthetic)")


def adapter_options(args: argparse.Namespace) -> dict:
    if args.corpus in ("asvspoof2019", "asvspoof2021"):
        return {"track": args.track}
    if args.corpus == "fake-or-real":
        return {"version": args.version}
    if args.corpus in ("mlaad", "diffssd"):
        return {"bonafide_root": args.bonafide_root}
    if args.corpus in ("codecfake", "codecfake-wu"):
        from detector.data.corpora.codecfake import check_convention
        check_convention(args.codec_resynthesis)   # refuses before reading anything, explaining both
        options = {"codec_resynthesis": args.codec_resynthesis}
        if args.corpus == "codecfake-wu":
            options["bonafide_root"] = args.bonafide_root
        return options
    if args.corpus == "csv":
        from detector.data.corpora.common import BONAFIDE_WORDS, SPOOF_WORDS
        if not args.csv:
            raise ValueError("--corpus csv needs --csv FILE")
        delimiter = "\t" if args.delimiter in ("tab", "\\t") else args.delimiter
        columns = {field: getattr(args, f"{field}_column") for field in
                   ("path", "label", "speaker", "system", "split", "condition")}
        bona = frozenset(v.lower() for v in _csv_list(args.bonafide_values)) or BONAFIDE_WORDS
        spoof = frozenset(v.lower() for v in _csv_list(args.spoof_values)) or SPOOF_WORDS
        return {"table": Path(args.csv), "columns": columns, "delimiter": delimiter,
                "bonafide_values": bona, "spoof_values": spoof}
    return {}


def run(args: argparse.Namespace) -> None:
    from detector.data.balance import balance
    from detector.data.corpora import load_corpus_rows
    from detector.data.corpora.common import check_unique
    from detector.data.manifest import write_manifest
    from detector.data.splits import parse_split_ratios, resolve_splits
    from detector.data.summary import summary_text
    from detector.data.validate import validate_rows

    ratios = parse_split_ratios(args.split)
    unseen = _csv_list(args.unseen_systems)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = load_corpus_rows(args.corpus, args.root, args.out, **adapter_options(args))
    check_unique(rows, "path", "audio path")
    print(f"read {len(rows)} clips from {args.root} ({args.corpus}) in {time.perf_counter() - start:.2f} s")
    for note in getattr(rows, "notes", ()):
        print(note)
    if args.split_by:
        from detector.data.corpora.common import disjoint_splits
        if unseen:
            raise ValueError("--split-by and --unseen-systems both choose what test holds; pass one of them")
        print(f"splits: {disjoint_splits(rows, args.split_by, ratios, args.seed)}")
    else:
        report = resolve_splits(rows, ratios, args.seed, resplit=args.resplit or bool(unseen), unseen_systems=unseen,
                                speaker_disjoint=False if args.no_speaker_disjoint else None)
        print(f"splits: {report.how}" + (f"; dropped {len(report.dropped)} clip(s) of unseen systems spoken by "
                                         f"train/val speakers" if report.dropped else ""))
    if args.balance:
        rows, balanced = balance(rows, args.balance, args.balance_systems, args.balance_speakers,
                                 args.per_class, args.seed)
        print("\n".join(balanced.lines()))
    elif args.balance_systems or args.balance_speakers or args.per_class:
        raise ValueError("--balance-systems/--balance-speakers/--per-class need --balance")
    if not args.no_check:
        rows, bad, rate = validate_rows(rows, args.out, args.on_error, args.report, args.workers)
        print(f"checked {len(rows) + len(bad)} files ({rate:.0f} files/s)" +
              (f"; skipped {len(bad)} bad one(s), listed in {args.report or 'the .bad.csv next to --out'}"
               if bad else ""))
        if not rows:
            raise ValueError("every audio file failed the checks; nothing to write")
    write_manifest(rows, args.out)
    print(f"wrote {args.out}: {len(rows)} clips\n")
    print(summary_text(rows, title=str(args.out)))
