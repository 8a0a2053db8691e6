"""A new laundering condition in one file, and a robustness ablation with it.

Shows how to add a family to the condition language from your own code:

1. an ``Attack`` subclass: ``sample`` draws each example's parameters on the host from a CPU
   ``torch.Generator``; ``_transform`` applies them to a ``(batch, 1, time)`` float32 batch, batched,
   on whatever device the batch is on;
2. ``@register_family(...)``: the family's name, keys and valid ranges; from then on, in this
   process, strings such as ``"bitcrush:4..8"`` work everywhere a condition is taken: in a training
   chain (``LaunderChain.from_spec``), ``parse_condition``, evaluation and ablation;
3. ``ablate(...)``: a checkpoint scored on the same audio clean and under each condition, tables and
   a heatmap written to ``--out``.

The family must be registered in the process that uses it, so this calls the Python API; the
``detector ablate`` command would not know it (to make a family part of the package, put the same
file in ``detector/launder/families/``). Needs a checkpoint, e.g. ``runs/demo/run/best.pt`` from
``detector demo --out runs/demo``. Run from the repository root:

    python examples/custom_condition.py --checkpoint runs/demo/run/best.pt --out runs/bitcrush
"""
from __future__ import annotations

import argparse

import torch

from detector.data.demo import demo_manifest
from detector.engine.ablate import ablate
from detector.engine.evaluate import EvaluationOptions
from detector.launder import Attack, LaunderChain, NumberKey, register_family


class BitCrush(Attack):
    """Requantise to ``bits`` bits per example (a cheap recorder or an old game console's DAC).

    Params: ``bits`` ``(batch,)``, whole numbers.
    """

    param_keys = ("bits",)   # what sample() returns and apply() checks for

    def __init__(self, bits, sample_rate: int, name: str) -> None:
        super().__init__(name, sample_rate)
        self.bits = bits   # a Uniform (from "4..8") or a Choice (from "4|8"): drawn per example

    def sample(self, batch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        # Host side, from the CPU generator: the same seed gives the same parameters on any device.
        return {"bits": self.bits.sample(batch, generator).round()}

    def _transform(self, wave: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        # params arrive on wave's device; one step per example, broadcast over (1, time). No Python
        # loop over examples and no host sync, so it runs inside a chain at GPU speed.
        step = torch.pow(2.0, 1.0 - params["bits"]).view(-1, 1, 1)   # [-1, 1] in 2**bits levels
        return torch.round(wave / step) * step


# keys: each key's unit and valid range (checked when a condition string is parsed, with an error that
# lists them); positional: "bitcrush:6" means "bitcrush:bits=6".
@register_family("bitcrush", example="bitcrush:4..8",
                 keys={"bits": NumberKey("bits", 2.0, 16.0, integer=True)}, positional="bits")
def build_bitcrush(values, sample_rate, name, banks):
    # values: the parsed keys; banks: noises and impulse responses, for families that need them.
    return BitCrush(values["bits"], sample_rate, name)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run's best.pt (several: repeat the flag)",
                        action="append")
    parser.add_argument("--out", default="runs/custom_condition", help="ablation folder")
    parser.add_argument("--manifest", default=str(demo_manifest()), help="default: the packaged demo corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--conditions", nargs="+", default=["clean", "bitcrush:8", "bitcrush:4", "bitcrush:3..5"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", default="", help="waveform cache; default $DETECTOR_CACHE or ~/.cache/detector")
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    # The new family in a training chain, like any built-in one: 4 examples, half crushed.
    chain = LaunderChain.from_spec("p=0.5; bitcrush:4..8; noise:white:snr=10..20")
    crushed = chain(0.5 * torch.rand(4, 1, 16000) - 0.25, torch.Generator().manual_seed(0))
    print(f"chain {chain.name!r}: {tuple(crushed.shape)}, distinct sample values per example:",
          [len(torch.unique(example)) for example in crushed])

    # Ablation: every clip of the split laundered once per condition (parameters seeded by seed,
    # condition and clip), every checkpoint scoring the same laundered audio.
    options = EvaluationOptions(split=args.split, conditions=args.conditions, device=args.device,
                                cache_dir=args.cache_dir)
    table = ablate(args.checkpoint, args.manifest, args.out, options)
    for cell in table:
        print(f"{cell['model']:>24}  {cell['condition']:<14} EER {100 * cell['eer']:5.1f}%  (n={cell['n']})")
    print(f"tables and heatmap in {args.out}/ (ablation.csv, ablation.md, ablation.json)")


if __name__ == "__main__":
    main()
