"""The condition language: parse strings such as ``"noise:white|pink:snr=0..20"`` into attacks.

Grammar: ``family[:arg][:key=value]...``

- ``family`` names a registered family (:mod:`.registry`; one file each in
  :mod:`.families`; ``clean`` is the identity).
- ``arg`` is shorthand for the family's main key: ``resample:8000`` means
  ``resample:rate=8000``; a family may take two, filled in order
  (``codec:aac:32k`` means ``codec:codec=aac:bitrate=32k``).
- a number value is a fixed number ``10``, a range ``0..20`` (uniform per
  example) or alternatives ``8000|11025`` (one drawn per example); a word value
  (the noise type) is a word or alternatives ``white|pink``.

A CLI flag, a config file and an ablation grid all use these strings. The grammar's text, the
study's conditions and ``expand_conditions`` live in :mod:`.language`, which imports no torch.
"""

from __future__ import annotations

import math

from . import families  # noqa: F401  (importing the package registers every family)
from .attacks import Attack
from .banks import LaunderBanks
from .language import CATALOGUE_ALL, STUDY_CONDITIONS, VALUE_GRAMMAR, expand_conditions  # noqa: F401  (re-exported)
from .registry import FAMILIES, NumberKey, Value, WordKey
from .sampling import Choice, Uniform


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
            free = [name for name in family.positionals if name not in raw]
            if not free:
                takes = family.describe() or "nothing"
                raise ValueError(f"{where}: unexpected argument {token!r}; {family_name} takes: {takes}")
            key, value = free[0], token
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
