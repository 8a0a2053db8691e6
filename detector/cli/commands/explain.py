"""``detector explain``: Grad-CAM saliency PNGs of a checkpoint's decision on your own audio files."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import add_window_flags, window_settings


def register(commands) -> None:
    parser = commands.add_parser("explain", help="Grad-CAM saliency PNGs: where in the input a checkpoint's score "
                                                 "comes from")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to explain (RUN/best.pt)")
    parser.add_argument("paths", nargs="+", help="audio files and/or folders (recursively)")
    parser.add_argument("--out", required=True, help="output folder: one PNG per file, OUT/<file stem>.png")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (float32 always: "
                                                         "gradients are taken)")
    add_window_flags(parser)


def run(args: argparse.Namespace) -> list:
    from pathlib import Path

    from tqdm import tqdm

    from detector.data.audio import decode
    from detector.engine.explain import explain, load_explainer
    from detector.engine.inference import find_audio
    from detector.metrics.plots import plot_saliency

    files = find_audio(args.paths)
    if not files:
        raise ValueError(f"no audio files found in {' '.join(args.paths)}")
    detector, features = load_explainer(args.checkpoint, args.device, window_settings(args))
    waves = [decode(path, detector.sample_rate) for path in files]   # every file read before any PNG is written
    out, written, taken = Path(args.out), [], set()
    out.mkdir(parents=True, exist_ok=True)
    for path, wave in tqdm(list(zip(files, waves)), desc="explaining", unit="file", disable=len(files) < 2):
        result = explain(detector, features, wave)
        clip = detector.predict(wave, detector.sample_rate)
        name, k = path.stem, 1
        while name in taken:
            k += 1
            name = f"{path.stem}_{k}"
        taken.add(name)
        seen = (f"the whole {result.explained_s:.2f} s clip" if result.whole_clip
                else f"the first {result.explained_s:.2f} s window of {clip.duration_s:.2f} s")
        title = (f"{path.name}: score {result.score:+.3f}, P(bona fide) {result.probability_bonafide:.3f} "
                 f"on {seen}\nwhole clip as `detector predict` scores it: score {clip.score:+.3f}, "
                 f"P(bona fide) {clip.probability_bonafide:.3f}, {clip.label}")
        target = out / f"{name}.png"
        plot_saliency(result.image, result.saliency, target, title, result.row_hz, result.row_label,
                      result.rows_top_down, result.time_extent_s)
        written.append(target)
    print(f"wrote {len(written)} saliency PNG(s) to {out}")
    return written
