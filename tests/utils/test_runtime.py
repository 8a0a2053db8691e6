"""Precision choices: training's ``auto`` is bf16 where native, scoring's ``auto`` is float32."""
import pytest
import torch

from detector.utils.runtime import Precision

CPU = torch.device("cpu")


def test_scoring_auto_is_float32_and_explicit_choices_are_kept():
    assert Precision.resolve("auto", CPU).name == "bf16"          # training on the CPU
    assert Precision.for_scoring("auto", CPU).name == "off"       # scores are float32 by default
    assert Precision.for_scoring("bf16", CPU).name == "bf16"      # speed on request
    with pytest.raises(ValueError, match="--amp fp16 is for CUDA"):
        Precision.for_scoring("fp16", CPU)
