"""Typed configuration: dataclass defaults <- recipe <- TOML file <- command-line flags.

A recipe (:data:`RECIPES`, ``detector train --recipe NAME``) is a named preset of values that
replaces defaults only: a config file's values and explicit flags both win over it, so a recipe
can be adjusted by either, and a run's saved ``config.toml`` (complete) reproduces it alone.

The resolved configuration is saved with every run (``RUN/config.toml``) and inside
every checkpoint as plain data (a dict of str/int/float/bool), so a checkpoint never
needs pickled objects to be rebuilt.
"""
from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# The vocabulary of the fields that take one of a few words.
FRONTENDS = ("logmel", "seed-image", "seed-thresholded", "lfcc", "cqt")
IMAGE_FRONTENDS = ("seed-image", "seed-thresholded")
MEL_BACKENDS = ("torchaudio", "nnaudio")
AMP_MODES = ("auto", "bf16", "fp16", "off")
ON_ERROR = ("fail", "skip")
STOP_CRITERIA = ("val_eer", "val_loss")
IMAGENET = "imagenet"   # --pretrained's word for torchvision's download


def worker_count(text: str) -> int:
    """``--num-workers``: a count >= 0, or ``auto`` (-1, see :func:`detector.data.loader.resolve_workers`)."""
    if text == "auto":
        return -1
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a worker count (N >= 0 or auto)")
    return int(text)


def setting(default: Any, help: str, *, flag: str = "", choices: tuple[str, ...] = (),
            parse: Callable[[str], Any] | None = None, metavar: str = "", repeatable: bool = False) -> Any:
    """A configuration field together with what the command line needs to offer it.

    Args:
        default: the value when neither the config file nor a flag sets it.
        help: what the field means, with its unit; the flag's help text.
        flag: the flag's name when it is not ``--`` + the field name with dashes.
        choices: the only valid values (checked for flags and config files alike).
        parse: text -> value for the flag, raising ValueError (default: the field's type).
        metavar: the flag's placeholder in help texts.
        repeatable: the flag may be given several times; the values are joined with commas.
    """
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices, "parse": parse,
                                            "metavar": metavar, "repeatable": repeatable})


@dataclass
class DataConfig:
    manifest: str = setting("", "manifest CSV")
    cache_dir: str = setting("", "waveform cache folder; empty: $DETECTOR_CACHE or ~/.cache/detector")
    sample_rate: int = setting(16000, "the model's sample rate in Hz; clips are decoded to it")
    crop_s: float = setting(4.0, "crop length in seconds, for training and evaluation")
    num_workers: int = setting(-1, "DataLoader worker processes; auto (-1): min(8, CPUs) on CUDA, 0 (the main "
                                   "process) on CPU", parse=worker_count, metavar="N|auto")
    cache_on_device: bool = setting(False, "hold the whole int16 waveform cache on the device and gather training "
                                           "crops there (needs the cache's size in free device memory)")
    on_error: str = setting("fail", "bad clips: stop with a list (fail) or skip, count and report them",
                            choices=ON_ERROR)
    allow_outside_root: bool = setting(False, "accept manifest paths that leave the manifest's folder (../x.wav)")
    noise_dirs: str = setting("", "folder of noise recordings for TYPE (babble, cafe, street, volvo, white, ...); "
                                  "repeatable; types without one use built-in substitutes",
                              flag="--noise-dir", metavar="TYPE=PATH", repeatable=True)
    rir_dir: str = setting("", "folder of measured room impulse responses (reverb:model=measured)")
    auto_split: str = setting("", "when no clip of the manifest has a split: assign train/val/test by these "
                                  "percentages, stratified by label and system (not speaker-disjoint), from "
                                  "--seed, and write them to RUN/manifest.csv; empty = such a manifest is an error",
                              metavar="TRAIN/VAL/TEST")


@dataclass
class FeatureConfig:
    # cqt is the default: it generalised best to held-out systems in the README's front-end comparison.
    frontend: str = setting("cqt", "model input: cqt (log constant-Q, multi-rate), logmel, seed-image (the seed's "
                                   "224 x 224 magma spectrogram image, 3-channel stem), seed-thresholded (its "
                                   "band-thresholded variant), lfcc (ASVspoof baseline, 60 x frames); "
                                   "torchaudio|nnaudio: logmel with that --mel-backend", choices=FRONTENDS)
    backend: str = setting("torchaudio", "log-mel implementation", flag="--mel-backend", choices=MEL_BACKENDS)
    # The log-mel settings; cqt uses hop_length too. seed-image, seed-thresholded and lfcc
    # have the fixed settings of their published recipes.
    n_fft: int = setting(512, "log-mel FFT size in samples")
    hop_length: int = setting(160, "log-mel and CQT hop in samples (160 = 10 ms at 16 kHz)")
    n_mels: int = setting(80, "log-mel bands")
    f_min: float = setting(20.0, "log-mel lowest frequency in Hz")
    f_max: float = setting(0.0, "log-mel highest frequency in Hz; 0 = sample_rate / 2")
    # Training-time augmentation of an image front-end's picture (before ImageNet normalisation).
    augment_flip: float = setting(0.0, "training only: probability of flipping each clip's image left-right "
                                       "(time reversed); image front-ends only")
    augment_rotate_deg: float = setting(0.0, "training only: rotate each clip's image by an angle uniform in "
                                             "+-N degrees (counter-clockwise positive); image front-ends only")
    augment_mask: float = setting(0.0, "training only: probability of one time mask (up to 10 frames) and one "
                                       "frequency mask (up to 8 bins) per clip, on every front-end's output "
                                       "(WeDefense uses 0.6); 0 = off")


@dataclass
class ModelConfig:
    dropout: float = setting(0.3, "dropout probability before the classifier head")
    pretrained: str = setting("", "ImageNet initialisation: a local torchvision resnet18 state-dict file, or "
                                  "imagenet to download torchvision's IMAGENET1K_V1 weights (needs the network)")
    freeze_epochs: int = setting(0, "train only the head for the first N epochs (with --pretrained)")
    channels_last: bool = setting(True, "channels-last memory layout (faster convolutions on a GPU)")


# The training chain: five families of laundering, one per laundered clip, and RawBoost's series 1+2
# (the authors' LA setting) with the weight of the five together, so that it launders half of the
# laundered clips (40 % of all at p=0.8). RawBoost joined the chain by benchmarks.recipes's rule over
# 3 seeds (docs/benchmarks.md#recipes-chosen-by-code); the recipes there are named against LAUNDER_CHAIN.
LAUNDER_CHAIN = ("p=0.8; noise:white|pink|brown|babble|volvo|street:snr=0..20; reverb:rt60=0.2..1.0; "
                 "resample:8000|11025|22050; lowpass:4000|5500|7000; codecsim:step=3..12:cutoff=4000..8000")
RAWBOOST_IN_CHAIN = f"rawboost:5:w={sum(1 for s in LAUNDER_CHAIN.split(';') if not s.strip().startswith('p='))}"


@dataclass
class TrainConfig:
    epochs: int = setting(20, "training epochs at most")
    batch_size: int = setting(32, "training batch size in clips")
    lr: float = setting(1e-3, "AdamW peak learning rate (cosine schedule)")
    weight_decay: float = setting(1e-4, "AdamW weight decay")
    patience: int = setting(5, "early-stopping patience: epochs without improvement of --stop-on")
    stop_on: str = setting("val_eer", "the validation measure that early stopping and best.pt follow (lower is "
                                      "better): val_eer, or val_loss (cross-entropy in nats per clip)",
                           choices=STOP_CRITERIA)
    seed: int = setting(42, "seed of initialisation, crops and training-time laundering")
    device: str = setting("auto", "auto | cpu | cuda | cuda:N")
    amp: str = setting("auto", "mixed precision", choices=AMP_MODES)
    launder: str = setting(f"{LAUNDER_CHAIN}; {RAWBOOST_IN_CHAIN}",
                           "training-time laundering: per clip, with probability p, one of these conditions "
                           "(detector conditions lists them); off = none")
    train_codecs: str = setting("", "real codecs to train with, ';'-separated host conditions, e.g. 'codec:aac:32k; "
                                    "codec:amr:12.2k; mp3:64k' (detector conditions lists them): before training, "
                                    "every training clip is coded once per condition into a derived cache beside the "
                                    "waveform cache (resumable, reused by later runs; disk: int16 at the model's "
                                    "rate, 115.2 MB per hour of training audio per condition at 16 kHz), and each "
                                    "example of each epoch reads its crop from one of them (equal odds) with "
                                    "probability --codec-p; --launder applies on top; empty = off",
                                metavar="CONDITIONS")
    codec_p: float = setting(0.5, "with --train-codecs: probability that a training example's crop comes from a "
                                  "codec variant, drawn per example and epoch from --seed; 0.5 keeps half the "
                                  "examples clean", metavar="P")
    max_steps_per_epoch: int = setting(0, "cap the steps of an epoch (smoke runs); 0 = the whole training split")
    deterministic: bool = setting(False, "deterministic kernels (on CUDA; warns about ops that have none); CPU "
                                         "runs are deterministic already")
    compile: bool = setting(False, "torch.compile the model (minutes of compilation first; faster steps on a GPU)")
    save_every_minutes: float = setting(10.0, "also save last.pt inside an epoch this often, for a SIGKILL; "
                                              "0 = at epoch ends only")
    tensorboard: bool = setting(True, "write TensorBoard events to RUN/tensorboard (main process only): loss, "
                                      "learning rate, clips/s and skipped steps a few times a second; validation "
                                      "EER, minDCF and losses per epoch; front-end pictures of 4 validation clips, "
                                      "clean and laundered; the config")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config", base: "Config | None" = None) -> "Config":
        """Build a config from nested plain data over ``base`` (default: the defaults), rejecting unknown
        sections and keys."""
        config = copy.deepcopy(base) if base is not None else cls()
        for section, entries in values.items():
            if section not in _SECTIONS:
                raise ValueError(f"{source}: unknown section [{section}]; valid: {', '.join(_SECTIONS)}")
            if not isinstance(entries, dict):
                raise ValueError(f"{source}: [{section}] must be a table of key = value")
            target = getattr(config, section)
            for key, value in entries.items():
                set_field(target, key, value, f"{source}: [{section}]")
        return config

    @classmethod
    def from_recipe(cls, name: str) -> "Config":
        """The defaults with recipe ``name``'s values (:data:`RECIPES`)."""
        if name not in RECIPES:
            raise ValueError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
        return cls.from_dict(RECIPES[name], source=f"recipe {name}")

    @classmethod
    def from_toml(cls, path: str | Path, base: "Config | None" = None) -> "Config":
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML ({error})") from None
        return cls.from_dict(values, source=str(path), base=base)

    def to_toml(self) -> str:
        lines = []
        for section, entries in self.to_dict().items():
            lines.append(f"[{section}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in entries.items())
            lines.append("")
        return "\n".join(lines)


_SECTIONS = tuple(f.name for f in dataclasses.fields(Config))

# Named presets (``--recipe``). Every value a recipe stands for is written out, even where it
# equals today's default, so a later change of a default cannot change a recipe.
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    # The seed research code: an ImageNet ResNet-18 fine-tuned on 224 x 224 spectrogram images.
    "seed": {
        "data": {"auto_split": "70/15/15"},
        "features": {"frontend": "seed-image", "augment_flip": 0.5, "augment_rotate_deg": 10.0},
        "model": {"pretrained": IMAGENET, "dropout": 0.3, "freeze_epochs": 3},
        "train": {"lr": 1e-3, "weight_decay": 1e-4, "batch_size": 32, "epochs": 15, "patience": 5,
                  "stop_on": "val_loss"},
    },
}


def set_field(target: Any, key: str, value: Any, where: str) -> None:
    """Set ``target.key = value`` after checking the key exists, the type matches and the value is a valid choice."""
    fields = {f.name: f for f in dataclasses.fields(target)}
    if key not in fields:
        raise ValueError(f"{where}: unknown key {key!r}; valid: {', '.join(fields)}")
    expected = type(getattr(target, key))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{where}: {key} must be {expected.__name__}, got {value!r}")
    choices = fields[key].metadata.get("choices")
    if choices and value not in choices:
        raise ValueError(f"{where}: {key} must be one of {', '.join(choices)}; got {value!r}")
    setattr(target, key, value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON string escaping is valid TOML basic-string escaping for the characters we write.
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
