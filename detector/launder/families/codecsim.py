"""``codecsim``: a batched on-device stand-in for a lossy codec (training augmentation)."""
from ..effects import CodecSim
from ..registry import NumberKey, register_family


@register_family("codecsim", example="codecsim:step=3..12:cutoff=4000..8000",
                 keys={"step": NumberKey("dB", 0.1, 40.0, default="6"),
                       "cutoff": NumberKey("Hz", 100.0, 96000.0, default="7000")})
def build(values, sample_rate, name, banks):
    return CodecSim(values["step"], values["cutoff"], sample_rate, name)
