"""Flags and configuration resolution shared by several subcommands.

The configuration flags are generated from :mod:`detector.config`: each field's ``setting``
carries its help text, choices and flag name, so a field is written once. Flags left unset keep
the config file's value (argparse default ``None``); their help shows the value they would keep.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable

from detector.config import AMP_MODES, MEL_BACKENDS, Config, TrainConfig, set_field

# The [data] fields of every command that reads a manifest, and those saying where noises and
# impulse responses come from, for the commands that launder.
DATA_ACCESS = ("manifest", "cache_dir", "on_error", "allow_outside_root")
BANKS = ("noise_dirs", "rir_dir")
# --frontend torchaudio|nnaudio is the older spelling of --frontend logmel --mel-backend X.
OLD_FRONTEND_SPELLINGS = MEL_BACKENDS
AGGREGATES = ("mean", "max", "min")   # detector.data.loader.AGGREGATES, named here without importing torch


def _flag(field: dataclasses.Field) -> str:
    return field.metadata["flag"] or "--" + field.name.replace("_", "-")


def _dest(field: dataclasses.Field) -> str:
    return _flag(field)[2:].replace("-", "_")


def _config_fields(config: Config) -> Iterable[tuple[str, dataclasses.Field, object]]:
    """``(section, field, value in config)`` for every configuration field."""
    for section in dataclasses.fields(config):
        target = getattr(config, section.name)
        for field in dataclasses.fields(target):
            yield section.name, field, getattr(target, field.name)


def _flag_type(field: dataclasses.Field, default: object):
    """Text -> value for a field's flag: its ``parse`` (a ValueError becomes argparse's message) or its type."""
    parse = field.metadata["parse"]
    if parse is None:
        return type(default)

    def parse_flag(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse_flag.__name__ = parse.__name__
    return parse_flag


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _add_config_flag(group, field: dataclasses.Field, default: object, required: bool = False) -> None:
    help_text = field.metadata["help"]
    if default != "":
        help_text += f" (default: {_shown(default)})"
    options = {"dest": _dest(field), "help": help_text, "required": required}
    if field.metadata["metavar"]:
        options["metavar"] = field.metadata["metavar"]
    if isinstance(default, bool):
        group.add_argument(_flag(field), action=argparse.BooleanOptionalAction, **options)
    elif field.metadata["repeatable"]:
        group.add_argument(_flag(field), action="append", **options)
    else:
        choices = field.metadata["choices"]
        if field.name == "frontend":
            choices += OLD_FRONTEND_SPELLINGS
        group.add_argument(_flag(field), type=_flag_type(field, default), choices=choices or None, **options)


def add_config_flags(parser: argparse.ArgumentParser, keys: Iterable[str] | None = None,
                     base: Config | None = None, required: Iterable[str] = ()) -> None:
    """One flag per configuration field (``keys``: only those fields; default all, grouped by
    section). ``base`` supplies the defaults the help shows; ``required`` names required flags."""
    keys, required = (None if keys is None else set(keys)), set(required)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for section, field, default in _config_fields(base or Config()):
        if keys is not None and field.name not in keys:
            continue
        if keys is None and section not in groups:
            groups[section] = parser.add_argument_group(f"[{section}] settings (also in a --config file)")
        _add_config_flag(groups.get(section, parser), field, default, field.name in required)


def resolve_config(args: argparse.Namespace, base: Config | None = None) -> Config:
    """Defaults (or ``base``) <- ``--recipe`` <- ``--config`` TOML file <- flags given on the command line.

    A recipe stands in for the defaults (``base`` included): the file and the flags adjust it.
    """
    recipe = Config.from_recipe(args.recipe) if getattr(args, "recipe", None) else None
    if getattr(args, "config", None):
        config = Config.from_toml(args.config, base=recipe)
    else:
        config = recipe or base or Config()
    given: dict[tuple[str, str], tuple[str, object]] = {}
    for section, field, _ in _config_fields(config):
        value = getattr(args, _dest(field), None)
        if value is not None:
            given[section, field.name] = _flag(field), ",".join(value) if field.metadata["repeatable"] else value
    frontend = given.get(("features", "frontend"), (None, None))[1]
    if frontend in OLD_FRONTEND_SPELLINGS:
        backend = given.get(("features", "backend"), (None, frontend))[1]
        if backend != frontend:
            raise ValueError(f"--frontend {frontend} means --frontend logmel --mel-backend {frontend}; "
                             f"it contradicts --mel-backend {backend}")
        given["features", "frontend"] = "--frontend", "logmel"
        given["features", "backend"] = "--frontend", frontend
    for (section, key), (flag, value) in given.items():
        set_field(getattr(config, section), key, value, flag)
    return config


def add_training_flags(parser: argparse.ArgumentParser, base: Config | None = None) -> None:
    """``--config``, one flag per configuration field (help defaults from ``base``) and ``--resume``."""
    parser.add_argument("--config", help="TOML configuration file ([data], [features], [model], [train] tables, "
                                         "as a run's config.toml); flags override it")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    add_config_flags(parser, base=base)


def add_data_flags(parser: argparse.ArgumentParser, manifest_required: bool) -> None:
    add_config_flags(parser, DATA_ACCESS, required=["manifest"] if manifest_required else [])


def add_bank_flags(parser: argparse.ArgumentParser) -> None:
    add_config_flags(parser, BANKS)


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--amp`` of the scoring commands, described as in the configuration."""
    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    parser.add_argument("--device", default="auto", help=fields["device"].metadata["help"])
    parser.add_argument("--amp", default="auto", choices=AMP_MODES,
                        help="mixed precision; auto = float32 when scoring, so scores do not depend on speed")


def add_conditions_flag(parser: argparse.ArgumentParser, default: str | None = None, deprecated_alias: str = "") \
        -> None:
    """``--conditions``, the same in every subcommand: repeatable, each value comma- (or space-) separated.

    ``default`` (e.g. ``"clean"``) applies when the flag is not given; without one it is required.
    ``deprecated_alias`` is an older flag name that still works, hidden from the help.
    """
    help_text = ("laundering conditions, e.g. clean,noise:white:snr=10 --conditions reverb:rt60=0.6; "
                 "all = clean + the study's 29, study = the 29, asvspoof5 = clean + ASVspoof 5's codecs made offline; "
                 "'detector conditions' explains the grammar")
    if default:
        help_text += f" (default: {default})"
    parser.add_argument("--conditions", action="extend", nargs="+", required=default is None, metavar="CONDITION",
                        help=help_text)
    if deprecated_alias:
        parser.add_argument(deprecated_alias, action=_DeprecatedExtend, dest="conditions", help=argparse.SUPPRESS)
    parser.set_defaults(conditions_default=default)


class _DeprecatedExtend(argparse.Action):
    """An old spelling of ``--conditions``: extends the same list and says it is deprecated on stderr."""

    def __call__(self, parser, namespace, values, option_string=None):
        import logging

        logging.getLogger("detector").warning("%s is deprecated; use --conditions (same syntax)", option_string)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), values])


def conditions_of(args: argparse.Namespace) -> list[str]:
    """The condition strings ``--conditions`` named (``all``/``study`` expanded), or its default's."""
    from detector.launder.language import expand_conditions

    return expand_conditions(args.conditions or [args.conditions_default])


def corpus_and_banks(args: argparse.Namespace):
    """``(manifest, cache, banks)`` for commands that launder a manifest's clips (--manifest, bank flags)."""
    from detector.data import load_corpus
    from detector.launder.banks import corpus_banks

    data = resolve_config(args).data
    manifest, cache = load_corpus(data)
    return manifest, cache, corpus_banks(manifest, cache, data.noise_dirs, data.rir_dir, data.cache_dir)


def add_window_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window-s", type=float, default=0.0,
                        help="sliding-window length in seconds (default: the model's training crop)")
    parser.add_argument("--hop-s", type=float, default=0.0, help="window hop in seconds (default: half a window)")
    parser.add_argument("--aggregate", choices=AGGREGATES, default="mean",
                        help="how a clip's window scores combine: mean, max, or min (the least bona fide "
                             "window, for partially spoofed audio)")


def window_settings(args: argparse.Namespace):
    from detector.engine.scoring import WindowSettings
    return WindowSettings(args.window_s, args.hop_s, args.aggregate)


def add_scoring_flags(parser: argparse.ArgumentParser, manifest_help: str = "") -> None:
    """Flags of the commands that score a manifest's split under conditions (evaluate, ablate).

    With ``manifest_help``, ``--manifest`` takes one or more manifests (a list, ``nargs="+"``,
    repeatable) described by that text; otherwise it is the configuration's one-manifest flag.
    """
    parser.add_argument("--split", default="test", choices=["train", "val", "test"], help="the manifest split to score")
    parser.add_argument("--batch-size", type=int, default=64, help="scoring batch size in windows")
    add_device_flags(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    parser.add_argument("--dcf-c-miss", type=float, default=1.0, help="minDCF cost of a miss (bona fide rejected)")
    parser.add_argument("--dcf-c-fa", type=float, default=10.0, help="minDCF cost of a false alarm (spoof accepted)")
    parser.add_argument("--dcf-p-spoof", type=float, default=0.05, help="minDCF prior of a spoof trial")
    add_window_flags(parser)
    add_bank_flags(parser)
    if manifest_help:
        parser.add_argument("--manifest", action="extend", nargs="+", required=True, metavar="CSV",
                            help=manifest_help)
        add_config_flags(parser, [key for key in DATA_ACCESS if key != "manifest"])
    else:
        add_data_flags(parser, manifest_required=True)


def evaluation_options(args: argparse.Namespace):
    """The :class:`~detector.engine.evaluate.EvaluationOptions` of a scoring command's flags."""
    from detector.engine.evaluate import EvaluationOptions
    from detector.metrics.detection import DetectionCost

    data = resolve_config(argparse.Namespace(**{**vars(args), "manifest": None})).data   # options hold no manifest
    return EvaluationOptions(
        split=args.split, conditions=conditions_of(args), device=args.device, batch_size=args.batch_size,
        amp=args.amp, seed=args.seed, cache_dir=data.cache_dir, on_error=data.on_error, noise_dirs=data.noise_dirs,
        rir_dir=data.rir_dir, windows=window_settings(args), allow_outside_root=data.allow_outside_root,
        cost=DetectionCost(args.dcf_c_miss, args.dcf_c_fa, args.dcf_p_spoof))
