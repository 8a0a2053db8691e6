"""``telephone``: narrow-band telephone channel (300-3400 Hz, 8 kHz, mu-law)."""
from ..effects import Telephone
from ..registry import register_family


@register_family("telephone", example="telephone")
def build(values, sample_rate, name, banks):
    return Telephone(sample_rate, name)
