"""``lowpass``: Butterworth low-pass (scipy.signal parity)."""
from ..effects import LowPass, lowpass_cutoffs
from ..registry import NumberKey, register_family, single_value


@register_family("lowpass", example="lowpass:7000",
                 keys={"cutoff": NumberKey("Hz", 10.0, 192000.0),
                       "order": NumberKey("", 1, 12, integer=True, allow_range=False, default="5")},
                 positional="cutoff")
def build(values, sample_rate, name, banks):
    return LowPass(lowpass_cutoffs(values["cutoff"]), int(single_value(values, "order", name)), sample_rate, name)
