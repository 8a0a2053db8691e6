"""``colored``: coloured noise (power ~ 1/f^decay) at a per-example SNR."""
from ..effects import AddColouredNoise
from ..registry import NumberKey, register_family


@register_family("colored", example="colored:snr=3..30:decay=-2..2",
                 keys={"snr": NumberKey("dB", -50.0, 100.0, default="3..30"),
                       "decay": NumberKey("(power ~ 1/f^decay)", -6.0, 6.0, default="-2..2")})
def build(values, sample_rate, name, banks):
    return AddColouredNoise(values["decay"], values["snr"], sample_rate, name)
