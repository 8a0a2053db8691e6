"""``resample``: down (or up) to a rate and back to the model's rate."""
from ..attacks import ResampleRoundTrip
from ..registry import NumberKey, register_family


@register_family("resample", example="resample:8000|11025",
                 keys={"rate": NumberKey("Hz", 1000.0, 384000.0, integer=True, allow_range=False)},
                 positional="rate")
def build(values, sample_rate, name, banks):
    rates = tuple(int(rate) for rate in values["rate"].options)
    return ResampleRoundTrip(rates, sample_rate, name)
