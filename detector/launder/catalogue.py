"""The condition language: parse strings such as ``"noise:white|pink:snr=0..20"`` into attacks.

Grammar: ``family[:arg][:key=value]...``

- ``family`` names an entry of ``FAMILIES`` (``clean`` is the identity).
- ``arg`` is shorthand for the family's main key: ``resample:8000`` means
  ``resample:rate=8000``.
- a number value is a fixed number ``10``, a range ``0..20`` (uniform per
  example) or alternatives ``8000|11025`` (one drawn per example); a word value
  (the noise type) is a word or alternatives ``white|pink``.

A CLI flag, a config file and an ablation grid all use these strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .attacks import AddNoise, AddReverb, AddRoomReverb, Attack, Identity, ResampleRoundTrip
from .banks import NOISE_TYPES, LaunderBanks
from .codec import HostCodec
from .effects import (AddColouredNoise, Clip, CodecSim, Gain, LowPass, MuLaw, Polarity, Shift, Telephone,
                      lowpass_cutoffs)
from .sampling import Choice, Uniform

VALUE_GRAMMAR = "a number '10', a range 'lo..hi' (uniform per example) or alternatives 'a|b|c' (one per example)"


@dataclass(frozen=True)
class NumberKey:
    """A numeric key, valid on ``[low, high]`` (inclusive) in ``unit``."""

    unit: str
    low: float
    high: float
    integer: bool = False
    allow_range: bool = True
    default: str | None = None
    optional: bool = False      # may be left out (the family decides what that means)
    suffix: str = ""            # accepted after a number and ignored, e.g. "k" in "128k"

    def describe(self) -> str:
        text = f"{self.low:g}..{self.high:g} {self.unit}"
        if self.integer:
            text += ", integer"
        if not self.allow_range:
            text += ", fixed or alternatives only"
        if self.default is not None:
            text += f", default {self.default}"
        return text


@dataclass(frozen=True)
class WordKey:
    """A key whose value is one of ``words`` (or alternatives of them); ``meaning`` explains them in help texts."""

    words: tuple[str, ...]
    default: str | None = None
    meaning: str = ""

    def describe(self) -> str:
        text = "|".join(self.words)
        if self.default is not None:
            text += f", default {self.default}"
        return f"{text} ({self.meaning})" if self.meaning else text


Value = Uniform | Choice | tuple[str, ...]


@dataclass(frozen=True)
class Family:
    """How to parse and build one family of conditions."""

    build: Callable[[dict[str, Value], int, str, LaunderBanks], Attack]
    example: str
    keys: dict[str, NumberKey | WordKey] = field(default_factory=dict)
    positional: str | None = None

    def describe(self) -> str:
        return "; ".join(f"{key}: {rule.describe()}" for key, rule in self.keys.items())


def _build_noise(values, sample_rate, name, banks):
    return AddNoise(banks.noise_bank(values["type"], sample_rate), values["snr"], sample_rate, name)


REVERB_MODELS = ("auto", "study", "shoebox", "synthetic", "measured")
REVERB_MODEL_MEANING = (
    "auto: study for fixed RT60s, synthetic for a range; "
    "study: the laundered-ASVspoof study's room by its recipe verbatim, one response per RT60, "
    "measured T20 longer than the name (0.68 s for 0.6, 1.08 s for 0.9); "
    "shoebox: that room calibrated to the named T20, jittered positions (8 per RT60), for training; "
    "synthetic: exponential-decay noise, any RT60 range; measured: --rir-dir responses")


def _build_reverb(values, sample_rate, name, banks):
    model = values["model"][0]
    rt60 = values["rt60"]
    if model == "measured":
        bank = banks.measured_bank(sample_rate)
        return AddRoomReverb(bank, bank.entries(), sample_rate, name)
    if rt60 is None:
        raise ValueError(f"condition {name!r}: missing rt60 (s), e.g. 'reverb:rt60=0.3'; only model=measured "
                         "goes without")
    if model == "synthetic" or (model == "auto" and isinstance(rt60, Uniform)):
        return AddReverb(rt60, values["drr"], sample_rate, name)
    if isinstance(rt60, Uniform):
        raise ValueError(f"condition {name!r}: model={model} simulates discrete rooms: give RT60 values "
                         "'0.3|0.6|0.9', not a range (or model=synthetic for a continuous range)")
    bank = banks.shoebox_bank(rt60.options, sample_rate) if model == "shoebox" else banks.study_bank(
        rt60.options, sample_rate)
    return AddRoomReverb(bank, bank.entries(rt60.options), sample_rate, name)


def _build_resample(values, sample_rate, name, banks):
    rates = tuple(int(rate) for rate in values["rate"].options)
    return ResampleRoundTrip(rates, sample_rate, name)


def _single(values, key, name):
    value = values[key]
    if isinstance(value, Choice) and len(value.options) == 1:
        return value.options[0]
    raise ValueError(f"condition {name!r}: {key} takes one fixed value here (a codec runs once per clip)")


def _codec(codec):
    def build(values, sample_rate, name, banks):
        key = "bitrate" if codec == "mp3" else "level"
        return HostCodec(codec, _single(values, key, name), sample_rate, name)
    return build


def _simple(cls):
    return lambda values, sample_rate, name, banks: cls(sample_rate, name)


FAMILIES: dict[str, Family] = {
    "clean": Family(build=_simple(Identity), example="clean"),
    "noise": Family(
        build=_build_noise,
        example="noise:babble:snr=10..10.5",
        keys={"type": WordKey(NOISE_TYPES), "snr": NumberKey("dB", -50.0, 100.0)},
        positional="type",
    ),
    "reverb": Family(
        build=_build_reverb,
        example="reverb:rt60=0.3",
        keys={"rt60": NumberKey("s", 0.01, 5.0, optional=True),
              "model": WordKey(REVERB_MODELS, default="auto", meaning=REVERB_MODEL_MEANING),
              "drr": NumberKey("dB", -40.0, 40.0, default="-10")},
        positional="rt60",
    ),
    "resample": Family(
        build=_build_resample,
        example="resample:8000|11025",
        keys={"rate": NumberKey("Hz", 1000.0, 384000.0, integer=True, allow_range=False)},
        positional="rate",
    ),
    "lowpass": Family(
        build=lambda v, sr, name, banks: LowPass(lowpass_cutoffs(v["cutoff"]), int(_single(v, "order", name)), sr,
                                                 name),
        example="lowpass:7000",
        keys={"cutoff": NumberKey("Hz", 10.0, 192000.0),
              "order": NumberKey("", 1, 12, integer=True, allow_range=False, default="5")},
        positional="cutoff",
    ),
    "mp3": Family(
        build=_codec("mp3"), example="mp3:128k",
        keys={"bitrate": NumberKey("kbit/s", 8.0, 320.0, allow_range=False, suffix="k")}, positional="bitrate"),
    "vorbis": Family(
        build=_codec("vorbis"), example="vorbis:0.5",
        keys={"level": NumberKey("(libsndfile compression level, 0 = best)", 0.0, 1.0, allow_range=False)},
        positional="level"),
    "opus": Family(
        build=_codec("opus"), example="opus:0.5",
        keys={"level": NumberKey("(libsndfile compression level, 0 = best)", 0.0, 1.0, allow_range=False)},
        positional="level"),
    "gain": Family(
        build=lambda v, sr, name, banks: Gain(v["db"], sr, name), example="gain:-6..6",
        keys={"db": NumberKey("dB", -60.0, 60.0)}, positional="db"),
    "clip": Family(
        build=lambda v, sr, name, banks: Clip(v["level"], sr, name), example="clip:0.5",
        keys={"level": NumberKey("x peak", 0.01, 1.0)}, positional="level"),
    "mulaw": Family(build=_simple(MuLaw), example="mulaw"),
    "telephone": Family(build=_simple(Telephone), example="telephone"),
    "codecsim": Family(
        build=lambda v, sr, name, banks: CodecSim(v["step"], v["cutoff"], sr, name),
        example="codecsim:step=3..12:cutoff=4000..8000",
        keys={"step": NumberKey("dB", 0.1, 40.0, default="6"), "cutoff": NumberKey("Hz", 100.0, 96000.0,
                                                                                   default="7000")}),
    "colored": Family(
        build=lambda v, sr, name, banks: AddColouredNoise(v["decay"], v["snr"], sr, name),
        example="colored:snr=3..30:decay=-2..2",
        keys={"snr": NumberKey("dB", -50.0, 100.0, default="3..30"),
              "decay": NumberKey("(power ~ 1/f^decay)", -6.0, 6.0, default="-2..2")}),
    "polarity": Family(
        build=lambda v, sr, name, banks: Polarity(_single(v, "p", name), sr, name), example="polarity:p=0.5",
        keys={"p": NumberKey("probability", 0.0, 1.0, allow_range=False, default="1")}, positional="p"),
    "shift": Family(
        build=lambda v, sr, name, banks: Shift(v["fraction"], sr, name), example="shift:-0.5..0.5",
        keys={"fraction": NumberKey("x length", -1.0, 1.0, default="-0.5..0.5")}, positional="fraction"),
}

# The laundered ASVspoof 2019 LA study's 29 conditions (Ali et al., 2024), by family, plus clean.
# Reverb is the study's room by its recipe (model=study, the default for fixed RT60s); noise
# SNRs are drawn from [s, s + 0.5] dB as in the study.
STUDY_CONDITIONS: tuple[str, ...] = (
    *(f"reverb:rt60={rt60}" for rt60 in ("0.3", "0.6", "0.9")),
    *(f"noise:{kind}:snr={snr}..{snr}.5" for kind in ("babble", "cafe", "street", "volvo", "white")
      for snr in (0, 10, 20)),
    *(f"resample:{rate}" for rate in (8000, 11025, 22050, 44100)),
    *(f"mp3:{rate}k" for rate in (16, 64, 128, 196, 256, 320)),
    "lowpass:7000",
)
CATALOGUE_ALL: tuple[str, ...] = ("clean", *STUDY_CONDITIONS)


def expand_conditions(text: str | list[str]) -> list[str]:
    """``"all"`` -> :data:`CATALOGUE_ALL`; ``"study"`` -> the 29 without clean; else a comma-separated list."""
    items = text if isinstance(text, list) else [text]
    out: list[str] = []
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if part == "all":
                out += CATALOGUE_ALL
            elif part == "study":
                out += STUDY_CONDITIONS
            elif part:
                out.append(part)
    return list(dict.fromkeys(out))


def describe_families() -> str:
    """One line per family with its keys and valid ranges, for help texts and error messages."""
    lines = []
    for name, family in FAMILIES.items():
        detail = f" ({family.describe()})" if family.keys else ""
        lines.append(f"  {name}{detail}, e.g. '{family.example}'")
    return "\n".join(lines)


def _parse_number(text: str, key: str, rule: NumberKey, where: str) -> float:
    if rule.suffix and text.endswith(rule.suffix):
        text = text[: -len(rule.suffix)]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{where}: {key}={text!r} is not a number; {key} takes {VALUE_GRAMMAR}, in {rule.describe()}")
    if rule.integer and value != int(value):
        raise ValueError(f"{where}: {key}={text} must be an integer ({rule.describe()})")
    if not rule.low <= value <= rule.high:
        raise ValueError(f"{where}: {key}={text} is outside the valid range {rule.describe()}")
    return value


def _parse_value(text: str, key: str, rule: NumberKey | WordKey, where: str) -> Value:
    if isinstance(rule, WordKey):
        words = tuple(word.strip() for word in text.split("|"))
        unknown = [word for word in words if word not in rule.words]
        if unknown:
            raise ValueError(f"{where}: unknown {key} {unknown}; valid: {rule.describe()}")
        return words
    if ".." in text:
        if not rule.allow_range:
            raise ValueError(f"{where}: {key} takes fixed values or alternatives 'a|b', not a range ({text!r})")
        low_text, _, high_text = text.partition("..")
        low = _parse_number(low_text.strip(), key, rule, where)
        high = _parse_number(high_text.strip(), key, rule, where)
        if low > high:
            raise ValueError(f"{where}: empty range {key}={text}; write it as lo..hi with lo <= hi")
        return Uniform(low, high)
    return Choice([_parse_number(option.strip(), key, rule, where) for option in text.split("|")])


def parse_condition(text: str, sample_rate: int = 16000, banks: LaunderBanks | None = None) -> Attack:
    """Build the attack a condition string names.

    Args:
        text: e.g. ``"clean"``, ``"noise:white|pink:snr=0..20"``,
            ``"reverb:rt60=0.3"``, ``"resample:8000"``.
        sample_rate: Hz of the waveforms the attack will see.
        banks: where noises and impulse responses come from; default
            ``LaunderBanks()`` (generated noises, simulated rooms, babble and
            cafe from the packaged demo-corpus prompts).

    Returns:
        An :class:`Attack` whose ``name`` is ``text`` (stripped).

    Raises:
        ValueError: naming the problem and listing the valid families, keys
            or ranges.
    """
    where = f"condition {text.strip()!r}"
    if not (isinstance(sample_rate, int) and sample_rate > 0):
        raise ValueError(f"{where}: sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    family_name, *tokens = [token.strip() for token in text.strip().split(":")]
    if family_name not in FAMILIES:
        raise ValueError(f"{where}: unknown family {family_name!r}; valid families:\n{describe_families()}")
    family = FAMILIES[family_name]
    raw: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            if family.positional is None or family.positional in raw:
                raise ValueError(f"{where}: unexpected argument {token!r}; {family_name} takes: {family.describe() or 'nothing'}")
            key, value = family.positional, token
        if key not in family.keys:
            valid = ", ".join(family.keys) or "none"
            raise ValueError(f"{where}: unknown key {key!r} for {family_name}; valid keys: {valid}")
        if key in raw:
            raise ValueError(f"{where}: {key} given twice")
        if not value:
            raise ValueError(f"{where}: {key} has no value; it takes {VALUE_GRAMMAR}")
        raw[key] = value
    values: dict[str, Value] = {}
    for key, rule in family.keys.items():
        if key not in raw and rule.default is None:
            if getattr(rule, "optional", False):
                values[key] = None
                continue
            raise ValueError(f"{where}: missing {key} ({rule.describe()}), e.g. '{family.example}'")
        values[key] = _parse_value(raw.get(key, rule.default), key, rule, where)
    return family.build(values, sample_rate, text.strip(), banks if banks is not None else default_banks())


_DEFAULT_BANKS: LaunderBanks | None = None


def default_banks() -> LaunderBanks:
    """A process-wide ``LaunderBanks()`` (no corpus: packaged babble talkers), so generated banks are built once."""
    global _DEFAULT_BANKS
    if _DEFAULT_BANKS is None:
        _DEFAULT_BANKS = LaunderBanks()
    return _DEFAULT_BANKS
