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

from .attacks import AddNoise, AddReverb, Attack, Identity, ResampleRoundTrip
from .noise import NOISE_COLOURS, NoiseBank
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
    """A key whose value is one of ``words`` (or alternatives of them)."""

    words: tuple[str, ...]
    default: str | None = None

    def describe(self) -> str:
        return "|".join(self.words)


Value = Uniform | Choice | tuple[str, ...]


@dataclass(frozen=True)
class Family:
    """How to parse and build one family of conditions."""

    build: Callable[[dict[str, Value], int, str], Attack]
    example: str
    keys: dict[str, NumberKey | WordKey] = field(default_factory=dict)
    positional: str | None = None

    def describe(self) -> str:
        return "; ".join(f"{key}: {rule.describe()}" for key, rule in self.keys.items())


def _build_noise(values: dict[str, Value], sample_rate: int, name: str) -> Attack:
    bank = NoiseBank.coloured(values["type"], sample_rate)
    return AddNoise(bank, values["snr"], sample_rate, name)


def _build_reverb(values: dict[str, Value], sample_rate: int, name: str) -> Attack:
    return AddReverb(values["rt60"], values["drr"], sample_rate, name)


def _build_resample(values: dict[str, Value], sample_rate: int, name: str) -> Attack:
    rates = tuple(int(rate) for rate in values["rate"].options)
    return ResampleRoundTrip(rates, sample_rate, name)


FAMILIES: dict[str, Family] = {
    "clean": Family(build=lambda values, sample_rate, name: Identity(sample_rate, name), example="clean"),
    "noise": Family(
        build=_build_noise,
        example="noise:white:snr=10",
        keys={"type": WordKey(tuple(NOISE_COLOURS)), "snr": NumberKey("dB", -50.0, 100.0)},
        positional="type",
    ),
    "reverb": Family(
        build=_build_reverb,
        example="reverb:rt60=0.3..0.9",
        keys={"rt60": NumberKey("s", 0.01, 5.0), "drr": NumberKey("dB", -40.0, 40.0, default="-10")},
        positional="rt60",
    ),
    "resample": Family(
        build=_build_resample,
        example="resample:8000|11025",
        keys={"rate": NumberKey("Hz", 1000.0, 384000.0, integer=True, allow_range=False)},
        positional="rate",
    ),
}


def describe_families() -> str:
    """One line per family with its keys and valid ranges, for help texts and error messages."""
    lines = []
    for name, family in FAMILIES.items():
        detail = f" ({family.describe()})" if family.keys else ""
        lines.append(f"  {name}{detail}, e.g. '{family.example}'")
    return "\n".join(lines)


def _parse_number(text: str, key: str, rule: NumberKey, where: str) -> float:
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


def parse_condition(text: str, sample_rate: int = 16000) -> Attack:
    """Build the attack a condition string names.

    Args:
        text: e.g. ``"clean"``, ``"noise:white|pink:snr=0..20"``,
            ``"reverb:rt60=0.3"``, ``"resample:8000"``.
        sample_rate: Hz of the waveforms the attack will see.

    Returns:
        An :class:`Attack` whose ``name`` is ``text`` (stripped).

    Raises:
        ValueError: naming the problem and listing the valid families, keys
            or ranges.
    """
    where = f"condition {text.strip()!r}"
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
            raise ValueError(f"{where}: missing {key} ({rule.describe()}), e.g. '{family.example}'")
        values[key] = _parse_value(raw.get(key, rule.default), key, rule, where)
    return family.build(values, sample_rate, text.strip())
