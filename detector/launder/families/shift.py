"""``shift``: a circular time shift by a fraction of the length."""
from ..effects import Shift
from ..registry import NumberKey, register_family


@register_family("shift", example="shift:-0.5..0.5",
                 keys={"fraction": NumberKey("x length", -1.0, 1.0, default="-0.5..0.5")}, positional="fraction")
def build(values, sample_rate, name, banks):
    return Shift(values["fraction"], sample_rate, name)
