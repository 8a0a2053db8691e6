"""The family registry: each laundering family registers how its conditions are parsed and built.

A family lives in one file of :mod:`.families`, which is imported whole, so adding a family is
adding a file there (plus its tests)::

    @register_family("gain", example="gain:-6..6", keys={"db": NumberKey("dB", -60.0, 60.0)}, positional="db")
    def build(values, sample_rate, name, banks):
        return Gain(values["db"], sample_rate, name)

``build(values, sample_rate, name, banks)`` receives the parsed key values (see
:mod:`.catalogue` for the grammar), the model's sample rate in Hz, the condition string and the
:class:`~.banks.LaunderBanks` that noises and impulse responses come from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .attacks import Attack
from .banks import LaunderBanks
from .sampling import Choice, Uniform


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
Builder = Callable[[dict[str, Value], int, str, LaunderBanks], Attack]


@dataclass(frozen=True)
class Family:
    """How to parse and build one family of conditions."""

    build: Builder
    example: str
    keys: dict[str, NumberKey | WordKey] = field(default_factory=dict)
    positional: str | tuple[str, ...] | None = None

    @property
    def positionals(self) -> tuple[str, ...]:
        """The keys bare arguments fill, in order (``codec:aac:32k``: codec, then bitrate)."""
        if self.positional is None:
            return ()
        return (self.positional,) if isinstance(self.positional, str) else tuple(self.positional)

    def describe(self) -> str:
        return "; ".join(f"{key}: {rule.describe()}" for key, rule in self.keys.items())


FAMILIES: dict[str, Family] = {}


def register_family(name: str, example: str, keys: dict[str, NumberKey | WordKey] | None = None,
                    positional: str | tuple[str, ...] | None = None) -> Callable[[Builder], Builder]:
    """Decorator: register ``build`` as the family ``name`` (``keys``: its parameters; ``positional``:
    the key a bare argument means, e.g. ``rate`` in ``resample:8000``, or several keys that bare
    arguments fill in order, e.g. ``("codec", "bitrate")`` for ``codec:aac:32k``)."""
    def decorate(build: Builder) -> Builder:
        if name in FAMILIES:
            raise ValueError(f"laundering family {name!r} is registered twice")
        FAMILIES[name] = Family(build=build, example=example, keys=dict(keys or {}), positional=positional)
        return build
    return decorate


def single_value(values: dict[str, Value], key: str, name: str) -> float:
    """The one fixed value of ``key``, for a family that cannot draw per example (a codec runs once per clip)."""
    value = values[key]
    if isinstance(value, Choice) and len(value.options) == 1:
        return value.options[0]
    raise ValueError(f"condition {name!r}: {key} takes one fixed value here (a codec runs once per clip)")
