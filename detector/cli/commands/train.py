"""``detector train``: train a detector into a run folder."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import add_training_flags, resolve_config
from detector.config import RECIPES, Config


def register(commands) -> None:
    parser = commands.add_parser("train", help="train a detector")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--recipe", choices=tuple(RECIPES),
                        help="a preset in place of the defaults; a --config file and flags override its values. "
                             "seed: the seed research code's ImageNet ResNet-18 on seed-image spectrograms "
                             "(--pretrained imagenet, dropout 0.3, AdamW lr 1e-3, weight decay 1e-4, cosine, "
                             "batch 32, 15 epochs, backbone frozen 3, flip p 0.5 and +-10 degree rotation, "
                             "stop on val_loss with patience 5, 70/15/15 split when the manifest has none)")
    add_training_flags(parser)
    parser.add_argument("--allow-changed-manifest", action="store_true",
                        help="with --resume: continue even though the manifest's rows (path, label, split) or their "
                             "waveform cache changed since OUT/last.pt was saved, which is otherwise refused; the log "
                             "and history.csv's note column say what changed. Applies to this run only (not saved "
                             "in config.toml)")


def run(args: argparse.Namespace, config: Config | None = None) -> None:
    from detector.engine.train import train

    config = config or resolve_config(args)
    state = train(config, args.out, resume=args.resume,
                  allow_changed_manifest=getattr(args, "allow_changed_manifest", False))   # demo has no such flag
    print(f"best epoch by {config.train.stop_on}: {state.best_epoch} (validation EER {100 * state.best_eer:.2f}%, "
          f"loss {state.best_loss:.4f}); checkpoints in {args.out}/best.pt and {args.out}/last.pt")
