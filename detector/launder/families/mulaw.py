"""``mulaw``: 8-bit mu-law companding round trip."""
from ..effects import MuLaw
from ..registry import register_family


@register_family("mulaw", example="mulaw")
def build(values, sample_rate, name, banks):
    return MuLaw(sample_rate, name)
