"""Typed configuration: dataclass defaults <- TOML file <- command-line flags.

The resolved configuration is saved with every run (``RUN/config.toml``) and inside
every checkpoint as plain data (a dict of str/int/float/bool), so a checkpoint never
needs pickled objects to be rebuilt.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DataConfig:
    manifest: str = ""
    cache_dir: str = ""          # empty: $DETECTOR_CACHE or ~/.cache/detector
    sample_rate: int = 16000     # Hz, the model's rate
    crop_s: float = 4.0          # seconds per training/evaluation crop
    num_workers: int = -1        # DataLoader workers; -1 = auto: min(8, CPUs) on CUDA, 0 (main process) on CPU
    cache_on_device: bool = False  # training: whole int16 cache on the device, crops gathered there (DeviceCropLoader)
    on_error: str = "fail"       # fail | skip: what a bad manifest row does
    allow_outside_root: bool = False  # manifest paths may climb out of its folder with ../
    noise_dirs: str = ""         # "TYPE=PATH,..." folders of real noise recordings (else built-in substitutes)
    rir_dir: str = ""            # folder of measured room impulse responses (reverb:model=measured)


@dataclass
class FeatureConfig:
    frontend: str = "logmel"     # logmel | seed-image | seed-thresholded | lfcc | cqt (see detector.features)
    backend: str = "torchaudio"  # log-mel implementation: torchaudio | nnaudio
    # The log-mel settings; cqt uses hop_length too. seed-image, seed-thresholded and lfcc
    # have the fixed settings of their published recipes.
    n_fft: int = 512
    hop_length: int = 160        # samples (10 ms at 16 kHz)
    n_mels: int = 80
    f_min: float = 20.0          # Hz
    f_max: float = 0.0           # Hz; 0 means sample_rate / 2


@dataclass
class ModelConfig:
    dropout: float = 0.3
    pretrained: str = ""         # local torchvision resnet18 state-dict file; never downloaded
    freeze_epochs: int = 0       # train only the head for this many epochs (with --pretrained)
    channels_last: bool = True


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5            # epochs without validation-EER improvement before stopping
    seed: int = 42
    device: str = "auto"         # auto | cpu | cuda | cuda:N
    amp: str = "auto"            # auto | bf16 | fp16 | off
    # Training-time laundering: per clip, with probability p, one of these (see detector.launder).
    launder: str = ("p=0.8; noise:white|pink|brown|babble|volvo|street:snr=0..20; reverb:rt60=0.2..1.0; "
                    "resample:8000|11025|22050; lowpass:4000|5500|7000; codecsim:step=3..12:cutoff=4000..8000")
    max_steps_per_epoch: int = 0  # 0 = the whole training split; >0 caps an epoch (smoke runs)
    deterministic: bool = False  # deterministic kernels (CUDA); CPU runs are deterministic already
    compile: bool = False        # torch.compile the model (slower start, faster steps on a GPU)
    save_every_minutes: float = 10.0  # also write last.pt inside an epoch this often (for a SIGKILL); 0 = epoch ends only


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> "Config":
        """Build a config from nested plain data, rejecting unknown sections and keys."""
        config = cls()
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
    def from_toml(cls, path: str | Path) -> "Config":
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML ({error})") from None
        return cls.from_dict(values, source=str(path))

    def to_toml(self) -> str:
        lines = []
        for section, entries in self.to_dict().items():
            lines.append(f"[{section}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in entries.items())
            lines.append("")
        return "\n".join(lines)


_SECTIONS = tuple(f.name for f in dataclasses.fields(Config))


def set_field(target: Any, key: str, value: Any, where: str) -> None:
    """Set ``target.key = value`` after checking the key exists and the type matches."""
    types = {f.name: f.type for f in dataclasses.fields(target)}
    if key not in types:
        raise ValueError(f"{where}: unknown key {key!r}; valid: {', '.join(types)}")
    expected = type(getattr(target, key))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{where}: {key} must be {expected.__name__}, got {value!r}")
    setattr(target, key, value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON string escaping is valid TOML basic-string escaping for the characters we write.
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
