"""Laundering whole clips for export (``detector launder``) and for looking at (``detector render``).

This is the one place where laundered audio goes to disk, because the user
asked for files; training and evaluation launder on the fly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch

from detector.utils.io import atomic_write_csv, atomic_write_with
from detector.utils.keys import slug

from .banks import LaunderBanks
from .catalogue import expand_conditions, parse_condition
from .clips import launder_clip

PROTOCOL_COLUMNS = ("path", "source", "utt", "label", "speaker", "system", "split", "condition", "family",
                    "parameter")


def _laundered(attack, cache, row: int, utt: str, seed: int) -> np.ndarray:
    """Manifest row ``row`` laundered exactly as evaluation launders it: ``(time,)`` float32."""
    clean = torch.from_numpy(np.array(cache.waveform(row), dtype=np.float32))
    return launder_clip(attack, clean, seed, utt).numpy()


def export(manifest, cache, conditions, out_dir: str | Path, rows=None, seed: int = 0,
           banks: LaunderBanks | None = None, progress: bool = True) -> dict:
    """Write ``out_dir/<condition>/<utt>.wav`` for every row and condition, plus protocol.csv and manifest.csv.

    Files are 32-bit float WAV: each holds, bit for bit, the laundered clip that
    ``detector evaluate`` scores under that condition with the same seed (see
    :mod:`.clips`); an integer format would round it.

    ``protocol.csv`` lists, per file, the source clip, label, speaker, system,
    split, condition, its family and parameter (like the laundered database's
    protocol); ``manifest.csv`` is a manifest of the laundered files (with a
    ``condition`` column) that ``detector evaluate`` reads.

    Returns:
        ``{"files": count, "protocol": path, "manifest": path}``.
    """
    from detector.data import write_manifest

    out_dir = Path(out_dir)
    conditions = expand_conditions(conditions)
    banks = banks if banks is not None else LaunderBanks.from_corpus(manifest, cache)
    attacks = [parse_condition(c, cache.sample_rate, banks) for c in conditions]   # all errors before any work
    rows = [r for r in (range(len(manifest.rows)) if rows is None else rows) if cache.offsets[r] >= 0]
    records = []
    total = len(rows) * len(attacks)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="launder", unit="file")
    for attack in attacks:
        folder = out_dir / slug(attack.name)
        folder.mkdir(parents=True, exist_ok=True)
        family, _, parameter = attack.name.partition(":")
        for row in rows:
            source = manifest.rows[row]
            wave = _laundered(attack, cache, row, source.utt, seed)
            relative = Path(slug(attack.name)) / f"{_file_stem(source.utt)}.wav"
            atomic_write_with(out_dir / relative, lambda handle, wave=wave: soundfile.write(
                handle, wave, cache.sample_rate, format="WAV", subtype="FLOAT"))
            records.append({"path": relative.as_posix(), "source": source.path, "utt": source.utt,
                            "label": source.label, "speaker": source.speaker, "system": source.system,
                            "split": source.split, "condition": attack.name, "family": family,
                            "parameter": parameter or "-"})
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    atomic_write_csv(out_dir / "protocol.csv", records, PROTOCOL_COLUMNS)
    write_manifest(records, out_dir / "manifest.csv")
    return {"files": len(records), "protocol": str(out_dir / "protocol.csv"), "manifest": str(out_dir / "manifest.csv")}


def _file_stem(utt: str) -> str:
    """A clip's id as a file-name stem (ids such as ``speaker/clip`` name no folder)."""
    return utt.replace("/", "__")


def log_spectrogram(wave: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """``(freq, frames)`` log power in dB (floored 100 dB below the peak)."""
    spec = torch.stft(torch.from_numpy(np.array(wave, dtype=np.float32)), n_fft, hop,
                      window=torch.hann_window(n_fft), return_complex=True).abs().square()
    db = 10 * torch.log10(spec.clamp_min(1e-12))
    return torch.maximum(db, db.max() - 100).numpy()


def render(manifest, cache, conditions, out_dir: str | Path, n: int = 8, seed: int = 0,
           banks: LaunderBanks | None = None, frontend: str = "") -> list[Path]:
    """One PNG per clip (``n`` clips spread over the manifest): clean next to each laundered version.

    With ``frontend`` (``seed-image`` or ``seed-thresholded``), instead one PNG per clip and
    condition, ``<utt>__<condition>.png``: the model's input image, 224 x 224 RGB before
    ImageNet normalisation, exactly as that front-end computes it.
    """
    from detector.metrics.plots import pyplot, save_figure

    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    conditions = [c for c in expand_conditions(conditions) if c != "clean"]
    banks = banks if banks is not None else LaunderBanks.from_corpus(manifest, cache)
    attacks = [parse_condition(c, cache.sample_rate, banks) for c in conditions]
    image_frontend = _image_frontend(frontend, cache.sample_rate) if frontend else None
    valid = cache.valid_rows
    picks = valid[np.linspace(0, len(valid) - 1, min(n, len(valid))).round().astype(int)]
    written = []
    for row in dict.fromkeys(picks.tolist()):
        clean = np.asarray(cache.waveform(row), dtype=np.float32)
        utt = manifest.rows[row].utt
        panels = [("clean", clean)] + [(a.name, _laundered(a, cache, row, utt, seed)) for a in attacks]
        if image_frontend is not None:
            written += _write_input_images(image_frontend, panels, out_dir, utt)
            continue
        columns = min(4, len(panels))
        lines = -(-len(panels) // columns)
        figure, axes = plt.subplots(lines, columns, figsize=(4 * columns, 3 * lines), squeeze=False)
        duration = len(clean) / cache.sample_rate
        for ax, (title, wave) in zip(axes.flat, panels):
            ax.imshow(log_spectrogram(wave), origin="lower", aspect="auto", cmap="magma",
                      extent=(0, duration, 0, cache.sample_rate / 2000))
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("kHz")
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        source = manifest.rows[row]
        figure.suptitle(f"{source.path} ({source.label}, {source.system})", fontsize=10)
        path = out_dir / f"{_file_stem(source.utt)}.png"
        save_figure(figure, path, dpi=80)
        written.append(path)
    return written


def _image_frontend(name: str, sample_rate: int):
    from detector.config import FeatureConfig
    from detector.features import IMAGE_FRONTENDS, build_frontend

    if name not in IMAGE_FRONTENDS:
        raise ValueError(f"render --frontend {name!r}: images exist for {', '.join(IMAGE_FRONTENDS)} only")
    return build_frontend(FeatureConfig(frontend=name), sample_rate)


def _write_input_images(frontend, panels, out_dir: Path, utt: str) -> list[Path]:
    """``out_dir/<utt>__<condition>.png`` per ``(condition, waveform)`` panel: the front-end's 8-bit RGB image."""
    from PIL import Image  # a dependency of matplotlib

    from detector.features import image_uint8

    paths = []
    for name, wave in panels:
        path = out_dir / f"{_file_stem(utt)}__{slug(name)}.png"
        image = Image.fromarray(image_uint8(frontend, torch.from_numpy(wave)[None, None])[0])
        atomic_write_with(path, lambda handle, image=image: image.save(handle, format="PNG"))
        paths.append(path)
    return paths
