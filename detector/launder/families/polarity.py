"""``polarity``: polarity inversion with probability p."""
from ..effects import Polarity
from ..registry import NumberKey, register_family, single_value


@register_family("polarity", example="polarity:p=0.5",
                 keys={"p": NumberKey("probability", 0.0, 1.0, allow_range=False, default="1")}, positional="p")
def build(values, sample_rate, name, banks):
    return Polarity(single_value(values, "p", name), sample_rate, name)
