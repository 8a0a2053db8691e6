"""``clean``: the identity, no laundering."""
from ..attacks import Identity
from ..registry import register_family


@register_family("clean", example="clean")
def build(values, sample_rate, name, banks):
    return Identity(sample_rate, name)
