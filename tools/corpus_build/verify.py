"""Is a built corpus what its preset makes? Re-render a seeded sample of its clips and compare bytes.

``python -m tools.corpus_build.verify --preset wild --out DATA/wild --scratch SCRATCH --sample 60``
plans the build again (from the scratch folder's caches), renders ``--sample`` clips of the
plan into a temporary folder, and compares each with the built file byte for byte: a
rebuild's files are identical when every engine, codec and seed is deterministic. It
prints one line per differing clip and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tools.corpus_build.build import render
from tools.corpus_build.presets import PRESETS
from tools.corpus_build.tools import SEED
from tools.corpus_build.wild import wild_plan


def verify(preset_name: str, out: Path, scratch: Path, sample: int, workers: int = 1) -> tuple[int, list[str]]:
    """(clips re-rendered, the paths relative to ``out`` of those that differ from the built file)."""
    preset = PRESETS[preset_name]
    if preset.bonafide_minutes is None:
        raise SystemExit(f"verify: preset {preset_name!r} is not planned clip by clip (only `wild` is)")
    jobs = [job for job in wild_plan(preset, scratch, workers) if (out / job.path).exists()]
    chosen = [jobs[i] for i in np.random.default_rng(SEED).permutation(len(jobs))[:sample]]
    differing = []
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        for job in tqdm(chosen, desc="re-render", unit="clip"):
            render(job, Path(tmp), scratch / "tmp", preset.mastering)   # engines' temp files where the build has them
            again = Path(tmp) / job.path
            if not again.exists() or again.read_bytes() != (out / job.path).read_bytes():
                differing.append(job.path)
    return len(chosen), differing


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.corpus_build.verify", description=__doc__)
    parser.add_argument("--preset", default="wild", choices=sorted(PRESETS))
    parser.add_argument("--out", type=Path, required=True, help="the built corpus folder")
    parser.add_argument("--scratch", type=Path, required=True, help="the scratch folder of its build")
    parser.add_argument("--sample", type=int, default=60, help="clips to re-render")
    args = parser.parse_args(argv)
    checked, differing = verify(args.preset, args.out, args.scratch, args.sample)
    for path in differing:
        print(f"differs: {path}")
    print(f"{checked - len(differing)} of {checked} re-rendered clips byte-identical")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
