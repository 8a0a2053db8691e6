"""``noise``: a bank noise (recorded or built-in) added at a per-example SNR."""
from ..attacks import AddNoise
from ..banks import NOISE_TYPES
from ..registry import NumberKey, WordKey, register_family


@register_family("noise", example="noise:babble:snr=10..10.5",
                 keys={"type": WordKey(NOISE_TYPES), "snr": NumberKey("dB", -50.0, 100.0)}, positional="type")
def build(values, sample_rate, name, banks):
    return AddNoise(banks.noise_bank(values["type"], sample_rate), values["snr"], sample_rate, name)
