"""Stochastic laundering chain: per example, with probability ``p``, one condition drawn from a list.

Spec strings, e.g. for a training flag::

    "p=0.8; noise:white|pink:snr=0..20; reverb:rt60=0.2..1.0:w=2; resample:8000|11025"

Segments are separated by ``;``. ``p=`` (default 1) is the probability that
an example is laundered at all; every other segment is a condition (see
:mod:`catalogue`) with an optional weight key ``w=`` (default 1) giving its
relative odds. ``""``, ``"none"`` and ``"off"`` give the identity chain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from detector.utils.runtime import upload

from .attacks import Attack, Params
from .catalogue import parse_condition
from .functional import check_waveform

IDENTITY_SPECS = ("", "none", "off")


def _parse_fraction(text: str, what: str, spec: str, low: float, high: float | None) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= low and (high is None or value <= high)):
        bound = f"in [{low:g}, {high:g}]" if high is not None else f"> {low:g}"
        raise ValueError(f"chain spec {spec!r}: {what}={text!r} must be a number {bound}")
    return value


def _split_weight(condition: str, spec: str) -> tuple[str, float]:
    """Remove a ``w=`` token from a condition string; return (condition, weight)."""
    tokens = [token.strip() for token in condition.split(":")]
    weights = [token for token in tokens if token.startswith("w=")]
    if len(weights) > 1:
        raise ValueError(f"chain spec {spec!r}: condition {condition!r} has more than one weight")
    weight = _parse_fraction(weights[0][2:], "w", spec, 0.0, None) if weights else 1.0
    if weight == 0.0:
        raise ValueError(f"chain spec {spec!r}: w=0 in {condition!r}; drop the condition instead")
    return ":".join(token for token in tokens if not token.startswith("w=")), weight


class LaunderChain(Attack):
    """Per example: with probability ``p`` apply one of ``conditions`` (drawn by ``weights``), else identity.

    Params (host tensors, like every attack's): ``apply`` ``(batch,)`` bool,
    ``choice`` ``(batch,)`` long index into ``conditions``, and each
    condition's own params under the prefix ``"{index}."`` (e.g.
    ``"0.snr_db"``). Every condition samples for the whole batch, so the random
    stream does not depend on which were chosen.

    Cost: each laundered example pays for its own condition only, on every
    device. The choices are on the host, so the rows of each condition are known
    without reading the device; they are gathered, laundered together and
    scattered back (``index_select`` / ``index_copy``, indices copied to the
    device without blocking). Computing every condition on the whole batch and
    selecting per example (the only sync-free way if the choices lived on the
    device) cost 7.1x more for the default training chain.

    Args:
        conditions: the attacks to choose from (may be empty: identity).
        weights: relative odds per condition (default: equal).
        p: probability that an example is laundered.
    """

    def __init__(
        self,
        conditions: Sequence[Attack],
        weights: Sequence[float] | None = None,
        p: float = 1.0,
        sample_rate: int = 16000,
        name: str | None = None,
    ) -> None:
        weights = [1.0] * len(conditions) if weights is None else [float(w) for w in weights]
        super().__init__(name or "; ".join([f"p={p:g}"] + [c.name for c in conditions]), sample_rate)
        if len(weights) != len(conditions) or any(not w > 0 for w in weights):
            raise ValueError(f"{self.name}: need one positive weight per condition, got {weights}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{self.name}: p must be in [0, 1], got {p}")
        host = [c.name for c in conditions if c.host_side]
        if host:
            raise ValueError(f"{self.name}: {host} run on the host (real codecs) and cannot be in an on-device "
                             "chain; train with them through --train-codecs (coded once into derived caches), "
                             "or use codecsim:... in the chain")
        mismatched = [c.name for c in conditions if c.sample_rate != sample_rate]
        if mismatched:
            raise ValueError(f"{self.name}: conditions {mismatched} are not at the chain's {sample_rate} Hz")
        self.conditions = torch.nn.ModuleList(conditions)
        self.p = p
        total = sum(weights)
        self.cumulative = torch.cumsum(torch.tensor([w / total for w in weights], dtype=torch.float32), 0)
        self.param_keys = ("apply", "choice") if conditions else ()

    @classmethod
    def from_spec(cls, spec: str, sample_rate: int = 16000, banks=None) -> LaunderChain:
        """Parse a chain spec (see the module docstring); ``banks``: a :class:`~.banks.LaunderBanks` or ``None``."""
        if spec.strip().lower() in IDENTITY_SPECS:
            return cls([], sample_rate=sample_rate, name=spec.strip() or "none")
        p = None
        conditions, weights = [], []
        for segment in (s.strip() for s in spec.split(";")):
            if not segment:
                continue  # tolerate "a; b;" and doubled separators
            if segment.startswith("p="):
                if p is not None:
                    raise ValueError(f"chain spec {spec!r}: p given twice")
                p = _parse_fraction(segment[2:], "p", spec, 0.0, 1.0)
                continue
            condition, weight = _split_weight(segment, spec)
            conditions.append(parse_condition(condition, sample_rate, banks))
            weights.append(weight)
        if not conditions:
            raise ValueError(f"chain spec {spec!r}: no conditions; write 'none' for the identity chain")
        return cls(conditions, weights, 1.0 if p is None else p, sample_rate, spec.strip())

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        if not self.conditions:
            return {}
        params: Params = {
            "apply": torch.rand(batch, generator=generator) < self.p,
            "choice": torch.searchsorted(self.cumulative, torch.rand(batch, generator=generator),
                                         right=True).clamp_max(len(self.conditions) - 1),
        }
        for index, condition in enumerate(self.conditions):
            for key, value in condition.sample(batch, generator).items():
                params[f"{index}.{key}"] = value
        return params

    def apply(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        """Launder each example with its chosen condition; ``params`` as :meth:`sample` drew them (host tensors).

        Each condition's :meth:`~.attacks.Attack.apply` validates, places its own
        parameters on the device and limits the peak, so this only routes rows.
        """
        check_waveform(wave, self.name)
        self._check_params(params, wave.shape[0])
        if not self.conditions:
            return wave
        out = wave.clone()
        for index, condition in enumerate(self.conditions):
            rows = torch.nonzero(params["apply"] & (params["choice"] == index)).flatten()   # host: no sync
            if rows.numel() == 0:
                continue
            prefix = f"{index}."
            own = {key[len(prefix):]: value[rows] for key, value in params.items() if key.startswith(prefix)}
            on_device = upload(rows, wave.device)
            out.index_copy_(0, on_device, condition.apply(wave.index_select(0, on_device), own))
        return out


def parse_codec_variants(spec: str, sample_rate: int = 16000) -> list[Attack]:
    """The real codecs of ``--train-codecs``: ``"codec:aac:32k; codec:amr:12.2k; mp3:64k"`` -> attacks.

    Segments are separated by ``;``; ``""``, ``"none"`` and ``"off"`` give none. Each must be a
    host-side condition (a real codec: the ``codec``, ``mp3``, ``vorbis`` and ``opus`` families),
    given once. Raises ``ValueError`` naming the segment: unknown conditions with the parser's
    own message, on-device ones with where they belong (``--launder``).
    """
    if spec.strip().lower() in IDENTITY_SPECS:
        return []
    attacks: list[Attack] = []
    for segment in (s.strip() for s in spec.split(";")):
        if not segment:
            continue
        try:
            attack = parse_condition(segment, sample_rate)
        except ValueError as error:
            raise ValueError(f"--train-codecs: {segment!r} is not a valid condition: {error}") from None
        if not attack.host_side:
            raise ValueError(f"--train-codecs: {segment!r} is not a real codec run on the host; it runs on the device, "
                             "so put it in --launder. Real codecs: codec:NAME[:BITRATE] (detector conditions lists "
                             "them), mp3:BITRATE, vorbis:LEVEL, opus:LEVEL")
        if any(other.name == attack.name for other in attacks):
            raise ValueError(f"--train-codecs: {segment!r} is given twice")
        attacks.append(attack)
    return attacks
