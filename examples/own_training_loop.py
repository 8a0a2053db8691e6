"""Your own PyTorch training loop, with the toolkit's laundering chain, front-end and network.

Shows the three pieces used as a library, torch-audiomentations style, without ``detector train``:

- ``chain = LaunderChain.from_spec(...)``; ``x = chain(wave, generator)``: per example, with
  probability ``p``, one laundering condition (noise, reverb, resampling, ...), on
  ``(batch, 1, time)`` float32 waveforms in [-1, 1], wherever ``wave`` lives (CPU or GPU);
  its random parameters are drawn from a CPU ``torch.Generator``, so a seed reproduces them;
- ``build_frontend(...)``: waveform -> spectrogram-like picture, a differentiable ``nn.Module``;
- ``resnet18_backbone(...)``: the ResNet-18 that ``detector train`` uses, two logits out.

It reads the demo corpus that comes with the package. Run from the repository root:

    python examples/own_training_loop.py --steps 20
    python examples/own_training_loop.py --frontend logmel --launder "p=1; noise:white:snr=0..10"
"""
from __future__ import annotations

import argparse
import math

import torch

from detector.config import FRONTENDS, FeatureConfig
from detector.data.audio import decode
from detector.data.demo import demo_manifest
from detector.data.manifest import read_manifest
from detector.features import build_frontend
from detector.launder import LaunderChain
from detector.models import resnet18_backbone, scores_from_logits

SAMPLE_RATE = 16000
# A lighter chain than training's default (detector.config.TrainConfig.launder); any condition that
# `detector conditions` lists can go in, except the real codecs (mp3:, opus:, ...), which run on
# whole clips on the host: use codecsim: in a chain.
DEFAULT_CHAIN = "p=0.8; noise:white|pink|babble:snr=0..20; reverb:rt60=0.2..1.0; resample:8000|11025"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps (default 5)")
    parser.add_argument("--manifest", default=str(demo_manifest()),
                        help="manifest CSV whose train split is read (default: the packaged demo corpus)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop-s", type=float, default=1.0, help="seconds per training crop")
    parser.add_argument("--frontend", default="logmel", choices=FRONTENDS,
                        help="default logmel, the cheapest on a CPU (detector train's default is cqt)")
    parser.add_argument("--launder", default=DEFAULT_CHAIN, help="chain spec (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args()


def load_training_clips(path: str) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The manifest's training split, decoded to 16 kHz mono float32 and held in memory (the demo
    corpus: 264 clips of ~2 s; a large corpus would be read through detector.data.cache's
    memory-mapped waveform cache instead)."""
    manifest = read_manifest(path)
    rows = [manifest.rows[i] for i in manifest.split("train")]
    waves = [torch.from_numpy(decode(manifest.audio_path(row), SAMPLE_RATE)) for row in rows]
    targets = torch.tensor([row.target for row in rows])   # 1 = bona fide, 0 = spoof
    return waves, targets


def random_batch(waves: list[torch.Tensor], targets: torch.Tensor, batch_size: int, crop: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(batch, 1, crop)`` random crops (a shorter clip is repeated) and their targets."""
    picks = torch.randint(len(waves), (batch_size,), generator=generator)
    crops = []
    for index in picks.tolist():
        wave = waves[index].repeat(math.ceil(crop / len(waves[index])))   # only clips shorter than the crop grow
        start = int(torch.randint(len(wave) - crop + 1, (1,), generator=generator))
        crops.append(wave[start:start + crop])
    return torch.stack(crops)[:, None], targets[picks]


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)                                      # the network's initialisation
    generator = torch.Generator().manual_seed(args.seed)              # crops and laundering: on the host (CPU)

    chain = LaunderChain.from_spec(args.launder, sample_rate=SAMPLE_RATE).to(device)
    frontend = build_frontend(FeatureConfig(frontend=args.frontend), SAMPLE_RATE)
    # The front-end says how many channels its picture has (1, or 3 for the seed's RGB image).
    model = torch.nn.Sequential(frontend, resnet18_backbone(dropout=0.3, in_channels=frontend.channels)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)

    waves, targets = load_training_clips(args.manifest)
    print(f"{len(waves)} training clips; chain: {chain.name}; front-end: {args.frontend}; device: {device}")
    crop = round(args.crop_s * SAMPLE_RATE)
    model.train()
    for step in range(1, args.steps + 1):
        wave, target = random_batch(waves, targets, args.batch_size, crop, generator)
        wave, target = wave.to(device), target.to(device)
        # Laundering is data augmentation here: it runs on the device, per example, with no gradient
        # needed; the generator stays on the CPU even when wave is on a GPU.
        with torch.no_grad():
            laundered = chain(wave, generator)
        logits = model(laundered)                                     # (batch, 2): class 1 = bona fide
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        print(f"step {step}/{args.steps} loss {loss.item():.4f}")

    # Scoring: score = logit[1] - logit[0], higher = more bona fide (what detector evaluate writes).
    model.eval()
    with torch.no_grad():
        wave, target = random_batch(waves, targets, args.batch_size, crop, generator)
        scores = scores_from_logits(model(wave.to(device))).cpu()
    print("scores of clean crops:", " ".join(f"{s:+.2f}({'bonafide' if t else 'spoof'})"
                                             for s, t in zip(scores.tolist(), target.tolist())))


if __name__ == "__main__":
    main()
