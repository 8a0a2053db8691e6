"""``gain``: a per-example level change."""
from ..effects import Gain
from ..registry import NumberKey, register_family


@register_family("gain", example="gain:-6..6",
                 keys={"db": NumberKey("dB", -60.0, 60.0)}, positional="db")
def build(values, sample_rate, name, banks):
    return Gain(values["db"], sample_rate, name)
