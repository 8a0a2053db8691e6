"""``clip``: hard clipping at a fraction of each example's peak."""
from ..effects import Clip
from ..registry import NumberKey, register_family


@register_family("clip", example="clip:0.5",
                 keys={"level": NumberKey("x peak", 0.01, 1.0)}, positional="level")
def build(values, sample_rate, name, banks):
    return Clip(values["level"], sample_rate, name)
