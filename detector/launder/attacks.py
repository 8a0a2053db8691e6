"""Attacks: thin modules that draw per-example parameters and apply a functional op.

Contract shared by every attack (see :class:`Attack`):

- ``params = attack.sample(batch, generator)`` draws all randomness on the
  **host**, from a CPU ``torch.Generator``, as a dict of small CPU tensors with
  a leading ``batch`` axis (a few scalars per example, never a waveform-sized
  tensor: long random signals come from device-resident banks at a drawn
  offset);
- ``attack.apply(wave, params)`` copies the parameters to ``wave.device``
  without blocking, and is deterministic, batched (no Python loop over
  examples), free of host syncs and file I/O, and keeps the length;
- ``attack(wave, generator)`` does both.

Why the host: every decision is then known to Python without reading the
device, so a chain can gather each condition's examples and launder them
alone (one condition's cost per example) with no synchronisation, and a
parameter can be derived per example from anything the host knows (a clip's
id and window, for evaluation) independently of batching and device.
Passing the same ``params`` to several models gives them bit-identical inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from detector.utils.runtime import upload

from . import functional as F
from .noise import NoiseBank
from .resample import round_trip_irs
from .sampling import Choice, Uniform

Params = dict[str, torch.Tensor]


def check_host_generator(generator: torch.Generator, where: str) -> None:
    """Raise ``ValueError`` unless ``generator`` is a CPU generator (parameters are drawn on the host)."""
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        device = getattr(generator, "device", type(generator).__name__)
        raise ValueError(f"{where}: laundering parameters are drawn on the host; pass a CPU torch.Generator "
                         f"(torch.Generator().manual_seed(seed)), got one on {device}")


class Attack(torch.nn.Module):
    """Base class: a laundering condition on ``(batch, 1, time)`` float32 waveforms in [-1, 1].

    Subclasses implement :meth:`_transform`, and, when they draw parameters,
    set ``param_keys`` and override :meth:`sample` (the default draws none);
    :meth:`apply` adds input validation, moves the parameters to the waveform's
    device and keeps the output in [-1, 1] (see :func:`functional.limit_peak`).

    Attributes:
        name: the condition string, e.g. ``"noise:white:snr=10"``.
        sample_rate: Hz of the waveforms this attack expects.
        param_keys: keys that :meth:`sample` returns and :meth:`apply` needs.
        host_keys: keys that :meth:`_transform` receives as the host (CPU)
            tensors ``sample`` drew, for attacks that group examples by a
            parameter (e.g. one resampling kernel per rate); every other key
            arrives on ``wave.device``.
        host_side: True for a condition that processes whole clips on the host
            (a real codec, :mod:`.codec`) instead of batches on the device.
    """

    param_keys: tuple[str, ...] = ()
    host_keys: tuple[str, ...] = ()
    host_side: bool = False

    def __init__(self, name: str, sample_rate: int) -> None:
        super().__init__()
        if not (isinstance(sample_rate, int) and sample_rate > 0):
            raise ValueError(f"{name}: sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        self.name = name
        self.sample_rate = sample_rate

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        """Draw parameters for ``batch`` examples from a CPU ``generator``; CPU tensors, leading axis ``batch``.

        The default draws none (a deterministic condition such as ``clean`` or ``mulaw``).
        """
        return {}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        # The op itself, on validated input. Not called `_apply`: that name is
        # nn.Module's hook behind .to(device), and overriding it breaks .to().
        raise NotImplementedError

    def apply(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        """Apply the attack with the given parameters.

        Args:
            wave: ``(batch, 1, time)`` float32 at ``sample_rate``.
            params: as returned by ``sample(batch, generator)``.

        Returns:
            ``(batch, 1, time)`` float32 in [-1, 1].
        """
        F.check_waveform(wave, self.name)
        self._check_params(params, wave.shape[0])
        return F.limit_peak(self._transform(wave, self._place(params, wave.device)))

    def forward(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``apply(wave, sample(batch, generator))``; ``generator`` is a CPU generator."""
        F.check_waveform(wave, self.name)
        check_host_generator(generator, self.name)
        return self.apply(wave, self.sample(wave.shape[0], generator))

    def _place(self, params: Params, device: torch.device) -> Params:
        """``params`` with every key but ``host_keys`` on ``device``.

        Through :func:`upload`: a host-to-device copy that waits for the device queue would be a
        synchronisation point; the copy is enqueued instead.
        """
        return {key: value if key in self.host_keys else upload(value, device) for key, value in params.items()}

    def _check_params(self, params: Params, batch: int) -> None:
        missing = [key for key in self.param_keys if key not in params]
        if missing:
            raise ValueError(
                f"{self.name}: params lack {missing} (got {sorted(params)}); "
                "build them with attack.sample(batch, generator)"
            )
        for key in self.param_keys:
            if params[key].shape[0] != batch:
                raise ValueError(
                    f"{self.name}: params[{key!r}] has leading size {params[key].shape[0]}, "
                    f"but the waveform batch has {batch} examples"
                )

    def extra_repr(self) -> str:
        return repr(self.name)


class Identity(Attack):
    """The ``clean`` condition: returns the input."""

    def __init__(self, sample_rate: int = 16000, name: str = "clean") -> None:
        super().__init__(name, sample_rate)

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return wave


class AddNoise(Attack):
    """Add a crop of a bank noise at a per-example SNR.

    Params: ``noise_index`` ``(batch,)`` long entry of ``bank`` (uniform over
    its entries), ``offset`` ``(batch,)`` long crop start, ``snr_db``
    ``(batch,)`` float.

    Args:
        bank: the noises to draw from, one entry per noise type.
        snr_db: distribution of the SNR in dB.
    """

    param_keys = ("noise_index", "offset", "snr_db")

    def __init__(
        self, bank: NoiseBank, snr_db: Uniform | Choice, sample_rate: int = 16000, name: str | None = None
    ) -> None:
        super().__init__(name or f"noise:{'|'.join(bank.names)}:snr={snr_db.spec}", sample_rate)
        self.bank = bank
        self.snr_db = snr_db

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        index = torch.randint(len(self.bank), (batch,), generator=generator)
        return {
            "noise_index": index,
            "offset": self.bank.sample_offsets(index, generator),
            "snr_db": self.snr_db.sample(batch, generator),
        }

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        noise = self.bank.crop(params["noise_index"], params["offset"], wave.shape[-1])
        return F.mix_at_snr(wave, noise, params["snr_db"])


class AddReverb(Attack):
    """Convolve with a synthetic room impulse response of per-example RT60.

    The response is exponentially decaying noise plus a direct path (see
    :func:`functional.exponential_decay_rir`), ``ceil(max RT60 * sample_rate)``
    samples long, i.e. down 60 dB at its end for the longest RT60.

    Params: ``rt60_s`` ``(batch,)`` seconds, ``drr_db`` ``(batch,)``
    direct-to-reverberant ratio in dB, ``ir_offset`` ``(batch,)`` long start
    of the tail's fine structure in a fixed bank of unit-variance white
    Gaussian noise on the device (``2**19`` samples: as many distinct tails,
    drawn on the host as one integer each instead of ``ir_len`` normals).
    Editing ``rt60_s`` or ``drr_db`` changes the room while keeping the same
    fine structure.

    Args:
        rt60_s: distribution of RT60 in seconds (all values > 0).
        drr_db: distribution of the direct-to-reverberant ratio in dB. The
            default -10 dB is what the critical-distance estimate gives for a
            talker ~4 m from the microphone in the catalogue's 10 x 7.5 x 3.5 m
            room at RT60 0.6 s.
    """

    param_keys = ("rt60_s", "drr_db", "ir_offset")

    def __init__(
        self,
        rt60_s: Uniform | Choice,
        drr_db: Uniform | Choice | None = None,
        sample_rate: int = 16000,
        name: str | None = None,
    ) -> None:
        drr_db = drr_db if drr_db is not None else Uniform(-10.0, -10.0)
        super().__init__(name or f"reverb:rt60={rt60_s.spec}:drr={drr_db.spec}", sample_rate)
        self.rt60_s = rt60_s
        self.drr_db = drr_db
        self.ir_length = math.ceil(rt60_s.max * sample_rate)
        self.fine_structure = NoiseBank.coloured(["white"], sample_rate)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {
            "rt60_s": self.rt60_s.sample(batch, generator),
            "drr_db": self.drr_db.sample(batch, generator),
            "ir_offset": self.fine_structure.sample_offsets(torch.zeros(batch, dtype=torch.long), generator),
        }

    def impulse_responses(self, params: Params) -> torch.Tensor:
        """``(batch, 1, ir_length)`` unit-energy responses for device ``params``.

        See :func:`functional.exponential_decay_rir`.
        """
        offset = params["ir_offset"]
        noise = self.fine_structure.crop(torch.zeros_like(offset), offset, self.ir_length)
        return F.exponential_decay_rir(noise, params["rt60_s"], self.sample_rate, params["drr_db"])

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.fft_convolve(wave, self.impulse_responses(params))


class ResampleRoundTrip(Attack):
    """Resample to one of a few rates and back, per example (:func:`functional.resample_round_trip`).

    Params: ``rate_hz`` ``(batch,)`` float; a value that is not one of
    ``rates`` uses the nearest one.

    An FFT-domain resampler's round trip is one zero-phase filter at the model
    rate (see :mod:`.resample`), so each rate is kept as its impulse response,
    designed once: the float32 buffer ``irs`` ``(len(rates), 1, taps)``, every
    row centred on tap ``taps // 2``. Each example gathers its rate's row by an
    on-device index and the batch is filtered by one FFT convolution: a batch
    mixing rates costs one filtering per example, with no grouping and the
    same code on every device.

    Args:
        rates: candidate intermediate rates in Hz.
    """

    param_keys = ("rate_hz",)
    candidates: torch.Tensor
    irs: torch.Tensor

    def __init__(self, rates: Sequence[int], sample_rate: int = 16000, name: str | None = None) -> None:
        rates = tuple(rates)
        super().__init__(name or f"resample:rate={'|'.join(str(r) for r in rates)}", sample_rate)
        if not rates or not all(isinstance(r, int) and r > 0 for r in rates):
            raise ValueError(f"{self.name}: rates must be positive integers (Hz), got {rates}")
        self.rates = rates
        self.rate_hz = Choice(rates)
        self.register_buffer("candidates", torch.tensor(rates, dtype=torch.float32), persistent=False)
        self.register_buffer("irs", torch.from_numpy(round_trip_irs(sample_rate, rates)).float().unsqueeze(1),
                             persistent=False)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"rate_hz": self.rate_hz.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        nearest = (params["rate_hz"].unsqueeze(1) - self.candidates).abs().argmin(dim=1)
        return F.fft_convolve(wave, self.irs, index=nearest, delay=self.irs.shape[-1] // 2)


class AddRoomReverb(Attack):
    """Convolve with an impulse response drawn from a :class:`~.banks.RirBank` (simulated or measured rooms).

    Params: ``rir_index`` ``(batch,)`` long entry of the bank, drawn
    uniformly among ``entries`` (e.g. the variants of the requested RT60s).

    Responses are unit-energy and keep their direct-path delay (the
    source-microphone distance), as a recording in that room would.

    Args:
        bank: the responses.
        entries: indices of the bank entries this condition draws from.
    """

    param_keys = ("rir_index",)

    def __init__(self, bank, entries: Sequence[int], sample_rate: int = 16000, name: str | None = None) -> None:
        super().__init__(name or "reverb:bank", sample_rate)
        if not entries:
            raise ValueError(f"{self.name}: no impulse responses to draw from")
        self.bank = bank
        self.allowed = torch.tensor(list(entries), dtype=torch.long)   # host-side, like every parameter

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"rir_index": self.allowed[torch.randint(self.allowed.numel(), (batch,), generator=generator)]}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.fft_convolve(wave, self.bank.irs.unsqueeze(1), index=params["rir_index"])
